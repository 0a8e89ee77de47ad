"""Customers of the business: who gets invoices and payment requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import created_at_column, sql_in, updated_at_column
from payrequest.kit.markets import COUNTRIES
from payrequest.kit.search import search_text

REMINDER_STATES = ("on", "paused", "opted_out")


class Customer(OrganisationOwned, Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(sql_in("country", COUNTRIES), name="country"),
        CheckConstraint(sql_in("reminders", REMINDER_STATES), name="reminders"),
        CheckConstraint("phone IS NULL OR phone LIKE '+%'", name="phone_e164"),
        UniqueConstraint("organisation_id", "number"),
        UniqueConstraint("organisation_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))  # unique per organisation
    # The id the business's own system gives the customer; unique per organisation when given.
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    organisation_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)  # E.164
    country: Mapped[str] = mapped_column(String(2), default="NO")
    locale: Mapped[str] = mapped_column(String(5), default="nb")
    portal_access: Mapped[bool] = mapped_column(Boolean, default=False)
    # Reminders from time-triggered flows: on; paused by staff (steps wait); opted_out by the
    # customer (steps are skipped). REMINDER_STATES.
    reminders: Mapped[str] = mapped_column(String(16), default="on", server_default="on")
    # Casefolded name, number, email and phone digits (kit.search.fold), kept by the service:
    # case-insensitive search that treats Ø, Å and Æ like any other letter on both databases.
    search_text: Mapped[str] = mapped_column(String(600), default="", server_default="")
    # A number the customer shared when paying, waiting for staff to use it or dismiss it.
    suggested_phone: Mapped[str | None] = mapped_column(String(16), nullable=True)  # E.164
    suggested_phone_request_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("payment_requests.id", use_alter=True), nullable=True
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class CustomerTag(OrganisationOwned, Base):
    """One tag of a customer (customers.tags says what a tag is): staff sort customers with
    them, the customer list filters by one, a flow's condition can ask for one."""

    __tablename__ = "customer_tags"
    __table_args__ = (
        UniqueConstraint("customer_id", "tag"),
        Index("ix_customer_tags_organisation_id_tag", "organisation_id", "tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(32))


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _keep_search_text(_mapper: Any, _connection: Any, customer: Customer) -> None:
    """Whatever path writes a customer (forms, the seed, an import), its search text follows."""
    customer.search_text = search_text(
        [customer.name, customer.number, customer.email, customer.phone]
    )[:600]
