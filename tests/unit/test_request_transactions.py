"""Request transactions commit before the response is sent.

With FastAPI's default dependency scope ("request") the code after `yield` runs after the
response has gone out, so a browser following a post-redirect could load the next page before
the change was committed (a Playwright test caught exactly that). An in-process client cannot
see the race (it waits for the whole ASGI call), hence this check of the wiring itself.
"""

from __future__ import annotations

import typing

from payrequest.web.deps import ReadSessionDep, SessionDep, get_read_session, get_session


def test_request_sessions_end_before_the_response_is_sent() -> None:
    for alias, function in ((SessionDep, get_session), (ReadSessionDep, get_read_session)):
        [depends] = typing.get_args(alias)[1:]
        assert depends.dependency is function
        assert depends.scope == "function"
