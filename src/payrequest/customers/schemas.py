"""Input shapes for customers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CustomerInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Text200
    number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    phone: str | None = None  # as typed; normalised by the service
    country: Annotated[str, StringConstraints(pattern=r"^(NO|DK|FI|SE)$")] = "NO"
    locale: Annotated[str, StringConstraints(pattern=r"^(nb|da|en)$")] = "nb"
    portal_access: bool = False
