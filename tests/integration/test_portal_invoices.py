"""What the portal tells a customer before and after paying: an invoice with its lines (only
their own), the invoices each payment paid, the seller on the receipt, in their language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from payrequest.i18n import money, percent
from payrequest.organisations.models import Organisation
from tests.conftest import TEST_ORGANISATION
from tests.integration import portal_helpers as h
from tests.integration.portal_helpers import Sessions


@pytest.fixture
async def http(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    # The receipt names the organisation, not these settings of the installation's.
    business = {"name": "Gamle Navnet AS", "organisation_number": "111 222 333"}
    async with h.portal_app(database_url, tmp_path, business=business) as (_app, client):
        yield client


async def test_an_invoice_number_opens_the_invoice_with_its_lines_and_a_pay_button(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    kari = await h.customer(sessions, locale="da")
    invoice = await h.invoice_with_vat(sessions, kari, number="I-1")
    await h.sign_in(http, sessions, kari.id)

    home = (await http.get("/portal")).text
    assert f'href="/portal/invoices/{invoice.id}"' in home
    page = await http.get(f"/portal/invoices/{invoice.id}")

    assert page.status_code == 200
    lines = re.findall(r'<span class="what">(Consulting|Lunch)</span>(.*?)</li>', page.text, re.S)
    assert [name for name, _rest in lines] == ["Consulting", "Lunch"]
    assert money("da", 100_000, "NOK") in lines[0][1]  # 800 + 25 % VAT
    assert f"1 × {money('da', 80_000, 'NOK')}, moms {percent('da', 2500)}" in lines[0][1]
    assert "Moms" in page.text  # Danish
    assert f'href="/portal/pay?invoice_ids={invoice.id}"' in page.text


async def test_an_invoice_with_a_waiting_request_offers_to_follow_it(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    kari = await h.customer(sessions, locale="en")
    invoice = await h.invoice_with_vat(sessions, kari, number="I-2")
    await h.waiting_request(sessions, kari, [invoice], reference="pr-inv-wait-1")
    await h.sign_in(http, sessions, kari.id)

    page = (await http.get(f"/portal/invoices/{invoice.id}")).text

    assert "/portal/pay?" not in page
    assert 'href="/portal/payments/pr-inv-wait-1"' in page


async def test_another_customers_invoice_reads_exactly_like_a_missing_one(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    anne = await h.customer(sessions, "Anne Aas", "+4791111111")
    bjorn = await h.customer(sessions, "Bjørn Berg", "+4792222222")
    theirs = await h.invoice_with_vat(sessions, bjorn, number="B-SECRET-1")
    await h.sign_in(http, sessions, anne.id)

    other = await http.get(f"/portal/invoices/{theirs.id}")
    missing = await http.get(f"/portal/invoices/{theirs.id + 1000}")

    assert other.status_code == missing.status_code == 404
    assert "B-SECRET" not in other.text and "Bjørn" not in other.text
    anonymous = re.compile(r"/portal/invoices/\d+")
    assert anonymous.sub("", other.text) == anonymous.sub("", missing.text)


async def test_the_payment_history_names_the_invoices_each_payment_paid(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    kari = await h.customer(sessions, locale="nb")
    first = await h.invoice_with_vat(sessions, kari, number="H-1")
    second = await h.invoice_with_vat(sessions, kari, number="H-2")
    third = await h.invoice_with_vat(sessions, kari, number="H-3")
    await h.paid_request(sessions, kari, [first, second], amount=223_000, reference="pr-hist-01")
    await h.waiting_request(sessions, kari, [third], reference="pr-hist-02")
    await h.sign_in(http, sessions, kari.id)

    home = (await http.get("/portal")).text

    paid = re.search(r'<li data-request="pr-hist-01">(.*?)</li>', home, re.S)
    waiting = re.search(r'<li data-request="pr-hist-02">(.*?)</li>', home, re.S)
    assert paid and "Fakturaer H-1, H-2" in paid.group(1)
    assert waiting and "Faktura H-3" in waiting.group(1)


async def test_the_portal_receipt_names_the_seller(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        organisation = await session.get(Organisation, TEST_ORGANISATION)
        assert organisation is not None
        organisation.name, organisation.organisation_number = "Fjordkassa AS", "987 654 321"
    kari = await h.customer(sessions, locale="nb")
    invoice = await h.invoice_with_vat(sessions, kari, number="S-1")
    await h.paid_request(sessions, kari, [invoice], amount=111_500, reference="pr-seller-01")
    await h.sign_in(http, sessions, kari.id)

    page = (await http.get("/portal/receipts/pr-seller-01")).text

    assert "Fjordkassa AS" in page and "Organisasjonsnummer 987 654 321" in page
    assert "Gamle Navnet AS" not in page and "111 222 333" not in page
    assert '<table class="list vat">' in page


async def test_pages_before_sign_in_speak_the_installations_language(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    async with h.portal_app(database_url, tmp_path, default_locale="da") as (_app, client):
        page = await client.get("/portal/start")
    assert 'lang="da"' in page.text


@pytest.mark.parametrize("locale", ["nb", "da", "en"])
async def test_signed_in_pages_speak_the_customers_language(
    http: httpx.AsyncClient, sessions: Sessions, locale: str
) -> None:
    kari = await h.customer(sessions, locale=locale)
    invoice = await h.invoice_with_vat(sessions, kari, number=f"L-{locale}")
    await h.sign_in(http, sessions, kari.id)
    for path in (
        "/portal",
        f"/portal/invoices/{invoice.id}",
        f"/portal/pay?invoice_ids={invoice.id}",
    ):
        page = await http.get(path)
        assert f'<html lang="{locale}">' in page.text, path
