"""A business signs itself up: its organisation, its owner (who must first prove the email
is theirs), and the owner's first sign-in through the emailed link.

`sign_up` runs in a session acting for every organisation (`scoped_to(ALL)`): the
organisation does not exist before. It checks the whole form first (every problem at once,
nothing written), then:

- an email that already has an account creates nothing; the caller answers exactly as for a
  new address and emails that address instead (no one learns who has an account);
- otherwise the organisation gets a short name of its own derived from its name
  (`fjord-ror-as`, `fjord-ror-as-2`, ...), the person an unverified account with the owner's
  membership, and the caller a verification token (users.tokens.VERIFY) to email.

`verify_email` is what the link does: the address is proved, the person starts a staff
session working in their organisation. The link works once (an account verified already is
refused with `AlreadyVerified`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.connections import service as connections
from payrequest.connections.service import NewConnection
from payrequest.db.scope import ALL, UnscopedQuery, scope_of
from payrequest.errors import Conflict, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.organisations import service as organisations
from payrequest.organisations.models import LOCALES, Organisation
from payrequest.sessions import service as sessions
from payrequest.users import service as users
from payrequest.users import tokens
from payrequest.users.commands import MAX_PASSWORD, SignedIn
from payrequest.users.models import User
from payrequest.users.passwords import MIN_LENGTH, hash_password

MARKETS = ("NO", "DK")  # where a business may sign up (the emulator and the texts cover these)
SLUG_TRIES = 50
_ADDRESS = re.compile(
    r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\.]+(\.[^@\s<>,;:\"()\[\]\\.]+)+$"
)

# Called once the organisation and its owner exist, in the same transaction.
OnCreated = Callable[[AsyncSession, Organisation], Awaitable[None]]


class SignUpRaced(Conflict):
    """Another sign-up took the same address at the same moment; it won."""

    code = "sign_up_raced"


def connecting_to(unit_for: Callable[[Organisation], NewConnection], box: SecretBox) -> OnCreated:
    """What connects a new organisation to a sales unit of its own in test mode (the
    installation's emulator gives each one its own test unit, `unit_for`), in the sign-up's
    transaction: it can send a first request to a test number at once. The caller checks the
    connection and registers its webhook after the commit."""

    async def connect(session: AsyncSession, organisation: Organisation) -> None:
        await connections.connect(
            session, unit_for(organisation), box=box, organisation_id=organisation.id
        )

    return connect


@dataclass(frozen=True, slots=True)
class SignUp:
    """The sign-up form as typed."""

    business_name: str
    market: str
    name: str
    email: str
    password: str
    locale: str = "nb"  # the language the visitor used: their account's and their emails'


class SignUpInvalid(ValidationFailed):
    """The form breaks one or more rules (`problems`, one per field at most)."""

    def __init__(self, problems: list[ValidationFailed]) -> None:
        first = problems[0]
        super().__init__(first.template, field=first.field, **first.params)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SignedUp:
    """What the web needs after a sign-up: whom to email (`user`) and what.

    - `created`: a new organisation and account; email `token`, the verification link's.
    - not created, with a `token`: the address has an account that never proved it (an
      earlier sign-up whose link was lost or expired); email the new link. Nothing written.
    - not created, no token: the address has a working account; tell its owner that
      someone tried. Nothing written."""

    user: User
    organisation: Organisation | None = None  # the one the link lets the person work in
    token: str | None = None
    created: bool = False


class AlreadyVerified(Exception):
    """The link's account proved its email before: the link is used up."""


def problems(data: SignUp) -> list[ValidationFailed]:
    """Every rule the form breaks (empty: it may be signed up)."""
    found: list[ValidationFailed] = []
    business = data.business_name.strip()
    if not business or len(business) > organisations.MAX_NAME or "\x00" in business:
        found.append(
            ValidationFailed(
                "Name must be 1 to %(max)s characters",
                field="business_name",
                max=organisations.MAX_NAME,
            )
        )
    if data.market not in MARKETS:
        found.append(ValidationFailed("Choose Norway or Denmark", field="market"))
    name = data.name.strip()
    if not name:
        found.append(ValidationFailed("Enter your name", field="name"))
    elif len(name) > users.MAX_NAME or "\x00" in name:
        found.append(
            ValidationFailed(
                "The name must be at most %(length)s characters",
                field="name",
                length=users.MAX_NAME,
            )
        )
    email = clean_email(data.email)
    if email is None:
        shown = data.email.strip()[:100]
        found.append(
            ValidationFailed("“%(email)s” is not an email address", field="email", email=shown)
        )
    if len(data.password) < MIN_LENGTH:
        found.append(
            ValidationFailed(
                "The password must be at least %(length)s characters",
                field="password",
                length=MIN_LENGTH,
            )
        )
    elif len(data.password) > MAX_PASSWORD or "\x00" in data.password:
        found.append(
            ValidationFailed(
                "The password must be at most %(length)s characters",
                field="password",
                length=MAX_PASSWORD,
            )
        )
    if data.locale not in LOCALES:
        found.append(
            ValidationFailed(
                "Language must be one of %(languages)s", field="locale", languages=LOCALES
            )
        )
    return found


def clean_email(email: str) -> str | None:
    """The address as stored (trimmed, lower case), or None if it cannot be one we can send
    to."""
    cleaned = email.strip().lower()
    if len(cleaned) > users.MAX_EMAIL or not _ADDRESS.match(cleaned):
        return None
    return cleaned


async def sign_up(
    session: AsyncSession,
    data: SignUp,
    *,
    key: str,
    address: str | None = None,
    on_created: OnCreated | None = None,
) -> SignedUp:
    """Sign a business up (see the module's docstring). SignUpInvalid for a form that breaks
    a rule. The session must act for every organisation; the caller commits, then emails."""
    if scope_of(session.sync_session) is not ALL:
        raise UnscopedQuery("a sign-up acts for every organisation (scoped_to(ALL))")
    found = problems(data)
    if found:
        raise SignUpInvalid(found)
    email = clean_email(data.email) or ""
    existing = await users.get_by_email(session, email)
    if existing is not None:
        hash_password(data.password)  # as long as a new account takes: the time tells nothing
        return await _existing(session, existing, key=key, address=address)
    organisation = await _create_organisation(session, data)
    try:
        async with session.begin_nested():
            user = await users.create_user(
                session,
                email=email,
                password=data.password,
                name=data.name.strip(),
                role="owner",
                locale=data.locale,
                organisation_id=organisation.id,
                email_verified=False,
            )
    except IntegrityError:
        raise SignUpRaced("The address signed up a moment ago") from None
    await audit.record(
        session,
        action="sign_up",
        user_id=user.id,
        subject_type="organisation",
        subject_id=organisation.id,
        details={"name": organisation.name, "slug": organisation.slug, "market": data.market},
        address=address,
        organisation_id=organisation.id,
    )
    if on_created is not None:
        await on_created(session, organisation)
    token = tokens.make(key, user, tokens.VERIFY)
    return SignedUp(user=user, organisation=organisation, token=token, created=True)


async def _existing(
    session: AsyncSession, user: User, *, key: str, address: str | None
) -> SignedUp:
    """A sign-up with an address that has an account: a new verification link if the
    account never proved the address (and may still work), else a warning to its owner."""
    memberships = await organisations.memberships_of(session, user.id)
    if user.email_verified_at is None and user.is_active and memberships:
        organisation = memberships[0][1]
        await audit.record(
            session,
            action="sign_up.link_resent",
            subject_type="user",
            subject_id=user.id,
            address=address,
            organisation_id=organisation.id,
        )
        token = tokens.make(key, user, tokens.VERIFY)
        return SignedUp(user=user, organisation=organisation, token=token)
    await audit.record(
        session,
        action="sign_up.email_taken",
        subject_type="user",
        subject_id=user.id,
        address=address,
    )
    return SignedUp(user=user)


def slug_candidates(name: str) -> list[str]:
    """`fjord-ror-as`, then `fjord-ror-as-2`, `-3`, ... (each within the 40 characters)."""
    base = organisations.slugify(name)
    found = [base]
    for number in range(2, SLUG_TRIES + 1):
        suffix = f"-{number}"
        found.append(base[: 40 - len(suffix)].rstrip("-") + suffix)
    return found


async def _create_organisation(session: AsyncSession, data: SignUp) -> Organisation:
    """The organisation with the first free short name; a name taken at the same moment by
    another sign-up (the unique index) moves on to the next."""
    for slug in slug_candidates(data.business_name):
        if await organisations.by_slug(session, slug) is not None:
            continue
        try:
            async with session.begin_nested():
                return await organisations.create(
                    session,
                    organisations.NewOrganisation(
                        name=data.business_name, slug=slug, market=data.market
                    ),
                )
        except (IntegrityError, Conflict):
            continue
    raise Conflict("Could not find a free short name for %(name)s", name=data.business_name)


async def verify_email(
    session: AsyncSession, *, key: str, token: str, address: str | None = None
) -> SignedIn:
    """The link's account has proved its email: it may sign in, and is signed in now,
    working in its first organisation. ValidationFailed for a link that is made up, expired,
    or whose account is gone or deactivated; AlreadyVerified for one used before. The
    session must act for every organisation (who clicked is not known before)."""
    if scope_of(session.sync_session) is not ALL:
        raise UnscopedQuery("verifying an email acts for every organisation (scoped_to(ALL))")
    try:
        claim = tokens.read(key, token, purposes=(tokens.VERIFY,))
    except (tokens.TokenExpired, tokens.TokenInvalid):
        raise _dead_link() from None
    user = await session.get(User, claim.user_id)
    if user is None or not user.is_active or not claim.matches(user):
        raise _dead_link()
    if user.email_verified_at is not None:
        raise AlreadyVerified
    user.email_verified_at = utcnow()
    user.last_login_at = utcnow()
    memberships = await organisations.memberships_of(session, user.id)
    if not memberships:
        raise _dead_link()
    organisation_id = memberships[0][0].organisation_id
    started = await sessions.start_staff(session, user_id=user.id, organisation_id=organisation_id)
    await audit.record(
        session,
        action="sign_up.verified",
        user_id=user.id,
        subject_type="user",
        subject_id=user.id,
        address=address,
        organisation_id=organisation_id,
    )
    return SignedIn(
        user=user,
        token=started.token,
        session_id=started.session_id,
        organisation_id=organisation_id,
    )


def _dead_link() -> ValidationFailed:
    return ValidationFailed(
        "This link has expired or was already used. Sign up again with the same email for "
        "a new link, or sign in.",
        code="link_dead",
    )
