"""Every fault switch: latency, 5xx, 429, timeouts, webhook drop/duplicate/reorder, clock speed,
rate limits, and the `/faults` API itself. Faults come from a seeded random source."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import uvicorn

from payrequest.sandbox import Faults, SandboxConfig, create_sandbox_app, sandbox_of_app
from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.helpers import (
    Api,
    Receiver,
    check_contract,
    fetch_token,
    free_port,
    new_reference,
    until_started,
)
from tests.sandbox.test_webhooks import ALL_EVENTS, register


async def patch(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.patch("/faults", json=changes)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_faults_api_get_put_patch(client: httpx.AsyncClient) -> None:
    assert (await client.get("/faults")).json() == Faults(rate_limits=False).model_dump()
    changed = await patch(client, latency_ms=5, webhook_drop_rate=0.5)
    assert changed["latency_ms"] == 5 and changed["webhook_drop_rate"] == 0.5
    assert changed["rate_limits"] is False  # untouched by PATCH
    replaced = await client.put("/faults", json={"error_rate": 0.1})
    assert replaced.json() == {**Faults().model_dump(), "error_rate": 0.1}
    assert (await client.patch("/faults", json={"error_rate": 2})).status_code == 422
    assert (await client.patch("/faults", json={"nonsense": 1})).status_code == 422


async def test_latency(api: Api, client: httpx.AsyncClient) -> None:
    await patch(client, latency_ms=150)
    started = time.monotonic()
    await api.get("no-such-payment")
    assert time.monotonic() - started >= 0.15
    assert (await client.get("/faults")).status_code == 200  # controls are never delayed


async def test_server_errors_happen_before_any_work(api: Api, client: httpx.AsyncClient) -> None:
    await patch(client, error_rate=1.0)
    reference = new_reference()
    response = await api.create(reference)
    assert response.status_code in (500, 502, 503)
    assert response.json()["statusCode"] == response.status_code
    await patch(client, error_rate=0.0)
    assert (await api.get(reference)).status_code == 404


async def test_injected_429_has_retry_after(api: Api, client: httpx.AsyncClient) -> None:
    await patch(client, rate_limit_rate=1.0)
    response = await api.get("no-such-payment")
    assert response.status_code == 429 and response.headers["retry-after"] == "1"


async def test_hang_does_the_work_then_answers_too_late(
    api: Api, client: httpx.AsyncClient
) -> None:
    await patch(client, timeout_rate=1.0, hang_seconds=0.5)
    reference = new_reference()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(api.create(reference, key="hung"), timeout=0.2)
    await patch(client, timeout_rate=0.0)
    assert (await api.get(reference)).json()["state"] == "CREATED"
    replay = await api.create(reference, key="hung")  # a same-key retry gets the result
    assert replay.status_code == 201


async def test_hang_eventually_answers_504(api: Api, client: httpx.AsyncClient) -> None:
    await patch(client, timeout_rate=1.0, hang_seconds=0.01)
    response = await api.get("no-such-payment")
    assert response.status_code == 504


async def test_close_mode_drops_the_connection() -> None:
    app = create_sandbox_app(SandboxConfig(faults=Faults(timeout_rate=1.0, timeout_mode="close")))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    task = asyncio.create_task(server.serve())
    await until_started(server)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            sandbox_of_app(app).set_faults(Faults())
            api = Api(http, await fetch_token(http))
            sandbox_of_app(app).set_faults(Faults(timeout_rate=1.0, timeout_mode="close"))
            reference = new_reference()
            with pytest.raises(httpx.RemoteProtocolError):
                await api.create(reference)
            sandbox_of_app(app).set_faults(Faults())
            assert (await api.get(reference)).json()["state"] == "CREATED"
    finally:
        server.should_exit = True
        await task


async def test_same_seed_same_faults() -> None:
    async def statuses() -> list[int]:
        app = create_sandbox_app(SandboxConfig(seed=42, faults=Faults(error_rate=0.5)))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://s",
            event_hooks={"response": [check_contract]},
        ) as http:
            return [(await http.post("/accesstoken/get")).status_code for _ in range(12)]

    first, second = await statuses(), await statuses()
    assert first == second
    assert {401} < set(first) and len(set(first)) > 1  # some 5xx, some reached the API


async def test_dropped_webhooks_are_never_sent(
    api: Api, sb: Sandbox, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    await register(api, receiver.url())
    await patch(client, webhook_drop_rate=1.0)
    await sb.start()
    reference = await api.authorized()
    await asyncio.sleep(0.2)
    assert receiver.calls == []
    assert {d.status for d in sb.store.deliveries(reference)} == {"dropped"}


async def test_duplicated_webhooks_arrive_twice(
    api: Api, sb: Sandbox, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    await register(api, receiver.url())
    await patch(client, webhook_duplicate_rate=1.0)
    await sb.start()
    await api.authorized()
    await receiver.wait_for(4)
    names = [json.loads(c.body)["name"] for c in receiver.calls]
    assert names == ["CREATED", "CREATED", "AUTHORIZED", "AUTHORIZED"]


async def test_reordered_webhooks(
    api: Api, sb: Sandbox, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    await register(api, receiver.url(), ALL_EVENTS)
    await patch(client, webhook_reorder_rate=1.0)
    await api.authorized()  # both events wait in the queue: the deliverer is not running yet
    await sb.start()
    await receiver.wait_for(2)
    assert [json.loads(c.body)["name"] for c in receiver.calls] == ["AUTHORIZED", "CREATED"]


async def test_clock_speed_via_api(api: Api, sb: Sandbox, client: httpx.AsyncClient) -> None:
    await patch(client, clock_speed=600.0)  # 10 minutes -> 1 second
    reference = new_reference()
    await api.create(reference)
    payment = sb.store.payment(sb.config.msn, reference)
    assert payment is not None
    lifetime = (payment.expires_at - payment.created_at).total_seconds()
    assert lifetime == pytest.approx(1.0, abs=0.01)


async def test_clock_advance_endpoint(api: Api, client: httpx.AsyncClient) -> None:
    reference = new_reference()
    await api.create(reference)
    assert (await client.post("/clock/advance", json={"seconds": 601})).status_code == 200
    api.token = await fetch_token(client)
    assert (await api.get(reference)).json()["state"] == "EXPIRED"


async def test_per_reference_rate_limits(api: Api, client: httpx.AsyncClient) -> None:
    await patch(client, rate_limits=True)
    reference = await api.authorized(10000)
    results = [(await api.modify("capture", reference, 100)).status_code for _ in range(6)]
    assert results == [200] * 5 + [429]
    other = await api.authorized(10000)
    assert (await api.modify("capture", other, 100)).status_code == 200  # its own bucket
    reads = [(await api.get(other)).status_code for _ in range(121)]
    assert reads[:120] == [200] * 120 and reads[120] == 429
