"""The phone numbers payers shared with a payment, read from the Userinfo API.

A payment created with `profile.scope` carries the payer's `sub` once approved; GET
`/vipps-userinfo-api/userinfo/{sub}` answers what they agreed to share
(docs/vipps.md#profile-sharing-and-userinfo). Reading it is a bonus, never a condition: a
failure is logged and answers "no number" for now, and the next read of the payment asks again.
A definite answer (the claims, or 404: nothing shared under this sub) is kept per payment and
sub, so that a poll loop or repeated captures ask once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from payrequest.providers.base import ProviderError
from payrequest.providers.vipps import wire
from payrequest.providers.vipps.client import RetryPolicy, VippsClient

USERINFO = "/vipps-userinfo-api/userinfo"
ONE_TRY = RetryPolicy(attempts=1)  # a capture or poll must not wait for retries of a bonus
KEPT = 4096  # answers remembered (the oldest are forgotten first)

log = logging.getLogger(__name__)


class SharedPhones:
    def __init__(self, client: VippsClient, *, kept: int = KEPT) -> None:
        self.client = client
        self.kept = kept
        self._known: OrderedDict[tuple[str, str], str | None] = OrderedDict()

    async def phone(self, reference: str, sub: str) -> str | None:
        """The E.164 number the payer of `reference` shared, or None (none, or not known yet)."""
        key = (reference, sub)
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        try:
            response = await self.client.call("GET", f"{USERINFO}/{sub}", retry=ONE_TRY)
        except ProviderError as exc:
            log.warning("userinfo for %s failed, asking again on the next read: %s", reference, exc)
            return None
        if response.status_code == 200:
            try:
                found = wire.shared_phone(response.json())
            except ValueError:
                log.warning("userinfo for %s: the answer is not JSON", reference)
                return None
        elif response.status_code == 404:
            found = None
            log.info("userinfo for %s: nothing shared under this sub", reference)
        else:
            log.warning(
                "userinfo for %s failed, asking again on the next read: %s",
                reference,
                self.client.problem(response),  # logged there with Vipps' traceId
            )
            return None
        self._remember(key, found)
        return found

    def _remember(self, key: tuple[str, str], phone: str | None) -> None:
        self._known[key] = phone
        while len(self._known) > self.kept:
            self._known.popitem(last=False)
