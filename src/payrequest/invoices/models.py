"""Invoices and their lines. Open amount and status are derived from what has been allocated:
`Invoice.allocated`, the sum of the invoice's allocations, which the database keeps (triggers on
`allocations`, migration 0019) in the statement that changes them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import (
    UTCDateTime,
    created_at_column,
    currency_column,
    sql_in,
    updated_at_column,
)
from payrequest.kit.markets import CURRENCIES

OPEN = "voided_at IS NULL AND total > allocated"  # the partial indexes' conditions
SETTLED = "voided_at IS NOT NULL OR total <= allocated"
LIVE = "voided_at IS NULL"


class Invoice(OrganisationOwned, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint(sql_in("currency", CURRENCIES), name="currency"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        # Lets allocations and request links prove, in the database, that their currency matches.
        UniqueConstraint("id", "currency", name="uq_invoices_id_currency"),
        UniqueConstraint("organisation_id", "number"),
        UniqueConstraint("organisation_id", "external_id"),
        # A customer's open and settled invoices, oldest due first (the card, balances,
        # reminders), and one organisation's invoices newest first (the list).
        Index(
            "ix_invoices_customer_open",
            "customer_id",
            "due_date",
            "id",
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
        Index(
            "ix_invoices_customer_settled",
            "customer_id",
            "due_date",
            "id",
            sqlite_where=text(SETTLED),
            postgresql_where=text(SETTLED),
        ),
        Index(
            "ix_invoices_customer_currency",
            "customer_id",
            "currency",
            sqlite_where=text(LIVE),
            postgresql_where=text(LIVE),
        ),
        Index("ix_invoices_organisation_issued", "organisation_id", "issue_date", "id"),
        Index(
            "ix_invoices_organisation_open",
            "organisation_id",
            "issue_date",
            "id",
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))  # unique per organisation
    # The id the business's own system gives the invoice; unique per organisation when given.
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The payment reference printed on the invoice (KID in Norway), as the business made it.
    reference: Mapped[str | None] = mapped_column(String(32), nullable=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = currency_column()
    total: Mapped[int] = mapped_column(BigInteger)
    # The sum of its allocations, kept by the database (see the module's docstring): read it in
    # SQL. An Invoice loaded before an allocation in the same session holds the old figure.
    allocated: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Staff paused the reminders of this invoice (automations.schedule): its steps wait.
    reminders_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )


class InvoiceLine(OrganisationOwned, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("quantity_milli > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="vat_rate_range"),
        CheckConstraint("net_amount >= 0 AND vat_amount >= 0", name="amounts_not_negative"),
        UniqueConstraint("invoice_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    quantity_milli: Mapped[int] = mapped_column(BigInteger)  # 1.5 hours = 1500
    unit_price: Mapped[int] = mapped_column(BigInteger)  # minor units, excluding VAT
    vat_rate_bp: Mapped[int] = mapped_column(Integer)  # basis points: 2500 = 25 %
    net_amount: Mapped[int] = mapped_column(BigInteger)
    vat_amount: Mapped[int] = mapped_column(BigInteger)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    @property
    def total(self) -> int:
        return self.net_amount + self.vat_amount
