"""Whose name an SMS carries: the sender id of the organisation the message is for.

`SmsOfTheScope` is the SMS gateway the app holds (runtime.sms). A message sent for one
organisation (db.scope: the request's, the job's) goes out with that organisation's
`sms_sender` when it has one, else with the installation's (PAYREQUEST_SMS__SENDER, the
gateway's own). A caller that names a sender keeps it. Each organisation's sender is looked up
again after `RECHECK` seconds, or at once after `forget` (the owner just changed it).
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, current, scoped_to
from payrequest.notify.sms.base import SmsGateway, SmsReceipt
from payrequest.organisations.models import Organisation

RECHECK = 5.0  # seconds a process trusts what it knows of an organisation's sender


class SmsOfTheScope:
    """An `SmsGateway` sending with the sender id of the organisation the work is for."""

    def __init__(self, gateway: SmsGateway, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.gateway = gateway
        self.name = gateway.name
        self._sessions = sessions
        self._known: dict[int, tuple[str | None, float]] = {}

    async def sender_for(self, organisation_id: int) -> str | None:
        """The organisation's own sender id; None: the installation's."""
        known = self._known.get(organisation_id)
        if known is not None and time.monotonic() - known[1] < RECHECK:
            return known[0]
        async with self._sessions(info=scoped_to(ALL)) as session:
            sender = await session.scalar(
                select(Organisation.sms_sender).where(Organisation.id == organisation_id)
            )
        self._known[organisation_id] = (sender, time.monotonic())
        return sender

    def forget(self, organisation_id: int) -> None:
        """Look the organisation's sender up again at its next message (it was just changed)."""
        self._known.pop(organisation_id, None)

    async def send(
        self, *, to: str, text: str, idempotency_key: str, sender: str | None = None
    ) -> SmsReceipt:
        scope = current()
        if sender is None and isinstance(scope, int):
            sender = await self.sender_for(scope)
        return await self.gateway.send(
            to=to, text=text, idempotency_key=idempotency_key, sender=sender
        )

    async def close(self) -> None:
        await self.gateway.close()
