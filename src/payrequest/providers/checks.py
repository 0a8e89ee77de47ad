"""What a connection check reports, in plain words, for every provider alike.

Each provider's own check (`providers/<name>/checkup.py`) looks at what matters for it and
reports findings: an English message id with its parameters, so the command line prints it
in English and the Settings page in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from payrequest import i18n
from payrequest.providers.base import ProviderError, WebhookEndpoint


class Listed(Protocol):
    """The registrations a look-up found (`inbound.setup.Registrations`)."""

    @property
    def url(self) -> str: ...
    @property
    def ours(self) -> tuple[WebhookEndpoint, ...]: ...
    @property
    def foreign(self) -> tuple[WebhookEndpoint, ...]: ...
    @property
    def stale(self) -> tuple[WebhookEndpoint, ...]: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report. `ok`: True fine, False to act on, None worth knowing."""

    key: str  # stable name, e.g. "webhook.foreign"
    ok: bool | None
    text: str  # an English message id with %(name)s placeholders
    params: dict[str, Any] = field(default_factory=dict)
    said: str = ""  # the provider's own words, untranslated, for a support case


def shown(language: str, finding: Finding) -> str:
    """The finding as a sentence in the language."""
    if not finding.params:
        return i18n.gettext(language, finding.text)
    return i18n.render(language, finding.text, finding.params)


@dataclass(frozen=True, slots=True)
class Report:
    findings: list[Finding]
    listed: Listed | None  # None: the provider could not be asked

    @property
    def ok(self) -> bool:
        return all(finding.ok is not False for finding in self.findings)


def refused(exc: ProviderError) -> Finding:
    """The first call failed: the refusal in a sentence of its own where the provider adapter
    has one (e.g. "The client secret is invalid: ..."), and what the provider said."""
    key = "credentials" if exc.status in (400, 401, 403) else "reachable"
    return Finding(key, False, exc.message, said=said(exc))


def said(exc: ProviderError) -> str:
    """The provider's own words, code, HTTP status and trace id, as support asks for them."""
    parts = [
        exc.detail or "",
        f"code {exc.code}" if exc.code else "",
        f"HTTP {exc.status}" if exc.status else "",
        f"trace {exc.trace_id}" if exc.trace_id else "",
    ]
    return " · ".join(part for part in parts if part)
