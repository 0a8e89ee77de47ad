"""What the webhooks' jobs and commands work with, built once by `runtime.build_runtime`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.notify.email.smtp import EmailSender
from payrequest.notify.webhook.sender import WebhookSender
from payrequest.webhooks.endpoints import Rules


@dataclass
class WebhookServices:
    sessions: async_sessionmaker[AsyncSession]  # for the short transactions around a try
    sender: WebhookSender  # the one sender (notify.webhook), shared with the automations
    box: SecretBox
    urls: PublicUrls
    email: EmailSender | None  # None: email is switched off
    rules: Rules = field(default_factory=Rules)
    clock: Callable[[], datetime] = utcnow  # tests move it instead of waiting
