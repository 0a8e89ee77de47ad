"""Helpers for the Stripe emulator tests: the running emulator, session parameters, paying
on the hosted page with httpx form posts, and reading the control API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import stripe

from payrequest.sandbox.stripe import StripeEmulator

KEY = "sk_test_sandbox"
OTHER_KEY = "sk_test_other_account"
SUCCESS = "https://shop.example/paid?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://shop.example/invoice/1001"


@dataclass
class Emulator:
    base: str  # http://127.0.0.1:PORT/stripe
    emu: StripeEmulator

    def client(self, key: str = KEY, retries: int = 2) -> stripe.StripeClient:
        return stripe.StripeClient(
            key, base_addresses={"api": self.base}, max_network_retries=retries
        )

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.base}/control{path}", timeout=5, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


def session_params(amount: int = 49900, currency: str = "nok", **extra: Any) -> Any:
    """Create parameters of a one-line NOK session (typed loosely: the tests also send
    parameters the SDK's types leave out)."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount,
                    "product_data": {"name": "Invoice 1001"},
                },
                "quantity": 1,
            }
        ],
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        "client_reference_id": "inv-1001",
        "metadata": {"invoice_id": "1001"},
        "payment_intent_data": {"metadata": {"invoice_id": "1001"}},
    }
    params.update(extra)
    return params


def pay(
    url: str,
    number: str,
    expiry: str = "12 / 34",
    cvc: str = "123",
    email: str = "payer@example.com",
) -> httpx.Response:
    """Submit the hosted page's card form as a browser would (no redirects followed)."""
    page = httpx.get(url, timeout=5)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None, page.text
    target = str(httpx.URL(url).join(action.group(1)))
    form = {"cardNumber": number, "cardExpiry": expiry, "cardCvc": cvc, "email": email}
    return httpx.post(target, data=form, timeout=5)


def authenticate(url: str, action: str) -> httpx.Response:
    """Press "Complete" or "Fail" on the 3-D Secure page."""
    return httpx.post(f"{url}/authenticate", data={"action": action}, timeout=5)
