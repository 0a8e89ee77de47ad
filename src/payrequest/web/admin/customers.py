"""Customers: the searchable list, create and edit, and the customer card with its live parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from payrequest.automations import notices, reminders
from payrequest.customers import replies as customer_replies
from payrequest.customers import repository as customers
from payrequest.customers import service as customer_service
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput
from payrequest.customers.tags import joined, normalised, split_tags
from payrequest.errors import N_, PayrequestError
from payrequest.kit.clock import utcnow
from payrequest.kit.phone import parse_phone
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.ledger.repository import InvoiceWithBalance
from payrequest.payment_requests import phones
from payrequest.payment_requests import repository as requests_repo
from payrequest.portal import service as portal
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.admin.payments import money_context
from payrequest.web.admin.request_forms import requests_view, send_options
from payrequest.web.auth import StaffUser, Writer
from payrequest.web.deps import ReadSessionDep, RuntimeDep, SessionDep
from payrequest.web.flash import flash
from payrequest.web.labels import flow_name
from payrequest.web.portal.links import deliver_link
from payrequest.web.render import render

router = APIRouter()
LABELS = {
    "name": N_("Name"),
    "number": N_("Customer number"),
    "email": N_("Email"),
    "phone": N_("Mobile"),
    "country": N_("Country"),
    "locale": N_("Language"),
    "tags": N_("Tags"),
}
PAGE_SIZE = 25
MAX_PAGE = 100_000
MAX_TAG_TYPED = 100  # a tag filter longer than this matches nothing anyway (customers.tags)


@router.get("/customers", response_class=HTMLResponse)
async def customer_list(
    request: Request,
    user: StaffUser,
    session: ReadSessionDep,
    q: str = "",
    tag: str = "",
    page: str = "1",
) -> HTMLResponse:
    """The customers matching the search `q`, only those with `tag` when one is given."""
    page_number = int(page) if page.isdigit() and 0 < int(page) <= MAX_PAGE else 1  # typo: 1
    query = q.strip()
    wanted = normalised(tag)[:MAX_TAG_TYPED]
    rows = await customers.search(
        session,
        query=query,
        tag=wanted,
        limit=PAGE_SIZE + 1,
        offset=(page_number - 1) * PAGE_SIZE,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    summaries = await ledger_repo.customer_summaries(
        session, [c.id for c in rows], today=utcnow().date()
    )
    tags = await customers.tags_by_customer(session, [c.id for c in rows])
    return render(
        request,
        "customers/list.html",
        rows=[(c, summaries[c.id], tags.get(c.id, ())) for c in rows],
        q=query,
        tag=wanted,
        page=page_number,
        more=more,
        total=await customers.total_count(session),
    )


class CustomerForm(BaseModel):
    """The customer form as typed; read into `CustomerInput` (which validates) on save."""

    name: str = ""
    number: str = ""
    email: str = ""
    phone: str = ""
    country: str = "NO"
    locale: str = "nb"
    portal_access: bool = False
    tags: str = ""  # comma-separated (customers.tags.split_tags)

    def to_input(self) -> CustomerInput:
        return CustomerInput(
            name=self.name,
            number=self.number or None,
            email=self.email or None,
            phone=self.phone or None,
            country=self.country,
            locale=self.locale,
            portal_access=self.portal_access,
            tags=split_tags(self.tags),
        )


async def _save(
    request: Request,
    session: SessionDep,
    form: CustomerForm,
    customer: Customer | None,
    actor_id: int,
) -> Response:
    """Create (no customer) or update; bad input re-renders the form as typed, status 422."""
    try:
        async with session.begin_nested():
            if customer is None:
                saved = await customer_service.create_customer(
                    session, data=form.to_input(), actor_id=actor_id
                )
            else:
                saved = await customer_service.update_customer(
                    session, customer_id=customer.id, data=form.to_input(), actor_id=actor_id
                )
    except (PayrequestError, ValueError) as exc:
        if customer is not None:  # the savepoint's rollback expired it: read it as stored
            await session.refresh(customer)
        return render(
            request,
            "customers/form.html",
            status_code=422,
            customer=customer,
            values=form.model_dump(),
            error=i18n.problem(exc, LABELS),
        )
    flash(
        request, i18n.gettext("Customer saved.") if customer else i18n.gettext("Customer created.")
    )
    return RedirectResponse(f"/customers/{saved.id}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/customers/new", response_class=HTMLResponse)
async def new_customer(request: Request, user: StaffUser) -> HTMLResponse:
    return render(request, "customers/form.html", customer=None, values={}, error=None)


@router.post("/customers", response_model=None)
async def create_customer(
    request: Request, user: Writer, session: SessionDep, form: Annotated[CustomerForm, Form()]
) -> Response:
    return await _save(request, session, form, None, user.id)


@router.get("/customers/{customer_id}/edit", response_class=HTMLResponse)
async def edit_customer(
    request: Request, user: StaffUser, session: ReadSessionDep, customer_id: int
) -> HTMLResponse:
    customer = await _customer(session, customer_id)
    values = CustomerForm(
        name=customer.name,
        number=customer.number,
        email=customer.email or "",
        phone=customer.phone or "",
        country=customer.country,
        locale=customer.locale,
        portal_access=customer.portal_access,
        tags=joined(await customers.tags_of(session, customer.id)),
    ).model_dump()
    return render(request, "customers/form.html", customer=customer, values=values, error=None)


@router.post("/customers/{customer_id}", response_model=None)
async def update_customer(
    request: Request,
    user: Writer,
    session: SessionDep,
    customer_id: int,
    form: Annotated[CustomerForm, Form()],
) -> Response:
    return await _save(request, session, form, await _customer(session, customer_id), user.id)


SETTLED_SHOWN = 20  # paid and void invoices on the card; the invoice list has them all
OPEN_SHOWN = 200  # the oldest open invoices: as many as one request may cover


@dataclass(frozen=True, slots=True)
class CardRow:
    """One invoice line of the card, formatted in Python: a card may list thousands."""

    id: int
    number: str
    due: str
    status: str
    overdue: bool
    total: str
    open_text: str
    open_minor: int
    currency: str
    busy: bool


def card_rows(shown: list[InvoiceWithBalance], busy: set[int], today: date) -> list[CardRow]:
    return [
        CardRow(
            id=row.id,
            number=row.number,
            due=i18n.day(row.due_date),
            status=row.balance.status.value,
            overdue=row.balance.is_overdue(today),
            total=i18n.money(row.total, row.currency),
            open_text=i18n.money(row.balance.open_amount, row.currency),
            open_minor=row.balance.open_amount,
            currency=row.currency,
            busy=row.id in busy,
        )
        for row in shown
    ]


async def _customer(session: SessionDep | ReadSessionDep, customer_id: int) -> Customer:
    customer = await customers.get(session, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, i18n.gettext("No such customer"))
    return customer


def _reminders(reached: list[reminders.Step], upcoming: list[reminders.Step]) -> dict[str, Any]:
    def shown(step: reminders.Step) -> dict[str, Any]:
        return {
            "flow": flow_name(step.flow_name),
            "invoice_id": step.invoice_id,
            "invoice": step.invoice_number,
            "day": i18n.day(step.day),
            "when": i18n.moment(step.reached_at) if step.reached_at else "",
            "skipped": step.skipped,
            "late": step.late,
        }

    return {"reached": [shown(s) for s in reached], "upcoming": [shown(s) for s in upcoming]}


async def card_context(
    session: ReadSessionDep, customer: Customer, runtime: Runtime
) -> dict[str, Any]:
    card = await ledger_repo.card_invoices(
        session, customer.id, open_limit=OPEN_SHOWN, settled_limit=SETTLED_SHOWN
    )
    open_rows, recent = card.open, card.settled
    shown = sorted(open_rows + recent, key=lambda r: (r.due_date, r.id))
    active = await requests_repo.active_for_invoices(session, [r.id for r in open_rows])
    busy = {link.invoice_id for link in active}
    requests = await requests_repo.for_customer(session, customer.id, limit=20)
    return {
        "customer": customer,
        "tags": await customers.tags_of(session, customer.id),
        "rows": card_rows(shown, busy, utcnow().date()),
        "hidden_settled": card.settled_count - len(recent),
        "hidden_open": card.open_count - len(open_rows),
        "balances": await ledger.balances(session, customer.id),
        "requests": requests,
        **await requests_view(session, customer, requests, runtime.providers.card_name),
        "send": await send_options(runtime, customer, [r.currency for r in open_rows]),
        "suggestion": await phones.suggestion(session, customer),
        "notices": await notices.open_for_customer(session, customer.id),
        "reminders": _reminders(
            *await reminders.for_customer(session, customer.id, now=runtime.calendar.now())
        ),
        "opted_out_by_sms": await customer_replies.opted_out_by_sms(session, customer),
        **await money_context(session, customer),
    }


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_card(
    request: Request,
    user: StaffUser,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    customer_id: int,
) -> HTMLResponse:
    customer = await _customer(session, customer_id)
    context = await card_context(session, customer, runtime)
    return render(request, "customers/card.html", **context)


@router.get("/customers/{customer_id}/live/{part}", response_class=HTMLResponse)
async def customer_card_part(
    request: Request,
    user: StaffUser,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    customer_id: int,
    part: str,
) -> HTMLResponse:
    """A fragment of the card, re-fetched by the page when a live notice names the customer."""
    if part not in ("contact", "summary", "requests", "money"):
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    customer = await _customer(session, customer_id)
    context = await card_context(session, customer, runtime)
    return render(request, f"customers/_{part}.html", **context)


@router.post("/customers/{customer_id}/notices/{notice_id}/done")
async def notice_done(
    request: Request, user: Writer, runtime: RuntimeDep, customer_id: int, notice_id: int
) -> RedirectResponse:
    """A staff member has dealt with a flow's note on the card."""
    try:
        async with runtime.sessions() as session, session.begin():
            await notices.mark_done(
                session, customer_id=customer_id, notice_id=notice_id, actor_id=user.id
            )
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


@router.post("/customers/{customer_id}/reminders")
async def customer_reminders(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    customer_id: int,
    state: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Staff pause a customer's reminders (the steps wait) or resume them."""
    back = RedirectResponse(f"/customers/{customer_id}#reminders", status_code=303)
    if state not in ("on", "paused"):
        flash(request, i18n.gettext("Choose to pause or resume the reminders."), "error")
        return back
    try:
        async with runtime.sessions() as session, session.begin():
            await customer_service.set_reminders(
                session, customer_id=customer_id, state=state, actor_id=user.id
            )
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return back
    done = N_("Reminders are paused.") if state == "paused" else N_("Reminders are on.")
    flash(request, i18n.gettext(done))
    return back


@router.get("/api/phone-check")
async def phone_check(user: StaffUser, phone: str, country: str = "NO") -> JSONResponse:
    """Validation as the staff member types, with the same rules as the server uses on send."""
    try:
        parsed = parse_phone(phone, default_region=country)
    except PayrequestError as exc:
        return JSONResponse({"ok": False, "message": i18n.error_text(exc)})
    return JSONResponse({"ok": True, "e164": parsed.e164, "pretty": parsed.pretty()})


@router.post("/customers/{customer_id}/portal-link")
async def send_portal_link(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    customer_id: int,
    channel: Annotated[str, Form()] = "sms",
) -> RedirectResponse:
    """Send the customer a fresh magic link to the portal, by SMS or email."""
    try:
        async with runtime.sessions() as session, session.begin():
            customer = await _customer(session, customer_id)
            issued = await portal.issue_link(
                session, customer_id=customer_id, channel=channel, created_by_user_id=user.id
            )
        await deliver_link(runtime, customer=customer, channel=channel, issued=issued)
    except (PayrequestError, ValueError) as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
    except Exception as exc:
        flash(
            request,
            i18n.gettext("The link could not be sent: %(error)s")
            % {"error": i18n.translate(getattr(exc, "message", None) or str(exc))},
            "error",
        )
    else:
        flash(request, i18n.gettext("Portal link sent."))
    return RedirectResponse(f"/customers/{customer_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/customers/{customer_id}/phone/use")
async def use_learned_phone(
    request: Request,
    user: Writer,
    session: SessionDep,
    customer_id: int,
    suggested: Annotated[str, Form()],
    current: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Take the number learned from a payment, if the card was up to date (`current`)."""
    try:
        async with session.begin_nested():
            await phones.use_learned_phone(
                session,
                customer_id=customer_id,
                shown_phone=current or None,
                shown_suggestion=suggested,
                user_id=user.id,
            )
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        flash(request, i18n.gettext("The number is now the customer's mobile number."))
    return RedirectResponse(f"/customers/{customer_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/customers/{customer_id}/phone/dismiss")
async def dismiss_learned_phone(
    request: Request,
    user: Writer,
    session: SessionDep,
    customer_id: int,
    suggested: Annotated[str, Form()],
) -> RedirectResponse:
    """Do not offer the number learned from a payment (nor the same number again)."""
    try:
        async with session.begin_nested():
            await phones.dismiss_learned_phone(
                session, customer_id=customer_id, shown_suggestion=suggested, user_id=user.id
            )
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        flash(request, i18n.gettext("The suggested number was dismissed."))
    return RedirectResponse(f"/customers/{customer_id}", status_code=status.HTTP_303_SEE_OTHER)
