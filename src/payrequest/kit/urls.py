"""Our public URLs: every address handed out (to customers, to the payment provider, in
messages) is built here from the one public base URL, and the routes serve these paths."""

from __future__ import annotations

from dataclasses import dataclass

WEBHOOK = "/webhooks/{provider}"  # where a provider posts its webhooks
PORTAL_LINK = "/portal/link/{token}"  # a customer's one-time sign-in link
PORTAL_RECEIPT = "/portal/receipts/{reference}"  # a payment's receipt
PORTAL_RETURNED = "/portal/returned"  # where the payment app sends the customer back
SANDBOX = "/sandbox/vipps"  # where the app mounts the payment provider's emulator


@dataclass(frozen=True, slots=True)
class PublicUrls:
    """Absolute URLs under `base`, the public URL (`https://pay.example.no`, no trailing `/`)."""

    base: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    def webhook(self, provider: str) -> str:
        return self.base + WEBHOOK.format(provider=provider)

    def portal_link(self, token: str) -> str:
        return self.base + PORTAL_LINK.format(token=token)

    def receipt(self, reference: str) -> str:
        return self.base + PORTAL_RECEIPT.format(reference=reference)

    def portal_returned(self) -> str:
        return self.base + PORTAL_RETURNED

    def sandbox(self) -> str:
        return self.base + SANDBOX
