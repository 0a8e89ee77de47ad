"""The kinds of import by name: what a file can hold."""

from __future__ import annotations

from payrequest.errors import N_
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.invoices import INVOICES
from payrequest.imports.records import Kind

KINDS: dict[str, Kind] = {"customers": CUSTOMERS, "invoices": INVOICES}
KIND_LABELS = {"customers": N_("Customers"), "invoices": N_("Invoices")}
