"""An organisation's own Stripe account (providers.accounts).

- `account`: the account id (`acct_…`) when the owner gives it, else a label made of the key's
  kind and its last four characters (`sk_test_…4242`), as Stripe's dashboard shows keys;
  Stripe's events do not name the account, so this is only ever shown and compared;
- `details`: nothing;
- `secrets`: the secret (or restricted) key. A test key works in test mode and against the
  emulator, a live key only in production.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from payrequest.config import ProviderMode, Settings
from payrequest.errors import N_, ValidationFailed
from payrequest.kit.urls import PublicUrls
from payrequest.providers.accounts import CheckSettings, NewAccount, StoredAccount
from payrequest.providers.base import PaymentProvider, ProviderError
from payrequest.providers.checks import Finding, Listed, Report, refused
from payrequest.providers.measured import measured
from payrequest.providers.stripe.factory import StripeAccount, build_stripe, stripe_api_base
from payrequest.providers.stripe.provider import StripeProvider

KEY = re.compile(r"(?P<kind>sk|rk)_(?P<mode>test|live)_[A-Za-z0-9_]{6,200}")
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{6,64}")


def key_label(key: str) -> str:
    found = KEY.fullmatch(key)
    prefix = f"{found['kind']}_{found['mode']}_" if found else ""
    return f"{prefix}…{key[-4:]}"


def of_key(key: str, account_id: str = "") -> NewAccount:
    """The account of a (checked) secret key, named by its id or, without one, the key's label."""
    return NewAccount(account=account_id or key_label(key), secrets={"secret_key": key})


class StripeAccounts:
    """Organisations' own Stripe accounts (see the module's docstring)."""

    name = StripeProvider.name
    fields: tuple[str, ...] = ("secret_key", "account_id")

    def read(self, form: Mapping[str, str], *, mode: str, settings: Settings) -> NewAccount:
        key = (form.get("secret_key") or "").strip()
        found = KEY.fullmatch(key)
        if found is None:
            raise ValidationFailed(
                "A Stripe secret key starts with sk_test_ or sk_live_ (a restricted key with "
                "rk_test_ or rk_live_)",
                field="secret_key",
            )
        live = found["mode"] == "live"
        if live != (mode == ProviderMode.production.value):
            raise ValidationFailed(
                "Production takes a live key (sk_live_…); the test environment and the emulator "
                "take a test key (sk_test_…)",
                field="secret_key",
            )
        account_id = (form.get("account_id") or "").strip()
        if account_id and not ACCOUNT_ID.fullmatch(account_id):
            raise ValidationFailed(
                "A Stripe account id looks like acct_ and letters or digits", field="account_id"
            )
        return of_key(key, account_id)

    def build(
        self,
        stored: StoredAccount,
        *,
        settings: Settings,
        urls: PublicUrls,
        version: str,
        long_living: bool,
    ) -> PaymentProvider:
        account = StripeAccount(
            secret_key=stored.secrets.get("secret_key", ""),
            account=stored.account,
            webhook_url=stored.webhook_url,
            api_base=stripe_api_base(settings, ProviderMode(stored.mode)),
            timeout_seconds=settings.stripe.timeout_seconds,
        )
        return measured(build_stripe(account))

    async def check(
        self,
        provider: PaymentProvider,
        stored: StoredAccount,
        *,
        look_up: Callable[[], Awaitable[Listed]],
        settings: CheckSettings,
    ) -> Report:
        """Whether the key works (listing the webhook endpoints is the first call) and
        whether our endpoint is registered with a secret we hold."""
        try:
            listed = await look_up()
        except ProviderError as exc:
            return Report([refused(exc)], None)
        findings = [Finding("credentials", True, N_("The secret key works."))]
        if listed.ours:
            findings.append(
                Finding(
                    "webhook.ours",
                    True,
                    N_("The webhook for %(url)s is registered, and payrequest holds its secret."),
                    {"url": listed.url},
                )
            )
        else:
            findings.append(
                Finding(
                    "webhook.missing",
                    False,
                    N_(
                        "No webhook endpoint whose secret payrequest holds is registered for "
                        "%(url)s. Connect again to register it."
                    ),
                    {"url": listed.url},
                )
            )
        if listed.foreign:
            findings.append(
                Finding(
                    "webhook.foreign",
                    None,
                    N_(
                        "Stripe also has endpoints for %(url)s whose secret payrequest does not "
                        "hold: %(ids)s. Their deliveries are refused; delete them in Stripe's "
                        "dashboard."
                    ),
                    {"url": listed.url, "ids": ", ".join(h.endpoint_id for h in listed.foreign)},
                )
            )
        return Report(findings, listed)


STRIPE_ACCOUNTS = StripeAccounts()
