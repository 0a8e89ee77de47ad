"""The emails staff get about their account: a password reset link, an invitation. In the
reader's own language (the account's `locale`)."""

from __future__ import annotations

import hashlib

from payrequest import i18n
from payrequest.errors import N_
from payrequest.notify.email.smtp import EmailSender
from payrequest.users.models import User
from payrequest.users.tokens import INVITE, LIFETIMES

LINK_PATH = "/password/set"  # the page a link opens (web.admin.password serves it)

SUBJECTS = {
    "reset": N_("Set a new password for payrequest"),
    "invite": N_("You are invited to payrequest"),
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
}


def link_url(base: str, token: str) -> str:
    """The absolute link under the public URL `base`."""
    return f"{base.rstrip('/')}{LINK_PATH}?token={token}"


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
