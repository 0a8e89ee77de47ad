"""How long a new request of the organisation in scope may wait, through provider `name`: its
setting within what the provider's account allows (service.Lifetime). The runtime's
`lifetime_for` and the automations' "send a payment request" both ask here."""

from __future__ import annotations

from payrequest.connections.directory import ProviderDirectory, ProvidersOfTheScope
from payrequest.db.scope import organisation_of_scope
from payrequest.payment_requests.service import Lifetime


async def lifetime_through(
    providers: ProvidersOfTheScope, directory: ProviderDirectory, name: str | None = None
) -> Lifetime:
    """NotConnected when the organisation has no such provider; `name` None: its default."""
    chosen = name or providers.default_name
    provider = await providers.named(chosen)
    minutes = await directory.lifetime_minutes(organisation_of_scope(), chosen)
    return Lifetime(minutes, provider.capabilities, provider=chosen)
