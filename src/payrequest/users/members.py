"""A member: a person as they work in one organisation, with their role there."""

from __future__ import annotations

from dataclasses import dataclass

from payrequest.organisations.models import Membership
from payrequest.users.models import User


@dataclass(frozen=True, slots=True)
class Member:
    """The signed-in person (`user`) acting in `organisation_id` as `role`."""

    user: User
    organisation_id: int
    role: str  # owner, staff or readonly: what they may do in this organisation
    active: bool = True  # their membership in this organisation

    @classmethod
    def of(cls, user: User, membership: Membership) -> Member:
        return cls(user, membership.organisation_id, membership.role, membership.is_active)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def locale(self) -> str:
        return self.user.locale

    @property
    def is_active(self) -> bool:
        """Active as a person and as a member of this organisation."""
        return self.user.is_active and self.active

    @property
    def is_operator(self) -> bool:
        return self.user.is_operator
