"""Structured logs: both formats carry time, level, logger, message and the request context;
no password, token or full phone number reaches the output; uvicorn's access log goes through
the same format."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from payrequest.config import ConfigurationError
from payrequest.observability import logs
from payrequest.observability.context import bound, route_from
from payrequest.observability.redaction import redact
from payrequest.observability.settings import ObservabilitySettings, load_observability


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _configured(capsys: pytest.CaptureFixture[str], log_format: str) -> None:
    logs.configure(ObservabilitySettings(log_format=log_format, log_level="INFO"))
    capsys.readouterr()


def test_json_lines_carry_context_and_hide_secrets_and_phone_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configured(capsys, "json")
    log = logging.getLogger("payrequest.test")
    with bound(request_id="req-1", reference="PR-000123"), route_from(lambda: "/customers/{id}"):
        log.warning(
            "sent to %s with password=%s and {'client_secret': 'abc123'}",
            "+47 975 40 218",
            "hunter2",
            extra={"vipps_trace_id": "trace-9", "detail": "Bearer eyJhbGciOi.secret"},
        )
    record = json.loads(capsys.readouterr().err.strip())
    assert record["level"] == "WARNING"
    assert record["logger"] == "payrequest.test"
    assert record["time"].endswith("+00:00")
    assert record["request_id"] == "req-1"
    assert record["route"] == "/customers/{id}"
    assert record["reference"] == "PR-000123"
    assert record["trace_id"] == "trace-9"
    assert "+47 975 ** 218" in record["message"]
    assert "password=***" in record["message"]
    assert "abc123" not in record["message"] and "hunter2" not in record["message"]
    assert record["detail"] == "Bearer ***"


def test_text_lines_are_key_value_and_tracebacks_are_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configured(capsys, "text")
    log = logging.getLogger("payrequest.test")
    try:
        raise RuntimeError("connect to postgresql://app:s3cret@db/pay failed for 4791834562")
    except RuntimeError:
        log.exception("job failed")
    out = capsys.readouterr().err
    first = out.splitlines()[0]
    assert first.startswith("time=")
    assert " level=ERROR logger=payrequest.test " in first
    assert 'message="job failed"' in first
    assert "Traceback" in out
    assert "s3cret" not in out and "4791834562" not in out
    assert "postgresql://app:***@db/pay" in out and "47918**562" in out


def test_uvicorns_access_log_goes_through_the_same_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configured(capsys, "json")
    with bound(request_id="req-2"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/portal/link/AbCdEf123?next=1",
            "1.1",
            200,
        )
    record = json.loads(capsys.readouterr().err.strip())
    assert record["logger"] == "uvicorn.access"
    assert record["request_id"] == "req-2"
    assert "/portal/link/***?next=1" in record["message"]
    assert "AbCdEf123" not in record["message"]


def test_info_lines_are_shown_and_the_level_is_the_operators_choice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configured(capsys, "text")
    logging.getLogger("payrequest.jobs").info("worker started")
    assert "worker started" in capsys.readouterr().err
    logs.configure(ObservabilitySettings(log_level="WARNING"))
    logging.getLogger("payrequest.jobs").info("not shown")
    assert "not shown" not in capsys.readouterr().err


def test_bad_log_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYREQUEST_LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="PAYREQUEST_LOG_FORMAT"):
        load_observability()
    monkeypatch.setenv("PAYREQUEST_LOG_FORMAT", "JSON")
    monkeypatch.setenv("PAYREQUEST_LOG_LEVEL", "loud")
    with pytest.raises(ConfigurationError, match="PAYREQUEST_LOG_LEVEL: must be one of"):
        load_observability()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("+47 975 40 218", "+47 975 ** 218"),
        ("97540218", "975**218"),
        ("/sandbox/vipps/phone/4791834562", "/sandbox/vipps/phone/47918**562"),
        ("Authorization: Bearer abc.def", "Authorization: ***"),
        ('{"password": "x y", "n": 1}', '{"password": "***", "n": 1}'),
        ("password=hunter2 and more", "password=*** and more"),
        ("PAYREQUEST_METRICS_TOKEN=abc", "PAYREQUEST_METRICS_TOKEN=***"),
        ("/receipts/eyJyZWYi.sig", "/receipts/***"),
        ("route=/portal/link/{token}", None),  # a route template is no token
        ("invoice INV-2026-0001 of 12500 øre, job 42, PR-00012345", None),
        ("trace 3fa85f64-5717-4562-b3fc-2c963f66afa6", None),
    ],
)
def test_redaction(text: str, shown: str | None) -> None:
    assert redact(text) == (text if shown is None else shown)


def test_a_refused_connection_is_one_line_without_traceback_unless_debugging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class DBAPIError(Exception):  # the shape of SQLAlchemy's wrapper: the cause in `orig`
        def __init__(self, orig: BaseException) -> None:
            super().__init__("(asyncpg) connection failed")
            self.orig = orig

    class InterfaceError(Exception):  # asyncpg's, when a pooled connection's server went away
        pass

    _configured(capsys, "text")
    log = logging.getLogger("payrequest.jobs")
    for _ in range(3):
        try:
            raise DBAPIError(ConnectionRefusedError(111, "Connect call failed"))
        except DBAPIError:
            log.exception("job worker w1: claiming failed; will retry")
    try:
        try:
            raise InterfaceError("connection is closed\n[SQL: INSERT INTO jobs ...]")
        except InterfaceError as exc:
            raise DBAPIError(exc) from exc
    except DBAPIError:
        log.exception("job worker w1: claiming failed; will retry")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4
    assert lines[3].endswith('will retry: InterfaceError: connection is closed"')
    assert lines[0].endswith(
        'message="job worker w1: claiming failed; will retry: ConnectionRefusedError: '
        '[Errno 111] Connect call failed"'
    )
    try:
        raise ValueError("a bug, not a connection")
    except ValueError:
        log.exception("job failed")
    assert "Traceback" in capsys.readouterr().err
    logs.configure(ObservabilitySettings(log_level="DEBUG"))
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError:
        log.exception("claiming failed")
    assert "Traceback" in capsys.readouterr().err


def test_other_os_errors_keep_their_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    _configured(capsys, "text")
    try:
        raise FileNotFoundError(2, "No such file", "/srv/x")
    except FileNotFoundError:
        logging.getLogger("payrequest.test").exception("could not read")
    assert "Traceback" in capsys.readouterr().err
