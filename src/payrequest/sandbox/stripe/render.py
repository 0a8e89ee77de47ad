"""Stripe's JSON for the emulator's objects, field by field after Stripe's own examples.

Every object carries `id`, `object`, `created` and `livemode: false`. Fields the emulator
never sets (taxes, shipping, Connect, ...) are present with Stripe's empty values so that the
SDK and a product reading them see what the real API sends (docs/stripe.md#objects).
"""

from __future__ import annotations

from typing import Any

from payrequest.sandbox.stripe.model import (
    Card,
    Charge,
    Event,
    LineItem,
    PaymentIntent,
    Refund,
    Session,
    WebhookEndpoint,
)

EMPTY_ADDRESS: dict[str, Any] = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def list_object(url: str, data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": has_more, "data": data}


def deleted(kind: str, object_id: str) -> dict[str, Any]:
    return {"id": object_id, "object": kind, "deleted": True}


def session(s: Session) -> dict[str, Any]:
    total = s.amount_total
    details: dict[str, Any] | None = None
    if s.status == "complete":
        details = {
            "address": dict(EMPTY_ADDRESS),
            "email": s.paid_email,
            "name": s.customer_name,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
    return {
        "id": s.id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": s.cancel_url,
        "client_reference_id": s.client_reference_id,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": s.created,
        "currency": s.currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": details,
        "customer_email": s.customer_email,
        "discounts": [],
        "expires_at": s.expires_at,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": s.locale,
        "metadata": dict(s.metadata),
        "mode": "payment",
        "payment_intent": s.payment_intent,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": list(s.payment_method_types),
        "payment_status": s.payment_status,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": s.status,
        "submit_type": None,
        "subscription": None,
        "success_url": s.success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": s.url if s.status == "open" else None,
        "wallet_options": None,
    }


def line_item(item: LineItem, created: int) -> dict[str, Any]:
    return {
        "id": item.id,
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": item.amount,
        "amount_tax": 0,
        "amount_total": item.amount,
        "currency": item.currency,
        "description": item.name,
        "metadata": {},
        "price": {
            "id": item.price_id,
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "created": created,
            "currency": item.currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": item.product_id,
            "recurring": None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": item.unit_amount,
            "unit_amount_decimal": str(item.unit_amount),
        },
        "quantity": item.quantity,
    }


def payment_intent(pi: PaymentIntent) -> dict[str, Any]:
    return {
        "id": pi.id,
        "object": "payment_intent",
        "amount": pi.amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": pi.amount_received,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": pi.canceled_at,
        "cancellation_reason": pi.cancellation_reason,
        "capture_method": "automatic",
        "client_secret": pi.client_secret,
        "confirmation_method": "automatic",
        "created": pi.created,
        "currency": pi.currency,
        "customer": None,
        "description": pi.description,
        "excluded_payment_method_types": None,
        "last_payment_error": pi.last_payment_error,
        "latest_charge": pi.latest_charge,
        "livemode": False,
        "metadata": dict(pi.metadata),
        "next_action": pi.next_action,
        "on_behalf_of": None,
        "payment_method": pi.payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": list(pi.payment_method_types),
        "processing": None,
        "receipt_email": pi.receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": pi.status,
        "transfer_data": None,
        "transfer_group": None,
    }


def card_details(card: Card) -> dict[str, Any]:
    return {
        "brand": card.brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": card.country,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "fingerprint": None,
        "funding": card.funding,
        "last4": card.last4,
        "network": card.brand,
        "three_d_secure": None,
        "wallet": None,
    }


def payment_method(card: Card, created: int, email: str | None) -> dict[str, Any]:
    return {
        "id": card.payment_method,
        "object": "payment_method",
        "billing_details": {
            "address": dict(EMPTY_ADDRESS),
            "email": email,
            "name": None,
            "phone": None,
        },
        "card": card_details(card),
        "created": created,
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def charge(ch: Charge) -> dict[str, Any]:
    succeeded = ch.status == "succeeded"
    outcome = {
        "network_status": "approved_by_network" if succeeded else "declined_by_network",
        "reason": ch.decline_code,
        "risk_level": "normal",
        "seller_message": "Payment complete."
        if succeeded
        else "The bank did not return any further details with this decline.",
        "type": "authorized" if succeeded else "issuer_declined",
    }
    return {
        "id": ch.id,
        "object": "charge",
        "amount": ch.amount,
        "amount_captured": ch.amount if succeeded else 0,
        "amount_refunded": ch.amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": ch.balance_transaction,
        "billing_details": {
            "address": dict(EMPTY_ADDRESS),
            "email": ch.billing_email,
            "name": ch.billing_name,
            "phone": None,
        },
        "calculated_statement_descriptor": "SANDBOX",
        "captured": succeeded,
        "created": ch.created,
        "currency": ch.currency,
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": ch.failure_code,
        "failure_message": ch.failure_message,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": ch.payment_intent,
        "payment_method": ch.card.payment_method,
        "payment_method_details": {"card": card_details(ch.card), "type": "card"},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": succeeded and ch.amount_refunded == ch.amount,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": ch.status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(r: Refund) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "balance_transaction": None,
        "charge": r.charge,
        "created": r.created,
        "currency": r.currency,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": dict(r.metadata),
        "payment_intent": r.payment_intent,
        "reason": r.reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": r.status,
        "transfer_reversal": None,
    }


def webhook_endpoint(we: WebhookEndpoint, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": we.id,
        "object": "webhook_endpoint",
        "api_version": we.api_version,
        "application": None,
        "created": we.created,
        "description": we.description,
        "enabled_events": list(we.enabled_events),
        "livemode": False,
        "metadata": dict(we.metadata),
        "status": we.status,
        "url": we.url,
    }
    if with_secret:
        body["secret"] = we.secret
    return body


def event(ev: Event, pending_webhooks: int) -> dict[str, Any]:
    data: dict[str, Any] = {"object": ev.object}
    if ev.previous_attributes is not None:
        data["previous_attributes"] = ev.previous_attributes
    return {
        "id": ev.id,
        "object": "event",
        "api_version": ev.api_version,
        "created": ev.created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": ev.request_id, "idempotency_key": ev.idempotency_key},
        "type": ev.type,
    }
