"""Fixtures for the emulator tests: a fresh in-memory emulator per test, an API client whose
every response is checked against the contract (tests/contract), a real local webhook receiver,
and a real browser (Debian's Chromium) against the emulator under uvicorn, mounted under
`/sandbox/vipps` the way the demo mounts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from payrequest.sandbox import Faults, SandboxConfig, create_sandbox_app, sandbox_of_app
from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.helpers import (
    FAST_RETRIES,
    Api,
    LiveServer,
    Receiver,
    check_contract,
    fetch_token,
    free_port,
    mounted_parent,
    until_started,
)

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def config() -> SandboxConfig:
    # Per-reference rate limits are off here so a test may do many operations on one
    # payment; test_faults.py switches them on.
    return SandboxConfig(
        seed=1234,
        webhook_retry_schedule=FAST_RETRIES,
        sweep_interval=0.02,
        webhook_timeout=2.0,
        faults=Faults(rate_limits=False),
    )


@pytest.fixture
async def sandbox_app(config: SandboxConfig) -> AsyncIterator[FastAPI]:
    app = create_sandbox_app(config)
    yield app
    await sandbox_of_app(app).stop()
    sandbox_of_app(app).close()


@pytest.fixture
def sb(sandbox_app: FastAPI) -> Sandbox:
    return sandbox_of_app(sandbox_app)


@pytest.fixture
async def client(sandbox_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://sandbox.test",
        event_hooks={"response": [check_contract]},
    ) as http:
        yield http


@pytest.fixture
async def api(client: httpx.AsyncClient) -> Api:
    return Api(client, await fetch_token(client))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(port=free_port())
    server = uvicorn.Server(
        uvicorn.Config(
            rec.app,
            host="127.0.0.1",
            port=rec.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
    )
    task = asyncio.create_task(server.serve())
    await until_started(server)
    yield rec
    server.should_exit = True
    await task


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    port = free_port()
    sandbox = create_sandbox_app(SandboxConfig(seed=7, sweep_interval=0.05))
    parent = mounted_parent(sandbox, "/sandbox/vipps")
    server = uvicorn.Server(
        uvicorn.Config(parent, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield LiveServer(f"http://127.0.0.1:{port}/sandbox/vipps", sandbox)
    server.should_exit = True
    thread.join(timeout=10)


def chromium_installed() -> bool:
    return Path(CHROMIUM).exists()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not chromium_installed():
        pytest.skip(f"{CHROMIUM} is not installed")
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 400, "height": 860})
    tab = await context.new_page()
    yield tab
    RESULTS.mkdir(exist_ok=True)
    with contextlib.suppress(Exception):
        await tab.screenshot(path=str(RESULTS / f"{request.node.name}.png"), full_page=True)
    await context.close()
