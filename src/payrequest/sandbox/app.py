"""`create_sandbox_app(config)`: the emulator as a FastAPI app.

The API sits at the root paths (`/accesstoken/get`, `/epayment/v1/...`, `/webhooks/v1/...`,
`/vipps-userinfo-api/userinfo/{sub}`), the phone simulator at `/phone...`, the controls at
`/faults`, `/units`, `/clock/advance`, `/deliveries`. One app plays every sales unit of its
config (`SandboxConfig.units`, and the automatic test units when `auto_units` is on); the API
tells them apart by keys and `Merchant-Serial-Number`. The phone and the controls ask `guard`
first when one is given (see `access`); the API never does. A reply written on the phone goes
to `on_sms_reply` when one is given (see `sms_replies`). The phone's script and style sheet are
served from `/static/`.
Every URL it builds is relative to where it is mounted (`root_path`), so it works standalone
and mounted, e.g. under `/sandbox/vipps`. A mounted app's lifespan does not run: call
`sandbox_of_app(app).start()` / `.stop()` from the parent's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from payrequest.sandbox import (
    api_control,
    api_epayment,
    api_token,
    api_userinfo,
    api_webhooks,
    phone,
    sms_replies,
)
from payrequest.sandbox.access import AccessGuard, Refused, refused
from payrequest.sandbox.api_epayment import route_path
from payrequest.sandbox.config import SandboxConfig
from payrequest.sandbox.emulator import Sandbox
from payrequest.sandbox.fault_middleware import FaultMiddleware
from payrequest.sandbox.gateway import GatewayError
from payrequest.sandbox.problems import (
    ApiError,
    PlainProblem,
    instance_of,
    plain_problem,
    problem_body,
    problem_response,
)
from payrequest.sandbox.sms_replies import SmsReplyHandler

STATIC = Path(__file__).parent / "static"


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    guard: AccessGuard | None = None,
    on_sms_reply: SmsReplyHandler | None = None,
) -> FastAPI:
    sandbox = Sandbox(config or SandboxConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    app = FastAPI(
        title="Vipps MobilePay sandbox (payrequest emulator)",
        lifespan=lifespan,
        openapi_url="/sandbox-openapi.json",
        docs_url="/sandbox-docs",
        redoc_url=None,
    )
    app.state.sandbox = sandbox
    app.state.access_guard = guard
    app.state.sms_reply_handler = on_sms_reply
    routers = (api_token, api_epayment, api_userinfo, api_webhooks, api_control, sms_replies, phone)
    for module in routers:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_handlers(app)
    app.add_middleware(FaultMiddleware, sandbox=sandbox)
    return app


def sandbox_of_app(app: FastAPI) -> Sandbox:
    """The running emulator behind an app made by `create_sandbox_app` (for start/stop, tests)."""
    sandbox: Sandbox = app.state.sandbox
    return sandbox


def _add_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        body = problem_body(exc, instance_of(route_path(request)))
        return problem_response(body, exc.status)

    async def plain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PlainProblem)
        body = plain_problem(exc.status, exc.title, exc.detail, instance_of(route_path(request)))
        return problem_response(body, exc.status)

    async def gateway(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        return exc.response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(PlainProblem, plain)
    app.add_exception_handler(GatewayError, gateway)
    app.add_exception_handler(Refused, refused)
