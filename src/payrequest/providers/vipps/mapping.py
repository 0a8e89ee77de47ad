"""Vipps MobilePay names <-> neutral names. Tables, not if-chains."""

from __future__ import annotations

from payrequest.errors import N_
from payrequest.providers.base import AccountRefusal, EventName, ProviderState, UserFlow

STATE_FROM_WIRE: dict[str, ProviderState] = {
    "CREATED": ProviderState.created,
    "AUTHORIZED": ProviderState.authorized,
    "ABORTED": ProviderState.aborted,
    "EXPIRED": ProviderState.expired,
    "TERMINATED": ProviderState.terminated,
}

EVENT_FROM_WIRE: dict[str, EventName] = {
    "CREATED": EventName.created,
    "AUTHORIZED": EventName.authorized,
    "ABORTED": EventName.aborted,
    "EXPIRED": EventName.expired,
    "TERMINATED": EventName.terminated,
    "CANCELLED": EventName.cancelled,
    "CAPTURED": EventName.captured,
    "REFUNDED": EventName.refunded,
}

USER_FLOW_TO_WIRE: dict[UserFlow, str] = {
    UserFlow.push: "PUSH_MESSAGE",
    UserFlow.qr: "QR",
    UserFlow.redirect: "WEB_REDIRECT",
}

# Every ePayment webhook event; note the plural "epayments".
WEBHOOK_EVENTS: tuple[str, ...] = tuple(
    f"epayments.payment.{name}.v1"
    for name in (
        "created",
        "authorized",
        "aborted",
        "expired",
        "terminated",
        "cancelled",
        "captured",
        "refunded",
    )
)

# ErrorCodes after which a retry with the same key can succeed (docs/vipps.md#errors).
RETRYABLE_CODES = frozenset({"6160", "6280", "3010"})
RETRYABLE_STATUSES = frozenset({408, 423, 429, 500, 502, 503, 504})
# "Reference not found": the only answer that says a payment does not exist (a bare 404 does
# not; docs/vipps.md#errors).
NOT_FOUND_CODE = "5090"
# Refusals of a cancel that came after the payer approved (docs/vipps.md#capture-cancel-and-refund):
# the payment may well be authorized, and is captured instead.
ALREADY_AUTHORIZED_CODES = frozenset({"6060", "6230"})

# Why the access token was refused, by the identity provider's error code (its AADSTS number;
# docs/vipps.md#access-token). English message ids, shown translated.
TOKEN_REFUSALS: dict[int, str] = {
    7000215: N_(
        "The client secret is invalid: Vipps MobilePay did not accept it. "
        "Check PAYREQUEST_VIPPS__CLIENT_SECRET."
    ),
    7000222: N_(
        "The client secret has expired. Make a new one in the Vipps MobilePay business portal "
        "and set it in PAYREQUEST_VIPPS__CLIENT_SECRET."
    ),
    700016: N_(
        "Vipps MobilePay does not know this client id. Check PAYREQUEST_VIPPS__CLIENT_ID and "
        "that the keys belong to this environment (test or production)."
    ),
}
CREDENTIALS_REFUSED = N_(
    "Vipps MobilePay did not accept the client id and client secret. Check "
    "PAYREQUEST_VIPPS__CLIENT_ID and PAYREQUEST_VIPPS__CLIENT_SECRET."
)
SUBSCRIPTION_KEY_REFUSED = N_(
    "Vipps MobilePay did not accept the subscription key. Check "
    "PAYREQUEST_VIPPS__SUBSCRIPTION_KEY and that it belongs to this sales unit and environment."
)
# A cancel answered with a 404 that is not 5090, and GET could not settle where the payment
# stands: nothing is changed on our side (docs/vipps.md#capture-cancel-and-refund).
CANCEL_UNCONFIRMED = N_(
    "Vipps MobilePay did not confirm the cancellation, so nothing was changed. "
    "Try again in a minute."
)

# Human explanations for the refusals staff will actually see: English message ids, shown
# translated where they are read (they are stored as a request's failure reason).
STAFF_MESSAGES: dict[str, str] = {
    "7010": N_("This phone number has no Vipps/MobilePay user who can pay businesses."),
    "4070": N_("The phone number is not valid for Vipps/MobilePay."),
    "5080": N_(
        "Vipps MobilePay does not allow push requests for this sales unit. Retry with "
        "“QR code / link”, or ask Vipps MobilePay to allow push requests."
    ),
    "5040": N_("The currency does not match the Vipps/MobilePay sales unit's country."),
    "5050": N_(
        "Vipps MobilePay has not approved this sales unit for requests that stay open longer "
        "than 10 minutes, although PAYREQUEST_VIPPS__LONG_LIVING_APPROVED says so. Retry sends "
        "the request to stay open 10 minutes. For longer, ask Vipps MobilePay to approve the "
        "sales unit, or set PAYREQUEST_VIPPS__LONG_LIVING_APPROVED=false."
    ),
    "5060": N_(
        "Vipps MobilePay cannot take payments for this sales unit yet: its bank account is not "
        "verified. The business must verify it in the Vipps MobilePay business portal, then "
        "press Retry."
    ),
    "6140": N_(
        "Vipps MobilePay takes only captures of the whole amount for this sales unit and "
        "refused this capture. Contact Vipps MobilePay with the request's reference."
    ),
    "6010": N_("The amount is below the minimum Vipps/MobilePay accepts."),
    "4150": N_("A payment with this reference already exists at Vipps/MobilePay."),
    "5070": N_("Vipps/MobilePay could not create this payment."),
    "6070": N_("The authorization was cancelled before capture."),
    "6100": N_("The capture deadline has passed."),
    "6200": N_("The payment is no longer in a state that can be captured."),
    "6260": N_("The customer's bank released the reserved money; ask for a new payment."),
}

# Refusals about the sales unit rather than one payment (docs/vipps.md#the-sales-units-situation):
# the same request would be refused again until the sales unit or our settings change.
ACCOUNT_REFUSALS: dict[str, AccountRefusal] = {
    "5050": AccountRefusal.long_living,
    "5080": AccountRefusal.push,
    "6140": AccountRefusal.partial_capture,
    "5060": AccountRefusal.no_payments,
}
