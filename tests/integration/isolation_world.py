"""Two organisations with one of everything, for the isolation tests (issue 15).

`populate` gives an organisation customers (one with portal access, a learned phone and a tag),
invoices with lines, payment requests in several states (waiting, paid with allocations,
refunded, rejected), a manual payment with the credit it left and a credit application, a
flow with a run whose action failed, a portal link, staff of every role, an audit entry, a
dead job, outbox events, an API key and a webhook endpoint with a delivery and its log.
Organisation B's values all carry a distinctive mark (`bravozulu`, amounts A never has, phones
of its own), so a page that shows one of them to someone of A is caught by `Side.secrets`.

`rows_of` reads every row that belongs to an organisation (acting for all of them), so a
test compares them before and after to prove nothing of B changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.api_keys import service as api_keys
from payrequest.audit import service as audit
from payrequest.automations.models import ActionRun, Flow, FlowAction, FlowRun
from payrequest.customers.models import Customer, CustomerTag
from payrequest.db.scope import ALL, scoped_to
from payrequest.events import names, outbox
from payrequest.invoices import service as invoices
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceInput, InvoiceLineInput
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.money import Money
from payrequest.ledger import credit as ledger_credit
from payrequest.ledger import manual
from payrequest.ledger import service as ledger
from payrequest.ledger.manual import NewManualPayment
from payrequest.ledger.models import Refund
from payrequest.notify.email.outbox import OutboxSender
from payrequest.notify.webhook import signing
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Membership
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.portal import service as portal
from payrequest.tables import metadata
from payrequest.users import service as users
from payrequest.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tests.factories import TODAY
from tests.staff import PASSWORD, ROLES

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Names:
    """What one organisation's rows are called: everything a page could show."""

    tag: str  # "a" or "b": in references and staff emails
    organisation: str
    slug: str
    customer: str
    second_customer: str
    email: str
    phone: str  # E.164
    second_phone: str
    learned_phone: str
    invoice_prefix: str
    reference_prefix: str
    staff_domain: str
    staff_name: str
    flow: str
    kid: str  # a manual payment's reference
    note: str
    audit_note: str
    amounts: tuple[int, ...]  # the invoices' totals, minor units: open, paid, refunded, rejected

    def staff_email(self, role: str) -> str:
        return f"{role}@{self.staff_domain}"


A_NAMES = Names(
    tag="a",
    organisation="Aurora Alfa AS",
    slug="main",
    customer="Anne Alfadottir",
    second_customer="Arne Alfadottir",
    email="anne@alfadottir.example",
    phone="+4791111111",
    second_phone="+4791111112",
    learned_phone="+4791111119",
    invoice_prefix="ALFA-",
    reference_prefix="alfa-",
    staff_domain="example.no",  # tests.staff.sign_in signs in `<role>@example.no`
    staff_name="Alfa Staff",
    flow="Alfa flow",
    kid="ALFA-KID-1",
    note="Alfa note",
    audit_note="Alfa audit note",
    amounts=(100_000, 200_000, 300_000, 400_000),
)
B_NAMES = Names(
    tag="b",
    organisation="Bravozulu Bad AS",
    slug="bravozulu",
    customer="Bjorn Bravozulu",
    second_customer="Berit Bravozulu",
    email="bjorn@bravozulu.example",
    phone="+4798765432",
    second_phone="+4798765433",
    learned_phone="+4798765439",
    invoice_prefix="BRAVOZULU-",
    reference_prefix="bravozulu-",
    staff_domain="bravozulu.example",
    staff_name="Bravozulu Staff",
    flow="Bravozulu flow",
    kid="BRAVOZULU-KID-7",
    note="Bravozulu note",
    audit_note="Bravozulu audit note",
    amounts=(731_943, 652_877, 419_361, 287_519),
)


@dataclass
class Side:
    """One organisation's rows (ids) and the values that are its alone."""

    organisation_id: int
    names: Names
    customer_id: int = 0
    second_customer_id: int = 0
    invoice_ids: list[int] = field(default_factory=list)  # open, paid, refunded, rejected
    credit_invoice_id: int = 0  # of the second customer, paid partly from credit
    waiting_reference: str = ""
    paid_reference: str = ""
    refunded_reference: str = ""
    rejected_reference: str = ""
    request_ids: dict[str, int] = field(default_factory=dict)  # by state
    manual_payment_id: int = 0
    credit_allocation_id: int = 0
    flow_id: int = 0
    run_id: int = 0
    event_id: int = 0  # payment_request.paid of the paid request, for the first customer
    job_id: int = 0
    link_id: int = 0
    link_token: str = ""
    audit_id: int = 0
    staff_ids: dict[str, int] = field(default_factory=dict)  # by role
    api_key_id: int = 0
    api_key: str = ""  # its secret: a bearer credential, never sent by anyone else
    webhook_endpoint_id: int = 0
    webhook_delivery_id: int = 0

    @property
    def customer_external_id(self) -> str:
        """The first customer's id in the business's own system (the API finds it by it)."""
        return f"{self.names.invoice_prefix}EXT-C1"

    @property
    def customer_tag(self) -> str:
        """The first customer's tag (the customer list filters by it)."""
        return f"{self.names.slug}-tag"

    @property
    def invoice_external_id(self) -> str:
        """The open invoice's id in the business's own system."""
        return f"{self.names.invoice_prefix}EXT-7001"

    @property
    def references(self) -> list[str]:
        return [
            self.waiting_reference,
            self.paid_reference,
            self.refunded_reference,
            self.rejected_reference,
        ]

    def invoice_number(self, index: int) -> str:
        return f"{self.names.invoice_prefix}{7001 + index}"

    def secrets(self) -> list[str]:
        """Everything of this organisation that must never reach anyone else's screen."""
        n = self.names
        found = [
            n.organisation,
            n.customer,
            n.second_customer,
            n.email,
            n.staff_name,
            n.flow,
            n.kid,
            n.note,
            n.audit_note,
            self.link_token,
            self.api_key[4:12],  # the part of its prefix beyond `prk_` (and so of the key)
            f"{n.slug}-client",  # its provider connection's client id
            f"hooks.{n.staff_domain}",  # its webhook endpoint's address
            f"evt_test_{n.slug}",  # the event delivered to it
            self.customer_tag,
            *self.references,
            *(n.staff_email(role) for role in ROLES),
            *(self.invoice_number(i) for i in range(5)),
        ]
        for phone in (n.phone, n.second_phone, n.learned_phone):
            local = phone.removeprefix("+47")
            found += [local, f"{local[:3]} {local[3:5]} {local[5:]}"]
            found.append(f"{local[:3]}\xa0{local[3:5]}\xa0{local[5:]}")
        for amount in n.amounts:
            major, minor = divmod(amount, 100)
            tail = f"{major % 1000:03d}"  # the part after any thousands separator
            found += [f"{tail},{minor:02d}", f"{tail}.{minor:02d}"]
        return [s for s in found if s]


async def _invoice(
    session: AsyncSession, side: Side, customer_id: int, index: int, amount: int
) -> Invoice:
    """Two lines (a description naming the organisation, and a fee) totalling `amount`."""
    return await invoices.create_invoice(
        session,
        data=InvoiceInput(
            number=side.invoice_number(index),
            customer_id=customer_id,
            issue_date=TODAY - timedelta(days=20),
            due_date=TODAY + timedelta(days=10 + index),
            currency="NOK",
            lines=[
                InvoiceLineInput(
                    description=f"{side.names.note} work", unit_price=amount - 100, vat_rate_bp=0
                ),
                InvoiceLineInput(description="Fee", unit_price=100, vat_rate_bp=0),
            ],
        ),
    )


def _request(side: Side, customer: Customer, state: str, amount: int, **values: Any) -> Any:
    return PaymentRequest(
        reference=f"{side.names.reference_prefix}{state}-0001",
        customer_id=customer.id,
        currency="NOK",
        amount=amount,
        phone=customer.phone,
        description=f"{side.names.note} {state}",
        origin="staff",
        expires_at=utcnow() + timedelta(hours=3),
        **values,
    )


async def populate(sessions: Sessions, side: Side) -> Side:
    """One of everything for `side.organisation_id` (see the module's docstring)."""
    n = side.names
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        for role in ROLES:
            user = await users.create_user(
                session,
                email=n.staff_email(role),
                password=PASSWORD,
                name=f"{n.staff_name} {role}",
                role=role,
                locale="en",
                organisation_id=side.organisation_id,
            )
            side.staff_ids[role] = user.id
    owner = side.staff_ids["owner"]
    async with sessions(info=scoped_to(side.organisation_id)) as session, session.begin():
        customer = Customer(
            number=f"{n.invoice_prefix}C1",
            external_id=side.customer_external_id,
            name=n.customer,
            email=n.email,
            phone=n.phone,
            country="NO",
            locale="en",
            portal_access=True,
            suggested_phone=n.learned_phone,
            search_text=f"{n.customer} {n.email} {n.phone}".lower(),
        )
        second = Customer(
            number=f"{n.invoice_prefix}C2",
            name=n.second_customer,
            phone=n.second_phone,
            country="NO",
            locale="en",
            search_text=n.second_customer.lower(),
        )
        session.add_all([customer, second])
        await session.flush()
        side.customer_id, side.second_customer_id = customer.id, second.id
        session.add(CustomerTag(customer_id=customer.id, tag=side.customer_tag))
        made = [await _invoice(session, side, customer.id, i, a) for i, a in enumerate(n.amounts)]
        side.invoice_ids = [i.id for i in made]
        open_, paid_invoice, refunded_invoice, rejected_invoice = made
        open_.external_id = side.invoice_external_id

        waiting = _request(
            side,
            customer,
            "wait",
            open_.total,
            status="pending",
            invoice_links=[
                PaymentRequestInvoice(
                    invoice_id=open_.id, currency="NOK", planned_amount=open_.total
                )
            ],
        )
        rejected = _request(side, customer, "rej", rejected_invoice.total, status="rejected")
        paid = _request(
            side,
            customer,
            "paid",
            paid_invoice.total,
            status="paid",
            captured_amount=paid_invoice.total,
            finished_at=utcnow(),
        )
        refunded = _request(
            side,
            customer,
            "refd",
            refunded_invoice.total,
            status="refunded",
            captured_amount=refunded_invoice.total,
            refunded_amount=refunded_invoice.total,
            finished_at=utcnow(),
        )
        session.add_all([waiting, rejected, paid, refunded])
        await session.flush()
        for request, invoice in ((paid, paid_invoice), (refunded, refunded_invoice)):
            await ledger.allocate_payment(
                session,
                payment_request_id=request.id,
                customer_id=customer.id,
                amount=Money(invoice.total, "NOK"),
                invoice_ids=[invoice.id],
            )
        refund = Refund(
            payment_request_id=refunded.id,
            currency="NOK",
            amount=refunded_invoice.total,
            credit_amount=0,
            status="succeeded",
            idempotency_key=f"{n.reference_prefix}refund-1",
            reason=n.note,
        )
        session.add(refund)
        await session.flush()
        await ledger.reverse_allocations(session, refund=refund)
        side.waiting_reference, side.paid_reference = waiting.reference, paid.reference
        side.refunded_reference, side.rejected_reference = refunded.reference, rejected.reference
        side.request_ids = {
            "wait": waiting.id,
            "paid": paid.id,
            "refd": refunded.id,
            "rej": rejected.id,
        }

        # The second customer: a bank transfer larger than their invoice leaves credit, part
        # of which a later invoice takes (an application staff may take back).
        first_of_second = await _invoice(session, side, second.id, 4, 40_000)
        recorded = await manual.record(
            session,
            data=NewManualPayment(
                customer_id=second.id,
                amount=Money(100_000, "NOK"),
                received_on=TODAY,
                method="bank_transfer",
                reference=n.kid,
                note=n.note,
                invoice_ids=(first_of_second.id,),
                recorded_by=owner,
            ),
            in_requests=invoices_in_active_requests,
        )
        side.manual_payment_id = recorded.payment.id
        later = await invoices.create_invoice(
            session,
            data=InvoiceInput(
                number=f"{n.invoice_prefix}7099",
                customer_id=second.id,
                issue_date=TODAY,
                due_date=TODAY + timedelta(days=30),
                currency="NOK",
                lines=[InvoiceLineInput(description="Later", unit_price=30_000, vat_rate_bp=0)],
            ),
        )
        side.credit_invoice_id = later.id
        applied = await ledger_credit.apply_credit(
            session,
            customer_id=second.id,
            currency="NOK",
            in_requests=invoices_in_active_requests,
            amount=20_000,
            invoice_ids=[later.id],
            applied_by=owner,
        )
        side.credit_allocation_id = applied.allocations[0].id

        event = await outbox.record(
            session,
            name=names.PAYMENT_REQUEST_PAID,
            aggregate_type="payment_request",
            aggregate_id=paid.id,
            customer_id=customer.id,
            payload={"reference": paid.reference},
        )
        await session.flush()
        side.event_id = event.id
        flow = Flow(name=n.flow, trigger=names.PAYMENT_REQUEST_PAID, enabled=True)
        flow.actions = [
            FlowAction(
                position=0,
                kind="sms",
                config={"to": "customer", "text": f"{n.note} {{{{ customer_name }}}}"},
            )
        ]
        session.add(flow)
        await session.flush()
        run = FlowRun(
            flow_id=flow.id,
            outbox_event_id=event.id,
            event_name=event.name,
            status="failed",
            actions=[{"kind": "sms", "config": {"text": n.note}}],
            error=n.note,
        )
        run.action_runs = [
            ActionRun(
                position=0,
                kind="sms",
                status="failed",
                attempts=3,
                idempotency_key=f"{n.reference_prefix}action-1",
                rendered={"to": n.phone, "text": f"{n.note} {n.customer}"},
                last_error=n.note,
            )
        ]
        session.add(run)
        job = Job(
            kind="payment_request.poll_one",
            payload={"reference": paid.reference},
            status="dead",
            run_at=utcnow(),
            attempts=20,
            last_error=n.note,
        )
        session.add(job)
        entry = await audit.record(
            session,
            action="customer.update",
            user_id=owner,
            subject_type="customer",
            subject_id=customer.id,
            details={"note": n.audit_note},
        )
        await session.flush()
        side.flow_id, side.run_id, side.job_id, side.audit_id = flow.id, run.id, job.id, entry.id
        issued = await portal.issue_link(
            session, customer_id=customer.id, channel="email", created_by_user_id=owner
        )
        side.link_token = issued.token
        side.link_id = issued.link_id
        key = await api_keys.create_key(
            session, name=f"{n.note} key", scope="write", actor_id=owner
        )
        side.api_key_id, side.api_key = key.row.id, key.secret
        await _webhooks(session, side, invoice_id=side.invoice_ids[1])
    return side


async def _webhooks(session: AsyncSession, side: Side, *, invoice_id: int) -> None:
    """An endpoint (A's switched off: nothing is sent anywhere when A's staff try theirs),
    one event delivered to it after a failed try, and the log of both tries."""
    n = side.names
    endpoint = WebhookEndpoint(
        url=f"https://hooks.{n.staff_domain}/payrequest",
        description=n.note,
        event_types=["invoice.paid"],
        enabled=side.names is not A_NAMES,
        secret=SecretBox("isolation-world-" * 2).seal(signing.new_secret()),
        consecutive_failures=0,
    )
    session.add(endpoint)
    await session.flush()
    event = WebhookEvent(
        public_id=f"evt_test_{n.slug}",
        type="invoice.paid",
        object_type="invoice",
        object_id=f"inv_{invoice_id}",
        body=json.dumps({"id": f"evt_test_{n.slug}", "note": n.note}),
    )
    session.add(event)
    await session.flush()
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=event.id,
        ordering_key=f"invoice:inv_{invoice_id}",
        status="delivered",
        attempts=2,
        last_status_code=200,
        delivered_at=utcnow(),
    )
    session.add(delivery)
    await session.flush()
    for status_code, answer in ((500, f"{n.note} down"), (200, f"{n.note} ok")):
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=utcnow(),
                duration_ms=12,
                status_code=status_code,
                response_body=answer,
            )
        )
    await session.flush()
    side.webhook_endpoint_id, side.webhook_delivery_id = endpoint.id, delivery.id


async def build(
    sessions: Sessions, first: int, outbox_file: Path | None = None
) -> tuple[Side, Side]:
    """Organisation A (`first`, renamed) and a new organisation B, each populated; B's
    portal link also sits in the demo's email outbox (`outbox_file`), as sandbox mode keeps
    every email there."""
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        (await organisations.get(session, first)).name = A_NAMES.organisation
        second = await organisations.create(
            session, NewOrganisation(name=B_NAMES.organisation, slug=B_NAMES.slug)
        )
        second_id = second.id
    a = await populate(sessions, Side(first, A_NAMES))
    b = await populate(sessions, Side(second_id, B_NAMES))
    if outbox_file is not None:
        await OutboxSender(outbox_file).send(
            to=b.names.email,
            subject=f"{b.names.organisation}: your link",
            text=f"Hello {b.names.customer}, open http://testserver/portal/link/{b.link_token}",
            idempotency_key=f"{b.names.reference_prefix}link-email",
        )
    return a, b


# --- what belongs to an organisation ------------------------------------------------------


async def rows_of(sessions: Sessions, organisation_id: int) -> dict[str, list[str]]:
    """Every row of the organisation (its own row, its members' accounts, every table with
    an organisation_id), each table's rows as sorted text."""
    found: dict[str, list[str]] = {}
    async with sessions(info=scoped_to(ALL)) as session:
        members = list(
            await session.scalars(
                select(Membership.user_id).where(Membership.organisation_id == organisation_id)
            )
        )
        for table in metadata.sorted_tables:
            if "organisation_id" in table.c:
                statement = select(table).where(table.c.organisation_id == organisation_id)
            elif table.name == "organisations":
                statement = select(table).where(table.c.id == organisation_id)
            elif table.name == "users":
                statement = select(table).where(table.c.id.in_(members))
            else:
                continue  # the installation's own (webhook registrations)
            rows = (await session.execute(statement)).all()
            found[table.name] = sorted(repr(tuple(row)) for row in rows)
    return found


def changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    """The tables whose rows differ, with the rows gone and the rows new."""
    differ: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = set(before.get(name, [])), set(after.get(name, []))
        if old != new:
            differ[name] = {"gone": sorted(old - new)[:3], "new": sorted(new - old)[:3]}
    return differ


__all__ = [
    "A_NAMES",
    "B_NAMES",
    "Side",
    "build",
    "changes",
    "populate",
    "rows_of",
]
