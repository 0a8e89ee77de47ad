"""What the check concludes from Vipps MobilePay's answers to its throw-away payments, and
that in production it makes none (providers/vipps/checkup.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from payrequest.providers import checks
from payrequest.providers.base import (
    AccountRefusal,
    CreatedPayment,
    CreatePayment,
    ProviderError,
    UserFlow,
    WebhookEndpoint,
)
from payrequest.providers.vipps import checkup

URL = "https://pay.example.no/webhooks/vipps"
OURS = WebhookEndpoint("ours-1", URL)


@dataclass
class Listed:
    url: str = URL
    ours: tuple[WebhookEndpoint, ...] = (OURS,)
    foreign: tuple[WebhookEndpoint, ...] = ()
    stale: tuple[WebhookEndpoint, ...] = ()


@dataclass
class Vipps:
    """Answers creates the way a sales unit in a given situation does; records every call."""

    refused: set[AccountRefusal] = field(default_factory=set)
    no_user_code: str | None = "7010"  # a push to a number nobody has
    created: list[CreatePayment] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def create_payment(self, request: CreatePayment) -> CreatedPayment:
        for refusal, applies in (
            (AccountRefusal.no_payments, True),
            (AccountRefusal.long_living, request.expires_at is not None),
            (AccountRefusal.push, request.user_flow is UserFlow.push),
        ):
            if applies and refusal in self.refused:
                raise ProviderError("refused", status=403, code="5xxx", refusal=refusal)
        if request.user_flow is UserFlow.push and self.no_user_code:
            raise ProviderError("Customer not found", status=400, code=self.no_user_code)
        self.created.append(request)
        return CreatedPayment(request.reference, None)

    async def cancel(self, reference: str, *, idempotency_key: str) -> None:
        self.cancelled.append(reference)


async def _run(vipps: Vipps, *, try_payments: bool = True, setting: bool = True) -> checks.Report:
    async def look_up() -> Listed:
        return Listed()

    return await checkup.run(
        vipps,  # type: ignore[arg-type]
        look_up=look_up,
        market="NO",
        try_payments=try_payments,
        long_living_setting=setting,
    )


def _oks(report: checks.Report) -> dict[str, bool | None]:
    return {finding.key: finding.ok for finding in report.findings}


async def test_in_production_nothing_is_created() -> None:
    vipps = Vipps()
    report = await _run(vipps, try_payments=False)
    assert vipps.created == [] and vipps.cancelled == []
    assert _oks(report) == {
        "credentials": True,
        "webhook.ours": True,
        "sales_unit.not_tried": None,
        "captures": True,
    }


async def test_a_sales_unit_that_may_do_everything_is_all_fine_and_every_try_is_cancelled() -> None:
    vipps = Vipps()
    report = await _run(vipps)
    assert report.ok
    assert [c.user_flow for c in vipps.created] == [UserFlow.qr, UserFlow.qr]
    assert vipps.created[1].expires_at is not None and vipps.created[1].order_lines
    assert vipps.cancelled == [c.reference for c in vipps.created]


@pytest.mark.parametrize(
    ("refused", "setting", "expected"),
    [
        ({AccountRefusal.long_living}, True, {"sales_unit.long_living": False}),
        ({AccountRefusal.long_living}, False, {"sales_unit.long_living": True}),
        (set(), False, {"sales_unit.long_living": None}),  # approved, but not used
        ({AccountRefusal.push}, True, {"sales_unit.push": False}),
    ],
)
async def test_the_sales_units_answers_against_our_setting(
    refused: set[AccountRefusal], setting: bool, expected: dict[str, bool | None]
) -> None:
    oks = _oks(await _run(Vipps(refused=refused), setting=setting))
    assert {key: oks[key] for key in expected} == expected


async def test_an_unverified_bank_account_stops_the_tries() -> None:
    vipps = Vipps(refused={AccountRefusal.no_payments})
    oks = _oks(await _run(vipps))
    assert oks["sales_unit.payments"] is False
    assert "sales_unit.long_living" not in oks and "sales_unit.push" not in oks


async def test_an_unclear_answer_is_reported_as_not_learned_with_what_vipps_said() -> None:
    report = await _run(Vipps(no_user_code="3010"))
    [push] = [f for f in report.findings if f.key == "sales_unit.push"]
    assert push.ok is None and "code 3010" in push.said
    assert checks.shown("en", push) == "Whether push requests are allowed could not be learned."
