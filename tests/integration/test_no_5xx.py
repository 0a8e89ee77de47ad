"""Never a 5xx for bad input, and nothing changed on a 4xx (issue 13).

A property test over every route of the app (read from `app.routes`, so new ones are covered):
malformed path ids, query values and form or JSON bodies — huge, negative and non-finite
numbers, NUL and other control characters, very long and unusual text, missing and unknown
fields, wrong types, broken JSON — sent as an owner, as staff, as a portal customer and
anonymously. Each answer must be below 500; a 4xx must leave every table as it was (except
the ones a refusal writes on purpose: rate-limit hits, the audit log, sign-in sessions).

Bounded for `make test` (derandomized, a fixed number of examples per role and database);
`PAYREQUEST_NO_5XX_EXAMPLES=2000 PAYREQUEST_NO_5XX_RANDOM=1` explores further by hand. Every
5xx it found is fixed and kept as an explicit case in test_no_5xx_cases.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.tables import metadata
from tests.factories import make_invoice
from tests.integration import portal_helpers
from tests.staff import BASE, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
EXAMPLES = int(os.environ.get("PAYREQUEST_NO_5XX_EXAMPLES", "80"))
RANDOM = os.environ.get("PAYREQUEST_NO_5XX_RANDOM") == "1"  # new examples on every run
# A refusal may write these on purpose: a wrong password counts against the limit and is
# audited, and a signed-in request keeps its session alive.
WRITTEN_ON_REFUSAL = {"rate_limit_hits", "audit_log", "sign_in_sessions"}
# Not sent: streams that never end, ways out of the signed-in session the test runs in, and
# the settings buttons that only call the provider (they take nothing but the CSRF token).
SKIPPED = {
    ("GET", "/events"),
    ("GET", "/portal/events"),
    ("POST", "/logout"),
    ("POST", "/portal/logout"),
    ("POST", "/settings/check"),
    ("POST", "/settings/webhook/test"),
    ("POST", "/settings/webhook/register"),
    ("POST", "/settings/webhook/remove-foreign"),
    ("POST", "/account/password"),
    ("POST", "/staff/{user_id}/deactivate"),
    ("POST", "/staff/{user_id}/role"),
    ("POST", "/staff/{user_id}/reset"),
}
SKIPPED_PREFIXES = ("/static", "/sandbox", "/docs", "/redoc", "/openapi")
# The fields the pages' forms send (templates: name="..."), with the flow builder's per-action
# fields for its first action; unknown names are sent too.
FIELDS = [
    "action",
    "action_count",
    "add_kind",
    "amount",
    "amount_max",
    "amount_min",
    "a0_channel",
    "a0_kind",
    "a0_minutes",
    "a0_recipient",
    "a0_to",
    "a0_url",
    "a0_text",
    "a0_subject",
    "a0_html",
    "back",
    "channel",
    "contact",
    "country",
    "csrf",
    "currency",
    "current",
    "customer_fixed",
    "customer_id",
    "description",
    "due_date",
    "email",
    "enabled",
    "endpoint_ids",
    "event",
    "event_id",
    "expiry",
    "expiry_date",
    "flow",
    "invoice_ids",
    "issue_date",
    "language",
    "locale",
    "method",
    "name",
    "next",
    "note",
    "number",
    "op",
    "password",
    "person",
    "phone",
    "portal_access",
    "preview_event",
    "q",
    "quantity",
    "reason",
    "received_on",
    "reference",
    "repeated",
    "role",
    "save_phone",
    "status",
    "status_filter",
    "suggested",
    "token",
    "trigger",
    "unit_price",
    "vat_rate",
    "page",
]


COMMON = ["invoice_ids", "customer_id", "amount", "name", "email", "phone", "method", "contact"]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {placeholders}
    params: tuple[str, ...]  # the placeholders' names


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _walk(route.original_router.routes)


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = set()
    for route in _walk(app.routes):
        if route.path.startswith(SKIPPED_PREFIXES):
            continue
        for method in route.methods or ():
            if method in ("HEAD", "OPTIONS") or (method, route.path) in SKIPPED:
                continue
            params = tuple(re.findall(r"\{([^}:]+)", route.path))
            found.add(Endpoint(method, route.path, params))
    return sorted(found, key=lambda e: (e.path, e.method))


# --- malformed values ---------------------------------------------------------------------

NUMBERS = [
    "0",
    "-1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999999999",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "1.5",
    "0x10",
    "1_000",
    "٣",  # an Arabic-Indic digit: int() reads it
]
TEXTS = [
    "",
    " ",
    "a\x00b",
    "\x00",
    "line\x1bescape",
    "\ud7ff\ue000",
    "😀" * 5,
    "x" * 189,
    "x" * 256,
    "e" * 190 + "@example.no",
    "x" * 20_000,
    "<script>alert(1)</script>",
    "{{ 7 * 7 }}",
    "'; DROP TABLE customers; --",
    "2026-02-30",
    "9999-12-31",
    "+47 975 40 218",
    "kari@example.no",
    "NOK",
    "true",
]


def values(real_ids: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBERS),
        st.sampled_from(TEXTS),
        st.sampled_from(real_ids),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=12),
    )


@st.composite
def requests(draw: st.DrawFn, world: World) -> dict[str, Any]:
    endpoint = draw(st.sampled_from(world.endpoints))
    value = values(world.real_ids)
    path = endpoint.path
    for name in endpoint.params:
        raw = draw(st.one_of(st.sampled_from(world.real_ids), value))
        path = path.replace("{" + name + "}", quote(raw, safe="") or "x")
    query = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "page",
                    "q",
                    "status",
                    "customer_id",
                    "status_filter",
                    "preview_event",
                    "next",
                    "phone",
                    "country",
                ]
            ),
            value,
            max_size=3,
        )
    )
    fields = draw(
        st.dictionaries(
            st.sampled_from(FIELDS), st.one_of(value, st.lists(value, max_size=3)), max_size=8
        )
    )
    # the fields most forms read, more often than the rest
    fields |= draw(
        st.dictionaries(st.sampled_from(COMMON), st.one_of(value, st.lists(value)), max_size=3)
    )
    if draw(st.integers(0, 4)):
        fields["csrf"] = "{csrf}"  # mostly the signed-in reader's real token: past the check
    body = draw(st.sampled_from(["form", "form", "form", "json", "multipart", "deep", "garbage"]))
    return {
        "method": endpoint.method,
        "path": path,
        "query": query,
        "fields": fields,
        "body": body,
    }


# --- the world the requests land in ------------------------------------------------------


@dataclass(repr=False)
class World:
    app: FastAPI
    client: httpx.AsyncClient
    sessions: Sessions
    endpoints: list[Endpoint]
    real_ids: list[str]
    csrf: str


async def snapshot(sessions: Sessions) -> dict[str, str]:
    """A digest of every table's rows (except those a refusal writes on purpose)."""
    digests = {}
    async with sessions() as session:
        for table in metadata.sorted_tables:
            if table.name in WRITTEN_ON_REFUSAL:
                continue
            rows = (await session.execute(select(table))).all()
            text = repr(sorted(repr(tuple(row)) for row in rows))
            digests[table.name] = hashlib.sha256(text.encode()).hexdigest()
    return digests


async def seed(sessions: Sessions) -> list[str]:
    """Staff of each role, a customer with invoices, a waiting and a paid request."""
    await create_staff(sessions, roles=("owner", "staff"))
    kari = await portal_helpers.customer(sessions)
    async with sessions() as session, session.begin():
        first = await make_invoice(session, kari)
        second = await make_invoice(session, kari, amount=50_000)
    waiting = await portal_helpers.waiting_request(sessions, kari, [first], reference="pr-wait-1")
    await portal_helpers.paid_request(
        sessions, kari, [second], amount=50_000, reference="pr-paid-1"
    )
    return sorted(
        {str(kari.id), str(first.id), str(second.id), str(waiting.id), "1", "2", "pr-wait-1"}
    )


@pytest.fixture(params=["owner", "staff", "customer", "anonymous"])
async def world(
    request: pytest.FixtureRequest, database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[World]:
    real_ids = await seed(sessions)
    app = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE),
        run_worker=False,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        csrf = ""
        if request.param in ("owner", "staff"):
            await sign_in(http, request.param)
            csrf = csrf_of((await http.get("/customers")).text)
        elif request.param == "customer":
            async with sessions() as session:
                from payrequest.customers.models import Customer

                kari = (await session.scalars(select(Customer))).one()
            await portal_helpers.sign_in(http, sessions, kari.id)
            csrf = csrf_of((await http.get("/portal")).text)
        yield World(app, http, sessions, endpoints(app), real_ids, csrf)
    await app.state.runtime.close()


def _encode(fields: dict[str, Any], csrf: str) -> dict[str, Any]:
    return {k: (csrf if v == "{csrf}" else v) for k, v in fields.items()}


async def send(world: World, case: dict[str, Any]) -> httpx.Response:
    fields = _encode(case["fields"], world.csrf)
    kwargs: dict[str, Any] = {"params": case["query"]}
    if case["method"] != "GET":
        if case["body"] == "form":
            kwargs["data"] = fields
        elif case["body"] == "json":
            kwargs["content"] = json.dumps(fields).encode()
            kwargs["headers"] = {"content-type": "application/json"}
        elif case["body"] == "multipart":  # every field a file: what a handler reading text gets
            kwargs["files"] = {
                name: ("f.txt", str(v).encode(), "text/plain") for name, v in fields.items()
            }
            kwargs["data"] = {"csrf": world.csrf}
        elif case["body"] == "deep":
            kwargs["content"] = b"[" * 5000 + json.dumps(fields).encode() + b"]" * 5000
            kwargs["headers"] = {"content-type": "application/json"}
        else:
            kwargs["content"] = b"\x00\xff{[" + json.dumps(fields).encode()[:50]
            kwargs["headers"] = {"content-type": "application/x-www-form-urlencoded"}
    return await world.client.request(case["method"], case["path"], **kwargs)


async def check(world: World, case: dict[str, Any]) -> None:
    before = await snapshot(world.sessions)
    response = await send(world, case)
    assert response.status_code < 500, f"{case} -> {response.status_code}: {response.text[:500]}"
    assert "Traceback" not in response.text
    if 400 <= response.status_code < 500:
        changed = [t for t, d in (await snapshot(world.sessions)).items() if before[t] != d]
        assert not changed, f"{case} -> {response.status_code} changed {changed}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_no_route_answers_5xx_or_changes_anything_on_a_refusal(
    world: World, data: st.DataObject
) -> None:
    await check(world, data.draw(requests(world)))
