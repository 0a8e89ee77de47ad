"""The browser tests' demo: one `payrequest demo` per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.demo import Demo, start_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with start_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running
