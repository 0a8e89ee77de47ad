"""Staff pages: sign in, customer list, customer card (read-only for now)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from payrequest.config import Settings, secret_key
from payrequest.customers import repository as customers
from payrequest.invoices import repository as invoices
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.kit.phone import Phone
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.users import service as users
from payrequest.users.models import User
from payrequest.web.deps import SessionDep
from payrequest.web.security import (
    SESSION_USER,
    check_csrf,
    csrf_token,
    current_user,
)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter()


def _money(amount: int, currency: str, locale: str = "nb_NO") -> str:
    return Money(amount, currency).format(locale)


def _phone(e164: str | None) -> str:
    return Phone(e164=e164, region="").pretty() if e164 else "—"


templates.env.filters["money"] = _money
templates.env.filters["phone"] = _phone


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_token(request))
    return templates.TemplateResponse(request, name, context)


async def _require_user(request: Request, session: SessionDep) -> User:
    user = await current_user(request, session)
    if user is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": "/login"})
    return user


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/customers", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request) -> HTMLResponse:
    return _render(request, "login.html", error=None, email="")


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    user = await users.authenticate(session, email=email, password=password)
    if user is None:
        response = _render(request, "login.html", error="Wrong email or password.", email=email)
        response.status_code = status.HTTP_401_UNAUTHORIZED
        return response
    request.session.clear()
    request.session[SESSION_USER] = user.id
    return RedirectResponse("/customers", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/customers", response_class=HTMLResponse, include_in_schema=False)
async def customer_list(request: Request, session: SessionDep, q: str = "") -> HTMLResponse:
    user = await _require_user(request, session)
    rows = []
    for customer in await customers.search(session, query=q.strip(), limit=100):
        rows.append((customer, await ledger.balances(session, customer.id)))
    return _render(request, "customers.html", user=user, rows=rows, q=q)


@router.get("/customers/{customer_id}", response_class=HTMLResponse, include_in_schema=False)
async def customer_card(request: Request, session: SessionDep, customer_id: int) -> HTMLResponse:
    user = await _require_user(request, session)
    customer = await customers.get(session, customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such customer")
    rows = await invoices.for_customer(session, customer_id)
    balances = await ledger_repo.invoice_balances(session, rows)
    today = utcnow().date()
    return _render(
        request,
        "customer.html",
        user=user,
        customer=customer,
        invoices=[(inv, balances[inv.id]) for inv in rows],
        balances=await ledger.balances(session, customer_id),
        today=today,
    )


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie="payrequest_session",
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
        max_age=12 * 3600,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
