"""API keys (api_keys.service) on both databases: a key is shown once and kept only as its
hash and prefix, opens for its own organisation until revoked, notes its use at most once a
minute; and `payrequest api-keys` makes, lists and revokes them, the key alone on the last
line."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from payrequest import cli
from payrequest.api_keys import service as api_keys
from payrequest.api_keys.models import ApiKey
from payrequest.audit.models import AuditEntry
from payrequest.db.scope import ALL, nobody, scoped_to
from payrequest.errors import NotFound, ValidationFailed
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from tests import servers
from tests.conftest import TEST_ORGANISATION

Sessions = async_sessionmaker[AsyncSession]


async def test_a_key_is_shown_once_and_opens_until_revoked(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        made = await api_keys.create_key(
            session, name="  ERP   sync ", scope="write", actor_id=None
        )
    assert made.secret.startswith("prk_") and len(made.secret) == 47
    assert (made.row.name, made.row.prefix) == ("ERP sync", made.secret[:12])
    async with sessions() as session:
        stored = (await session.execute(select(ApiKey))).scalar_one()
        entry = (await session.execute(select(AuditEntry))).scalar_one()
    assert made.secret not in repr(stored.__dict__) and made.secret not in repr(entry.details)
    assert stored.key_hash == api_keys.key_hash(made.secret)

    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        found = await api_keys.authenticate(session, made.secret)
        assert found is not None and found.organisation_id == TEST_ORGANISATION
        first_use = found.last_used_at
        assert first_use is not None
        for wrong in (made.secret[:-1], made.secret + "x", "", "Bearer " + made.secret):
            assert await api_keys.authenticate(session, wrong) is None
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        again = await api_keys.authenticate(session, made.secret)
        assert again is not None and again.last_used_at == first_use  # within the minute

    async with sessions() as session, session.begin():
        await api_keys.revoke_key(session, key_id=made.row.id, actor_id=None)
        await api_keys.revoke_key(session, key_id=made.row.id, actor_id=None)  # no change
        audit = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert sorted(audit) == ["api_key.create", "api_key.revoke"]
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        assert await api_keys.authenticate(session, made.secret) is None


async def test_last_use_is_noted_again_after_a_minute(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        made = await api_keys.create_key(session, name="shop", scope="read", actor_id=None)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        row = await api_keys.authenticate(session, made.secret)
        assert row is not None and row.last_used_at is not None
        row.last_used_at -= timedelta(minutes=2)
        earlier = row.last_used_at
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        row = await api_keys.authenticate(session, made.secret)
        assert row is not None and row.last_used_at is not None and row.last_used_at > earlier


async def test_keys_belong_to_their_organisation(sessions: Sessions) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        other = await organisations.create(session, NewOrganisation(name="Bee AS", slug="bee"))
    async with sessions(info=scoped_to(other.id)) as session, session.begin():
        theirs = await api_keys.create_key(session, name="theirs", scope="write", actor_id=None)
    async with sessions() as session, session.begin():
        assert await api_keys.list_keys(session) == []
        with pytest.raises(NotFound):
            await api_keys.revoke_key(session, key_id=theirs.row.id, actor_id=None)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        found = await api_keys.authenticate(session, theirs.secret)
        assert found is not None and found.organisation_id == other.id


async def test_bad_names_and_scopes_are_refused(session: AsyncSession) -> None:
    cases = (("", "read", "name"), ("x" * 101, "read", "name"), ("a", "admin", "scope"))
    for name, scope, field in cases:
        with pytest.raises(ValidationFailed) as refused:
            await api_keys.create_key(session, name=name, scope=scope, actor_id=None)
        assert refused.value.field == field


def _cli(tmp_path: Path, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PAYREQUEST_")}
    env.update(servers.payrequest_env(tmp_path))
    with nobody():
        return CliRunner().invoke(cli.app, list(args), env=env)


def test_the_command_line_makes_lists_and_revokes_keys(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").exit_code == 0
    made = _cli(tmp_path, "api-keys", "create", "--name", "ERP", "--scope", "write")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("prk_") and len(key) == 47
    listed = _cli(tmp_path, "api-keys", "list")
    assert listed.exit_code == 0 and key[:12] in listed.stdout and key not in listed.stdout
    assert "never" in listed.stdout
    refused = _cli(tmp_path, "api-keys", "create", "--name", "x", "--scope", "admin")
    assert refused.exit_code == 1 and "read or write" in refused.stderr
    assert _cli(tmp_path, "api-keys", "revoke", "key_99").exit_code == 1
    assert _cli(tmp_path, "api-keys", "revoke", "inv_1").exit_code == 2
    revoked = _cli(tmp_path, "api-keys", "revoke", "key_1")
    assert revoked.exit_code == 0 and "Revoked API key key_1" in revoked.stdout
    unknown = _cli(tmp_path, "api-keys", "list", "--org", "nope")
    assert unknown.exit_code == 2 and "nope" in unknown.stderr
