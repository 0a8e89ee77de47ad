"""Fault switches of the Stripe emulator, settable by the control API and in the config.

The same ideas as the Vipps emulator's switches (docs/stripe.md#fault-switches): API faults
(latency, 5xx, 429, timeouts) hit only the `/v1/...` paths; webhook faults drop, duplicate or
reorder deliveries; `clock_speed` shortens durations (session expiry, retry delays). Every
random decision comes from the emulator's one seedable random source.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Latency = Annotated[int, Field(ge=0, le=120_000)]
Hang = Annotated[float, Field(ge=0.0, le=600.0)]
Speed = Annotated[float, Field(gt=0.0, le=100_000.0)]


class StripeFaults(BaseModel):
    """Current switches. Rates are probabilities per API call or per webhook delivery."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: Latency = 0
    error_rate: Rate = 0.0  # API calls answered 500/502/503 before anything happens
    rate_limit_rate: Rate = 0.0  # API calls answered 429 `rate_limit` before anything happens
    timeout_rate: Rate = 0.0  # API calls that do the work but whose answer never comes
    timeout_mode: Literal["hang", "close"] = "hang"
    hang_seconds: Hang = 15.0
    webhook_drop_rate: Rate = 0.0  # deliveries never sent
    webhook_duplicate_rate: Rate = 0.0  # deliveries sent twice
    webhook_reorder_rate: Rate = 0.0  # a later due delivery sent before an earlier one
    clock_speed: Speed = 1.0


class StripeFaultsPatch(BaseModel):
    """A partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: Latency | None = None
    error_rate: Rate | None = None
    rate_limit_rate: Rate | None = None
    timeout_rate: Rate | None = None
    timeout_mode: Literal["hang", "close"] | None = None
    hang_seconds: Hang | None = None
    webhook_drop_rate: Rate | None = None
    webhook_duplicate_rate: Rate | None = None
    webhook_reorder_rate: Rate | None = None
    clock_speed: Speed | None = None

    def apply_to(self, current: StripeFaults) -> StripeFaults:
        return current.model_copy(update=self.model_dump(exclude_none=True))
