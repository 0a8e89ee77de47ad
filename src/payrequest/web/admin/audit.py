"""The audit log, for owners: who did what and when, newest first, a page at a time,
filtered by person and by action, in the reader's language."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from payrequest.audit import read as audit_read
from payrequest.errors import N_
from payrequest.users import service as users
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
    "customer.create": N_("Created a customer"),
    "customer.update": N_("Changed a customer"),
    "customer.phone_use_suggested": N_("Used a suggested mobile number"),
    "customer.phone_dismiss_suggested": N_("Dismissed a suggested mobile number"),
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
}
# What an entry is about (`subject_type`), shown before its id.
SUBJECTS: dict[str, str] = {
    "invoice": N_("Invoice"),
    "customer": N_("Customer"),
    "flow": N_("Automation"),
    "payment_request": N_("Payment request"),
    "user": N_("Staff member"),
}


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
        person=person,
        action=action,
        pager_base=query,
    )
