"""Guarded routes of the emulator: the phone (its pages, its SMS inbox, its buttons that act as
the customer) and the controls (fault switches, clock, deliveries).

The emulator itself knows no users. Whoever mounts it may pass an `AccessGuard` to
`create_sandbox_app`: it is called before every guarded route and either lets the request
through (None) or answers it (a response, e.g. a redirect to a sign-in page or a 403).
Standalone (`payrequest sandbox`) there is no guard. The Vipps API routes are never guarded
here: they check client credentials, subscription key and token as the real API does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request, Response

AccessGuard = Callable[[Request], Awaitable[Response | None]]


class Refused(Exception):
    """The guard answered instead of the route."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def check_access(request: Request) -> None:
    guard: AccessGuard | None = getattr(request.app.state, "access_guard", None)
    if guard is None:
        return
    answer = await guard(request)
    if answer is not None:
        raise Refused(answer)


async def refused(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return exc.response


GUARDED = [Depends(check_access)]  # `dependencies=` of a guarded route or router
