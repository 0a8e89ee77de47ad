"""Receipts: a signed, expiring link that works without portal access (what the SMS receipt
sends), the seller (the payment's organisation; the installation's settings only where it
leaves a field empty) and the VAT per rate on it, money and dates in the reader's language,
and links that are too old or not ours answered with a page in words, never a stack trace."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from payrequest.automations.context import event_data
from payrequest.db.scope import ALL, acting_for, scoped_to
from payrequest.events.models import OutboxEvent
from payrequest.i18n import money, percent
from payrequest.kit.clock import utcnow
from payrequest.kit.urls import RECEIPT_LIFETIME
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Organisation
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests import repository
from tests.conftest import TEST_ORGANISATION
from tests.integration import portal_helpers as h
from tests.integration.portal_helpers import BASE, Sessions
from tests.staff import csrf_of

BUSINESS = {  # the organisation's own
    "name": "Fjordkassa AS",
    "organisation_number": "NO 987 654 321 MVA",
    "address": "Strandkaien 2, 5013 Bergen",
}
INSTALLATION = {  # the settings (PAYREQUEST_BUSINESS__*), from before organisations
    "name": "Gamle Navnet AS",
    "organisation_number": "NO 111 222 333 MVA",
    "address": "Innstillingsveien 1, 0150 Oslo",
}


@pytest.fixture
async def app(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with h.portal_app(database_url, tmp_path, business=INSTALLATION) as running:
        yield running


async def _name_the_organisation(sessions: Sessions, **fields: str) -> None:
    """The test organisation's seller fields (the conftest puts them back after the test)."""
    async with sessions() as session, session.begin():
        organisation = await session.get(Organisation, TEST_ORGANISATION)
        assert organisation is not None
        for name, value in fields.items():
            setattr(organisation, name, value)


def _seller(page: str) -> str:
    seller = re.search(r'<address class="seller">(.*?)</address>', page, re.S)
    assert seller, page
    return seller.group(1)


def _path(url: str) -> str:
    assert url.startswith(BASE + "/receipts/"), url
    return url.removeprefix(BASE)


async def _paid_without_portal(sessions: Sessions, *, locale: str = "nb") -> str:
    """Sander has no portal access; he paid invoice R-1 in full and R-2 in part."""
    sander = await h.customer(sessions, "Sander Bakke", locale=locale, portal_access=False)
    first = await h.invoice_with_vat(sessions, sander, number="R-1", due=utcnow().date())
    second = await h.invoice_with_vat(sessions, sander, number="R-2")
    request = await h.paid_request(
        sessions, sander, [first, second], amount=111_500 + 55_750, reference="pr-receipt-001"
    )
    return request.reference


async def test_a_receipt_link_opens_the_receipt_without_portal_access(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    api, http = app
    reference = await _paid_without_portal(sessions)
    link = api.state.runtime.urls.receipt(reference)

    page = await http.get(_path(link))

    assert page.status_code == 200, page.text
    assert "Sander Bakke" in page.text and "R-1" in page.text and "R-2" in page.text
    assert "/portal/logout" not in page.text and "data-live-stream" not in page.text
    assert 'lang="nb"' in page.text


async def test_the_sms_receipt_link_is_a_signed_receipt_link_that_opens(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    api, http = app
    reference = await _paid_without_portal(sessions)
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        event = OutboxEvent(
            id=1,
            name="payment_request.paid",
            aggregate_type="payment_request",
            aggregate_id=request.id,
            customer_id=request.customer_id,
            payload={},
        )
        data = await event_data(session, event, urls=api.state.runtime.urls)

    page = await http.get(_path(data.context["receipt_link"]))

    assert page.status_code == 200 and "R-1" in page.text


@pytest.mark.parametrize("locale", ["nb", "da", "en"])
async def test_the_receipt_names_the_seller_and_the_vat_per_rate_in_the_readers_language(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions, locale: str
) -> None:
    api, http = app
    await _name_the_organisation(sessions, **BUSINESS)
    reference = await _paid_without_portal(sessions, locale=locale)

    page = (await http.get(_path(api.state.runtime.urls.receipt(reference)))).text

    seller = _seller(page)
    assert all(value in seller for value in BUSINESS.values())
    assert not any(value in page for value in INSTALLATION.values())
    vat = re.search(r'<table class="list vat">(.*?)</table>', page, re.S)
    assert vat, "no VAT breakdown"
    rows = re.findall(r"<tr><td>(.*?)</td>" + r'<td class="num"[^>]*>(.*?)</td>' * 3, vat.group(1))
    # R-1 in full (800.00 + 200.00 VAT at 25 %, 100.00 + 15.00 at 15 %) and half of R-2
    assert rows == [
        (
            percent(locale, 1500),
            money(locale, 15_000, "NOK"),
            money(locale, 2_250, "NOK"),
            money(locale, 17_250, "NOK"),
        ),
        (
            percent(locale, 2500),
            money(locale, 120_000, "NOK"),
            money(locale, 30_000, "NOK"),
            money(locale, 150_000, "NOK"),
        ),
    ]
    assert f'lang="{locale}"' in page


async def test_what_the_organisation_leaves_empty_comes_from_the_settings(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    """The migrated organisation has a name but no number or address (conftest's reset)."""
    api, http = app
    await _name_the_organisation(sessions, name="Fjordkassa AS")
    reference = await _paid_without_portal(sessions)

    seller = _seller((await http.get(_path(api.state.runtime.urls.receipt(reference)))).text)

    assert "Fjordkassa AS" in seller and INSTALLATION["name"] not in seller
    assert INSTALLATION["organisation_number"] in seller and INSTALLATION["address"] in seller


async def test_a_receipt_link_of_another_organisations_payment_names_that_organisation(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    """The link names only a payment: the page is read for the payment's own organisation."""
    api, http = app
    await _name_the_organisation(sessions, **BUSINESS)
    await _paid_without_portal(sessions)  # the first organisation's pr-receipt-001
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        other = await organisations.create(
            session,
            NewOrganisation(
                name="Nordlys Rør AS",
                slug="nordlys",
                organisation_number="NO 555 444 333 MVA",
                address="Havnegata 9, 8006 Bodø",
            ),
        )
    with acting_for(other.id):
        anne = await h.customer(sessions, "Anne Olsen", phone="+4790000001", portal_access=False)
        invoice = await h.invoice_with_vat(sessions, anne, number="N-1")
        await h.paid_request(sessions, anne, [invoice], amount=111_500, reference="pr-nordlys-01")

    page = await http.get(_path(api.state.runtime.urls.receipt("pr-nordlys-01")))

    assert page.status_code == 200, page.text
    seller = _seller(page.text)
    assert "Nordlys Rør AS" in seller and "NO 555 444 333 MVA" in seller
    assert "Havnegata 9, 8006 Bodø" in seller
    assert "Fjordkassa AS" not in page.text and "Sander Bakke" not in page.text
    assert "Anne Olsen" in page.text and "N-1" in page.text and "R-1" not in page.text


async def test_a_link_that_is_too_old_says_so(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    api, http = app
    reference = await _paid_without_portal(sessions)
    old = api.state.runtime.urls.receipt(reference, now=utcnow() - RECEIPT_LIFETIME - timedelta(1))

    page = await http.get(_path(old))

    assert page.status_code == 410
    assert "text/html" in page.headers["content-type"]
    assert "Denne kvitteringslenken er utløpt" in page.text  # the installation's language
    assert "R-1" not in page.text


@pytest.mark.parametrize(
    "token",
    [
        "pr-receipt-001",  # a bare reference
        "pr-receipt-001.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",  # made up
        "%C3%B8" * 20,
        "x" * 1000,
    ],
)
async def test_a_link_that_is_not_ours_finds_nothing_and_says_so(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions, token: str
) -> None:
    _api, http = app
    await _paid_without_portal(sessions)

    page = await http.get(f"/receipts/{token}")

    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "Vi fant ingen kvittering for denne lenken" in page.text
    assert "R-1" not in page.text


async def test_a_genuine_link_to_a_payment_that_is_not_paid_finds_nothing(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    api, http = app
    kari = await h.customer(sessions)
    invoice = await h.invoice_with_vat(sessions, kari, number="R-9")
    await h.waiting_request(sessions, kari, [invoice], reference="pr-not-paid-01")

    page = await http.get(_path(api.state.runtime.urls.receipt("pr-not-paid-01")))

    assert page.status_code == 404 and "R-9" not in page.text


async def test_the_reader_can_switch_the_receipts_language_and_stay_on_it(
    app: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    api, http = app
    reference = await _paid_without_portal(sessions, locale="nb")
    path = _path(api.state.runtime.urls.receipt(reference))
    norwegian = await http.get(path)

    switched = await http.post(
        "/portal/language", data={"language": "en", "csrf": csrf_of(norwegian.text), "back": path}
    )

    assert switched.status_code == 303 and switched.headers["location"] == path
    english = await http.get(path)
    assert 'lang="en"' in english.text and "Receipt" in english.text
