"""Capture, cancel, refund and force approve: state machine, aggregates and every error code."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from payrequest.sandbox import Faults, SandboxConfig, create_sandbox_app, sandbox_of_app
from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.helpers import Api, error_code, new_reference, until


def agg(body: dict[str, object], name: str) -> int:
    value = body["aggregate"][name]["value"]  # type: ignore[index]
    assert isinstance(value, int)
    return value


async def test_full_lifecycle_moves_only_aggregates(api: Api) -> None:
    reference = await api.authorized(10000)
    captured = await api.modify("capture", reference, 2500)
    assert captured.status_code == 200
    assert captured.json()["state"] == "AUTHORIZED"
    assert agg(captured.json(), "capturedAmount") == 2500
    await api.modify("capture", reference, 2500)
    refunded = await api.modify("refund", reference, 1000)
    assert agg(refunded.json(), "refundedAmount") == 1000
    cancelled = await api.modify("cancel", reference, body={"cancelTransactionOnly": False})
    body = cancelled.json()
    assert body["state"] == "AUTHORIZED"
    assert agg(body, "authorizedAmount") == 10000
    assert agg(body, "capturedAmount") == 5000
    assert agg(body, "cancelledAmount") == 5000  # only the remainder is released
    names = [e["name"] for e in (await api.events(reference)).json()]
    assert names == ["CREATED", "AUTHORIZED", "CAPTURED", "CAPTURED", "REFUNDED", "CANCELLED"]
    events = (await api.events(reference)).json()
    assert len({e["pspReference"] for e in events}) == len(events)
    assert events[-1]["idempotencyKey"] is None and events[-1]["amount"]["value"] == 5000


async def test_cancel_before_authorization_terminates(api: Api) -> None:
    reference = new_reference()
    await api.create(reference, amount={"currency": "NOK", "value": 3000})
    response = await api.modify("cancel", reference)
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "TERMINATED"
    assert agg(body, "cancelledAmount") == 3000 and agg(body, "authorizedAmount") == 0
    assert [e["name"] for e in (await api.events(reference)).json()] == ["CREATED", "TERMINATED"]


async def test_unknown_reference_is_404_5090(api: Api) -> None:
    for response in (
        await api.get("no-such-payment"),
        await api.events("no-such-payment"),
        await api.modify("capture", "no-such-payment", 100),
        await api.modify("cancel", "no-such-payment"),
        await api.modify("refund", "no-such-payment", 100),
        await api.approve("no-such-payment"),
    ):
        assert response.status_code == 404
        assert error_code(response) == "5090"


# --- capture ---------------------------------------------------------------------------


async def test_capture_errors(api: Api, sb: Sandbox) -> None:
    created = new_reference()
    await api.create(created)
    assert error_code(await api.modify("capture", created, 100)) == "6080"

    reference = await api.authorized(10000)
    assert error_code(await api.modify("capture", reference, 10001)) == "6090"
    assert error_code(await api.modify("capture", reference, 100, currency="EUR")) == "4040"
    assert error_code(await api.modify("capture", reference, 0)) == "4040"
    assert error_code(await api.modify("capture", reference, body={})) == "4140"
    assert (await api.modify("capture", reference, 10000)).status_code == 200
    assert error_code(await api.modify("capture", reference, 1)) == "6170"

    cancelled = await api.authorized(10000)
    await api.modify("cancel", cancelled)
    assert error_code(await api.modify("capture", cancelled, 100)) == "6070"

    terminated = new_reference()
    await api.create(terminated)
    await api.modify("cancel", terminated)
    assert error_code(await api.modify("capture", terminated, 100)) == "6200"


async def test_capture_and_cancel_deadline_in_norway(sb: Sandbox, api: Api) -> None:
    reference = await api.authorized(10000)
    await api.advance(sb, 179 * 24 * 3600)
    assert (await api.modify("capture", reference, 100)).status_code == 200
    await api.advance(sb, 2 * 24 * 3600)  # Norway: 180 days
    assert error_code(await api.modify("capture", reference, 100)) == "6100"
    assert error_code(await api.modify("cancel", reference)) == "6030"


async def test_full_capture_only_sales_unit_is_6140(api: Api, client: httpx.AsyncClient) -> None:
    assert (await client.get("/faults")).json()["full_capture_only"] is False
    partial = await api.authorized(10000)
    assert (await api.modify("capture", partial, 5000)).status_code == 200
    await client.patch("/faults", json={"full_capture_only": True})
    reference = await api.authorized(10000)
    refused = await api.modify("capture", reference, 5000)
    assert refused.status_code == 400 and error_code(refused) == "6140"
    assert agg((await api.get(reference)).json(), "capturedAmount") == 0
    assert (await api.modify("capture", reference, 10000)).status_code == 200


async def test_full_capture_only_from_the_config() -> None:
    app = create_sandbox_app(SandboxConfig(full_capture_only=True))
    assert sandbox_of_app(app).faults.full_capture_only is True
    app = create_sandbox_app(SandboxConfig(faults=Faults(full_capture_only=True)))
    assert sandbox_of_app(app).faults.full_capture_only is True  # None keeps the faults' value


@pytest.mark.parametrize("second", ["capture", "refund", "cancel"])
async def test_a_change_during_another_is_423_6160(
    sb: Sandbox, api: Api, client: httpx.AsyncClient, second: str
) -> None:
    """Two requests at once: the first capture holds the payment (`operation_hold_ms`) while
    the second arrives; the second is refused as locked and, not stored, may be retried."""
    reference = await api.authorized(10000)
    await api.modify("capture", reference, 1000)  # something to refund
    await client.patch("/faults", json={"operation_hold_ms": 600_000})
    first = asyncio.create_task(api.modify("capture", reference, 2000, key="first"))
    await until(lambda: (sb.config.msn, reference) in sb.busy, "the first capture to start")
    amount = None if second == "cancel" else 500
    locked = await api.modify(second, reference, amount, key="second")
    assert locked.status_code == 423 and error_code(locked) == "6160", locked.text
    assert locked.json()["title"] == "Order processing"
    assert not first.done()
    await client.patch("/faults", json={"operation_hold_ms": 0})  # the first one finishes
    assert (await first).status_code == 200
    assert agg((await api.get(reference)).json(), "capturedAmount") == 3000
    retried = await api.modify(second, reference, amount, key="second")
    assert retried.status_code == 200, retried.text


async def test_only_the_same_payment_is_locked(
    sb: Sandbox, api: Api, client: httpx.AsyncClient
) -> None:
    one, other = await api.authorized(10000), await api.authorized(10000)
    await client.patch("/faults", json={"operation_hold_ms": 600_000})
    first = asyncio.create_task(api.modify("capture", one, 2000))
    second = asyncio.create_task(api.modify("capture", other, 2000))
    both = {(sb.config.msn, one), (sb.config.msn, other)}
    await until(lambda: both <= sb.busy, "both captures to be processed at once")
    assert (await api.get(one)).status_code == 200  # reading is never locked
    await client.patch("/faults", json={"operation_hold_ms": 0})
    assert [(await first).status_code, (await second).status_code] == [200, 200]


async def test_concurrent_operation_is_423_6160(sb: Sandbox, api: Api) -> None:
    reference = await api.authorized(10000)
    sb.busy.add((sb.config.msn, reference))  # another operation holds the payment
    response = await api.modify("capture", reference, 100, key="during-lock")
    assert response.status_code == 423 and error_code(response) == "6160"
    sb.busy.clear()
    assert (await api.modify("capture", reference, 100, key="during-lock")).status_code == 200


# --- cancel ----------------------------------------------------------------------------


async def test_cancel_errors(api: Api, sb: Sandbox) -> None:
    full = await api.authorized(10000)
    await api.modify("capture", full, 10000)
    assert error_code(await api.modify("cancel", full)) == "6040"

    authorized = await api.authorized(10000)
    only = await api.modify("cancel", authorized, body={"cancelTransactionOnly": True})
    assert error_code(only) == "6060"
    assert agg((await api.get(authorized)).json(), "cancelledAmount") == 0

    aborted = new_reference()
    await api.create(aborted)
    payment = sb.store.payment(sb.config.msn, aborted)
    assert payment is not None
    from payrequest.sandbox.payments import reject

    reject(sb, payment)
    assert error_code(await api.modify("cancel", aborted)) == "6050"

    terminated = new_reference()
    await api.create(terminated)
    await api.modify("cancel", terminated)
    assert error_code(await api.modify("cancel", terminated)) == "6190"


async def test_cancel_while_processing_is_6250(api: Api) -> None:
    reference = new_reference()
    await api.create(reference, amount={"currency": "NOK", "value": 201})  # unknown result
    approve = await api.approve(reference)
    assert error_code(approve) == "10010"
    assert error_code(await api.modify("cancel", reference)) == "6250"
    assert (await api.get(reference)).json()["state"] == "CREATED"


# --- refund ----------------------------------------------------------------------------


async def test_refund_errors(api: Api, sb: Sandbox) -> None:
    created = new_reference()
    await api.create(created)
    assert error_code(await api.modify("refund", created, 100)) == "6020"

    reference = await api.authorized(10000)
    assert error_code(await api.modify("refund", reference, 100)) == "6150"  # nothing captured
    await api.modify("capture", reference, 4000)
    assert error_code(await api.modify("refund", reference, 4001)) == "6150"
    assert error_code(await api.modify("refund", reference, 100, currency="DKK")) == "4040"
    assert error_code(await api.modify("refund", reference, 123)) == "5100"
    assert error_code(await api.modify("refund", reference, 124)) == "6220"
    assert (await api.modify("refund", reference, 4000)).status_code == 200
    assert error_code(await api.modify("refund", reference, 1)) == "6180"

    terminated = new_reference()
    await api.create(terminated)
    await api.modify("cancel", terminated)
    assert error_code(await api.modify("refund", terminated, 100)) == "6210"

    old = await api.authorized(10000)
    await api.modify("capture", old, 10000)
    await api.advance(sb, 366 * 24 * 3600)
    assert error_code(await api.modify("refund", old, 100)) == "6220"


# --- force approve and magic amounts ---------------------------------------------------


async def test_force_approve_twice_is_6230(api: Api) -> None:
    reference = await api.authorized()
    assert error_code(await api.approve(reference)) == "6230"


async def test_force_approve_checks_customer_and_token(api: Api) -> None:
    reference = new_reference()
    await api.create(reference)
    wrong = await api.approve(reference, {"customer": {"phoneNumber": "4799999999"}})
    assert error_code(wrong) == "10010"
    bad_token = await api.approve(reference, {"token": "not-the-token"})
    assert error_code(bad_token) == "10010"
    ok = await api.approve(reference, {"customer": {"phoneNumber": "4791234567"}})
    assert ok.status_code == 200 and ok.content == b""


@pytest.mark.parametrize("amount", [151, 182, 183, 184, 186, 187, 197, 201, 202])
async def test_magic_amounts_fail_approval(api: Api, amount: int) -> None:
    reference = new_reference()
    await api.create(reference, amount={"currency": "NOK", "value": amount})
    response = await api.approve(reference)
    assert response.status_code == 400 and error_code(response) == "10010"
    assert (await api.get(reference)).json()["state"] == "CREATED"


async def test_magic_amounts_can_be_switched_off(api: Api, sb: Sandbox) -> None:
    sb.set_faults(sb.faults.model_copy(update={"magic_amounts": False}))
    reference = await api.authorized(151)
    assert (await api.get(reference)).json()["state"] == "AUTHORIZED"
