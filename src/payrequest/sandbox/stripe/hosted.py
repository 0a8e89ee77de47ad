"""The hosted checkout page a session's `url` opens (docs/stripe.md#the-hosted-checkout-page).

- `GET /pay/{session id}`: merchant, line items and total (Babel-formatted, in the session's
  locale: nb, da or en; `auto` follows the browser) and a card form; a "Back" link to
  `cancel_url`. A paid or expired session shows a notice instead.
- `POST /pay/{session id}`: pays with the test card given. Success -> 303 to `success_url`
  (`{CHECKOUT_SESSION_ID}` replaced); a decline shows the page again with the reason, and the
  payer may try another card; a 3-D Secure card -> 303 to the authentication step.
- `GET|POST /pay/{session id}/authenticate`: the 3-D Secure step, "Complete" or "Fail".

The session id is the key, as at Stripe: these pages ask no guard. They use no inline script
or style (the style sheet is `/static/checkout.css`) and send a strict Content-Security-Policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from payrequest.sandbox.stripe import payments
from payrequest.sandbox.stripe.calls import mount_root, stripe_of
from payrequest.sandbox.stripe.cards import Decline, digits
from payrequest.sandbox.stripe.emulator import Account, StripeEmulator
from payrequest.sandbox.stripe.model import Session
from payrequest.sandbox.stripe.texts import TEXTS, amount_text, language, problem_text

router = APIRouter(tags=["hosted checkout page"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action *; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


def _find(emu: StripeEmulator, session_id: str) -> tuple[Account, Session] | None:
    for account in emu.accounts.values():
        session = account.sessions.get(session_id)
        if session is not None:
            return account, session
    return None


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    return response


def _context(request: Request, session: Session | None) -> dict[str, Any]:
    emu = stripe_of(request)
    lang = language(session.locale if session else None, request.headers.get("accept-language", ""))
    context: dict[str, Any] = {
        "lang": lang,
        "t": TEXTS[lang],
        "root": mount_root(request),
        "merchant": emu.config.merchant_name,
    }
    if session is not None:
        context |= {
            "session": session,
            "total": amount_text(session.amount_total, session.currency, lang),
            "items": [
                {
                    "name": item.name,
                    "quantity": item.quantity,
                    "amount": amount_text(item.amount, item.currency, lang),
                }
                for item in session.line_items
            ],
            "action": f"{mount_root(request)}/pay/{session.id}",
            "email": session.customer_email,
        }
    return context


def _not_open(request: Request, session: Session | None) -> Response:
    context = _context(request, session)
    t = context["t"]
    if session is None:
        return _page(request, "done.html", context | {"message": t["unknown"]}, 404)
    if session.status == "complete":
        link = _success_url(session)
        return _page(request, "done.html", context | {"message": t["paid"], "link": link})
    return _page(
        request, "done.html", context | {"message": t["expired"], "link": session.cancel_url}
    )


def _success_url(session: Session) -> str | None:
    url = session.success_url
    return url.replace(SESSION_PLACEHOLDER, session.id) if url else None


def _after(request: Request, session: Session, attempt: payments.Attempt) -> Response:
    if attempt.result == "paid":
        return RedirectResponse(_success_url(session) or "/", status_code=303)
    if attempt.result == "action":
        return RedirectResponse(f"{mount_root(request)}/pay/{session.id}/authenticate", 303)
    context = _context(request, session)
    decline = attempt.decline
    message = problem_text(decline.code, decline.decline_code, context["lang"]) if decline else ""
    return _page(request, "pay.html", context | {"error": message})


@router.get("/pay/{session_id}")
async def checkout_page(session_id: str, request: Request) -> Response:
    found = _find(stripe_of(request), session_id)
    if found is None or found[1].status != "open":
        return _not_open(request, found[1] if found else None)
    account, session = found
    intent = account.intents.get(session.payment_intent or "")
    if intent is not None and intent.status == "requires_action":
        return RedirectResponse(f"{mount_root(request)}/pay/{session.id}/authenticate", 303)
    return _page(request, "pay.html", _context(request, session))


@router.post("/pay/{session_id}")
async def submit_card(
    session_id: str,
    request: Request,
    cardNumber: str = Form(""),
    cardExpiry: str = Form(""),
    cardCvc: str = Form(""),
    email: str = Form(""),
    billingName: str = Form(""),
) -> Response:
    emu = stripe_of(request)
    found = _find(emu, session_id)
    if found is None or found[1].status != "open":
        return _not_open(request, found[1] if found else None)
    account, session = found
    problem = _check_form(cardExpiry, cardCvc, emu.clock.now().year)
    if isinstance(problem, Decline):
        return _after(request, session, payments.Attempt("invalid", problem))
    month, year = problem
    form = payments.CardForm(
        number=digits(cardNumber),
        exp_month=month,
        exp_year=year,
        cvc=cardCvc.strip(),
        email=email.strip() or None,
        name=billingName.strip() or None,
    )
    return _after(request, session, payments.pay(emu, account, session, form))


def _check_form(expiry: str, cvc: str, this_year: int) -> tuple[int, int] | Decline:
    """(month, four-digit year), or the error Checkout shows before trying the card."""
    parts = [part for part in expiry.replace(" ", "").split("/") if part]
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return Decline("invalid_expiry_month", "Your card's expiration date is incomplete.")
    month, year = int(parts[0]), int(parts[1])
    year = year + 2000 if year < 100 else year
    if not 1 <= month <= 12:
        return Decline("invalid_expiry_month", "Your card's expiration month is invalid.")
    if year < this_year:
        return Decline("invalid_expiry_year", "Your card's expiration year is in the past.")
    if not (cvc.strip().isdigit() and len(cvc.strip()) in (3, 4)):
        return Decline("invalid_cvc", "Your card's security code is incomplete.")
    return month, year


@router.get("/pay/{session_id}/authenticate")
async def authentication_page(session_id: str, request: Request) -> Response:
    found = _find(stripe_of(request), session_id)
    if found is None or found[1].status != "open":
        return _not_open(request, found[1] if found else None)
    context = _context(request, found[1])
    context["action"] = f"{mount_root(request)}/pay/{session_id}/authenticate"
    return _page(request, "authenticate.html", context)


@router.post("/pay/{session_id}/authenticate")
async def authenticate(session_id: str, request: Request, action: str = Form("")) -> Response:
    emu = stripe_of(request)
    found = _find(emu, session_id)
    if found is None or found[1].status != "open":
        return _not_open(request, found[1] if found else None)
    account, session = found
    attempt = payments.authenticate(emu, account, session, completed=action == "complete")
    return _after(request, session, attempt)
