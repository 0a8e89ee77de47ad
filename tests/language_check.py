"""Finding English in a page meant for a Norwegian or Danish reader.

The words that count as English are the app's own English: every word of every message id
(extracted from the source the way `make translations` does) and of the codes the app stores
(statuses, origins, event names...). A word is a problem on a page in language L when it is one
of those and not a word of L's translations (so "status", "portal" or "e-post" may appear
when the translations use them), nor in a short explicit list of names.

What a person reads: the text of the page (headings, cells, options, buttons, the contents of
closed <details> too), and the attributes shown as text (title, placeholder, aria-label, alt,
a button's value, the confirmation question). Not read as the page's language: <script>,
<style>, code (<code>, and anything marked translate="no": secrets, template variables,
technical payloads), and parts marked with their own `lang` (an English text variant, the
language menu's "English").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from payrequest.automations.actions import KINDS
from payrequest.events.names import ALL_EVENTS
from payrequest.i18n import BABEL_LOCALES
from payrequest.ledger.models import REFUND_STATUSES
from payrequest.organisations.models import ROLES
from payrequest.payment_requests.state import ORIGINS, Status
from payrequest.providers.base import EventName, UserFlow

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = ROOT / "src" / "payrequest" / "i18n" / "locale"
WORD = re.compile(r"[^\W\d_]+")
EMAIL_OR_URL = re.compile(r"\S+@\S+|https?://\S+|/\S+")
TEMPLATE_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
PLACEHOLDERS = re.compile(r"\{\{.*?\}\}|%\(\w+\)\w|\{\w*\}")  # not words of a message
SOURCES = ("webhook", "poll", "user", "system")
# Words that are fine in any language: product and company-form names, units.
ALLOWED = frozenset(
    {
        "mobilepay",
        "vipps",
        "payrequest",
        "sms",
        "as",  # Norwegian company form ("Fjordbakeriet AS")
        "aps",  # Danish company form
        "asa",
        "nok",
        "dkk",
        "eur",
        "sek",
        "kb",
        "mb",
        "ms",
        "id",
        "api",
        "url",
        "html",
        "json",
        "csrf",
    }
)
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-confirm")
SKIPPED_ELEMENTS = ("script", "style", "code", "template")
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(EMAIL_OR_URL.sub(" ", text)) if len(w) > 1}


@cache
def english() -> frozenset[str]:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "src", method_map, options_map
    ):
        for form in [message] if isinstance(message, str) else message:
            found |= words(PLACEHOLDERS.sub(" ", form or ""))
    codes = [
        *ORIGINS,
        *SOURCES,
        *REFUND_STATUSES,
        *ROLES,
        *KINDS,
        *ALL_EVENTS,
        *(s.value for s in Status),
        *(e.value for e in EventName),
        *(f.value for f in UserFlow),
    ]
    for code in codes:
        found |= words(code.replace("_", " ").replace(".", " "))
    return frozenset(found - ALLOWED)


@cache
def vocabulary(language: str) -> frozenset[str]:
    with (LOCALE_DIR / f"{language}.po").open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_LOCALES[language])
    found: set[str] = set()
    for message in catalog:
        strings = [message.string] if isinstance(message.string, str) else message.string
        for text in strings or ():
            found |= words(PLACEHOLDERS.sub(" ", text or ""))
    return frozenset(found)


class _Reader(HTMLParser):
    """The text of a page a reader of `language` sees, with the skipped parts left out."""

    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack: list[tuple[str, bool]] = []  # open elements: (tag, is its content skipped)
        self.parts: list[str] = []

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        own_language = values.get("lang")
        skipped = (
            self._skipped()
            or tag in SKIPPED_ELEMENTS
            or values.get("translate") == "no"
            or (own_language is not None and own_language != self.language and tag != "html")
        )
        if not skipped:
            self.parts.extend(values[name] or "" for name in SHOWN_ATTRIBUTES if values.get(name))
            if tag == "input" and values.get("type") in ("submit", "button"):
                self.parts.append(values.get("value") or "")
        if tag not in VOID_ELEMENTS:
            self.stack.append((tag, skipped))

    def handle_endtag(self, tag: str) -> None:
        """Closes `tag` and whatever was left open inside it (an unclosed <p> or <li>)."""
        if any(open_tag == tag for open_tag, _ in self.stack):
            while self.stack and self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self._skipped():
            self.parts.append(data)


def visible_text(html: str, language: str) -> str:
    reader = _Reader(language)
    reader.feed(html)
    return " ".join(reader.parts)


def english_words(html: str, language: str, codes: Iterable[str] = ()) -> dict[str, str]:
    """English words on a page for `language`: word -> the text around it. `codes`: strings
    shown as they are in any language (a payment reference)."""
    text = " ".join(visible_text(html, language).split())
    for code in codes:
        text = text.replace(code, " ")
    text = TEMPLATE_CODE.sub(" ", text)  # {{ invoice_numbers }} in a message template is code
    found = (words(text) & english()) - vocabulary(language)
    out = {}
    for word in sorted(found):
        match = re.search(rf"(?i).{{0,40}}\b{re.escape(word)}\b.{{0,40}}", text)
        out[word] = match.group(0) if match else ""
    return out
