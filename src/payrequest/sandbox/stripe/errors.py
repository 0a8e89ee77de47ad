"""Stripe's error object and the errors the emulator answers with (docs/stripe.md#errors).

An error is `{"error": {"type", "message", "code"?, "param"?, "decline_code"?, "doc_url"?,
...}}` with the HTTP status the SDK maps to its exception classes: 400/404 invalid request
(or idempotency), 401 authentication, 402 card, 409 conflict, 429 rate limit, 5xx API.
Fields without a value are left out, as Stripe does.
"""

from __future__ import annotations

from typing import Any

DOCS = "https://stripe.com/docs/error-codes/"
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
IDEMPOTENCY_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)


class StripeApiError(Exception):
    """An answer in Stripe's error shape. `stored` says whether an idempotency key keeps it
    (validation failures are not kept: the same key may be tried again)."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        stored: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.stored = stored
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOCS + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        error.update({name: value for name, value in self.extra.items() if value is not None})
        return {"error": error}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeApiError:
    return StripeApiError(400, "invalid_request_error", message, code=code, param=param)


def missing(param: str) -> StripeApiError:
    return invalid(f"Missing required param: {param}.", param, "parameter_missing")


def unknown(param: str) -> StripeApiError:
    return invalid(f"Received unknown parameter: {param}", param, "parameter_unknown")


def bad_integer(param: str, value: object) -> StripeApiError:
    return invalid(f"Invalid integer: {value}", param, "parameter_invalid_integer")


def no_such(kind: str, object_id: str, param: str = "id") -> StripeApiError:
    return StripeApiError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def unexpected_state(message: str, **extra: Any) -> StripeApiError:
    """An operation the object's state does not allow (kept under an idempotency key)."""
    return StripeApiError(
        400,
        "invalid_request_error",
        message,
        code="payment_intent_unexpected_state",
        stored=True,
        **extra,
    )


def unrecognized(method: str, path: str) -> StripeApiError:
    return StripeApiError(
        404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
    )


def no_api_key() -> StripeApiError:
    return StripeApiError(401, "invalid_request_error", NO_KEY)


def bad_api_key(key: str) -> StripeApiError:
    return StripeApiError(401, "invalid_request_error", f"Invalid API Key provided: {masked(key)}")


def masked(key: str) -> str:
    """`sk_test_sandbox` -> `sk_test_****dbox`: the prefix and the last four characters."""
    prefix = key[: key.index("_", 3) + 1] if key.count("_") >= 2 else ""
    return f"{prefix}****{key[-4:]}"


def idempotency_mismatch(key: str) -> StripeApiError:
    return StripeApiError(400, "idempotency_error", IDEMPOTENCY_MISMATCH.format(key=key))


def key_in_use(key: str) -> StripeApiError:
    message = (
        f"There is currently another in-progress request using this Idempotent Key ({key}). "
        "Please try again later."
    )
    return StripeApiError(409, "invalid_request_error", message, code="idempotency_key_in_use")


def rate_limited() -> StripeApiError:
    message = (
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits."
    )
    return StripeApiError(429, "invalid_request_error", message, code="rate_limit")
