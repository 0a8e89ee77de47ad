"""One running emulator: its config, sales units and keys, state, clock, faults, random source
and background tasks.

`start()` and `stop()` run the expiry sweeper and the webhook deliverer. Starlette does not run
the lifespan of a mounted sub-app, so a parent app calls them from its own lifespan.

Every sales unit (`config.units`) keeps its state apart: the store keys payments, events,
idempotency records, webhook registrations and consents by MSN. The default unit's situation
is in `faults` (as it always was); every other unit's in `situations`.

With `config.auto_units` the emulator also plays the automatic test units
(`config.auto_unit`, docs/vipps.md#automatic-test-units): a unit becomes known when its own keys
get a token, is remembered in the store (so it is known again after a restart, and to other
processes sharing the state file) and from then on is a unit like the configured ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
import secrets
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass

from payrequest.sandbox.background import Background
from payrequest.sandbox.clock import SandboxClock
from payrequest.sandbox.config import (
    SalesUnitConfig,
    SandboxConfig,
    auto_msn_of_subscription_key,
    auto_unit,
    auto_unit_of_client_id,
    is_auto_msn,
)
from payrequest.sandbox.delivery import Deliverer
from payrequest.sandbox.faults import SALES_UNIT_SWITCHES, Faults, Situation, SituationPatch
from payrequest.sandbox.model import Payment, PaymentEvent
from payrequest.sandbox.payments import expire_if_due
from payrequest.sandbox.store import Store

RATE_WINDOW = 60.0


@dataclass(frozen=True)
class Keys:
    """One set of API keys: a sales unit's own (`msn` set, acting for that unit only) or a
    partner's (`msn` None, acting for every unit in `linked`)."""

    client_id: str
    client_secret: str
    subscription_key: str
    msn: str | None
    linked: frozenset[str]

    @property
    def partner(self) -> bool:
        return self.msn is None


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.version = 0  # bumps on every change; the phone page polls it
        self.units: dict[str, SalesUnitConfig] = {unit.msn: unit for unit in config.units}
        self.situations: dict[str, Situation] = {
            unit.msn: _situation_of(unit) for unit in config.extra_units
        }
        self.keys: list[Keys] = []
        self.store = Store(config.state_path)
        self._link_keys()
        self.sync_auto_units()
        self.rng = random.Random(config.seed)  # noqa: S311 - faults, not cryptography
        self.faults = config.faults
        if config.clock_speed != 1.0:
            self.faults = self.faults.model_copy(update={"clock_speed": config.clock_speed})
        self.clock = SandboxClock(self.faults.clock_speed)
        self.token_key = self.store.meta("token_key", secrets.token_hex(32)).encode("ascii")
        self.subject_key = self.store.meta("subject_key", secrets.token_hex(32)).encode("ascii")
        self.deliverer = Deliverer(self)
        self.busy: set[tuple[str, str]] = set()  # payments with an operation in progress
        self._released = asyncio.Event()  # set when operation_hold_ms is lowered
        self._calls: dict[tuple[str, ...], deque[float]] = defaultdict(deque)
        self._background = Background()

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the expiry sweeper and webhook deliverer (idempotent)."""
        self._background.start(
            {"sandbox-expiry": self._sweep, "sandbox-webhooks": self.deliverer.run}
        )

    async def stop(self) -> None:
        """Stop background work; undelivered webhooks stay queued for the next start."""
        await self._background.stop()

    def close(self) -> None:
        self.store.close()

    @property
    def running(self) -> bool:
        return self._background.running

    async def _sweep(self) -> None:
        while True:
            for payment in self.store.payments_in_state("CREATED"):
                expire_if_due(self, payment)
            await asyncio.sleep(self.config.sweep_interval)

    # sales units and keys ---------------------------------------------------------------
    @property
    def default_unit(self) -> SalesUnitConfig:
        return self.units[self.config.msn]

    def unit(self, msn: str) -> SalesUnitConfig:
        """The unit with this MSN; the default one for a payment stored by a unit that is no
        longer configured (a state file kept across configs)."""
        return self.find_unit(msn) or self.default_unit

    def find_unit(self, msn: str) -> SalesUnitConfig | None:
        """A configured unit, or an automatic one used so far (also by another process
        sharing the state file); None for any other MSN."""
        known = self.units.get(msn)
        if known is not None or not self.config.auto_units or not is_auto_msn(msn):
            return known
        market = self.store.auto_units().get(msn)
        return self._add_auto_unit(auto_unit(market, msn)) if market else None

    def all_units(self) -> list[SalesUnitConfig]:
        """Every unit: the configured ones, then the automatic ones used so far."""
        self.sync_auto_units()
        return list(self.units.values())

    def sync_auto_units(self) -> None:
        """Know every automatic unit the store remembers (used before a restart, or by another
        process sharing the state file), if automatic units are on."""
        if self.config.auto_units:
            for msn, market in self.store.auto_units().items():
                if msn not in self.units:
                    self._add_auto_unit(auto_unit(market, msn))

    def keys_by_client_id(self, client_id: str) -> Keys | None:
        """The keys of this client id: a known unit's or partner's, else (automatic units on)
        those of the automatic unit it names, unless its MSN is already another unit's (a
        configured one, or an automatic one first used with another market)."""
        known = next((k for k in self.keys if _same(client_id, k.client_id)), None)
        if known is not None or not self.config.auto_units:
            return known
        unit = auto_unit_of_client_id(client_id)
        if unit is None or self.find_unit(unit.msn) is not None or self._taken(unit):
            return None
        return _keys_of(unit)

    def keys_by_subscription(self, subscription_key: str) -> Keys | None:
        """The keys of a known unit or partner with this subscription key (an automatic unit's
        once it got a token)."""
        known = self._keys_with_subscription(subscription_key)
        if known is not None or not self.config.auto_units:
            return known
        msn = auto_msn_of_subscription_key(subscription_key)
        if msn is None or msn in self.units or self.find_unit(msn) is None:
            return None
        return self._keys_with_subscription(subscription_key)  # the unit is known now

    def _keys_with_subscription(self, subscription_key: str) -> Keys | None:
        return next((k for k in self.keys if _same(subscription_key, k.subscription_key)), None)

    def subscription_known(self, subscription_key: str) -> bool:
        """Whether the token endpoint lets this subscription key through: a known unit's or
        partner's, or (automatic units on) that of an automatic unit not yet used."""
        if self.keys_by_subscription(subscription_key) is not None:
            return True
        msn = auto_msn_of_subscription_key(subscription_key) if self.config.auto_units else None
        return msn is not None and msn not in self.units

    def logged_in(self, keys: Keys) -> None:
        """The keys got a token: an automatic unit's become a known unit, remembered."""
        if keys.msn is None or keys.msn in self.units:
            return
        unit = auto_unit_of_client_id(keys.client_id)
        if unit is None:
            return
        market = self.store.remember_auto_unit(unit.msn, unit.market)
        self._add_auto_unit(auto_unit(market, unit.msn))

    def _taken(self, unit: SalesUnitConfig) -> bool:
        return any(
            _same(unit.client_id, k.client_id) or _same(unit.subscription_key, k.subscription_key)
            for k in self.keys
        )

    def _add_auto_unit(self, unit: SalesUnitConfig) -> SalesUnitConfig | None:
        """Play an automatic unit from now on, unless its MSN or keys are another's."""
        if unit.msn in self.units or self._taken(unit):
            return None
        self.units[unit.msn] = unit
        self.situations[unit.msn] = _situation_of(unit)
        self._link_keys()
        self.changed()
        return unit

    def _link_keys(self) -> None:
        """Every unit's keys, then the partners' (linked to the units they name, or to every
        unit known now)."""
        self.keys = [_keys_of(unit) for unit in self.units.values()] + [
            Keys(
                p.client_id,
                p.client_secret,
                p.subscription_key,
                None,
                frozenset(msn for msn in self.units if p.links(msn)),
            )
            for p in self.config.partners
        ]

    def situation(self, msn: str) -> Situation:
        """What the unit is approved for now (the default unit's is in `faults`)."""
        known = self.situations.get(msn)
        if known is not None:
            return known
        return Situation(**{name: getattr(self.faults, name) for name in SALES_UNIT_SWITCHES})

    def set_situation(self, msn: str, patch: SituationPatch) -> Situation:
        changes = patch.model_dump(exclude_none=True)
        if msn in self.situations:
            self.situations[msn] = self.situations[msn].model_copy(update=changes)
        else:
            self.set_faults(self.faults.model_copy(update=changes))
        self.changed()
        return self.situation(msn)

    # helpers used by the operations ----------------------------------------------------
    def set_faults(self, faults: Faults) -> None:
        if faults.operation_hold_ms < self.faults.operation_hold_ms:
            self._released.set()  # the changes held now go on at once
            self._released = asyncio.Event()
        self.faults = faults
        self.clock.speed = faults.clock_speed

    async def hold_operation(self) -> None:
        """A change of a payment takes `operation_hold_ms` while the payment stays locked;
        lowering the switch (e.g. to 0) lets the changes held at that moment go on."""
        hold = self.faults.operation_hold_ms
        if hold:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), hold / 1000)

    def chance(self, rate: float) -> bool:
        """True with probability `rate`, from the seedable random source."""
        return rate > 0 and self.rng.random() < rate

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def changed(self) -> None:
        self.version += 1

    def record(
        self, payment: Payment, name: str, value: int, key: str | None, psp: str | None = None
    ) -> PaymentEvent:
        """Append an event to the log and queue its webhooks."""
        event = PaymentEvent(
            reference=payment.reference,
            psp_reference=psp or str(self.rng.randrange(10**9, 10**10)),
            name=name,
            currency=payment.currency,
            value=value,
            timestamp=self.clock.now(),
            idempotency_key=key,
        )
        self.store.add_event(payment.msn, event)
        self.deliverer.enqueue(payment.msn, {"msn": payment.msn, **event.to_wire()})
        self.changed()
        return event

    def over_limit(self, key: tuple[str, ...], limit: int) -> float | None:
        """Seconds to wait if `key` made `limit` calls in the last minute; else count it."""
        if not self.faults.rate_limits:
            return None
        now = time.monotonic()
        calls = self._calls[key]
        while calls and now - calls[0] >= RATE_WINDOW:
            calls.popleft()
        if len(calls) >= limit:
            return RATE_WINDOW - (now - calls[0])
        calls.append(now)
        return None


def _keys_of(unit: SalesUnitConfig) -> Keys:
    return Keys(
        unit.client_id, unit.client_secret, unit.subscription_key, unit.msn, frozenset({unit.msn})
    )


def _situation_of(unit: SalesUnitConfig) -> Situation:
    return Situation(**{name: getattr(unit, name) for name in SALES_UNIT_SWITCHES})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
