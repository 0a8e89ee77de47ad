"""Input for creating a payment request."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from payrequest.payment_requests.state import ORIGINS
from payrequest.providers.base import UserFlow

ORIGIN_PATTERN = "^(" + "|".join(ORIGINS) + ")$"


class NewPaymentRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer_id: int
    invoice_ids: Annotated[list[int], Field(min_length=1, max_length=200)]
    phone: str | None = None  # as typed; None for a QR or link request
    user_flow: UserFlow | None = None  # default: push with a phone, QR without
    origin: Annotated[str, Field(pattern=ORIGIN_PATTERN)] = "staff"
    created_by_user_id: int | None = None
    lifetime_minutes: Annotated[int | None, Field(ge=10, le=60 * 24 * 60)] = None
    # Less than the open amount of the invoices (an instalment); None: everything still open.
    amount: Annotated[int | None, Field(gt=0)] = None
    share_phone: bool = False  # ask the payer to share their phone number with us
    save_phone: bool = False  # the customer agreed to keep a shared number on file
    reference: Annotated[str | None, Field(pattern=r"^[a-zA-Z0-9-]{8,64}$")] = None
    # The provider it goes through, by name (providers/): the card provider's for a card
    # payment; None: the organisation's default provider.
    provider: Annotated[str | None, Field(pattern=r"^[a-z0-9_]{1,32}$")] = None
