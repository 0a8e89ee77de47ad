"""The customer portal: magic-link access, open invoices, paying with MobilePay, receipts."""

from __future__ import annotations

from fastapi import APIRouter

from payrequest.web.portal import access, pages, payments, receipts

router = APIRouter(include_in_schema=False)
for module in (access, pages, payments, receipts):
    router.include_router(module.router)
