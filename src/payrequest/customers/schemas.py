"""Input shapes for customers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# The id the business's own system gives a row (customers and invoices alike).
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
OrganisationNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
CustomerNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
Country = Annotated[str, StringConstraints(pattern=r"^(NO|DK|FI|SE)$")]
Locale = Annotated[str, StringConstraints(pattern=r"^(nb|da|en)$")]
# Tags as given, before customers.tags cleans them (which says what a tag is and how many a
# customer may have); these bounds only keep a request's size sane.
TagsGiven = Annotated[
    list[Annotated[str, StringConstraints(max_length=100)]],
    Field(max_length=100, description="The customer's tags (customers.tags)."),
]


class CustomerInput(BaseModel):
    """A customer as a form or the API gives it. `external_id` and `organisation_number` are
    changed by an update only when given (the admin's form has no such fields); `tags` None
    keeps a customer's tags, a list (empty too) replaces them."""

    model_config = ConfigDict(frozen=True)

    name: Text200
    number: CustomerNumber | None = None
    email: Email | None = None
    phone: str | None = None  # as typed; normalised by the service
    country: Country = "NO"
    locale: Locale = "nb"
    portal_access: bool = False
    external_id: ExternalId | None = None
    organisation_number: OrganisationNumber | None = None
    tags: TagsGiven | None = None


class CustomerChanges(BaseModel):
    """The fields of a customer to set; those not given are kept (customers.upsert). Null
    clears a field that may be empty (null tags: none); a name cannot be cleared."""

    model_config = ConfigDict(frozen=True)

    name: Text200 | None = None
    number: CustomerNumber | None = None
    email: Email | None = None
    phone: str | None = None
    country: Country | None = None
    locale: Locale | None = None
    portal_access: bool | None = None
    organisation_number: OrganisationNumber | None = None
    external_id: ExternalId | None = None
    tags: TagsGiven | None = None


class CustomerUpsert(CustomerChanges):
    """A customer keyed by the business's own id: created when new, else the fields given are
    changed and the others kept (customers.upsert)."""

    external_id: ExternalId
