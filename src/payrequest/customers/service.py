"""Creating and changing customers and their tags. Services never commit: the caller owns the
transaction. Each change a person makes is recorded in the audit log with who made it
(`actor_id`, users.id; None: the system or the command line); a phone number there is masked."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.customers import repository
from payrequest.customers.models import REMINDER_STATES, Customer, CustomerTag
from payrequest.customers.schemas import CustomerInput
from payrequest.customers.tags import clean_tags, joined
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.phone import Phone, parse_phone
from payrequest.observability.redaction import redact


def _normalised_phone(data: CustomerInput) -> str | None:
    if not data.phone or not data.phone.strip():
        return None
    return parse_phone(data.phone, default_region=data.country).e164


def _normalised_email(email: str | None) -> str | None:
    if not email:
        return None
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ValidationFailed("“%(email)s” is not an email address", field="email", email=email)
    return email.lower()


def _external_id_taken(external_id: str) -> Conflict:
    return Conflict(
        "Another customer has the external id %(external_id)s",
        field="external_id",
        code="external_id_taken",
        external_id=external_id,
    )


def stored_values(data: CustomerInput) -> dict[str, object]:
    """The columns `data` gives a customer, as stored (email lower case, phone E.164), every
    value checked; the number is left out (given automatically when empty)."""
    return {
        "name": data.name,
        "email": _normalised_email(data.email),
        "phone": _normalised_phone(data),
        "country": data.country,
        "locale": data.locale,
        "portal_access": data.portal_access,
        "external_id": data.external_id,
        "organisation_number": data.organisation_number or None,
    }


async def create_customer(
    session: AsyncSession, *, data: CustomerInput, actor_id: int | None = None
) -> Customer:
    values = stored_values(data)
    tags = clean_tags(data.tags or ())
    number = data.number or await repository.next_number(session)
    if await repository.get_by_number(session, number) is not None:
        raise Conflict(
            "Customer number %(number)s is already in use", field="number", number=number
        )
    if data.external_id and await repository.external_id_taken(session, data.external_id):
        raise _external_id_taken(data.external_id)
    customer = Customer(number=number, **values)
    session.add(customer)
    await session.flush()
    await _replace_tags(session, customer.id, tags)
    await audit.record_edit(
        session, "customer.create", customer.id, actor_id, _shown(customer, tags)
    )
    return customer


async def update_customer(
    session: AsyncSession, *, customer_id: int, data: CustomerInput, actor_id: int | None = None
) -> Customer:
    """Every value is checked before the first is changed: bad input leaves the row as it was
    (a page showing the error reads it as stored, not half-changed or expired). The external
    id and organisation number change only when `data` gives them (`model_fields_set`), the
    tags when they are not None."""
    customer = await repository.get(session, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    values = stored_values(data)
    tags = clean_tags(data.tags) if data.tags is not None else None
    for kept in {"external_id", "organisation_number"} - data.model_fields_set:
        del values[kept]
    external_id = values.get("external_id")
    if (
        isinstance(external_id, str)
        and external_id != customer.external_id
        and await repository.external_id_taken(session, external_id, except_id=customer.id)
    ):
        raise _external_id_taken(external_id)
    tags_before = await repository.tags_of(session, customer.id)
    before = _shown(customer, tags_before)
    if data.number and data.number != customer.number:
        if await repository.get_by_number(session, data.number) is not None:
            raise Conflict(
                "Customer number %(number)s is already in use", field="number", number=data.number
            )
        customer.number = data.number
    for name, value in values.items():
        setattr(customer, name, value)
    if tags is not None and tags != tags_before:
        await _replace_tags(session, customer.id, tags)
        customer.updated_at = utcnow()  # changed, even if none of its own columns is
    await session.flush()
    changed = audit.changes(before, _shown(customer, tags_before if tags is None else tags))
    if changed:
        details = {"number": customer.number, **changed}
        await audit.record_edit(session, "customer.update", customer.id, actor_id, details)
    return customer


async def _replace_tags(session: AsyncSession, customer_id: int, tags: tuple[str, ...]) -> None:
    """The customer's tags become `tags` (cleaned): those no longer wanted are deleted, the
    new ones added, the others left as they are."""
    rows = await repository.tag_rows(session, customer_id)
    for row in rows:
        if row.tag not in tags:
            await session.delete(row)
    kept = {row.tag for row in rows}
    session.add_all(CustomerTag(customer_id=customer_id, tag=t) for t in tags if t not in kept)
    await session.flush()


def _shown(customer: Customer, tags: tuple[str, ...]) -> dict[str, object]:
    """The values of a customer the form changes, as the audit log keeps them."""
    return {
        "number": customer.number,
        "name": customer.name,
        "email": customer.email or "",
        "phone": masked_phone(customer.phone),
        "country": customer.country,
        "locale": customer.locale,
        "portal_access": customer.portal_access,
        "external_id": customer.external_id or "",
        "organisation_number": customer.organisation_number or "",
        "tags": joined(tags),
    }


def masked_phone(phone: str | None) -> str:
    """A number as the audit log shows it: two digits hidden (`+47975**218`), enough to tell
    numbers apart, not to call one."""
    return redact(phone) if phone else ""


# --- a phone number learned from a payment (payment_requests.phones decides when) ----------


def adopt_phone(customer: Customer, phone: str) -> None:
    """The customer agreed to keep the number they shared: it becomes their number. Only for a
    customer without one; a suggestion of the same number is settled by it."""
    if customer.phone is not None:
        raise Conflict("The customer already has a mobile number")
    customer.phone = phone
    if customer.suggested_phone == phone:
        _clear_suggestion(customer)


def suggest_phone(customer: Customer, phone: str, *, request_id: int) -> None:
    """Offer staff a number the customer shared in payment `request_id` (the newest wins)."""
    customer.suggested_phone = phone
    customer.suggested_phone_request_id = request_id


async def use_suggested_phone(
    session: AsyncSession,
    *,
    customer_id: int,
    shown_phone: str | None,
    shown_suggestion: str,
    actor_id: int | None = None,
) -> tuple[Customer, int | None]:
    """Staff take the suggested number as the customer's number.

    Only if the card still says what staff saw: the customer's number (`shown_phone`, None for
    none) and the suggestion. Returns the customer and the payment the number came from."""
    customer = await _with_suggestion(session, customer_id, shown_suggestion)
    if customer.phone != (shown_phone or None):
        if customer.phone is None:
            raise Conflict(
                "The customer's mobile number was removed meanwhile; nothing was changed. "
                "Look at the card again before using the suggested number.",
                code="phone_changed",
            )
        raise Conflict(
            "The customer's mobile number was changed to %(phone)s meanwhile; nothing was "
            "changed. Look at the card again before using the suggested number.",
            code="phone_changed",
            phone=Phone(customer.phone, "").pretty(),
        )
    request_id = customer.suggested_phone_request_id
    before = masked_phone(customer.phone)
    customer.phone = shown_suggestion
    _clear_suggestion(customer)
    await session.flush()
    details = {
        "number": customer.number,
        "phone": f"{before or '–'} → {masked_phone(customer.phone)}",
        "payment_request_id": request_id,
    }
    await audit.record_edit(session, "customer.phone_use_suggested", customer.id, actor_id, details)
    return customer, request_id


async def dismiss_suggested_phone(
    session: AsyncSession, *, customer_id: int, shown_suggestion: str, actor_id: int | None = None
) -> tuple[Customer, int | None]:
    """Staff do not want the suggested number. Returns the customer and the payment it came
    from (the caller remembers the dismissal there)."""
    customer = await _with_suggestion(session, customer_id, shown_suggestion)
    request_id = customer.suggested_phone_request_id
    _clear_suggestion(customer)
    await session.flush()
    details = {
        "number": customer.number,
        "suggested": masked_phone(shown_suggestion),
        "payment_request_id": request_id,
    }
    await audit.record_edit(
        session, "customer.phone_dismiss_suggested", customer.id, actor_id, details
    )
    return customer, request_id


async def set_reminders(
    session: AsyncSession, *, customer_id: int, state: str, actor_id: int | None = None
) -> Customer:
    """Reminders on, paused (staff: steps wait) or opted out (the customer: steps are
    skipped); `actor_id` None: the customer did it in the portal. The same state again
    changes nothing and is not recorded."""
    if state not in REMINDER_STATES:
        raise ValidationFailed("Unknown value “%(value)s”", field="reminders", value=state)
    customer = await repository.lock(session, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    if customer.reminders != state:
        before = customer.reminders
        customer.reminders = state
        await session.flush()
        details = {"number": customer.number, "reminders": [before, state]}
        await audit.record_edit(session, "customer.reminders", customer.id, actor_id, details)
    return customer


async def _with_suggestion(session: AsyncSession, customer_id: int, shown: str) -> Customer:
    customer = await repository.lock(session, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    if customer.suggested_phone is None or customer.suggested_phone != shown:
        raise Conflict(
            "The suggested number has changed or was handled by someone else meanwhile; "
            "nothing was changed.",
            code="suggestion_changed",
        )
    return customer


def _clear_suggestion(customer: Customer) -> None:
    customer.suggested_phone = None
    customer.suggested_phone_request_id = None
