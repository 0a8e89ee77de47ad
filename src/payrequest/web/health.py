"""Liveness, readiness and metrics for load balancers, operators and Prometheus.

- `/healthz`: the process answers and so does the database (liveness).
- `/readyz`: the database answers and is migrated to this version's newest migration; 503 with
  the reason in one line otherwise (take the process out of the load balancer, do not restart).
- `/metrics`: Prometheus text (observability.metrics and, read at scrape time, the job queue
  and webhook inbox). Only for loopback clients that came through no proxy, or, when
  PAYREQUEST_METRICS_TOKEN is set, for `Authorization: Bearer <token>` (docs/deployment.md).

`health_app(runtime)` serves the same three for `payrequest worker` on its health port.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from payrequest import __version__
from payrequest.db.migrate import readiness
from payrequest.db.scope import ALL, scoped_to
from payrequest.db.session import database_reachable
from payrequest.inbound import gauges as inbox_gauges
from payrequest.jobs import gauges as queue_gauges
from payrequest.kit.clock import utcnow
from payrequest.observability import metrics
from payrequest.observability.database import DatabaseCollector, DatabaseState
from payrequest.observability.settings import ObservabilitySettings, load_observability
from payrequest.ratelimit import gauges as ratelimit_gauges
from payrequest.runtime import Runtime

router = APIRouter()
log = logging.getLogger(__name__)
FORWARDED = ("x-forwarded-for", "forwarded", "x-real-ip")


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    ok = await database_reachable(request.app.state.engine)
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "database": ok, "version": __version__},
        status_code=200 if ok else 503,
    )


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and is migrated to head; 503 with the reason if not."""
    runtime: Runtime = request.app.state.runtime
    state = await readiness(runtime.engine, url=runtime.settings.database_url)
    body: dict[str, object] = {
        "status": "ready" if state.ready else "not ready",
        "database": state.problem or "ok",
        "migration": ",".join(state.current) or None,
        "head": state.head,
        "version": __version__,
    }
    if not state.ready:
        body["reason"] = state.reason
    return JSONResponse(body, status_code=200 if state.ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics_page(request: Request) -> Response:
    settings: ObservabilitySettings = (
        getattr(request.app.state, "observability", None) or load_observability()
    )
    refusal = _refusal(request, settings)
    if refusal is not None:
        return refusal
    state = await _database_state(request.app.state.runtime)
    body = metrics.render([DatabaseCollector(state)])
    return Response(body, media_type=metrics.CONTENT_TYPE)


def _refusal(request: Request, settings: ObservabilitySettings) -> Response | None:
    """None when the caller may read the metrics, else the answer to give."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode()):
            return None
        return Response(
            "metrics need Authorization: Bearer <PAYREQUEST_METRICS_TOKEN>\n",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
            media_type="text/plain",
        )
    if _loopback(request) and not any(name in request.headers for name in FORWARDED):
        return None
    return Response(
        "metrics are served to loopback only; set PAYREQUEST_METRICS_TOKEN to read them "
        "from elsewhere\n",
        status_code=403,
        media_type="text/plain",
    )


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _database_state(runtime: Runtime) -> DatabaseState:
    try:
        # The installation's gauges: every organisation's queue and inbox.
        async with runtime.read_sessions(info=scoped_to(ALL)) as session:
            now = utcnow()
            return DatabaseState(
                reachable=True,
                queue=await queue_gauges.queue_by_kind(session, now=now),
                inbox=await inbox_gauges.inbox_state(session, now=now),
                rate_limit_hits=await ratelimit_gauges.stored_hits(session),
            )
    except Exception as exc:
        log.warning("metrics: could not read the database: %s", exc)
        return DatabaseState(reachable=False)


def health_app(runtime: Runtime, settings: ObservabilitySettings | None = None) -> FastAPI:
    """/healthz, /readyz and /metrics alone, for a process without the web app (the worker)."""
    app = FastAPI(title="payrequest worker health", openapi_url=None, docs_url=None)
    app.state.runtime = runtime
    app.state.engine = runtime.engine
    app.state.observability = settings or load_observability()
    app.include_router(router)
    return app
