"""schemathesis against the API in-process, on SQLite and PostgreSQL: requests generated from
its own OpenAPI document, valid ones and invalid ones, a small number per operation; no
answer may be a server error, and every answer must be one the document describes (status,
content type, headers, body schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Mount

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.customers.schemas import CustomerUpsert
from payrequest.customers.upsert import upsert_customer
from payrequest.db.scope import acting_for
from payrequest.db.session import create_engine, session_factory
from payrequest.invoices.schemas import InvoiceLineInput, NewInvoice
from payrequest.invoices.upsert import create_invoice
from tests.conftest import TEST_ORGANISATION, _run, _wipe
from tests.integration.api_helpers import API, make_key
from tests.staff import BASE

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 6  # per operation and generation mode: the whole run stays well under a minute


async def _seed(database_url: str) -> str:
    """A write key, a customer and an invoice of the test organisation (so that generated
    requests meet real rows now and then: `cus_1`, `inv_1`, `evt_1`)."""
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        with acting_for(TEST_ORGANISATION):
            key = await make_key(sessions)
            async with sessions() as session, session.begin():
                customer = await upsert_customer(
                    session, data=CustomerUpsert(external_id="C-1", name="Fjord AS"), actor_id=None
                )
                await create_invoice(
                    session,
                    data=NewInvoice(
                        customer_id=customer.row.id,
                        due_date="2026-12-31",
                        lines=[InvoiceLineInput(description="Work", unit_price=10_000)],
                    ),
                    actor_id=None,
                )
        return key
    finally:
        await engine.dispose()


async def _empty(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await _wipe(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[FastAPI, str]]:
    """The API app (its runtime on the test database, no rate limit to speak of) and a key."""
    result: dict[str, str] = {}

    async def seed() -> None:
        result["key"] = await _seed(database_url)

    _run(seed())
    app = create_app(
        load_settings(
            database_url=database_url,
            var_dir=tmp_path,
            public_url=BASE,
            api={"requests_per_minute": 1_000_000},
        ),
        run_worker=False,
    )
    [mounted] = [r for r in app.routes if isinstance(r, Mount) and r.path == API]
    try:
        yield mounted.app, result["key"]  # type: ignore[misc]
    finally:
        # The runtime's connections live in schemathesis' event loop: closed there.
        asgi._get_portal().call(app.state.runtime.close)
        _run(_empty(database_url))


def test_every_generated_request_is_answered_as_the_schema_says(
    api: tuple[FastAPI, str],
) -> None:
    app, key = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    auth = {"Authorization": f"Bearer {key}"}
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 14
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def answered(case: Any) -> None:
                case.call_and_validate(base_url="http://testserver", headers=auth, checks=CHECKS)

            answered()
