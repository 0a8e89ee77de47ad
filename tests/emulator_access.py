"""The mounted emulator's phone and controls answer staff and the emulator key only
(web.emulator_access): the cookie a browser keeps after opening the printed phone link, for
tests that use the phone or the controls over HTTP without signing in."""

from __future__ import annotations

from pathlib import Path

from payrequest.config import Settings, secret_key
from payrequest.web.emulator_access import KEY_COOKIE, emulator_key


def key_cookie(settings: Settings) -> dict[str, str]:
    """The emulator key's cookie of the installation with these settings."""
    return {KEY_COOKIE: emulator_key(secret_key(settings))}


def key_of_var_dir(var_dir: Path) -> str:
    """The emulator key of a `payrequest` process whose secret key was generated in `var_dir`
    (sandbox mode without PAYREQUEST_SECRET_KEY)."""
    return emulator_key((var_dir / "secret_key").read_text().strip())


def key_cookie_of_var_dir(var_dir: Path) -> dict[str, str]:
    return {KEY_COOKIE: key_of_var_dir(var_dir)}
