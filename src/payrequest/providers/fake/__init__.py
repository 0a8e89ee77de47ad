"""An in-memory payment provider for domain tests (see `provider.FakeProvider`)."""

from payrequest.providers.fake.faults import FaultKind
from payrequest.providers.fake.ledger import ControlRefused
from payrequest.providers.fake.provider import FakeProvider
from payrequest.providers.fake.webhooks import Delivery

__all__ = ["ControlRefused", "Delivery", "FakeProvider", "FaultKind"]
