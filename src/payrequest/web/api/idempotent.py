"""`Idempotency-Key` (docs/api.md, "Idempotency"): a POST (or PATCH, PUT, DELETE) sent with
the header is answered once; the same key again within 24 hours gets the first answer again
(its status and body, with `Idempotent-Replayed: true`), if its method, path and body are
the same; else, or while the first is still running, a 409 problem. The records are
api_keys.idempotency's, per API key.

The route runs to its end (its transaction committed) before the answer is stored and then
sent, so a retry never finds a request "in progress" whose answer the client already has. A
request that failed unexpectedly (a 5xx) changed nothing: its key is let go."""

from __future__ import annotations

import re

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Send

from payrequest.api_keys import idempotency
from payrequest.api_keys.idempotency import Outcome
from payrequest.runtime import Runtime
from payrequest.web.api.caller import Caller
from payrequest.web.api.problems import PROBLEM_JSON, problem

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_ACCEPTABLE = re.compile(rf"^[\x21-\x7e]{{1,{idempotency.MAX_KEY}}}$")  # visible ASCII, no spaces


async def run(
    request: Request, runtime: Runtime, caller: Caller, route: ASGIApp, send: Send
) -> None:
    scope, receive = request.scope, request.receive
    key = request.headers.get(HEADER)
    if key is None:
        await route(scope, receive, send)
        return
    if not _ACCEPTABLE.match(key):
        refusal = problem(
            422,
            "invalid_idempotency_key",
            f"An Idempotency-Key is 1 to {idempotency.MAX_KEY} visible ASCII characters "
            "(a UUID, say).",
            field=HEADER,
        )
        await refusal(scope, receive, send)
        return
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    async with runtime.sessions() as session, session.begin():
        claim = await idempotency.claim(
            session,
            api_key_id=caller.key_id,
            key=key,
            method=request.method,
            path=path,
            body=body,
        )
    answer: Response
    if claim.outcome is Outcome.replay:
        status = claim.status or 200
        answer = Response(
            content=claim.body or "",
            status_code=status,
            media_type=PROBLEM_JSON if status >= 400 else "application/json",
            headers={REPLAYED: "true"},
        )
    elif claim.outcome is Outcome.mismatch:
        answer = problem(
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was used for another request (method, path or body); "
            "use a new key for a new request.",
            field=HEADER,
        )
    elif claim.outcome is Outcome.in_progress or claim.record_id is None:
        answer = problem(
            409,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still being answered; retry in a moment.",
            field=HEADER,
        )
    else:
        await _first(request, runtime, claim.record_id, route, body, send)
        return
    await answer(scope, receive, send)


async def _first(
    request: Request, runtime: Runtime, record_id: int, route: ASGIApp, body: bytes, send: Send
) -> None:
    """Run the route on the body already read, store its answer, then send it."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    sent: list[Message] = []

    async def keep(message: Message) -> None:
        sent.append(message)

    try:
        await route(request.scope, again, keep)
    except BaseException:
        await _release(runtime, record_id)
        raise
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), 500)
    if status >= 500:
        await _release(runtime, record_id)
    else:
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        async with runtime.sessions() as session, session.begin():
            await idempotency.complete(
                session,
                record_id=record_id,
                status=status,
                body=content.decode("utf-8", "replace"),
            )
    for message in sent:
        await send(message)


async def _release(runtime: Runtime, record_id: int) -> None:
    """Nothing was changed (the route's transaction rolled back): the key is free again."""
    async with runtime.sessions() as session, session.begin():
        await idempotency.release(session, record_id=record_id)
