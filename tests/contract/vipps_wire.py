"""The Vipps MobilePay wire format as payrequest relies on it, written down as JSON Schemas.

This is the project's own description of the bodies of the Access Token, ePayment, Webhooks and
Userinfo APIs; docs/vipps.md gives the same rules in prose. Every emulator answer and every
request body our provider sends is checked against it in every test run (checker.py). The
official OpenAPI files, when present, are an extra layer on top (official.py).

Where it costs nothing the description is stricter than the real API: objects are closed (an
unknown or misspelt field fails), amounts are integers, timestamps carry a zone, a field that
only makes sense with one user flow is refused with the others.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.contract.schema_parts import (
    Schema,
    Validator,
    closed,
    nullable,
    ref,
    text,
    when,
    whole,
)

URN = "urn:payrequest:vipps-wire"

# RFC 3339 date-time with a zone; up to 9 fractional digits (Vipps sends up to 7).
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
UUID = r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"
ABSOLUTE_URL = r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"
# https://, or an app's own scheme (myapp://); never plain http or a script/data/file URL.
RETURN_URL = r"^(https://\S+|(?!(https?|javascript|data|file):)[A-Za-z][A-Za-z0-9+.-]*:\S+)$"
JWT = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$"
TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
DIGITS = r"^[0-9]+$"
# profile.scope: space-separated words, each one of these.
SCOPE_WORD = "(name|address|email|phoneNumber|birthDate|nin|accountNumbers)"
SCOPE = f"^{SCOPE_WORD}( {SCOPE_WORD})*$"
# Webhook event names: `<api>.<object>.<event>.v<n>`; the ePayment ones are spelt out below.
WEBHOOK_EVENT_NAME = r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\.v[0-9]+$"

STATES = ("CREATED", "AUTHORIZED", "ABORTED", "EXPIRED", "TERMINATED")
EVENT_NAMES = (*STATES, "CANCELLED", "CAPTURED", "REFUNDED")
USER_FLOWS = ("PUSH_MESSAGE", "QR", "WEB_REDIRECT", "NATIVE_REDIRECT")
# The ePayment webhook events: plural "epayments", the event name in lower case, version 1.
EPAYMENT_WEBHOOK_EVENTS = tuple(f"epayments.payment.{name.lower()}.v1" for name in EVENT_NAMES)


# --- shared values ---------------------------------------------------------------------------

VALUES: dict[str, Schema] = {
    "currency": {"enum": ["NOK", "DKK", "EUR"]},
    "minor_units": whole(0, 65_000_000),
    "amount": closed({"currency": ref("currency"), "value": ref("minor_units")}),
    "reference": text(r"^[a-zA-Z0-9-]{8,64}$"),
    "msn": text(r"^[0-9]{4,10}$"),
    "psp_reference": text(),
    "msisdn": text(r"^[0-9]{10,15}$"),
    "timestamp": text(TIMESTAMP),
    "idempotency_key": text(most=50),
    "state": {"enum": list(STATES)},
    "event_name": {"enum": list(EVENT_NAMES)},
    "aggregate": closed(
        {
            "authorizedAmount": ref("amount"),
            "cancelledAmount": ref("amount"),
            "capturedAmount": ref("amount"),
            "refundedAmount": ref("amount"),
        }
    ),
}

# --- access token ----------------------------------------------------------------------------

TOKEN: dict[str, Schema] = {
    # Every number in the token answer is a string of digits.
    "token_response": closed(
        {
            "token_type": {"const": "Bearer"},
            "expires_in": text(DIGITS),
            "ext_expires_in": text(DIGITS),
            "expires_on": text(DIGITS),
            "not_before": text(DIGITS),
            "resource": text(),
            "access_token": text(JWT),
        }
    ),
    # Wrong client id or secret: an Azure AD style error.
    "token_error": closed(
        {
            "error": text(),
            "error_description": text(),
            "error_codes": {"type": "array", "items": whole()},
            "trace_id": text(),
            "correlation_id": text(),
        },
        {"timestamp": text(), "error_uri": text()},
    ),
}

# --- errors ----------------------------------------------------------------------------------


def problem(*, instance: Schema) -> Schema:
    return closed(
        {
            "type": text(r"^https?://"),
            "title": text(),
            "status": whole(400, 599),
            "traceId": text(TRACEPARENT),
        },
        {
            "detail": {"type": "string"},
            "instance": instance,
            "extraDetails": {"type": "array", "items": ref("extra_detail")},
        },
    )


ERRORS: dict[str, Schema] = {
    # What the API gateway answers by itself: bad key or token, rate limit, outages.
    "gateway_error": closed({"statusCode": whole(400, 599), "message": text()}),
    "extra_detail": {
        **closed({"name": text(), "reason": text()}),
        **when("name", "ErrorCode", {"properties": {"reason": text(r"^[0-9]{4,5}$")}}),
    },
    # RFC 7807 problem of the ePayment API; domain errors name their ErrorCode in extraDetails.
    # `instance` is the path without the /epayment prefix.
    "problem": problem(instance=text(r"^/v1/")),
    # The same, from the Userinfo API.
    "userinfo_problem": problem(instance=text(r"^/")),
    # The Webhooks API's problem: the same fields, each of them optional and nullable.
    "webhook_problem": closed(
        {},
        {
            "type": nullable({"type": "string"}),
            "title": nullable({"type": "string"}),
            "status": nullable(whole(400, 599)),
            "detail": nullable({"type": "string"}),
            "instance": nullable({"type": "string"}),
            "traceId": nullable({"type": "string"}),
            "extraDetails": nullable({"type": "array", "items": ref("extra_detail")}),
        },
    ),
}

# --- create a payment ------------------------------------------------------------------------

CUSTOMER = {
    "oneOf": [
        closed({"phoneNumber": ref("msisdn")}),
        closed({"personalQr": text(least=5, most=255)}),
        closed({"customerToken": text()}),
    ]
}
# A receipt line's amounts must also agree (operations.receipt_rules): totalAmount =
# totalAmountExcludingTax + totalTaxAmount, and unitPrice (per unit, including tax) x quantity
# - discount = totalAmount within rounding.
ORDER_LINE = {
    **closed(
        {
            "name": text(),
            "id": text(),
            "totalAmount": whole(0),
            "totalAmountExcludingTax": whole(0),
            "totalTaxAmount": whole(0),
        },
        {
            "taxPercentage": whole(0, 100),  # whole percent (older field)
            "taxRate": whole(0, 10_000),  # hundredths of a percent (newer field)
            "unitInfo": closed(
                # unitPrice: the price of one unit including tax, before any discount.
                {"unitPrice": whole(0), "quantity": text(r"^\d+(\.\d{1,8})?$", most=10)},
                {"quantityUnit": {"enum": ["PCS", "KG", "KM", "MINUTE", "LITRE", "KWH"]}},
            ),
            "discount": whole(0),
            "productUrl": text(),
            "isReturn": {"type": "boolean"},
            "isShipping": {"type": "boolean"},
        },
    ),
    "anyOf": [{"required": ["taxPercentage"]}, {"required": ["taxRate"]}],
}
RECEIPT = closed(
    {
        "orderLines": {"type": "array", "minItems": 1, "items": ref("order_line")},
        "bottomLine": closed(
            {"currency": ref("currency")},
            {
                "tipAmount": whole(0),
                "posId": text(),
                "receiptNumber": text(),
                "paymentSources": closed(
                    {}, {name: whole(0) for name in ("giftCard", "card", "voucher", "cash")}
                ),
                "barcode": closed(
                    {"format": {"enum": ["EAN-13", "CODE 39", "CODE 128"]}, "data": text()}
                ),
            },
        ),
    }
)
CREATE_FIELDS = closed(
    {
        "amount": ref("amount"),
        "paymentMethod": closed({"type": {"enum": ["WALLET", "CARD"]}}),
        "reference": ref("reference"),
        "userFlow": {"enum": list(USER_FLOWS)},
    },
    {
        "paymentDescription": text(least=3, most=100),
        "customer": ref("customer"),
        "customerInteraction": {"enum": ["CUSTOMER_PRESENT", "CUSTOMER_NOT_PRESENT"]},
        "returnUrl": text(RETURN_URL),
        "receiptUrl": text(RETURN_URL),
        "expiresAt": ref("timestamp"),
        "qrFormat": closed(
            {"format": {"enum": ["IMAGE/SVG+XML", "IMAGE/PNG", "TEXT/TARGETURL"]}},
            {"size": whole(100, 2000)},
        ),
        "receipt": ref("receipt"),
        "metadata": {
            "type": "object",
            "maxProperties": 5,
            "propertyNames": {"maxLength": 100},
            "additionalProperties": text(least=0, most=500),
        },
        "profile": closed({"scope": text(SCOPE)}),
        "minimumUserAge": nullable(whole(0, 100)),
        "industryData": closed({}, {"airlineData": ref("airline_data")}),
    },
)
CREATE = {
    **CREATE_FIELDS,
    "allOf": [
        when("userFlow", "PUSH_MESSAGE", {"required": ["customer"]}),
        when("userFlow", "WEB_REDIRECT", {"required": ["returnUrl"]}),
        {"if": {"required": ["expiresAt"]}, "then": ref("long_living")},
        {"if": {"required": ["qrFormat"]}, "then": {"properties": {"userFlow": {"const": "QR"}}}},
        {
            "if": {"properties": {"paymentMethod": {"properties": {"type": {"const": "CARD"}}}}},
            "then": {"properties": {"userFlow": {"const": "WEB_REDIRECT"}}},
        },
    ],
}

PAYMENTS: dict[str, Schema] = {
    "customer": CUSTOMER,
    "order_line": ORDER_LINE,
    "receipt": RECEIPT,
    # industryData.airlineData: its four ids are required together.
    "airline_data": closed(
        {
            "agencyInvoiceNumber": text(most=6),
            "airlineCode": text(least=3, most=3),
            "airlineDesignatorCode": text(least=2, most=2),
            "passengerName": text(most=49),
        },
        {"ticketNumber": text(most=150)},
    ),
    "create_request": CREATE,
    # A payment with expiresAt: push or QR only, and always with a receipt.
    "long_living": {
        "properties": {"userFlow": {"enum": ["PUSH_MESSAGE", "QR"]}},
        "required": ["receipt"],
    },
    "create_response": closed({"reference": ref("reference")}, {"redirectUrl": text(ABSOLUTE_URL)}),
    "payment": {
        **closed(
            {
                "aggregate": ref("aggregate"),
                "amount": ref("amount"),
                "state": ref("state"),
                "paymentMethod": closed(
                    {"type": {"enum": ["WALLET", "CARD"]}}, {"cardBin": text(r"^[0-9]{6}$")}
                ),
                "profile": closed({}, {"sub": text()}),
                "pspReference": ref("psp_reference"),
                "reference": ref("reference"),
            },
            {
                "redirectUrl": text(ABSOLUTE_URL),
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                "userDetails": {"type": "object"},
                "shippingDetails": {"type": "object"},
                "captureGuaranteedUntil": ref("timestamp"),
            },
        ),
        # `profile.sub` appears only once the user has approved (and shared the profile).
        "if": {"not": {"properties": {"state": {"const": "AUTHORIZED"}}}},
        "then": {"properties": {"profile": {"maxProperties": 0}}},
    },
    "cancel_request": closed({}, {"cancelTransactionOnly": {"type": "boolean"}}),
    "modification_request": closed({"modificationAmount": ref("amount")}),
    "modification": closed(
        {
            "amount": ref("amount"),
            "state": ref("state"),
            "aggregate": ref("aggregate"),
            "pspReference": ref("psp_reference"),
            "reference": ref("reference"),
        }
    ),
    "force_approve_request": closed({}, {"customer": ref("customer"), "token": text()}),
}

# --- events: the event log and the webhook payload -------------------------------------------

EVENT_FIELDS: dict[str, Schema] = {
    "reference": ref("reference"),
    "pspReference": ref("psp_reference"),
    "name": ref("event_name"),
    "amount": ref("amount"),
    "timestamp": ref("timestamp"),
    "success": {"type": "boolean"},
}
EVENTS: dict[str, Schema] = {
    "payment_event": closed(EVENT_FIELDS, {"idempotencyKey": nullable(ref("idempotency_key"))}),
    "event_log": {"type": "array", "items": ref("payment_event")},
    "webhook_event": closed(
        {"msn": ref("msn"), **EVENT_FIELDS},
        {
            "idempotencyKey": nullable(ref("idempotency_key")),
            "userDetails": {"type": "object"},
            "captureGuaranteedUntil": ref("timestamp"),
        },
    ),
}

# --- the Webhooks API ------------------------------------------------------------------------

WEBHOOKS: dict[str, Schema] = {
    "webhook_event_name": {
        "anyOf": [
            {"enum": list(EPAYMENT_WEBHOOK_EVENTS)},
            text(f"^(?!epayment){WEBHOOK_EVENT_NAME[1:]}"),  # another API's events
        ]
    },
    "webhook_registration": closed(
        {
            "url": text(ABSOLUTE_URL),
            "events": {"type": "array", "minItems": 1, "items": ref("webhook_event_name")},
        }
    ),
    "webhook_registered": closed({"id": text(UUID), "secret": text()}),
    "webhook_list": closed(
        {
            "webhooks": {
                "type": "array",
                "items": closed(
                    {
                        "id": text(UUID),
                        "url": text(ABSOLUTE_URL),
                        "events": {"type": "array", "items": ref("webhook_event_name")},
                    }
                ),
            }
        }
    ),
}

# --- the Userinfo API: the profile a user shared in a payment ---------------------------------

ADDRESS = closed(
    {},
    {
        name: text(least=0)
        for name in (
            "street_address",
            "postal_code",
            "region",
            "country",
            "formatted",
            "address_type",
        )
    },
)
USERINFO: dict[str, Schema] = {
    # OpenID Connect claims: `sub`, and those of each scope the user agreed to share.
    "userinfo": closed(
        {"sub": text()},
        {
            "name": text(),  # scope name
            "given_name": text(),
            "family_name": text(),
            "address": ADDRESS,  # scope address
            "other_addresses": {"type": "array", "items": ADDRESS},
            "email": text(),  # scope email
            "email_verified": {"type": "boolean"},
            "phone_number": ref("msisdn"),  # scope phoneNumber: digits, country code first
            "phone_number_verified": {"type": "boolean"},
            "birthdate": text(r"^\d{4}-\d{2}-\d{2}$"),  # scope birthDate
            "nin": text(),  # scope nin
            "accounts": {  # scope accountNumbers
                "type": "array",
                "items": closed(
                    {"account_name": text(), "account_number": text(), "bank_name": text()}
                ),
            },
        },
    ),
}

DESCRIPTION: Schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": URN,
    "$defs": {**VALUES, **TOKEN, **ERRORS, **PAYMENTS, **EVENTS, **WEBHOOKS, **USERINFO},
}
NAMES = frozenset(DESCRIPTION["$defs"])


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """A validator for one named part of the description (e.g. `create_request`)."""
    if name not in NAMES:
        raise KeyError(f"no schema named {name!r} in the Vipps wire description")
    resource = Resource.from_contents(DESCRIPTION, default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(URN, resource)
    made = Validator({"$ref": f"{URN}#/$defs/{name}"}, registry=registry)
    return cast("jsonschema.protocols.Validator", made)


def validate(name: str, instance: Any) -> None:
    """Raise jsonschema.ValidationError (the most relevant one) if `instance` breaks `name`."""
    error = jsonschema.exceptions.best_match(validator(name).iter_errors(instance))
    if error is not None:
        raise error
