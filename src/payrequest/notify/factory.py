"""Build the configured gateways from settings."""

from __future__ import annotations

from payrequest.config import Settings
from payrequest.notify.email.smtp import EmailSender
from payrequest.notify.sms.base import SmsGateway
from payrequest.notify.sms.gatewayapi import GatewayApiSms
from payrequest.notify.sms.sandbox import SandboxSms


def build_sms_gateway(settings: Settings, *, sandbox_base_url: str) -> SmsGateway:
    """`PAYREQUEST_SMS__GATEWAY`: `sandbox` (the emulator at `sandbox_base_url`, e.g.
    `http://127.0.0.1:8000/sandbox/vipps`) or `gatewayapi`."""
    sms = settings.sms
    if sms.gateway == "gatewayapi":
        if sms.api_token is None:  # settings validation already refuses this
            raise ValueError("PAYREQUEST_SMS__API_TOKEN is required for GatewayAPI")
        return GatewayApiSms(
            api_token=sms.api_token.get_secret_value(),
            sender=sms.sender,
            base_url=sms.base_url,
            timeout=sms.timeout_seconds,
        )
    return SandboxSms(base_url=sandbox_base_url, sender=sms.sender, timeout=sms.timeout_seconds)


def build_email_sender(settings: Settings) -> EmailSender | None:
    """None when no SMTP host is configured (email is then switched off)."""
    if not settings.smtp.host:
        return None
    return EmailSender.from_settings(settings.smtp)
