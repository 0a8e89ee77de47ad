"""The customer portal: magic-link access, open invoices, paying with MobilePay, receipts."""

from __future__ import annotations

from fastapi import APIRouter

from payrequest.web.portal import access, pages

router = APIRouter(include_in_schema=False)
for module in (access, pages):
    router.include_router(module.router)
