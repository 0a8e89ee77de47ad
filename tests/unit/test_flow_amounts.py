"""The automation builder's amount conditions: typed in major units, kept in minor units."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData

from payrequest.web.admin.flows import draft_from_form


@pytest.mark.parametrize(
    ("typed", "kept"), [("99,50", 9950), ("1 000", 100_000), ("0", 0), ("12.3", 1230)]
)
def test_an_amount_condition_is_kept_in_minor_units(typed: str, kept: int) -> None:
    draft, errors = draft_from_form(FormData({"amount_min": typed}), "nb")
    assert errors == {} and draft.conditions["amount_min"] == kept


@pytest.mark.parametrize("typed", ["-5", "0.001", "abc", "NaN", "Infinity"])
def test_what_is_not_an_amount_is_an_error_on_its_field(typed: str) -> None:
    draft, errors = draft_from_form(FormData({"amount_max": typed}), "nb")
    assert set(errors) == {"amount_max"} and draft.conditions["amount_max"] is None
