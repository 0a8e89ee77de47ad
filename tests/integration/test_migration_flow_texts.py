"""Migration 0008 on a database made by the migrations before it, on both kinds of database: the
ready-made flows that are as 0004 inserted them get Norwegian and Danish texts, a flow staff have
changed is left alone, and downgrading takes the variants away again."""

from __future__ import annotations

import importlib
import json
from typing import Any

from sqlalchemy import text

from payrequest.db.session import create_engine
from tests.integration.conftest import downgrade_to, migrate_to

flow_texts = importlib.import_module("payrequest.migrations.versions.20261130_flow_texts")
CHANGED = {"to": "owner@example.no", "subject": "Feilet", "text": "Se {{ reference }}", "html": ""}


async def _configs(url: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT flows.name, flow_actions.config FROM flows"
                    " JOIN flow_actions ON flow_actions.flow_id = flows.id"
                )
            )
            return {
                name: config if isinstance(config, dict) else json.loads(config)
                for name, config in rows
            }
    finally:
        await engine.dispose()


async def _staff_fill_in_the_address(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE flow_actions SET config = :config WHERE flow_id ="
                    " (SELECT id FROM flows WHERE name = :name)"
                ),
                {"config": json.dumps(CHANGED), "name": flow_texts.STAFF_ALERT},
            )
    finally:
        await engine.dispose()


async def test_unchanged_ready_made_flows_get_their_translations(fresh_url: str) -> None:
    migrate_to(fresh_url, "0007")
    await _staff_fill_in_the_address(fresh_url)
    migrate_to(fresh_url, "0008")
    configs = await _configs(fresh_url)
    receipt = configs[flow_texts.RECEIPT]
    assert receipt["text"].startswith("Thank you, {{ customer_name }}")  # unchanged, English
    assert receipt["language"] == "en"
    assert receipt["variants"]["nb"]["text"].startswith("Takk, {{ customer_name }}! Vi har")
    assert receipt["variants"]["da"]["text"].startswith("Tak, {{ customer_name }}! Vi har")
    assert configs[flow_texts.STAFF_ALERT] == CHANGED  # staff's own: left alone

    downgrade_to(fresh_url, "0007")
    configs = await _configs(fresh_url)
    assert "variants" not in configs[flow_texts.RECEIPT]
    assert configs[flow_texts.STAFF_ALERT] == CHANGED


async def test_a_fresh_installation_has_both_flows_in_three_languages(fresh_url: str) -> None:
    migrate_to(fresh_url, "0008")
    configs = await _configs(fresh_url)
    assert set(configs) == {flow_texts.RECEIPT, flow_texts.STAFF_ALERT}
    for config in configs.values():
        assert config["language"] == "en" and set(config["variants"]) == {"nb", "da"}
