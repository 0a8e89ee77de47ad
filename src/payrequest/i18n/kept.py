"""Errors kept as JSON where they are stored (an import's report, a flow's run log) and read back
when a person looks at them: each keeps its message template and parameters, so it is shown in
the reader's language whenever it is read, with money and dates formatted there, as on the day.

`error_to_json`/`error_from_json` give and take a dict; `dumps`/`loads` a text for a text column
(`loads` gives None for a text that is not a kept error: a plain message id from before).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from payrequest.errors import Msg, PayrequestError
from payrequest.kit.money import Money


def dumps(error: PayrequestError) -> str:
    return json.dumps(error_to_json(error), ensure_ascii=False, sort_keys=True)


def loads(text: str) -> PayrequestError | None:
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
        return error_from_json(data) if isinstance(data, dict) and "template" in data else None
    except (ValueError, KeyError, TypeError):
        return None


def error_to_json(error: PayrequestError) -> dict[str, Any]:
    return {
        "template": error.template,
        "code": error.code,
        "field": error.field,
        "params": {name: _value(item) for name, item in error.params.items()},
    }


def error_from_json(data: dict[str, Any]) -> PayrequestError:
    params = {name: _value_from(item) for name, item in data["params"].items()}
    return PayrequestError.restored(
        data["template"], field=data["field"], code=data["code"], params=params
    )


def _value(item: Any) -> Any:
    """A message parameter as JSON, tagged where JSON has no type of its own."""
    if isinstance(item, Msg):
        return {"msg": str(item)}
    if item is None or isinstance(item, str | int | float):
        return item
    if isinstance(item, Money):
        return {"money": [item.amount, item.currency]}
    if isinstance(item, dt.datetime):
        return {"moment": item.isoformat()}
    if isinstance(item, dt.date):
        return {"day": item.isoformat()}
    if isinstance(item, dt.timedelta):
        return {"seconds": item.total_seconds()}
    if isinstance(item, PayrequestError):
        return {"error": error_to_json(item)}
    if isinstance(item, list | tuple | set | frozenset):
        return {"list": [_value(part) for part in item]}
    return str(item)


def _value_from(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    [(tag, item)] = data.items()
    if tag == "msg":
        return Msg(item)
    if tag == "money":
        return Money(int(item[0]), str(item[1]))
    if tag == "moment":
        return dt.datetime.fromisoformat(item)
    if tag == "day":
        return dt.date.fromisoformat(item)
    if tag == "seconds":
        return dt.timedelta(seconds=item)
    if tag == "error":
        return error_from_json(item)
    return [_value_from(part) for part in item]
