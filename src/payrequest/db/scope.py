"""Which business a database session acts for: the organisation scope, enforced by the session.

Every business row (customers, invoices, payment requests, …) belongs to one organisation; its
model inherits `OrganisationOwned`. A session is scoped when it begins: by the `SCOPE` key of
`Session.info` if the caller set one (`sessions(info=scoped_to(3))`), otherwise by the scope in
effect where it runs (`acting_for(3)` around a request, a job or a CLI command). Then:

- every ORM SELECT, UPDATE and DELETE of an organisation-owned model gets
  `organisation_id = <scope>` added (`with_loader_criteria`), also in joins and lazy loads;
- every new organisation-owned row is stamped with the scope, and one stamped for another
  organisation is refused before it is written;
- on PostgreSQL the transaction sets `payrequest.organisation_id`, which the row-level security
  policies of migration 0011 read: SQL that bypasses the ORM still sees only the scope's rows.

A session without a scope that touches an organisation-owned model raises `UnscopedQuery`: there
is no path that forgets the scope silently. Work for every business at once (claiming jobs,
routing a webhook to its business, purges, the operator's overview) says so with
`acting_for(ALL)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from sqlalchemy import ForeignKey, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)


class AllOrganisations:
    """The scope of work done for every business at once."""

    _instance: AllOrganisations | None = None

    def __new__(cls) -> AllOrganisations:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ALL"


ALL: Final = AllOrganisations()
Scope = int | AllOrganisations
SCOPE: Final = "organisation_scope"  # the key in Session.info

_current: ContextVar[Scope | None] = ContextVar("payrequest_organisation_scope", default=None)


class UnscopedQuery(RuntimeError):
    """A session without an organisation scope touched a business table: a programming error."""


class CrossOrganisationWrite(RuntimeError):
    """A row of one organisation was about to be written by a session scoped to another."""


class OrganisationOwned:
    """Mixin of every business model: the row belongs to exactly one organisation.

    A model that also keeps rows of the installation itself (a job of the worker's own, a
    failed sign-in of an unknown address) sets `organisation_optional = True`: its column is
    nullable, and such rows are seen only by work done for `ALL`."""

    organisation_optional: bool = False

    @declared_attr
    def organisation_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey("organisations.id"), index=True, nullable=cls.organisation_optional
        )


@contextmanager
def acting_for(scope: Scope) -> Iterator[None]:
    """Run the block for one organisation (its id) or for all of them (`ALL`)."""
    if not isinstance(scope, AllOrganisations | int) or isinstance(scope, bool):
        raise TypeError(f"an organisation scope is an id or ALL, not {scope!r}")
    token = _current.set(scope)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def nobody() -> Iterator[None]:
    """Run the block acting for no organisation until it says whom it acts for (each web
    request starts so: who asks is known only after the sign-in is read)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def enter(scope: Scope) -> None:
    """Act for `scope` for the rest of the current task (a web request, once it knows who
    is asking). Each request runs in a task of its own, so this ends with it."""
    if not isinstance(scope, AllOrganisations | int) or isinstance(scope, bool):
        raise TypeError(f"an organisation scope is an id or ALL, not {scope!r}")
    _current.set(scope)


def current() -> Scope | None:
    """The scope in effect here (None: none was set)."""
    return _current.get()


def organisation_of_scope() -> int:
    """The one organisation the work in progress acts for (`acting_for`, `enter`);
    UnscopedQuery when it acts for none or all."""
    scope = _current.get()
    if not isinstance(scope, int):
        raise UnscopedQuery(f"this needs one organisation, the scope is {scope!r}")
    return scope


def scoped_to(scope: Scope) -> dict[str, Any]:
    """`Session.info` for a session bound to `scope` whatever the surrounding context says."""
    return {SCOPE: scope}


def scope_of(session: Session) -> Scope | None:
    """The session's scope, fixed the first time it is asked (at its first statement)."""
    scope = session.info.get(SCOPE)
    if scope is None:
        scope = _current.get()
        if scope is not None:
            session.info[SCOPE] = scope
    return scope


def organisation_of(session: Session) -> int:
    """The one organisation the session acts for; UnscopedQuery when it acts for none or all."""
    scope = scope_of(session)
    if not isinstance(scope, int):
        raise UnscopedQuery(f"this needs one organisation, the session's scope is {scope!r}")
    return scope


def _owned(mappers: Any) -> bool:
    return any(issubclass(m.class_, OrganisationOwned) for m in mappers)


@event.listens_for(Session, "do_orm_execute")
def _add_scope(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria added to the parent statement propagate to these
    if not (state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    scope = scope_of(state.session)
    if scope is None:
        if _owned(state.all_mappers):
            names = ", ".join(sorted(m.class_.__name__ for m in state.all_mappers))
            raise UnscopedQuery(f"a statement on {names} without an organisation scope")
        return
    if isinstance(scope, AllOrganisations):
        return
    if state.is_insert:
        _stamp_insert(state, scope)
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            OrganisationOwned,
            lambda cls: cls.organisation_id == scope,
            include_aliases=True,
        )
    )


def _stamp_insert(state: ORMExecuteState, scope: int) -> None:
    """`insert(Model).values(...)` of an organisation-owned model: the scope's organisation
    is added when the values leave it out, and another organisation's is refused."""
    if not _owned(state.all_mappers):
        return
    statement: Any = state.statement
    given = {getattr(key, "key", key): value for key, value in (statement._values or {}).items()}
    if "organisation_id" not in given:
        state.statement = statement.values(organisation_id=scope)
        return
    value = getattr(given["organisation_id"], "value", given["organisation_id"])
    if value != scope:
        raise CrossOrganisationWrite(f"an INSERT for organisation {value} acting for {scope}")


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    owned = [row for row in session.new if isinstance(row, OrganisationOwned)]
    if not owned:
        return
    scope = scope_of(session)
    for row in owned:
        if row.organisation_id is None:
            if isinstance(scope, int):
                row.organisation_id = scope
            elif not row.organisation_optional:
                raise UnscopedQuery(
                    f"a new {type(row).__name__} needs an organisation; the scope is {scope!r}"
                )
        elif isinstance(scope, int) and row.organisation_id != scope:
            raise CrossOrganisationWrite(
                f"a {type(row).__name__} of organisation {row.organisation_id}"
                f" in a session acting for {scope}"
            )


@event.listens_for(Session, "after_begin")
def _tell_postgresql(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """The scope for row-level security, for this transaction only (`set_config(..., true)`)."""
    if connection.dialect.name != "postgresql":
        return
    scope = scope_of(session)
    connection.execute(
        text(
            "SELECT set_config('payrequest.organisation_id', :organisation, true),"
            " set_config('payrequest.all_organisations', :everyone, true)"
        ),
        {
            "organisation": str(scope) if isinstance(scope, int) else "",
            "everyone": "on" if isinstance(scope, AllOrganisations) else "off",
        },
    )
