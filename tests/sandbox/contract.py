"""Contract checker: validates emulator responses against the official OpenAPI files.

The spec folder is `shared/vipps/spec`, next to the repository. The ePayment spec `$ref`s the
Order Management `Receipt` by a GitHub URL; as SOURCES.md describes, that ref is rewritten to the
local `order-management-2.3.24.yaml` so everything resolves offline.

Spec quirks (API-FACTS §13 item 18) are handled explicitly in `_patch_quirks` and `_fallback`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = (REPO / ".." / "shared" / "vipps" / "spec").resolve()
OM_URL = (
    "https://raw.githubusercontent.com/vippsas/vipps-order-management-api/2.3.24/docs/"
    "swagger.yaml#/components/schemas/Receipt"
)
OM_LOCAL = "order-management-2.3.24.yaml#/components/schemas/Receipt"
NEW_REFERENCE_PATTERN = "^[a-zA-Z0-9-]{8,64}$"

# What Azure API Management answers itself (401 bad key/token, 429, injected 5xx). These are
# not in any spec (API-FACTS §8.1: "may not be RFC 7807"); we pin the documented shape.
APIM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["statusCode", "message"],
    "properties": {"statusCode": {"type": "integer"}, "message": {"type": "string"}},
    "additionalProperties": False,
}
# Azure AD style token errors (API-FACTS §2, DENO AccessTokenError); the spec gives 401 no schema.
AAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "error_description", "error_codes", "trace_id", "correlation_id"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "error_codes": {"type": "array", "items": {"type": "integer"}},
    },
}


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes an explicit null alternative."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("$ref") == OM_URL:
        converted["$ref"] = OM_LOCAL
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _patch_quirks(name: str, spec: dict[str, Any]) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    if name == "epayment-v1.yaml":
        # Quirk: PaymentEvent.required lists the removed field `paymentAction` instead of `name`.
        required = schemas["PaymentEvent"]["required"]
        schemas["PaymentEvent"]["required"] = [
            "name" if r == "paymentAction" else r for r in required
        ]
        # Since v1.7.0 (Jan 2025) a reference may be 64 long; the 1.4.1 file still says 50.
        schemas["Reference"].update(pattern=NEW_REFERENCE_PATTERN, maxLength=64)
        # MSNs: the file says 4-6 digits, current docs 4-10 (real MobilePay MSNs have 7).
        schemas["MSN"].update(pattern="^[0-9]{4,10}$", maxLength=10)


@dataclass
class Operation:
    spec: str
    path: str
    method: str
    responses: dict[str, Any]


@dataclass
class ContractChecker:
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    @classmethod
    def load(cls) -> ContractChecker:
        if not SPEC_DIR.is_dir():
            raise RuntimeError(
                f"OpenAPI specs not found at {SPEC_DIR}: the folder `shared/vipps/spec` must sit "
                "next to the repository (see shared/vipps/spec/SOURCES.md)"
            )
        checker = cls()
        for name in (
            "epayment-v1.yaml",
            "webhooks-v1.yaml",
            "access-token.yaml",
            "order-management-2.3.24.yaml",
        ):
            raw = yaml.safe_load((SPEC_DIR / name).read_text(encoding="utf-8"))
            _patch_quirks(name, raw)
            doc = _to_json_schema(raw)
            checker.specs[name] = doc
            checker.registry = checker.registry.with_resource(
                name, Resource.from_contents(doc, default_specification=DRAFT4)
            )
        return checker

    # -- schema helpers ----------------------------------------------------------------
    def validate(self, spec: str, schema: dict[str, Any], instance: Any) -> None:
        """Validate against a schema whose `#/...` refs point into `spec`."""
        validator = jsonschema.Draft4Validator(_absolute(schema, spec), registry=self.registry)
        validator.validate(instance)

    def operation(self, method: str, path: str) -> Operation | None:
        mounted = re.search(r"/(epayment|webhooks/v1|accesstoken|accessToken)/", path)
        path = path[mounted.start() :] if mounted else path  # drop a mount prefix
        if path.lower().startswith("/accesstoken/"):
            spec, spec_path = "access-token.yaml", "/accesstoken/get"
        elif path.startswith("/webhooks/v1/"):
            spec, spec_path = "webhooks-v1.yaml", "/v1/" + path.removeprefix("/webhooks/v1/")
        elif path.startswith("/epayment/"):
            spec, spec_path = "epayment-v1.yaml", path
        else:
            return None
        for template, item in self.specs[spec]["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, spec_path) and method.lower() in item:
                responses = item[method.lower()]["responses"]
                return Operation(spec, template, method.lower(), responses)
        raise AssertionError(f"{method} {path} is not an operation in {spec}")

    def _resolve(self, spec: str, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node and node["$ref"].startswith("#/"):
            target: Any = self.specs[spec]
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        return node

    # -- the check ---------------------------------------------------------------------
    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        op = self.operation(method, path)
        if op is None:
            return  # phone pages, controls: not part of the Vipps API
        self.seen.add((op.spec, f"{method} {op.path}", status))
        data = json.loads(body) if body else None
        if isinstance(data, dict) and set(data) == {"statusCode", "message"}:
            assert status in (401, 429, 500, 502, 503, 504), f"APIM body with status {status}"
            jsonschema.validate(data, APIM_SCHEMA)
            return
        response = op.responses.get(str(status))
        if response is None:
            self._fallback(op, status, data)
            return
        response = self._resolve(op.spec, response)
        content = response.get("content")
        if not content:
            if op.spec == "access-token.yaml" and status in (400, 401):
                jsonschema.validate(data, AAD_SCHEMA)  # the spec documents these without schema
                return
            assert not body, f"{method} {path} {status}: spec says no body, got {body[:100]!r}"
            return
        media = content_type.split(";")[0].strip().lower()
        declared = {k.split(";")[0].strip().lower(): v for k, v in content.items()}
        if media not in declared:
            # Quirk: ModificationResponse (cancel/capture/refund 200) is declared as
            # application/problem+json; the real API answers application/json.
            quirk = (
                op.spec == "epayment-v1.yaml"
                and status == 200
                and "application/problem+json" in declared
            )
            assert quirk, f"{method} {path} {status}: content type {media} not in {list(declared)}"
            media = "application/problem+json"
        self.validate(op.spec, declared[media]["schema"], data)

    def _fallback(self, op: Operation, status: int, data: Any) -> None:
        """Statuses the 2023 files do not list for an operation."""
        if op.spec == "epayment-v1.yaml" and 400 <= status < 500:
            # Quirk: GET endpoints and force approve list no error responses at all, and not
            # every POST lists 403/404/423; errors are still RFC 7807 `Problem`s.
            self.validate(op.spec, {"$ref": "#/components/schemas/Problem"}, data)
            return
        if op.spec == "webhooks-v1.yaml" and 400 <= status < 500:
            self.validate(op.spec, {"$ref": "#/components/schemas/ProblemDetails"}, data)
            return
        raise AssertionError(f"{op.method.upper()} {op.path}: status {status} not in the spec")

    def webhook_event(self, payload: Any) -> None:
        self.validate("epayment-v1.yaml", {"$ref": "#/components/schemas/WebhookEvent"}, payload)


_CHECKER: ContractChecker | None = None


def checker() -> ContractChecker:
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = ContractChecker.load()
    return _CHECKER


def _absolute(node: Any, spec: str) -> Any:
    if isinstance(node, list):
        return [_absolute(item, spec) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _absolute(v, spec) for k, v in node.items()}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/"):
        out["$ref"] = spec + out["$ref"]
    return out
