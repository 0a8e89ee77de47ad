"""How often one mobile number may be sent a push request: at most 3 in 10 minutes and 10 a
day (docs/goals.md, S4), whoever sends it (staff, the portal, a bulk send, a retry). Counted
where every request is created (`service.create_request`), atomically
(`ratelimit.take`), in the creating transaction: a refused request writes nothing, and one
that fails for another reason is not counted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import PayrequestError
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit

PHONE_LIMITS = (Limit(3, timedelta(minutes=10)), Limit(10, timedelta(days=1)))


class PushLimited(PayrequestError):
    status_code = 429
    code = "push_limited"


def key(e164: str) -> str:
    return f"push:phone:{e164}"


async def take(session: AsyncSession, *, e164: str) -> None:
    """Count a push request to this number, or raise PushLimited if it has had its share."""
    verdict = await ratelimit.take(session, key=key(e164), limits=PHONE_LIMITS)
    if verdict.allowed:
        return
    minutes = max(1, -(-int((verdict.retry_after or timedelta()).total_seconds()) // 60))
    raise PushLimited(
        "This mobile number has been sent several payment requests in a short time. "
        "Please wait %(minutes)s minutes before sending another.",
        field="phone",
        minutes=minutes,
    )
