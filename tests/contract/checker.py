"""The contract check used by the emulator and provider tests.

Every answer of the emulated Vipps MobilePay API, every request body our provider sends and
every webhook payload is checked against the project's own description of the wire format
(vipps_wire.py, operations.py), always. When the official OpenAPI files are present
(official.py), the same is checked against them as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.contract import official as official_layer
from tests.contract.official import OfficialSpecs
from tests.contract.operations import (
    GATEWAY_STATUSES,
    JSON,
    aggregate_rules,
    api_path,
    create_rules,
    operation,
    receipt_rules,
)
from tests.contract.vipps_wire import validate


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _must(broken: list[str], where: str) -> None:
    assert not broken, f"{where}: broken rule(s): {'; '.join(broken)}"


@dataclass
class ContractChecker:
    official: OfficialSpecs | None = None
    seen: set[tuple[str, int]] = field(default_factory=set)  # (operation name, status)

    def check(
        self,
        method: str,
        path: str,
        status: int,
        content_type: str,
        body: bytes,
        request_body: bytes | None = None,
    ) -> None:
        """One answer of the API; `request_body` (if given) lets pairing rules be checked."""
        found = api_path(path)
        if found is None:
            return  # phone pages, controls: not part of the Vipps MobilePay APIs
        op = operation(method, found)
        self.seen.add((op.name, status))
        where = f"{method} {found} -> {status}"
        data = json.loads(body) if body else None
        if isinstance(data, dict) and set(data) == {"statusCode", "message"}:
            assert status in GATEWAY_STATUSES, f"{where}: a gateway error body with this status"
            assert _media_type(content_type) == JSON, f"{where}: content type {content_type}"
            validate("gateway_error", data)
            assert data["statusCode"] == status, f"{where}: statusCode {data['statusCode']}"
        else:
            self._check_answer(op.answers, where, status, content_type, body, data)
            if op.request == "create_request" and status == 201 and request_body is not None:
                assert isinstance(data, dict)
                sent = json.loads(request_body)
                _must(create_rules(sent, data) + receipt_rules(sent), where)
        if self.official is not None and self.official.covers(found):
            self.official.check(method, found, status, content_type, body)

    def _check_answer(
        self,
        answers: dict[int, Any],
        where: str,
        status: int,
        content_type: str,
        body: bytes,
        data: Any,
    ) -> None:
        answer = answers.get(status)
        assert answer is not None, f"{where}: status {status} is not one this operation answers"
        if answer.schema is None:
            assert not body, f"{where}: expected no body, got {body[:100]!r}"
            return
        media = _media_type(content_type)
        assert media == answer.media_type, f"{where}: content type {media}, not {answer.media_type}"
        validate(answer.schema, data)
        if answer.schema in ("payment", "modification"):
            _must(aggregate_rules(data), where)
        if answer.schema in ("problem", "userinfo_problem"):
            assert data["status"] == status, f"{where}: the problem says status {data['status']}"

    def check_request(self, method: str, path: str, body: Any) -> None:
        """A request body a client sends (parsed JSON; None for no body)."""
        found = api_path(path)
        assert found is not None, f"{path} is not a Vipps MobilePay API path"
        op = operation(method, found)
        if op.request is None:
            assert body is None, f"{op.name} takes no body, got {body!r}"
            return
        validate(op.request, body)
        if op.request == "create_request":
            _must(receipt_rules(body), f"{method} {found} request")
        if self.official is not None and self.official.covers(found):
            self.official.check_request(method, found, body)

    def webhook_event(self, payload: Any) -> None:
        """The JSON body of one webhook delivery."""
        validate("webhook_event", payload)
        if self.official is not None:
            self.official.webhook_event(payload)


_CHECKERS: dict[object, ContractChecker] = {}


def checker() -> ContractChecker:
    """The checker for this run: our own description, plus the official files if present."""
    specs = official_layer.official()
    key = None if specs is None else specs.folder
    if key not in _CHECKERS:
        _CHECKERS[key] = ContractChecker(official=specs)
    return _CHECKERS[key]
