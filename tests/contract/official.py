"""The optional second layer: the official OpenAPI files of Vipps MobilePay.

The files are not part of this repository. `PAYREQUEST_VIPPS_SPEC_DIR` names the folder that
holds them; without it, `../shared/vipps/spec` next to the repository is used if it exists.
When neither holds the files, this layer is off: the contract check uses only the project's own
description (vipps_wire.py), and tests about the official files skip, naming the variable.

The ePayment file `$ref`s the Order Management `Receipt` by a GitHub URL; that ref is pointed
at the local Order Management file so everything resolves offline. The official files are
older than the live API and have known mistakes or gaps (e.g. no `taxRate`); `_patch_quirks`,
`_fallback` and `check` handle each one explicitly.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.contract.operations import GATEWAY_STATUSES
from tests.contract.vipps_wire import validate as validate_own

ENV = "PAYREQUEST_VIPPS_SPEC_DIR"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = (REPO / ".." / "shared" / "vipps" / "spec").resolve()
FILES = (
    "epayment-v1.yaml",
    "webhooks-v1.yaml",
    "access-token.yaml",
    "order-management-2.3.24.yaml",
)
OM_URL = (
    "https://raw.githubusercontent.com/vippsas/vipps-order-management-api/2.3.24/docs/"
    "swagger.yaml#/components/schemas/Receipt"
)
OM_LOCAL = "order-management-2.3.24.yaml#/components/schemas/Receipt"


def spec_dir() -> tuple[Path | None, str]:
    """(the folder with the official files, "") or (None, why the layer is off)."""
    configured = os.environ.get(ENV, "").strip()
    folder = Path(configured).expanduser().resolve() if configured else DEFAULT_DIR
    missing = [name for name in FILES if not (folder / name).is_file()]
    if not missing:
        return folder, ""
    where = f"{ENV}={configured}" if configured else f"{ENV} is not set and {folder}"
    lacks = f"lacks {', '.join(missing)}" if folder.is_dir() else "does not exist"
    return None, (
        f"official OpenAPI files not found ({where} {lacks}); "
        f"set {ENV} to the folder holding {', '.join(FILES)} to check against them as well"
    )


_LOADED: dict[Path, OfficialSpecs] = {}


def official() -> OfficialSpecs | None:
    """The official layer, or None when its files are not there."""
    folder, _ = spec_dir()
    if folder is None:
        return None
    if folder not in _LOADED:
        _LOADED[folder] = OfficialSpecs.load(folder)
    return _LOADED[folder]


def require_official() -> OfficialSpecs:
    """The official layer; skips the calling test (with the reason) when it is off."""
    specs = official()
    if specs is None:
        pytest.skip(spec_dir()[1])
    return specs


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
    if name == "order-management-2.3.24.yaml":
        # The file predates `taxRate` (hundredths of a percent, 0..10000), which the live API
        # takes instead of the deprecated whole-percent `taxPercentage`: one of them is needed.
        line = schemas["OrderLine"]
        line["properties"]["taxRate"] = {"type": "integer", "minimum": 0, "maximum": 10_000}
        line["required"] = [r for r in line["required"] if r != "taxPercentage"]
        line["anyOf"] = [{"required": ["taxPercentage"]}, {"required": ["taxRate"]}]
        return
    if name != "epayment-v1.yaml":
        return
    # Quirk: PaymentEvent.required lists the removed field `paymentAction` instead of `name`.
    required = schemas["PaymentEvent"]["required"]
    schemas["PaymentEvent"]["required"] = ["name" if r == "paymentAction" else r for r in required]
    # Since January 2025 a reference may be 64 long; the file still says 50.
    schemas["Reference"].update(pattern="^[a-zA-Z0-9-]{8,64}$", maxLength=64)
    # MSNs: the file says 4-6 digits; today they are 4-10 (MobilePay MSNs have 7).
    schemas["MSN"].update(pattern="^[0-9]{4,10}$", maxLength=10)
    # Quirk: the `Customer` oneOf alternatives require nothing, so every object matches all
    # three and oneOf always fails. Each alternative is made to require its own field.
    for schema, own_field in (
        ("CustomerPhoneNumber", "phoneNumber"),
        ("PersonalQrCode", "personalQr"),
        ("CustomerToken", "customerToken"),
    ):
        schemas[schema]["required"] = [own_field]


@dataclass
class SpecOperation:
    spec: str
    path: str
    method: str
    item: dict[str, Any]

    @property
    def responses(self) -> dict[str, Any]:
        responses: dict[str, Any] = self.item["responses"]
        return responses


@dataclass
class OfficialSpecs:
    folder: Path
    specs: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    registry: Registry = field(default_factory=Registry, repr=False)

    @classmethod
    def load(cls, folder: Path) -> OfficialSpecs:
        loaded = cls(folder)
        for name in FILES:
            raw = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
            _patch_quirks(name, raw)
            doc = _to_json_schema(raw)
            loaded.specs[name] = doc
            loaded.registry = loaded.registry.with_resource(
                name, Resource.from_contents(doc, default_specification=DRAFT4)
            )
        return loaded

    def covers(self, path: str) -> bool:
        """Whether the files describe this API path (they have no Userinfo API)."""
        return path.lower().startswith(("/accesstoken/", "/epayment/", "/webhooks/"))

    def validate(self, spec: str, schema: dict[str, Any], instance: Any) -> None:
        """Validate against a schema whose `#/...` refs point into `spec`."""
        validator = jsonschema.Draft4Validator(_absolute(schema, spec), registry=self.registry)
        validator.validate(instance)

    def operation(self, method: str, path: str) -> SpecOperation:
        """`path` is an API path as the live API has it (see operations.api_path)."""
        if path.lower().startswith("/accesstoken/"):
            spec, spec_path = "access-token.yaml", "/accesstoken/get"
        elif path.startswith("/webhooks/v1/"):
            spec, spec_path = "webhooks-v1.yaml", "/v1/" + path.removeprefix("/webhooks/v1/")
        else:
            spec, spec_path = "epayment-v1.yaml", path
        for template, item in self.specs[spec]["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, spec_path) and method.lower() in item:
                return SpecOperation(spec, template, method.lower(), item[method.lower()])
        raise AssertionError(f"{method} {path} is not an operation in {spec}")

    def _resolve(self, spec: str, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node and node["$ref"].startswith("#/"):
            target: Any = self.specs[spec]
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        return node

    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        op = self.operation(method, path)
        data = json.loads(body) if body else None
        if isinstance(data, dict) and set(data) == {"statusCode", "message"}:
            # The gateway's own answers are in none of the files; our description has them.
            assert status in GATEWAY_STATUSES, f"gateway body with status {status}"
            validate_own("gateway_error", data)
            return
        response = op.responses.get(str(status))
        if response is None:
            self._fallback(op, status, data)
            return
        response = self._resolve(op.spec, response)
        content = response.get("content")
        if not content:
            if op.spec == "access-token.yaml" and status in (400, 401):
                validate_own("token_error", data)  # the file gives these no schema
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

    def _fallback(self, op: SpecOperation, status: int, data: Any) -> None:
        """Statuses the files do not list for an operation."""
        if op.spec == "epayment-v1.yaml" and 400 <= status < 500:
            # Quirk: GET endpoints and force approve list no error responses at all, and not
            # every POST lists 403/404/422/423; errors are still RFC 7807 `Problem`s.
            self.validate(op.spec, {"$ref": "#/components/schemas/Problem"}, data)
            return
        if op.spec == "webhooks-v1.yaml" and 400 <= status < 500:
            self.validate(op.spec, {"$ref": "#/components/schemas/ProblemDetails"}, data)
            return
        raise AssertionError(f"{op.method.upper()} {op.path}: status {status} not in the spec")

    def check_request(self, method: str, path: str, body: Any) -> None:
        """A request body against the operation's official request schema, if it has one."""
        op = self.operation(method, path)
        content = self._resolve(op.spec, op.item.get("requestBody") or {}).get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        if schema is not None:  # cancel's body is newer than the files: nothing to check
            self.validate(op.spec, schema, body)

    def webhook_event(self, payload: Any) -> None:
        self.validate("epayment-v1.yaml", {"$ref": "#/components/schemas/WebhookEvent"}, payload)


def _absolute(node: Any, spec: str) -> Any:
    if isinstance(node, list):
        return [_absolute(item, spec) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _absolute(v, spec) for k, v in node.items()}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/"):
        out["$ref"] = spec + out["$ref"]
    return out
