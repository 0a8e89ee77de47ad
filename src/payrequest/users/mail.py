"""The emails staff get about their account: a password reset link, an invitation, a
sign-up's verification link, and the warning that someone tried to sign up with an address
that already has an account. In the reader's own language (the account's `locale`)."""

from __future__ import annotations

import hashlib

from payrequest import i18n
from payrequest.errors import N_
from payrequest.notify.email.smtp import EmailSender
from payrequest.users.models import User
from payrequest.users.tokens import INVITE, LIFETIMES, VERIFY

LINK_PATH = "/password/set"  # the page a link opens (web.admin.password serves it)
VERIFY_PATH = "/signup/verify"  # the page a verification link opens (web.signup serves it)

SUBJECTS = {
    "reset": N_("Set a new password for payrequest"),
    "invite": N_("You are invited to payrequest"),
    "verify": N_("Confirm your email address for payrequest"),
    "taken": N_("Someone tried to sign up to payrequest with your email address"),
}
TEXTS = {
    "reset": N_(
        "Hello {name},\n\nsomeone (we hope you) asked to set a new password for your "
        "payrequest account {email}. Open this link to choose one:\n\n{url}\n\n"
        "The link works once, for {minutes} minutes. If you did not ask, ignore this email: "
        "your password stays as it is."
    ),
    "invite": N_(
        "Hello {name},\n\nyou have been given a payrequest account ({email}). Open this link "
        "to choose your password and sign in:\n\n{url}\n\nThe link works once, for {days} days."
    ),
    "verify": N_(
        "Hello {name},\n\nwelcome to payrequest. Open this link to confirm that {email} is "
        "your email address and to start working in {organisation}:\n\n{url}\n\n"
        "The link works once, for {days} days. If you did not sign up, ignore this email: "
        "nobody can sign in with the account before the address is confirmed."
    ),
    "taken": N_(
        "Hello {name},\n\nsomeone (perhaps you) tried to sign a business up to payrequest "
        "with your email address {email}, which already has an account. Nothing was created.\n\n"
        "If it was you, sign in here:\n\n{url}\n\nIf you have forgotten your password, the "
        "sign-in page lets you choose a new one. If it was not you, ignore this email."
    ),
}


def link_url(base: str, token: str) -> str:
    """The absolute link under the public URL `base`."""
    return f"{base.rstrip('/')}{LINK_PATH}?token={token}"


def verify_url(base: str, token: str) -> str:
    """The absolute verification link under the public URL `base`."""
    return f"{base.rstrip('/')}{VERIFY_PATH}?token={token}"


def idempotency_key(token: str) -> str:
    return f"password-link-{hashlib.sha256(token.encode()).hexdigest()[:32]}"


async def send_password_link(
    sender: EmailSender | None, *, user: User, url: str, purpose: str, idempotency_key: str
) -> bool:
    """Send the link; False when email is switched off (no SMTP server). Raises the
    sender's EmailError when the server refuses or cannot be reached."""
    if sender is None:
        return False
    kind = "invite" if purpose == INVITE else "reset"
    lifetime = LIFETIMES[purpose]
    text = i18n.gettext(user.locale, TEXTS[kind]).format(
        name=user.name,
        email=user.email,
        url=url,
        minutes=int(lifetime.total_seconds() // 60),
        days=lifetime.days,
    )
    subject = i18n.gettext(user.locale, SUBJECTS[kind])
    await sender.send(to=user.email, subject=subject, text=text, idempotency_key=idempotency_key)
    return True


async def send_verification(
    sender: EmailSender | None, *, user: User, organisation: str, url: str
) -> bool:
    """Send a sign-up's verification link; False when email is switched off. Raises the
    sender's EmailError when the server refuses or cannot be reached."""
    if sender is None:
        return False
    text = i18n.gettext(user.locale, TEXTS["verify"]).format(
        name=user.name,
        email=user.email,
        organisation=organisation,
        url=url,
        days=LIFETIMES[VERIFY].days,
    )
    subject = i18n.gettext(user.locale, SUBJECTS["verify"])
    key = f"verify-{hashlib.sha256(url.encode()).hexdigest()[:32]}"
    await sender.send(to=user.email, subject=subject, text=text, idempotency_key=key)
    return True


async def send_signup_attempt(
    sender: EmailSender | None, *, user: User, sign_in_url: str, attempt: str
) -> bool:
    """Tell the owner of an address that already has an account that someone tried to sign
    up with it (the sign-up page answers the same as for a new address: it never tells who
    has an account). `attempt` tells one attempt from another (its idempotency key)."""
    if sender is None:
        return False
    text = i18n.gettext(user.locale, TEXTS["taken"]).format(
        name=user.name, email=user.email, url=sign_in_url
    )
    subject = i18n.gettext(user.locale, SUBJECTS["taken"])
    key = f"signup-taken-{hashlib.sha256(attempt.encode()).hexdigest()[:32]}"
    await sender.send(to=user.email, subject=subject, text=text, idempotency_key=key)
    return True
