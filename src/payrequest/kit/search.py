"""Text search the same way on SQLite and PostgreSQL: fold both sides in Python.

SQLite's `lower()` and `LIKE` fold ASCII only ("Øster" never finds "øster"), and PostgreSQL's
depend on the database's collation. So what is searched is stored folded (`fold`), the query
is folded the same way, and `%` and `_` in it are escaped to mean themselves (`like_pattern`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

ESCAPE = "\\"


def fold(text: str) -> str:
    """Unicode case folding after NFKC normalisation: `Øster` and `ØSTER` give `øster`."""
    return unicodedata.normalize("NFKC", text).casefold()


def search_text(parts: Iterable[str | None]) -> str:
    """What a row is found by: its folded texts, and any phone number's digits as well."""
    texts = [part for part in parts if part]
    digits = ["".join(ch for ch in text if ch.isdigit()) for text in texts if text.startswith("+")]
    return " ".join(fold(text) for text in [*texts, *digits] if text)


def like_pattern(query: str) -> str:
    """`%query%` for LIKE with `ESCAPE '\\'`, the query folded and its wildcards literal."""
    folded = fold(query.strip())
    escaped = (
        folded.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    )
    return f"%{escaped}%"
