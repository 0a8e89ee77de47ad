"""Our public URLs: every address handed out (to customers, to the payment provider, in
messages) is built here from the one public base URL, and the routes serve these paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payrequest.kit.signing import SignedValues

WEBHOOK = "/webhooks/{provider}"  # where a provider posts its webhooks
# ... for one organisation's own connection: the token names it (connections.models)
CONNECTION_WEBHOOK = "/webhooks/{provider}/{token}"
# where GatewayAPI posts the SMS customers send us (their replies); routed before the two above,
# whose `{provider}/{token}` it would otherwise match
SMS_REPLY_WEBHOOK = "/webhooks/sms/gatewayapi"
PORTAL_LINK = "/portal/link/{token}"  # a customer's one-time sign-in link
PORTAL_RECEIPT = "/portal/receipts/{reference}"  # a payment's receipt, for the signed-in
RECEIPT = "/receipts/{token}"  # a payment's receipt for whoever has the signed link
RECEIPT_LIFETIME = timedelta(days=90)  # how long a receipt link works
PORTAL_RETURNED = "/portal/returned"  # where the payment app sends the customer back
WEBHOOK_ENDPOINTS = "/settings/webhook-endpoints"  # an organisation's outgoing webhooks
SANDBOX = "/sandbox/vipps"  # where the app mounts the Vipps MobilePay emulator
SANDBOX_STRIPE = "/sandbox/stripe"  # ... and the Stripe emulator (its API at /v1 below it)


@dataclass(frozen=True, slots=True)
class PublicUrls:
    """Absolute URLs under `base`, the public URL (`https://pay.example.no`, no trailing `/`).

    `signing_key` (the app's secret key) signs the links that work without signing in;
    without it, `receipt` refuses to build one.
    """

    base: str
    signing_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    def webhook(self, provider: str) -> str:
        return self.base + WEBHOOK.format(provider=provider)

    def connection_webhook(self, provider: str, token: str) -> str:
        return self.base + CONNECTION_WEBHOOK.format(provider=provider, token=token)

    def sms_reply_webhook(self) -> str:
        return self.base + SMS_REPLY_WEBHOOK

    def portal_link(self, token: str) -> str:
        return self.base + PORTAL_LINK.format(token=token)

    def receipt(self, reference: str, *, now: datetime | None = None) -> str:
        """The payment's receipt for anyone with this link, no sign-in needed, for
        RECEIPT_LIFETIME from `now`: the token is the reference, signed."""
        return self.base + RECEIPT.format(token=self._receipts().sign(reference, now=now))

    def receipt_reference(self, token: str, *, now: datetime | None = None) -> str:
        """The payment reference a receipt link's token carries; kit.signing's TokenExpired
        or TokenInvalid when it is too old or not ours."""
        return self._receipts().read(token, now=now)

    def _receipts(self) -> SignedValues:
        return SignedValues(self.signing_key or "", "receipt", RECEIPT_LIFETIME)

    def portal_returned(self) -> str:
        return self.base + PORTAL_RETURNED

    def webhook_endpoints(self) -> str:
        return self.base + WEBHOOK_ENDPOINTS

    def sandbox(self) -> str:
        return self.base + SANDBOX

    def sandbox_stripe(self) -> str:
        return self.base + SANDBOX_STRIPE
