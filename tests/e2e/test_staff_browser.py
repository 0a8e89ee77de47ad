"""A staff member signs in to the demo in a real browser and finds a customer's invoices."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from payrequest.db.scope import ALL
from payrequest.db.session import create_engine, session_factory
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.users import service as users
from tests.e2e.demo import OWNER, Demo, choose_language, sign_in
from tests.factories import make_customer

EMAIL, PASSWORD = OWNER


async def _sign_in(page: Page, demo: Demo, password: str = PASSWORD) -> None:
    await page.goto(f"{demo.url}/customers")
    await expect(page).to_have_url(re.compile(rf"{demo.url}/login"))
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_sign_in_and_open_a_customer_card(page: Page, demo: Demo) -> None:
    await _sign_in(page, demo)
    await choose_language(page, "en")  # English pages for stable selectors
    await expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    await expect(page.get_by_role("link", name="Café Havnen ApS")).to_be_visible()
    await page.get_by_label("Search customers").fill("fjord")
    await page.get_by_label("Search customers").press("Enter")
    await expect(page.get_by_role("link", name="Café Havnen ApS")).to_have_count(0)
    await page.get_by_role("link", name="Fjordbakeriet AS").click()
    await expect(page.get_by_role("heading", name="Fjordbakeriet AS")).to_be_visible()
    rows = page.locator("table.invoices tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator("[data-invoice-status=paid]")).to_have_count(1)
    await choose_language(page, "nb")  # amounts as a Norwegian reads them
    await expect(page.locator(".balance strong")).to_contain_text("kr")


async def test_wrong_password_keeps_the_visitor_out(page: Page, demo: Demo) -> None:
    await _sign_in(page, demo, password="not the password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await page.goto(f"{demo.url}/customers")
    await expect(page).to_have_url(re.compile(rf"{demo.url}/login"))


async def _second_organisation(demo: Demo) -> tuple[int, int]:
    """A second organisation in the demo's database, "Bergen Bad AS" with one customer, whose
    owner the demo's owner is as well; (the demo's organisation, the second)."""
    engine = create_engine(demo.database_url)
    try:
        sessions = session_factory(engine, scope=ALL)
        async with sessions() as session, session.begin():
            owner = await users.get_by_email(session, EMAIL)
            assert owner is not None
            first = (await organisations.memberships_of(session, owner.id))[0][1].id
            second = await organisations.create(
                session, NewOrganisation(name="Bergen Bad AS", slug="bergen-bad")
            )
            await organisations.add_member(
                session, user_id=owner.id, organisation_id=second.id, role="owner"
            )
        async with session_factory(engine, scope=second.id)() as session, session.begin():
            await make_customer(session, name="Ola Bergen")
        return first, second.id
    finally:
        await engine.dispose()


async def test_an_owner_of_two_organisations_switches_in_the_header(
    page: Page, browser: Browser, demo: Demo
) -> None:
    first, second = await _second_organisation(demo)
    await sign_in(page, demo)
    choice = page.locator("#organisation-choice")
    await expect(choice).to_have_value(str(first))
    await expect(page.get_by_role("link", name="Fjordbakeriet AS")).to_be_visible()
    await choice.select_option(str(second))  # submits itself
    await expect(page.locator("#organisation-choice")).to_have_value(str(second))
    await expect(page).to_have_url(f"{demo.url}/customers")
    await expect(page.get_by_role("link", name="Ola Bergen")).to_be_visible()
    await expect(page.get_by_role("link", name="Fjordbakeriet AS")).to_have_count(0)

    # without JavaScript the form's own button switches
    context = await browser.new_context(java_script_enabled=False)
    try:
        plain = await context.new_page()
        await plain.goto(f"{demo.url}/login")
        await plain.get_by_label(re.compile("Email|E-post")).fill(EMAIL)
        await plain.get_by_label(re.compile("Password|Passord")).fill(PASSWORD)
        await plain.locator("form[action='/login'] button[type=submit]").click()
        await plain.locator("#organisation-choice").select_option(str(second))
        await plain.locator("[data-organisation-switch] button[type=submit]").click()
        await expect(plain.locator("#organisation-choice")).to_have_value(str(second))
        await expect(plain.get_by_role("link", name="Ola Bergen")).to_be_visible()
    finally:
        await context.close()
