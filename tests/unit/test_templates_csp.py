"""The Content-Security-Policy (web.security_headers) allows scripts and styles from files on
our origin only: no template, of the product or of the emulator, may carry an inline script,
an event handler attribute, a `javascript:` link, a style attribute or a <style> element."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import payrequest

PACKAGE = Path(payrequest.__file__).parent
TEMPLATES = sorted(
    [
        *(PACKAGE / "web" / "templates").rglob("*.html"),
        *(PACKAGE / "sandbox" / "templates").rglob("*.html"),
    ]
)
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: link": re.compile(r"javascript:", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style[\s>]", re.IGNORECASE),
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_template_needs_an_inline_script_or_style(template: Path) -> None:
    text = template.read_text()
    found = [f"{what}: {m.group(0)!r}" for what, rx in FORBIDDEN.items() for m in rx.finditer(text)]
    assert found == []
