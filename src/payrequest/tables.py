"""Imports every model so that `Base.metadata` knows all tables (Alembic, tests)."""

from payrequest.api_keys.models import ApiKey, IdempotentRequest
from payrequest.audit.models import AuditEntry
from payrequest.automations.models import (
    ActionRun,
    Flow,
    FlowAction,
    FlowRun,
    ScheduleMark,
    StaffNotice,
)
from payrequest.connections.models import ProviderConnection
from payrequest.customers.models import Customer, CustomerTag
from payrequest.db.base import Base
from payrequest.events.models import OutboxConsumer, OutboxEvent, OutboxReceipt
from payrequest.import_runs.models import ImportRun
from payrequest.inbound.models import InboundEvent
from payrequest.inbound.registrations import WebhookRegistration
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.jobs.models import Job
from payrequest.ledger.models import Allocation, Credit, ManualPayment, Refund
from payrequest.organisations.models import Membership, Organisation
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.portal.models import PortalLink
from payrequest.ratelimit.models import RateLimitHit
from payrequest.sessions.models import SignInSession
from payrequest.users.models import User
from payrequest.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

metadata = Base.metadata

__all__ = [
    "ActionRun",
    "Allocation",
    "ApiKey",
    "AuditEntry",
    "Credit",
    "Customer",
    "CustomerTag",
    "Flow",
    "FlowAction",
    "FlowRun",
    "IdempotentRequest",
    "ImportRun",
    "InboundEvent",
    "Invoice",
    "InvoiceLine",
    "Job",
    "ManualPayment",
    "Membership",
    "Organisation",
    "OutboxConsumer",
    "OutboxEvent",
    "OutboxReceipt",
    "PaymentRequest",
    "PaymentRequestEvent",
    "PaymentRequestInvoice",
    "PortalLink",
    "ProviderConnection",
    "RateLimitHit",
    "Refund",
    "ScheduleMark",
    "SignInSession",
    "StaffNotice",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookRegistration",
    "metadata",
]
