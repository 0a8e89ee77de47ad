from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from payrequest.db.types import StrEnumType
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.state import Status


def test_a_str_enum_column_stores_the_value_and_loads_the_member() -> None:
    dialect = create_engine("sqlite://").dialect
    column = StrEnumType(Status, 16)
    assert column.process_bind_param(Status.paid, dialect) == "paid"
    assert column.process_bind_param("paid", dialect) == "paid"
    assert column.process_result_value("paid", dialect) is Status.paid
    assert column.process_result_value(None, dialect) is None
    with pytest.raises(ValueError):
        column.process_bind_param("payed", dialect)


def test_a_payment_requests_status_is_a_status() -> None:
    status = PaymentRequest.__table__.c.status.type
    assert isinstance(status, StrEnumType) and status.enum is Status
