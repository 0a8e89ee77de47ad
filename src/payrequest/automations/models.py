"""Flows (trigger, conditions, ordered actions) and the log of their runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in, updated_at_column

ACTION_KINDS = (
    "sms",
    "email",
    "webhook",
    "wait",
    "portal_link",
    "payment_request",
    "notify_staff",
)
RUN_STATUSES = ("running", "done", "failed")
# pending: not tried yet; sending: recorded, the gateway call may be under way or may have
# happened; sent: the gateway accepted it, "done" not yet committed; retrying: the last try
# failed in a way that proves nothing went out; done; failed: gave up (Retry by hand).
ACTION_STATUSES = ("pending", "sending", "sent", "retrying", "done", "failed")


class Flow(OrganisationOwned, Base):
    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(64), index=True)  # an events.names value
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A time trigger's days and rules (automations.timing); None for an event's trigger.
    timing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # When it was last switched on: a time trigger sends nothing late for days before it.
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(Text, nullable=True)  # SecretBox-sealed
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    actions: Mapped[list[FlowAction]] = relationship(
        back_populates="flow", order_by="FlowAction.position", cascade="all, delete-orphan"
    )


class ScheduleMark(OrganisationOwned, Base):
    """A time-triggered flow reached an invoice's (or a credit's) step: written once per (flow,
    invoice or credit) with
    the outbox event that starts the run (automations.schedule), whichever worker got there
    first. `step_on`: the day the step was due; `late`: it went out on a later day."""

    __tablename__ = "schedule_marks"
    __table_args__ = (
        UniqueConstraint("flow_id", "invoice_id"),
        UniqueConstraint("flow_id", "credit_id"),
        CheckConstraint("(invoice_id IS NULL) <> (credit_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    # What the step is about: an invoice, or (credit unused) a credit.
    invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoices.id"), index=True, nullable=True
    )
    credit_id: Mapped[int | None] = mapped_column(
        ForeignKey("credits.id"), index=True, nullable=True
    )
    step_on: Mapped[date] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why nothing was sent: the customer opted out of reminders (None: the step's event was
    # written and its flow started).
    skipped: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = created_at_column()


class StaffNotice(OrganisationOwned, Base):
    """A note for staff on a customer's card, left by a flow's "tell the staff" action, until
    a staff member marks it done."""

    __tablename__ = "staff_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    flow_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("flow_runs.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a user id


class FlowAction(OrganisationOwned, Base):
    __tablename__ = "flow_actions"
    __table_args__ = (
        UniqueConstraint("flow_id", "position"),
        CheckConstraint(sql_in("kind", ACTION_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    flow: Mapped[Flow] = relationship(back_populates="actions")


class FlowRun(OrganisationOwned, Base):
    """One execution of a flow for one outbox event. A real run exists at most once per
    (flow, event) — the partial unique index; test runs ("Test run" in the admin) may repeat.
    `actions` is the flow's action list as it was when the run began."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        CheckConstraint(sql_in("status", RUN_STATUSES), name="status"),
        Index(
            "uq_flow_runs_flow_id_outbox_event_id",
            "flow_id",
            "outbox_event_id",
            unique=True,
            sqlite_where=text("NOT is_test"),
            postgresql_where=text("NOT is_test"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    outbox_event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    event_name: Mapped[str] = mapped_column(String(64))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="running")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    action_runs: Mapped[list[ActionRun]] = relationship(
        back_populates="flow_run", order_by="ActionRun.position", cascade="all, delete-orphan"
    )


class ActionRun(OrganisationOwned, Base):
    """One action of one flow run: what was rendered, how often it was tried, what came back."""

    __tablename__ = "action_runs"
    __table_args__ = (
        UniqueConstraint("flow_run_id", "position"),
        CheckConstraint(sql_in("status", ACTION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[int] = mapped_column(ForeignKey("flow_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    rendered: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    flow_run: Mapped[FlowRun] = relationship(back_populates="action_runs")
