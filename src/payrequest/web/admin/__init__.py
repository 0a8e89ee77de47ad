"""The staff pages."""

from __future__ import annotations

from fastapi import APIRouter

from payrequest.web.admin import (
    api_keys,
    audit,
    connections,
    customers,
    exports,
    flows,
    imports,
    invoices,
    operations,
    password,
    payments,
    requests,
    session,
    settings,
    staff,
    webhook_endpoints,
)

router = APIRouter(include_in_schema=False)
for module in (
    session,
    password,
    customers,
    invoices,
    payments,
    requests,
    exports,
    imports,
    flows,
    operations,
    settings,
    connections,
    staff,
    audit,
    api_keys,
    webhook_endpoints,
):
    router.include_router(module.router)
