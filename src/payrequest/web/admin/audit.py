"""The audit log, for owners: who did what and when, newest first, a page at a time,
filtered by person and by action, in the reader's language."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from payrequest.audit import read as audit_read
from payrequest.errors import N_
from payrequest.users import service as users
from payrequest.web import i18n
from payrequest.web.admin.staff import OwnerReader
from payrequest.web.deps import ReadSessionDep
from payrequest.web.render import render

router = APIRouter()
MAX_PAGE = 100_000
MAX_ID = 2**31 - 1

# What each recorded action is called on the page (an action without a word shows its code).
ACTIONS: dict[str, str] = {
    "sign_in.succeeded": N_("Signed in"),
    "sign_in.failed": N_("Sign-in failed"),
    "sign_out": N_("Signed out"),
    "password.change": N_("Changed their password"),
    "password.reset": N_("Set a password from a link"),
    "password.reset_sent": N_("Password reset link sent"),
    "staff.invite": N_("Invited a staff member"),
    "staff.deactivate": N_("Deactivated a staff member"),
    "staff.reactivate": N_("Reactivated a staff member"),
    "staff.set_role": N_("Changed a role"),
    "payment_request.send": N_("Sent a payment request"),
    "payment_request.cancel": N_("Cancelled a payment request"),
    "payment.refund": N_("Refunded a payment"),
    "manual_payment.record": N_("Recorded a manual payment"),
    "invoice.create": N_("Created an invoice"),
    "invoice.update": N_("Changed an invoice"),
    "invoice.void": N_("Voided an invoice"),
    "invoice.reminders": N_("Paused or resumed an invoice's reminders"),
    "customer.create": N_("Created a customer"),
    "customer.update": N_("Changed a customer"),
    "customer.phone_use_suggested": N_("Used a suggested mobile number"),
    "customer.phone_dismiss_suggested": N_("Dismissed a suggested mobile number"),
    "customer.reminders": N_("Paused or resumed reminders"),
    "customer.opted_out_by_sms": N_("Opted out of reminders by SMS reply"),
    "credit.apply": N_("Applied credit to invoices"),
    "credit.take_back": N_("Took credit back from an invoice"),
    "flow.create": N_("Created a flow"),
    "flow.update": N_("Changed a flow"),
    "flow.enable": N_("Switched a flow on"),
    "flow.disable": N_("Switched a flow off"),
    "flow.test_run": N_("Started a test run of a flow"),
    "flow.retry_action": N_("Retried a flow action"),
    "webhook.register": N_("Registered the webhook"),
    "webhook.remove_foreign": N_("Removed foreign webhook registrations"),
    "api_key.create": N_("Created an API key"),
    "api_key.revoke": N_("Revoked an API key"),
    "webhook_endpoint.create": N_("Added a webhook endpoint"),
    "webhook_endpoint.update": N_("Changed a webhook endpoint"),
    "webhook_endpoint.rotate_secret": N_("Made a new secret for a webhook endpoint"),
    "webhook_endpoint.delete": N_("Deleted a webhook endpoint"),
}
# What an entry is about (`subject_type`), shown before its id.
SUBJECTS: dict[str, str] = {
    "invoice": N_("Invoice"),
    "customer": N_("Customer"),
    "flow": N_("Automation"),
    "payment_request": N_("Payment request"),
    "user": N_("Staff member"),
    "api_key": N_("API key"),
    "webhook_endpoint": N_("Webhook endpoint"),
}


# What a detail is, in words (`details` keys as the commands record them); a key without a
# word here is shown as it is stored.
DETAIL_WORDS: dict[str, str] = {
    "number": N_("Number"),
    "external_id": N_("External id"),
    "organisation_number": N_("Organisation number"),
    "prefix": N_("Key"),
    "scope": N_("Access"),
    "event_types": N_("Event types"),
    "enabled": N_("On"),
    "name": N_("Name"),
    "email": N_("Email"),
    "phone": N_("Mobile number"),
    "country": N_("Country"),
    "locale": N_("Language"),
    "portal_access": N_("Portal access"),
    "tags": N_("Tags"),
    "customer": N_("Customer"),
    "customer_id": N_("Customer"),
    "invoice": N_("Invoice"),
    "invoices": N_("Invoices"),
    "payment_request_id": N_("Payment request"),
    "reference": N_("Payment reference"),
    "total": N_("Total"),
    "amount": N_("Amount"),
    "currency": N_("Currency"),
    "method": N_("Method"),
    "reason": N_("Reason"),
    "note": N_("Note"),
    "role": N_("Role"),
    "issue_date": N_("Issue date"),
    "due_date": N_("Due date"),
    "lines": N_("Lines"),
    "kind": N_("Kind"),
    "url": N_("Address"),
    "endpoint_id": N_("Endpoint id"),
    "created": N_("Created"),
    "removed": N_("Removed"),
    "reply": N_("Reply"),
    "gateway": N_("SMS gateway"),
    "message_id": N_("Message id"),
}
MONEY_KEYS = frozenset({"total", "amount"})  # minor units, in the entry's `currency`
_CHANGE = " → "


def _value_text(key: str, value: object, currency: object) -> str:
    """One recorded value as the reader reads it: money formatted, yes/no in words."""
    if isinstance(value, bool) or value in ("True", "False"):
        return i18n.gettext("Yes") if value in (True, "True") else i18n.gettext("No")
    text = "–" if value in (None, "", []) else str(value)
    if key in MONEY_KEYS and isinstance(currency, str) and text.lstrip("-").isdigit():
        return i18n.money(int(text), currency)
    return text


def shown_details(details: dict[str, object]) -> list[tuple[str, str]]:
    """(label, value) of an entry's details in the reader's language; an edit's
    "old → new" has each side shown; the currency goes into the amounts it belongs to."""
    currency = details.get("currency")
    with_money = isinstance(currency, str) and not MONEY_KEYS.isdisjoint(details)
    shown = []
    for key, value in details.items():
        if key == "currency" and with_money:
            continue
        if isinstance(value, str) and _CHANGE in value:
            text = _CHANGE.join(_value_text(key, side, currency) for side in value.split(_CHANGE))
        else:
            text = _value_text(key, value, currency)
        label = i18n.gettext(DETAIL_WORDS[key]) if key in DETAIL_WORDS else key
        shown.append((label, text))
    return shown


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    user: OwnerReader,
    session: ReadSessionDep,
    page: int = 1,
    person: int | None = None,
    action: str = "",
) -> HTMLResponse:
    page = min(max(page, 1), MAX_PAGE)
    person = person if person is not None and 0 < person <= MAX_ID else None
    action = action[:64]
    found = await audit_read.entries(session, page=page, user_id=person, action=action or None)
    people = await users.list_users(session)
    names = {p.id: p.name for p in people}
    recorded = await audit_read.actions(session)
    query = "/audit?" + urlencode({"person": person or "", "action": action}) + "&"
    return render(
        request,
        "audit/list.html",
        entries=found.entries,
        page=found.page,
        more=found.more,
        names=names,
        people=people,
        actions=sorted(set(recorded) | set(ACTIONS)),
        action_words=ACTIONS,
        subject_words=SUBJECTS,
        shown_details=shown_details,
        person=person,
        action=action,
        pager_base=query,
    )
