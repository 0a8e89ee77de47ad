"""The emulator mounted in payrequest's demo plays the sales unit of payrequest's keys and market,
but what that sales unit is approved for is the emulator's own (its switches), never a copy of
payrequest's settings: otherwise the two could never disagree, and payrequest's reaction to a
sales unit that is not (or no longer) approved could not be tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from payrequest.app import sandbox_config
from payrequest.config import VippsSettings, load_settings


@pytest.mark.parametrize("ours", [False, True])
def test_the_sales_unit_keeps_its_own_long_living_approval(tmp_path: Path, ours: bool) -> None:
    settings = load_settings(
        provider_mode="sandbox",
        var_dir=tmp_path,
        sandbox_persist=False,
        vipps=VippsSettings(long_living_approved=ours, market="DK"),
    )
    config = sandbox_config(settings)
    assert (config.market, config.currency) == ("DK", "DKK")  # the keys' own market
    faults = config.faults
    assert faults.long_living_approved is True  # the demo's sales unit, whatever we think
    assert (faults.push_message_approved, faults.bank_account_verified) == (True, True)
    assert faults.full_capture_only is False
