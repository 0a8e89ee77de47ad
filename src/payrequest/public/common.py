"""Field types every public object shares: timestamps, currencies, amounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, PlainSerializer, WithJsonSchema

from payrequest.kit.clock import as_utc


def rfc3339(value: datetime) -> str:
    """`2026-12-01T09:30:00Z`: RFC 3339, UTC, whole seconds."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-12-01T09:30:00Z"]}),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["NOK"])]
# Integer minor units (øre, cents) of the currency beside it.
Amount = Annotated[int, Field(examples=[125000])]
