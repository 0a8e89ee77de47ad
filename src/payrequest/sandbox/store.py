"""The emulator's own SQLite file (or memory): payments, events, idempotency records, webhook
registrations, the delivery queue, SMS and profile consents. It shares no tables or models with
the product.

Automatic test units once used are remembered (`auto_units`: MSN and market) so the phone
pages and controls list them after a restart and an MSN keeps the market it was first used
with.

The stdlib `sqlite3` is used directly: every call is a short local transaction, which is fine
for an emulator on the event loop, and a lock makes it safe across threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payrequest.sandbox.model import Payment, PaymentEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    msn TEXT NOT NULL, reference TEXT NOT NULL, state TEXT NOT NULL, phone TEXT,
    redirect_token TEXT NOT NULL, expires_at TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (msn, reference));
CREATE INDEX IF NOT EXISTS payments_phone ON payments (phone);
CREATE INDEX IF NOT EXISTS payments_token ON payments (redirect_token);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, msn TEXT NOT NULL, reference TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ref ON events (msn, reference);
CREATE TABLE IF NOT EXISTS idempotency (
    msn TEXT NOT NULL, key TEXT NOT NULL, operation TEXT NOT NULL, reference TEXT NOT NULL,
    request_hash TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (msn, key));
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY, msn TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,
    secret TEXT NOT NULL, created_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL, reference TEXT NOT NULL,
    event_name TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
    created_at REAL NOT NULL, last_result TEXT);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (status, webhook_id, reference, id);
CREATE TABLE IF NOT EXISTS sms (
    id INTEGER PRIMARY KEY AUTOINCREMENT, msisdn TEXT NOT NULL, sender TEXT NOT NULL,
    text TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE, received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sms_msisdn ON sms (msisdn);
CREATE TABLE IF NOT EXISTS sms_replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sms_id INTEGER NOT NULL, msisdn TEXT NOT NULL,
    text TEXT NOT NULL, sent_at TEXT NOT NULL, result TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS sms_replies_msisdn ON sms_replies (msisdn);
CREATE TABLE IF NOT EXISTS consents (
    msn TEXT NOT NULL, sub TEXT NOT NULL, msisdn TEXT NOT NULL, scopes TEXT NOT NULL,
    PRIMARY KEY (msn, sub));
CREATE TABLE IF NOT EXISTS auto_units (msn TEXT PRIMARY KEY, market TEXT NOT NULL);
"""


@dataclass
class IdempotencyRecord:
    operation: str
    reference: str
    request_hash: str
    status: int
    body: Any


@dataclass
class Webhook:
    id: str
    msn: str
    url: str
    events: list[str]
    secret: str


@dataclass
class Consent:
    """What one user agreed to share with one sales unit (scopes in the order first given)."""

    msisdn: str
    scopes: list[str]


@dataclass
class Delivery:
    id: int
    webhook_id: str
    reference: str
    event_name: str
    body: str
    status: str
    attempts: int
    next_attempt_at: float
    created_at: float


class Store:
    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path) if path is not None else ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
            return row

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            cursor = self._db.execute(sql, args)
            return int(cursor.lastrowid or 0)

    # meta ------------------------------------------------------------------------------
    def meta(self, key: str, default: str) -> str:
        """The stored value, storing `default` first if there is none."""
        self._run("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, default))
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row["value"]) if row else default

    # automatic test units ----------------------------------------------------------------
    def remember_auto_unit(self, msn: str, market: str) -> str:
        """Remember that automatic unit `msn` was used with `market`; the market it has (the
        first one remembered for this MSN)."""
        with self._lock:
            self._run("INSERT OR IGNORE INTO auto_units (msn, market) VALUES (?, ?)", (msn, market))
            row = self._one("SELECT market FROM auto_units WHERE msn = ?", (msn,))
        return str(row["market"]) if row else market

    def auto_units(self) -> dict[str, str]:
        """MSN -> market of every automatic unit used so far, in MSN order."""
        rows = self._all("SELECT msn, market FROM auto_units ORDER BY msn")
        return {str(row["msn"]): str(row["market"]) for row in rows}

    # payments --------------------------------------------------------------------------
    def save_payment(self, payment: Payment) -> None:
        self._run(
            "INSERT OR REPLACE INTO payments "
            "(msn, reference, state, phone, redirect_token, expires_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                payment.msn,
                payment.reference,
                payment.state,
                payment.phone,
                payment.redirect_token,
                payment.expires_at.isoformat(),
                json.dumps(payment.to_json()),
            ),
        )

    def payment(self, msn: str, reference: str) -> Payment | None:
        row = self._one(
            "SELECT data FROM payments WHERE msn = ? AND reference = ?", (msn, reference)
        )
        return Payment.from_json(json.loads(row["data"])) if row else None

    def payment_by_token(self, token: str) -> Payment | None:
        row = self._one("SELECT data FROM payments WHERE redirect_token = ?", (token,))
        return Payment.from_json(json.loads(row["data"])) if row else None

    def payments_for_phone(self, msisdn: str) -> list[Payment]:
        rows = self._all("SELECT data FROM payments WHERE phone = ? ORDER BY rowid DESC", (msisdn,))
        return [Payment.from_json(json.loads(r["data"])) for r in rows]

    def payments_in_state(self, state: str) -> list[Payment]:
        rows = self._all("SELECT data FROM payments WHERE state = ?", (state,))
        return [Payment.from_json(json.loads(r["data"])) for r in rows]

    def phones(self) -> list[str]:
        rows = self._all(
            "SELECT phone AS p FROM payments WHERE phone IS NOT NULL "
            "UNION SELECT msisdn AS p FROM sms ORDER BY p"
        )
        return [str(r["p"]) for r in rows]

    # events ----------------------------------------------------------------------------
    def add_event(self, msn: str, event: PaymentEvent) -> None:
        self._run(
            "INSERT INTO events (msn, reference, data) VALUES (?, ?, ?)",
            (msn, event.reference, json.dumps(event.to_json())),
        )

    def events(self, msn: str, reference: str) -> list[PaymentEvent]:
        rows = self._all(
            "SELECT data FROM events WHERE msn = ? AND reference = ? ORDER BY id", (msn, reference)
        )
        return [PaymentEvent.from_json(json.loads(r["data"])) for r in rows]

    # idempotency -----------------------------------------------------------------------
    def idempotency(self, msn: str, key: str) -> IdempotencyRecord | None:
        row = self._one("SELECT * FROM idempotency WHERE msn = ? AND key = ?", (msn, key))
        if row is None:
            return None
        return IdempotencyRecord(
            row["operation"],
            row["reference"],
            row["request_hash"],
            int(row["status"]),
            json.loads(row["body"]),
        )

    def save_idempotency(self, msn: str, key: str, record: IdempotencyRecord) -> None:
        self._run(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                msn,
                key,
                record.operation,
                record.reference,
                record.request_hash,
                record.status,
                json.dumps(record.body),
            ),
        )

    # webhooks --------------------------------------------------------------------------
    def add_webhook(self, hook: Webhook) -> None:
        row = self._one("SELECT COALESCE(MAX(created_seq), 0) + 1 AS n FROM webhooks")
        seq = int(row["n"]) if row else 1
        self._run(
            "INSERT INTO webhooks VALUES (?, ?, ?, ?, ?, ?)",
            (hook.id, hook.msn, hook.url, json.dumps(hook.events), hook.secret, seq),
        )

    def webhooks(self, msn: str) -> list[Webhook]:
        rows = self._all("SELECT * FROM webhooks WHERE msn = ? ORDER BY created_seq", (msn,))
        return [_webhook(r) for r in rows]

    def webhook(self, webhook_id: str) -> Webhook | None:
        row = self._one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return _webhook(row) if row else None

    def delete_webhook(self, msn: str, webhook_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM webhooks WHERE msn = ? AND id = ?", (msn, webhook_id)
            )
            self._db.execute(
                "UPDATE deliveries SET status = 'deleted' WHERE webhook_id = ? "
                "AND status = 'pending'",
                (webhook_id,),
            )
            return cursor.rowcount > 0

    # deliveries ------------------------------------------------------------------------
    def enqueue(
        self, webhook_id: str, reference: str, name: str, body: str, now: float, status: str
    ) -> int:
        return self._run(
            "INSERT INTO deliveries (webhook_id, reference, event_name, body, status, "
            "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (webhook_id, reference, name, body, status, now, now),
        )

    def stream_heads(self) -> list[Delivery]:
        """The oldest pending delivery of every (registration, payment) stream."""
        rows = self._all(
            "SELECT d.* FROM deliveries d JOIN (SELECT MIN(id) AS id FROM deliveries "
            "WHERE status = 'pending' GROUP BY webhook_id, reference) h ON d.id = h.id "
            "ORDER BY d.id"
        )
        return [_delivery(r) for r in rows]

    def pending_in_stream(self, webhook_id: str, reference: str) -> list[Delivery]:
        rows = self._all(
            "SELECT * FROM deliveries WHERE status = 'pending' AND webhook_id = ? "
            "AND reference = ? ORDER BY id",
            (webhook_id, reference),
        )
        return [_delivery(r) for r in rows]

    def swap_order(self, first: Delivery, second: Delivery) -> None:
        """Exchange the queue positions (ids) of two deliveries of one stream."""
        with self._lock:
            self._db.execute("UPDATE deliveries SET id = -1 WHERE id = ?", (first.id,))
            self._db.execute("UPDATE deliveries SET id = ? WHERE id = ?", (first.id, second.id))
            self._db.execute("UPDATE deliveries SET id = ? WHERE id = -1", (second.id,))

    def finish_delivery(self, delivery_id: int, status: str, result: str) -> None:
        self._run(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_result = ? "
            "WHERE id = ?",
            (status, result, delivery_id),
        )

    def retry_delivery(self, delivery_id: int, next_at: float, result: str) -> None:
        self._run(
            "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, "
            "last_result = ? WHERE id = ?",
            (next_at, result, delivery_id),
        )

    def deliveries(self, reference: str | None = None) -> list[Delivery]:
        if reference is None:
            return [_delivery(r) for r in self._all("SELECT * FROM deliveries ORDER BY id")]
        rows = self._all("SELECT * FROM deliveries WHERE reference = ? ORDER BY id", (reference,))
        return [_delivery(r) for r in rows]

    # profile consents ------------------------------------------------------------------
    def grant_consent(self, msn: str, sub: str, msisdn: str, scopes: list[str]) -> None:
        """Add `scopes` to what the user `sub` shares with `msn`."""
        with self._lock:
            known = self.consent(msn, sub)
            merged = list(dict.fromkeys((known.scopes if known else []) + scopes))
            self._run(
                "INSERT OR REPLACE INTO consents (msn, sub, msisdn, scopes) VALUES (?, ?, ?, ?)",
                (msn, sub, msisdn, " ".join(merged)),
            )

    def consent(self, msn: str, sub: str) -> Consent | None:
        row = self._one("SELECT * FROM consents WHERE msn = ? AND sub = ?", (msn, sub))
        return Consent(row["msisdn"], str(row["scopes"]).split()) if row else None

    # sms -------------------------------------------------------------------------------
    def add_sms(
        self, msisdn: str, sender: str, text: str, key: str, received_at: str
    ) -> tuple[dict[str, Any], bool]:
        """Store an SMS once per idempotency key; returns (record, created)."""
        with self._lock:
            existing = self._one("SELECT * FROM sms WHERE idempotency_key = ?", (key,))
            if existing is not None:
                return dict(existing), False
            self._run(
                "INSERT INTO sms (msisdn, sender, text, idempotency_key, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (msisdn, sender, text, key, received_at),
            )
            row = self._one("SELECT * FROM sms WHERE idempotency_key = ?", (key,))
            return (dict(row) if row else {}), True

    def sms_for(self, msisdn: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM sms WHERE msisdn = ? ORDER BY id DESC", (msisdn,))
        return [dict(r) for r in rows]

    def sms(self, msisdn: str, sms_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM sms WHERE msisdn = ? AND id = ?", (msisdn, sms_id))
        return dict(row) if row else None

    def add_sms_reply(self, msisdn: str, sms_id: int, text: str, sent_at: str) -> int:
        """Keep a reply the phone's user wrote to SMS `sms_id`; returns its id."""
        return self._run(
            "INSERT INTO sms_replies (sms_id, msisdn, text, sent_at) VALUES (?, ?, ?, ?)",
            (sms_id, msisdn, text, sent_at),
        )

    def set_sms_reply_result(self, reply_id: int, result: str) -> None:
        """What became of a reply: who received it, or why nobody did."""
        self._run("UPDATE sms_replies SET result = ? WHERE id = ?", (result[:300], reply_id))

    def sms_replies_for(self, msisdn: str) -> dict[int, list[dict[str, Any]]]:
        """The phone's replies by the id of the SMS each answers, oldest first."""
        rows = self._all("SELECT * FROM sms_replies WHERE msisdn = ? ORDER BY id", (msisdn,))
        replies: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            replies.setdefault(int(row["sms_id"]), []).append(dict(row))
        return replies


def _webhook(row: sqlite3.Row) -> Webhook:
    return Webhook(row["id"], row["msn"], row["url"], json.loads(row["events"]), row["secret"])


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        int(row["id"]),
        row["webhook_id"],
        row["reference"],
        row["event_name"],
        row["body"],
        row["status"],
        int(row["attempts"]),
        float(row["next_attempt_at"]),
        float(row["created_at"]),
    )
