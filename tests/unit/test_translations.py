"""Every message of the pages has a Norwegian (bokmål) and a Danish translation.

The messages are extracted from the source as it is now, with the mapping in babel.cfg
(the same one `make translations` uses), and looked up in i18n/locale/{nb,da}.po.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from payrequest.web import i18n
from payrequest.web.render import templates

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "src" / "payrequest" / "i18n" / "locale"
LANGUAGES = ("nb", "da")
WHAT_TO_DO = (
    "run `make translations` and fill in the new entries in src/payrequest/i18n/locale/{nb,da}.po"
)

# Named %-placeholders (`%(number)s`, `%(n)d`), a literal `%%`, and str.format fields
# (`{minutes}`, `{0}`, `{}`) outside `{{ }}` escapes.
PERCENT = re.compile(r"%%|%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")
BRACES = re.compile(r"(?<!\{)\{\w*(?:[!:][^{}]*)?\}(?!\})")

MessageKey = tuple[str, str | None]  # (msgid, msgctxt)


@cache
def extracted() -> dict[MessageKey, tuple[str, ...]]:
    """The messages in the source right now: (msgid, context) -> all msgid forms."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    found: dict[MessageKey, tuple[str, ...]] = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        forms = (message,) if isinstance(message, str) else tuple(m for m in message if m)
        if forms and forms[0]:
            found[(forms[0], context)] = forms
    return found


@cache
def catalog(language: str) -> Catalog:
    with (LOCALE_DIR / f"{language}.po").open("rb") as handle:
        return read_po(handle, locale=i18n.BABEL_LOCALES[language])


def forms(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(v or "" for v in value) if value else ("",)


def translated(language: str) -> Iterator[Message]:
    for message in catalog(language):
        if message.id and any(forms(message.string)):
            yield message


def placeholders(text: str) -> set[str]:
    return set(PERCENT.findall(text)) | set(BRACES.findall(text))


def test_the_extraction_finds_messages_in_python_and_templates() -> None:
    """Guards the check below against a mapping that silently matches nothing."""
    ids = {msgid for msgid, _ in extracted()}
    assert "Tick at least one open invoice." in ids  # web/admin/requests.py
    assert "Pay with MobilePay" in ids  # web/templates/portal/home.html
    assert "%(num)d overdue" in ids  # an ngettext in customers/list.html


def test_every_message_is_translated_to_norwegian_and_danish() -> None:
    problems: list[str] = []
    for language in LANGUAGES:
        messages = catalog(language)
        for (msgid, context), source_forms in extracted().items():
            entry = messages.get(msgid, context=context)
            if entry is None:
                problems.append(f"  {language}: {msgid!r} is not in {language}.po")
            elif forms(entry.id) != source_forms:
                problems.append(f"  {language}: {msgid!r} has changed its plural form")
            elif entry.fuzzy:
                problems.append(
                    f"  {language}: {msgid!r} is marked fuzzy "
                    '(check the translation, then remove the "#, fuzzy" line)'
                )
            elif not all(forms(entry.string)):
                problems.append(f"  {language}: {msgid!r} has no translation")
    summary = f"{len(problems)} missing translation(s); {WHAT_TO_DO}:"
    assert not problems, "\n".join([summary, *problems])


def test_translations_keep_the_placeholders_of_their_message() -> None:
    problems: list[str] = []
    for language in LANGUAGES:
        for message in translated(language):
            ids = forms(message.id)
            for index, text in enumerate(forms(message.string)):
                # Form 0 is the singular; every other form follows the plural msgid.
                original = ids[min(index, len(ids) - 1)]
                expected, got = placeholders(original), placeholders(text)
                if text and got != expected:
                    problems.append(
                        f"  {language}: {original!r} -> {text!r}: "
                        f"expected {sorted(expected)}, found {sorted(got)}"
                    )
    summary = (
        "Translations must keep the placeholders of their msgid exactly "
        "(fix them in src/payrequest/i18n/locale/{nb,da}.po):"
    )
    assert not problems, "\n".join([summary, *problems])


def render(name: str, language: str, **context: Any) -> str:
    context = {
        "csrf_token": "token",
        "language": language,
        "flashes": [],
        "live_since": 0,
        "request": SimpleNamespace(url=SimpleNamespace(path="/")),
        "url_for": lambda name, **params: f"/{name}/{params.get('path', '')}",
        **context,
    }
    with i18n.use_language(language):
        return templates.env.get_template(name).render(context)


STAFF = {
    "nb": ("Logg inn", "Passord", "Betalingsforespørsler", "Logg ut"),
    "da": ("Log ind", "Adgangskode", "Betalingsanmodninger", "Log ud"),
    "en": ("Sign in", "Password", "Payment requests", "Sign out"),
}
PORTAL = {
    "nb": ("Se og betal fakturaene dine", "Send meg en lenke", "E-post eller mobilnummer"),
    "da": ("Se og betal dine fakturaer", "Send mig et link", "E-mail eller mobilnummer"),
    "en": ("See and pay your invoices", "Send me a link", "Email or mobile number"),
}


@pytest.mark.parametrize("language", ["nb", "da", "en"])
def test_a_staff_page_is_rendered_in_the_chosen_language(language: str) -> None:
    user = SimpleNamespace(name="Kari Nordmann", role="owner")
    page = render("login.html", language, user=user, next="/", email="", error=None)
    for phrase in STAFF[language]:
        assert phrase in page
    if language != "en":
        assert "Sign out" not in page


@pytest.mark.parametrize("language", ["nb", "da", "en"])
def test_a_portal_page_is_rendered_in_the_chosen_language(language: str) -> None:
    page = render("portal/start.html", language, customer=None, error=None, sent=False)
    for phrase in PORTAL[language]:
        assert phrase in page
    if language != "en":
        assert "Send me a link" not in page
