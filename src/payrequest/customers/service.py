"""Creating and changing customers. Services never commit: the caller owns the transaction.
Each change a person makes is recorded in the audit log with who made it (`actor_id`, users.id;
None: the system or the command line); a phone number there is masked."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.customers import repository
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput
from payrequest.errors import Conflict, NotFound, ValidationFailed
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


async def create_customer(
    session: AsyncSession, *, data: CustomerInput, actor_id: int | None = None
) -> Customer:
    number = data.number or await repository.next_number(session)
    if await repository.get_by_number(session, number) is not None:
        raise Conflict(
            "Customer number %(number)s is already in use", field="number", number=number
        )
    customer = Customer(
        number=number,
        name=data.name,
        email=_normalised_email(data.email),
        phone=_normalised_phone(data),
        country=data.country,
        locale=data.locale,
        portal_access=data.portal_access,
    )
    session.add(customer)
    await session.flush()
    await audit.record_edit(session, "customer.create", customer.id, actor_id, _shown(customer))
    return customer


async def update_customer(
    session: AsyncSession, *, customer_id: int, data: CustomerInput, actor_id: int | None = None
) -> Customer:
    """Every value is checked before the first is changed: bad input leaves the row as it was
    (a page showing the error reads it as stored, not half-changed or expired)."""
    customer = await repository.get(session, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    email = _normalised_email(data.email)
    phone = _normalised_phone(data)
    before = _shown(customer)
    if data.number and data.number != customer.number:
        if await repository.get_by_number(session, data.number) is not None:
            raise Conflict(
                "Customer number %(number)s is already in use", field="number", number=data.number
            )
        customer.number = data.number
    customer.name = data.name
    customer.email = email
    customer.phone = phone
    customer.country = data.country
    customer.locale = data.locale
    customer.portal_access = data.portal_access
    await session.flush()
    changed = audit.changes(before, _shown(customer))
    if changed:
        details = {"number": customer.number, **changed}
        await audit.record_edit(session, "customer.update", customer.id, actor_id, details)
    return customer


def _shown(customer: Customer) -> dict[str, object]:
    """The values of a customer the form changes, as the audit log keeps them."""
    return {
        "number": customer.number,
        "name": customer.name,
        "email": customer.email or "",
        "phone": masked_phone(customer.phone),
        "country": customer.country,
        "locale": customer.locale,
        "portal_access": customer.portal_access,
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
