"""Every expected error reaches people in their language.

The domain raises errors as an English template with parameters (errors.py); the web layer
translates them. This reads the source as it is now: every error class (errors.py and its
subclasses anywhere in src), every place one is built, and every message marked with N_.
Each template must be a literal (no f-string, no `%` or `+` glued on the spot, no text
translated before raising), and must render in Norwegian and Danish to something that is not
the English text, with the same placeholders.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from payrequest import i18n
from payrequest.errors import ValidationFailed

SRC = Path(__file__).resolve().parents[2] / "src" / "payrequest"
SKIP = ("sandbox", "migrations")  # the emulator is English on purpose; migrations are history
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        if any(part in SKIP for part in path.relative_to(SRC).parts):
            continue
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@cache
def error_classes() -> frozenset[str]:
    """PayrequestError and every class that derives from it, by name."""
    known = {"PayrequestError"}
    classes = [
        (node.name, {_name(base) for base in node.bases})
        for _path, module in _modules()
        for node in ast.walk(module)
        if isinstance(node, ast.ClassDef)
    ]
    grew = True
    while grew:
        grew = False
        for name, bases in classes:
            if name not in known and bases & known:
                known.add(name)
                grew = True
    return frozenset(known)


@dataclass(frozen=True)
class Site:
    where: str  # path:line
    node: ast.expr  # the template argument


@cache
def sites() -> tuple[Site, ...]:
    """Every template given to an error class, and every N_(...) argument."""
    found = []
    for path, module in _modules():
        for node in ast.walk(module):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            called = _name(node.func)
            if called in error_classes() or called == "N_":
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                found.append(Site(where, node.args[0]))
    return tuple(found)


def templates() -> list[str]:
    literal = {
        site.node.value
        for site in sites()
        if isinstance(site.node, ast.Constant) and isinstance(site.node.value, str)
    }
    return sorted(literal)


def test_the_source_scan_finds_the_errors() -> None:
    """Guards the checks below against a scan that silently finds nothing."""
    assert {"ValidationFailed", "Conflict", "NotFound", "FlowInvalid"} <= error_classes()
    assert "Invoice %(numbers)s is not open" in templates()
    assert len(templates()) > 80


def test_every_template_is_a_literal() -> None:
    """An f-string or a text glued or translated before raising cannot be translated later."""
    bad = [
        f"{site.where}: {ast.unparse(site.node)}"
        for site in sites()
        if not isinstance(site.node, ast.Constant | ast.Name | ast.Attribute)
        and not (isinstance(site.node, ast.Call) and _name(site.node.func) == "N_")
    ]
    assert not bad, "error templates must be literals with %(name)s parameters:\n" + "\n".join(bad)


@pytest.mark.parametrize("language", ["nb", "da"])
def test_every_error_renders_translated(language: str) -> None:
    untranslated = []
    for template in templates():
        names = PLACEHOLDER.findall(template)
        params = {name: "X" for name in names}
        english = i18n.render("en", template, params)
        translated = i18n.render(language, template, params)
        if sorted(PLACEHOLDER.findall(i18n.gettext(language, template))) != sorted(names):
            untranslated.append(f"{template!r}: placeholders differ")
        elif translated == english and re.search(r"[A-Za-z]{3}", PLACEHOLDER.sub("", template)):
            untranslated.append(repr(template))
    assert not untranslated, f"not translated to {language}:\n" + "\n".join(untranslated)


def test_parameters_are_written_the_readers_way() -> None:
    """Money is money and dates are dates in each language, never minor units."""
    from datetime import date

    from payrequest.kit.money import Money

    error = ValidationFailed("At most %(limit)s can be refunded", limit=Money(605503, "NOK"))
    assert i18n.error_text("nb", error) == "Høyst 6\u00a0055,03\u00a0kr kan refunderes"
    assert i18n.error_text("da", error) == "Højst 6.055,03\u00a0NOK kan refunderes"
    assert i18n.error_text("en", error) == "At most NOK\u00a06,055.03 can be refunded"
    assert "605503" not in error.message
    assert i18n.value("nb", date(2026, 11, 22)) == "22. nov. 2026"
    assert i18n.value("da", ["10023", "10024"]) == "10023, 10024"
