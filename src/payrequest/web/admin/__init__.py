"""The staff pages."""

from __future__ import annotations

from fastapi import APIRouter

from payrequest.web.admin import (
    customers,
    flows,
    invoices,
    operations,
    payments,
    requests,
    session,
    settings,
)

router = APIRouter(include_in_schema=False)
for module in (session, customers, invoices, payments, requests, flows, operations, settings):
    router.include_router(module.router)
