"""A payment provider's failure as the API answers it (docs/api.md, "Payment providers"): the
provider asked us to wait (503 `provider_busy`, with `Retry-After`), or it failed or could not
be reached (502 `provider_error`). Either changed nothing the client must undo; a retry with
the same `Idempotency-Key` is run again (a 5xx is not kept as the key's answer)."""

from __future__ import annotations

import math
from typing import Any

from fastapi.responses import JSONResponse

from payrequest.providers.base import ProviderError, TryAgainLater
from payrequest.web.api.problems import PROBLEM_JSON, problem

PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# For the operations that call a provider: `responses=` of their route.
RESPONSES: dict[int | str, dict[str, Any]] = {
    502: {
        "description": "Bad gateway: the payment provider failed or could not be reached "
        "(`provider_error`); nothing was changed, try again.",
        "content": PROBLEM,
    },
    503: {
        "description": "Service unavailable: the payment provider asked us to wait "
        "(`provider_busy`); try again after `Retry-After` seconds.",
        "content": PROBLEM,
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        },
    },
}


def provider_problem(error: ProviderError) -> JSONResponse:
    if isinstance(error, TryAgainLater):
        seconds = max(1, math.ceil(error.retry_after.total_seconds()))
        return problem(
            503,
            "provider_busy",
            f"The payment provider asked us to wait; try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
    return problem(502, "provider_error", f"The payment provider failed: {error}")
