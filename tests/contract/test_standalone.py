"""The tests need nothing outside the repository: without the official OpenAPI files the
emulator suites still run against our own description, and only the tests about the official
files skip, saying which variable would turn them on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.contract.official import ENV

REPO = Path(__file__).resolve().parents[2]
SUITES = ("tests/sandbox/test_contract.py", "tests/sandbox/test_operations.py")


def test_the_emulator_suites_pass_without_the_official_files(tmp_path: Path) -> None:
    empty = tmp_path / "no-spec"
    empty.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *SUITES, "-v", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO,
        env={**os.environ, ENV: str(empty)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    summary = report.strip().splitlines()[-1]
    assert " passed" in summary and " skipped" in summary and "failed" not in summary, summary
    lines = report.splitlines()
    skipped = [line.split()[0] for line in lines if line.endswith("%]") and " SKIPPED" in line]
    assert skipped, report
    assert all(test.startswith("tests/sandbox/test_contract.py::test_official") for test in skipped)
    reasons = [line for line in lines if line.startswith("SKIPPED [")]
    assert reasons, report
    assert all(f"official OpenAPI files not found ({ENV}=" in line for line in reasons), reasons
    passed = [line.split()[0] for line in lines if line.endswith("%]") and " PASSED" in line]
    assert any("test_operations.py" in test for test in passed), report
