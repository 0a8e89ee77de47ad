"""Logging for every payrequest process (web, worker, demo, CLI), configured once at start-up.

One line per record on stderr, as `text` (key=value, `PAYREQUEST_LOG_FORMAT=text`, the default)
or `json`, each with time (UTC), level, logger and message, plus what is known of the work:
request_id, route, reference, trace_id (observability.context), and a logger's `extra` fields.
uvicorn's own and access loggers go through the same handler. Every record passes the
`RedactionFilter` first: no password, token, key or full phone number reaches the output; and
a connection that failed is one line, not a traceback (`ConnectionErrorFilter`).
"""

from __future__ import annotations

import errno
import json
import logging
import logging.config
import socket
from datetime import UTC, datetime
from typing import Any

from payrequest.observability import context
from payrequest.observability.redaction import redact
from payrequest.observability.settings import ObservabilitySettings, load_observability

# What every LogRecord has; anything else on a record came from `extra=` and is logged too.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}
# Extra fields that name the provider's trace id under their own name.
_TRACE_FIELDS = ("vipps_trace_id",)


class ContextFilter(logging.Filter):
    """Puts the request id, route, payment reference and trace id known here on the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in context.current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if getattr(record, "trace_id", None) is None:
            for name in _TRACE_FIELDS:
                if trace := getattr(record, name, None):
                    record.trace_id = str(trace)
                    break
        return True


# asyncpg's names for "the server is not there (any more)", which are not OSErrors.
_CONNECTION_ERRORS = frozenset(
    {"CannotConnectNowError", "ConnectionDoesNotExistError", "ConnectionFailureError"}
)


_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)


def _refused_or_lost(exc: BaseException) -> bool:
    return (
        isinstance(exc, ConnectionError | socket.gaierror)
        or (isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS)
        or type(exc).__name__ in _CONNECTION_ERRORS
        # asyncpg's, for a pooled connection whose server went away
        or (type(exc).__name__ == "InterfaceError" and "connection is closed" in str(exc))
    )


def connection_failure(exc: BaseException | None) -> BaseException | None:
    """The lost or refused connection behind `exc` (its causes and SQLAlchemy's `orig`
    included), or None when it is about something else."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if _refused_or_lost(exc):
            return exc
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return None


class ConnectionErrorFilter(logging.Filter):
    """A database or server that cannot be reached is one line, not a traceback: the reason is
    appended to the message (`...: ConnectionRefusedError: [Errno 111] Connect call failed`).
    At DEBUG the traceback stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        failure = connection_failure(record.exc_info[1])
        if failure is not None:
            reason = (str(failure).strip().splitlines() or [""])[0]  # not SQLAlchemy's [SQL: ...]
            record.msg = f"{record.getMessage()}: {type(failure).__name__}: {reason}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class RedactionFilter(logging.Filter):
    """Masks secrets, one-time tokens and phone numbers in the message, the traceback and
    every string `extra` field (observability.redaction)."""

    _plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is rather than nothing
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    for name in context.FIELDS:
        if (value := getattr(record, name, None)) is not None:
            fields[name] = value
    for name, value in vars(record).items():
        if name not in _STANDARD and name not in fields and value is not None:
            fields[name] = value
    if record.exc_text:
        fields["exception"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False, default=str)


class KeyValueFormatter(logging.Formatter):
    """`time=... level=INFO logger=... message="..." request_id=...`; a traceback follows on
    the next lines, as Python prints it."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        exception = fields.pop("exception", None)
        stack = fields.pop("stack", None)
        line = " ".join(f"{name}={_value(value)}" for name, value in fields.items())
        return "\n".join(part for part in (line, exception, stack) if part)


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or any(char in text for char in ' "=\\\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


FORMATTERS = {"text": KeyValueFormatter, "json": JsonFormatter}
# Libraries that would log every call at INFO; the provider adapters log what matters, with
# the provider's request id (the Stripe SDK's own lines would repeat each call).
QUIET = {
    "httpx": "WARNING",
    "httpcore": "WARNING",
    "aiosqlite": "WARNING",
    "asyncio": "WARNING",
    "stripe": "WARNING",
}


def dict_config(settings: ObservabilitySettings | None = None) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a payrequest process (also uvicorn's `log_config`,
    so its processes, `serve --workers` included, log the same way)."""
    settings = settings or load_observability()
    formatter = FORMATTERS[settings.log_format]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": f"{__name__}.ContextFilter"},
            "connection_errors": {"()": f"{__name__}.ConnectionErrorFilter"},
            "redaction": {"()": f"{__name__}.RedactionFilter"},
        },
        "formatters": {"payrequest": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "payrequest",
                "filters": ["context", "connection_errors", "redaction"],
            }
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's loggers come with handlers of their own; here they pass to ours.
            **{
                name: {"handlers": [], "propagate": True, "level": settings.log_level}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            **{
                name: {"level": level}
                for name, level in QUIET.items()
                if logging.getLevelName(level) > logging.getLevelName(settings.log_level)
            },
        },
    }


def configure(settings: ObservabilitySettings | None = None) -> None:
    """Configure logging for this process (safe to call again: it replaces the handlers)."""
    logging.config.dictConfig(dict_config(settings))
    logging.captureWarnings(True)
