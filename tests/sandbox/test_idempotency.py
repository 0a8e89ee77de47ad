"""Idempotency per (MSN, Idempotency-Key): replay, conflict codes, sticky 4xx."""

from __future__ import annotations

from tests.sandbox.helpers import Api, create_body, error_code, new_reference


async def test_create_replay_returns_original_and_creates_once(api: Api) -> None:
    reference = new_reference()
    first = await api.create(reference, key="create-1")
    second = await api.create(reference, key="create-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len((await api.events(reference)).json()) == 1


async def test_create_same_key_other_body_is_409_4020(api: Api) -> None:
    await api.create(new_reference(), key="create-2")
    other = await api.create(new_reference(), key="create-2")
    assert other.status_code == 409 and error_code(other) == "4020"


async def test_capture_replay_captures_once(api: Api) -> None:
    reference = await api.authorized(10000)
    first = await api.modify("capture", reference, 3000, key="cap-1")
    again = await api.modify("capture", reference, 3000, key="cap-1")
    assert first.json() == again.json()
    payment = (await api.get(reference)).json()
    assert payment["aggregate"]["capturedAmount"]["value"] == 3000


async def test_capture_changed_body_is_409_4010(api: Api) -> None:
    reference = await api.authorized(10000)
    await api.modify("capture", reference, 3000, key="cap-2")
    changed = await api.modify("capture", reference, 4000, key="cap-2")
    assert changed.status_code == 409 and error_code(changed) == "4010"


async def test_refund_changed_body_is_409_4150(api: Api) -> None:
    reference = await api.authorized(10000)
    await api.modify("capture", reference, 10000)
    await api.modify("refund", reference, 1000, key="ref-1")
    changed = await api.modify("refund", reference, 2000, key="ref-1")
    assert changed.status_code == 409 and error_code(changed) == "4150"
    payment = (await api.get(reference)).json()
    assert payment["aggregate"]["refundedAmount"]["value"] == 1000


async def test_key_reused_for_other_operation_or_payment_is_4020(api: Api) -> None:
    reference = await api.authorized(10000)
    await api.modify("capture", reference, 1000, key="shared-key")
    as_refund = await api.modify("refund", reference, 1000, key="shared-key")
    assert as_refund.status_code == 409 and error_code(as_refund) == "4020"
    other = await api.authorized(10000)
    other_payment = await api.modify("capture", other, 1000, key="shared-key")
    assert other_payment.status_code == 409 and error_code(other_payment) == "4020"
    create_key = await api.post("/epayment/v1/payments", create_body(new_reference()), "shared-key")
    assert error_code(create_key) == "4020"


async def test_rejected_request_is_sticky_for_its_key(api: Api) -> None:
    reference = new_reference()
    await api.create(reference)
    early = await api.modify("capture", reference, 100, key="too-early")
    assert error_code(early) == "6080"
    await api.approve(reference)
    retried = await api.modify("capture", reference, 100, key="too-early")
    assert error_code(retried) == "6080"  # same key, same answer
    fresh = await api.modify("capture", reference, 100, key="new-attempt")
    assert fresh.status_code == 200


async def test_keys_are_scoped_per_msn(api: Api) -> None:
    # A different MSN is a different sales unit; ours refuses it outright (403), so the key
    # space of another MSN can never collide with ours.
    headers = {**api.headers("k-msn"), "Merchant-Serial-Number": "654321"}
    response = await api.http.post(
        "/epayment/v1/payments", json=create_body(new_reference()), headers=headers
    )
    assert response.status_code == 403
    assert (await api.create(key="k-msn")).status_code == 201
