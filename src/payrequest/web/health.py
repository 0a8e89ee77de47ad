"""Liveness and readiness for load balancers and operators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from payrequest import __version__
from payrequest.db.session import database_reachable

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    ok = await database_reachable(request.app.state.engine)
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "database": ok, "version": __version__},
        status_code=200 if ok else 503,
    )
