"""`create_stripe_app(config, guard=None)`: the Stripe emulator as a FastAPI app.

The API is at `/v1/...` relative to where the app is mounted (standalone `payrequest sandbox`
mounts it at `/stripe`; the product at `/sandbox/stripe`), the hosted checkout page at
`/pay/{session id}`, its style sheet under `/static/`, the controls under `/control/`. Every
URL it builds uses the mount prefix (`root_path`); a list's `url` is the API path (`/v1/...`)
the SDK appends to its base address. The controls ask `guard` first; the API checks secret
keys; the hosted page's key is the session id. A mounted app's lifespan does not run: call
`stripe_of_app(app).start()` / `.stop()` from the parent's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from payrequest.sandbox.access import AccessGuard, Refused, refused
from payrequest.sandbox.stripe import api_checkout, api_events, api_payments, control, hosted
from payrequest.sandbox.stripe.calls import error_response, route_path
from payrequest.sandbox.stripe.config import StripeConfig
from payrequest.sandbox.stripe.emulator import StripeEmulator
from payrequest.sandbox.stripe.errors import StripeApiError, unrecognized
from payrequest.sandbox.stripe.middleware import StripeApiMiddleware

STATIC = Path(__file__).parent / "static"
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]


def create_stripe_app(
    config: StripeConfig | None = None, *, guard: AccessGuard | None = None
) -> FastAPI:
    emulator = StripeEmulator(config or StripeConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.start()
        try:
            yield
        finally:
            await emulator.stop()

    app = FastAPI(
        title="Stripe emulator (payrequest sandbox)",
        lifespan=lifespan,
        openapi_url="/emulator-openapi.json",
        docs_url="/emulator-docs",
        redoc_url=None,
    )
    app.state.stripe = emulator
    app.state.access_guard = guard
    for module in (api_checkout, api_payments, api_events, hosted, control):
        app.include_router(module.router)

    @app.api_route("/v1/{rest:path}", methods=METHODS, include_in_schema=False)
    async def unknown_url(request: Request) -> None:
        raise unrecognized(request.method, route_path(request))

    app.mount("/static", StaticFiles(directory=STATIC), name="stripe-static")
    app.add_exception_handler(StripeApiError, error_response)
    app.add_exception_handler(Refused, refused)
    app.add_middleware(StripeApiMiddleware, emulator=emulator)
    return app


def stripe_of_app(app: FastAPI) -> StripeEmulator:
    """The emulator behind an app made by `create_stripe_app` (for start/stop and tests)."""
    emulator: StripeEmulator = app.state.stripe
    return emulator
