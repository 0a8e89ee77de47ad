"""Take secrets and personal numbers out of text before it is logged.

- Phone numbers (8 to 15 digits, optionally `+` and single spaces): two digits before the
  last three become `*` (`+47 975 40 218` -> `+47 975 ** 218`), enough to tell numbers apart
  in support, not enough to call one.
- Passwords, secrets, tokens and keys written as `name=value`, `name: value` or JSON
  (`"password": "..."`), `Bearer ...` / `Basic ...` credentials, and the password of a URL
  (`postgresql://user:secret@host` -> `postgresql://user:***@host`): replaced by `***`.
- One-time links (`/portal/link/<token>`, `/receipts/<token>`): the token becomes `***`.
"""

from __future__ import annotations

import re

MASK = "***"
_PHONE = re.compile(r"(?<![\w.:\-+])\+?\d(?:[ ]?\d){7,14}(?![\w])")
_HIDDEN_NAMES = (
    r"password|passwd|pwd|secret|client_secret|token|access_token|api_token|api_key|apikey"
    r"|subscription_key|ocp-apim-subscription-key|authorization|cookie|set-cookie"
    r"|secret_key|x-vipps-authorization"
)
# name=value, name: value, "name": "value with spaces", 'name': 'value'
_NAMED_SECRET = re.compile(
    rf"""(?ix)
    (?P<name>["']?(?:[\w-]*_)?(?:{_HIDDEN_NAMES})["']?)
    (?P<sep>\s*[=:]\s*)
    (?:
        (?P<quote>["'])(?:\\.|(?!(?P=quote)).)*(?P=quote)
      | (?:Bearer\s+|Basic\s+)?[^\s"',;&}}]+
    )
    """
)
_SCHEME_CREDENTIALS = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+")
_URL_PASSWORD = re.compile(r"(?P<prefix>[a-zA-Z][\w+.-]*://[^\s:/@]*:)(?P<password>[^\s@/]+)@")
_ONE_TIME_PATH = re.compile(r"(?P<prefix>/(?:portal/link|receipts)/)(?!\{)[^\s/?#\"']+")


def mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    positions = [i for i, char in enumerate(text) if char.isdigit()]
    hidden = set(positions[-5:-3])
    return "".join("*" if i in hidden else char for i, char in enumerate(text))


def redact(text: str) -> str:
    """`text` with secrets, one-time tokens and phone numbers masked."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['prefix']}{MASK}@", text)
    text = _NAMED_SECRET.sub(
        lambda m: f"{m['name']}{m['sep']}{m['quote'] or ''}{MASK}{m['quote'] or ''}", text
    )
    text = _SCHEME_CREDENTIALS.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _ONE_TIME_PATH.sub(lambda m: f"{m['prefix']}{MASK}", text)
    return _PHONE.sub(mask_phone, text)
