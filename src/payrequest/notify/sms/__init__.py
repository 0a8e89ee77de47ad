"""SMS gateways: `SmsGateway` (the interface), the emulator's phone inbox, GatewayAPI; replies
customers send us arrive as `SmsReply` (GatewayAPI's webhook: `gatewayapi_replies`)."""

from payrequest.notify.sms.base import (
    MAX_PARTS,
    SmsError,
    SmsGateway,
    SmsReceipt,
    sms_length,
)
from payrequest.notify.sms.gatewayapi import GatewayApiSms
from payrequest.notify.sms.sandbox import SandboxSms

__all__ = [
    "MAX_PARTS",
    "GatewayApiSms",
    "SandboxSms",
    "SmsError",
    "SmsGateway",
    "SmsReceipt",
    "sms_length",
]
