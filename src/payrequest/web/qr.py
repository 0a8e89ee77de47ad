"""QR codes for payment links, drawn by us (segno) from the link the provider gave us.

A QR request is created with the provider's *target URL* (the link the code stands for), so
the same link can be shown as a code on a screen, printed, or sent by SMS or email.
"""

from __future__ import annotations

import io

import segno
from markupsafe import Markup


def inline_svg(target: str, *, title: str) -> Markup:
    """An `<svg>` element to put straight into a page (scales with CSS, prints sharply)."""
    code = segno.make(target, error="m")
    buffer = io.BytesIO()
    code.save(
        buffer,
        kind="svg",
        scale=6,
        border=2,
        xmldecl=False,
        svgns=False,
        title=title,
        svgclass="qr",
        lineclass=None,
        omitsize=True,
        light="#fff",
    )
    return Markup(buffer.getvalue().decode("utf-8"))  # noqa: S704 - segno's own markup


def svg_document(target: str) -> bytes:
    """A standalone SVG file (with its namespace, so browsers show it as an image)."""
    code = segno.make(target, error="m")
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", scale=8, border=2, light="#fff")
    return buffer.getvalue()
