"""Which handler runs which kind of job: an explicit `JobHandlers` object, no module-global
state.

    handlers = JobHandlers()

    @handlers.job("payment_requests.capture", max_attempts=50, timeout=timedelta(seconds=20))
    async def capture(session: AsyncSession, payload: dict[str, Any]) -> None: ...

    @handlers.periodic("payment_requests.poll", every=timedelta(seconds=5))
    async def poll(session: AsyncSession, payload: dict[str, Any]) -> None: ...

Each domain package with jobs has an `install(handlers, ...)` function that registers its
handlers, closing over the services they need (sessions, the provider, gateways);
`runtime.build_runtime` creates one `JobHandlers`, calls every `install` and hands it to the
`Worker`. Handlers must be idempotent: a job runs at least once (see runner.py).

Lanes: kinds may be given worker capacity of their own, which no other kind can take.

    handlers.lane("money", slots=2, kinds=["payment_requests.capture", ...])

Every worker then runs up to 2 jobs of those kinds beside (not instead of) its `concurrency`
slots for all other kinds, and claims them first. A kind belongs to at most one lane.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs import queue
from payrequest.jobs.models import Job

Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]

DEFAULT_TIMEOUT = timedelta(seconds=30)
PERIODIC_MAX_ATTEMPTS = 1  # a failed periodic run is not retried: the next period is the retry
KIND_MAX_LENGTH = 64
DEFAULT_LANE = "default"  # every kind outside a declared lane, on the worker's `concurrency`


@dataclass(frozen=True)
class Lane:
    """Worker slots reserved for some kinds: only they run there, and only there."""

    name: str
    slots: int
    kinds: tuple[str, ...]


class UnknownJobKind(KeyError):
    """No handler is registered for this kind."""


@dataclass(frozen=True)
class JobSpec:
    kind: str
    handler: Handler
    max_attempts: int = queue.DEFAULT_MAX_ATTEMPTS
    timeout: timedelta = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class PeriodicSpec:
    kind: str
    every: timedelta

    def slot(self, now: datetime) -> int:
        """The number of the period `now` falls in: the same on every worker, whatever its start."""
        return int(now.timestamp() // self.every.total_seconds())

    def slot_start(self, slot: int) -> datetime:
        return datetime.fromtimestamp(slot * self.every.total_seconds(), tz=UTC)

    def dedupe_key(self, slot: int) -> str:
        return f"periodic:{self.kind}:{slot}"


class JobHandlers:
    """kind -> handler (+ retry policy), and the periodic schedule."""

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}
        self._periodic: dict[str, PeriodicSpec] = {}
        self._lanes: dict[str, Lane] = {}

    def add(
        self,
        kind: str,
        handler: Handler,
        *,
        max_attempts: int = queue.DEFAULT_MAX_ATTEMPTS,
        timeout: timedelta = DEFAULT_TIMEOUT,
    ) -> JobSpec:
        if not kind or len(kind) > KIND_MAX_LENGTH:
            raise ValueError(f"job kind must be 1..{KIND_MAX_LENGTH} characters: {kind!r}")
        if kind in self._specs:
            raise ValueError(f"job kind {kind!r} is already registered")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if timeout <= timedelta(0):
            raise ValueError("timeout must be positive")
        spec = JobSpec(kind, handler, max_attempts, timeout)
        self._specs[kind] = spec
        return spec

    def job(
        self,
        kind: str,
        *,
        max_attempts: int = queue.DEFAULT_MAX_ATTEMPTS,
        timeout: timedelta = DEFAULT_TIMEOUT,
    ) -> Callable[[Handler], Handler]:
        """Decorator: register `handler` for `kind`; the function is returned unchanged."""

        def register(handler: Handler) -> Handler:
            self.add(kind, handler, max_attempts=max_attempts, timeout=timeout)
            return handler

        return register

    def periodic(
        self,
        kind: str,
        *,
        every: timedelta,
        max_attempts: int = PERIODIC_MAX_ATTEMPTS,
        timeout: timedelta = DEFAULT_TIMEOUT,
    ) -> Callable[[Handler], Handler]:
        """Decorator: run `handler` once per `every`, across all workers together.

        The payload is `{"slot": n, "scheduled_for": iso-time}`; slot n covers
        [n * every, (n + 1) * every) since the Unix epoch.
        """
        if every < timedelta(seconds=1):
            raise ValueError("periodic jobs run at most once a second")

        def register(handler: Handler) -> Handler:
            self.add(kind, handler, max_attempts=max_attempts, timeout=timeout)
            self._periodic[kind] = PeriodicSpec(kind, every)
            return handler

        return register

    def lane(self, name: str, *, slots: int, kinds: Sequence[str]) -> Lane:
        """Reserve `slots` of every worker for `kinds` (claimed first, in declaration order).
        The kinds need not be registered yet; a worker ignores those that never are."""
        if slots < 1:
            raise ValueError("a lane needs at least one slot")
        if name == DEFAULT_LANE or name in self._lanes:
            raise ValueError(f"lane {name!r} is already declared")
        taken = {kind for lane in self._lanes.values() for kind in lane.kinds}
        if doubled := sorted(taken.intersection(kinds)):
            raise ValueError(f"already in another lane: {', '.join(doubled)}")
        lane = Lane(name, slots, tuple(kinds))
        self._lanes[name] = lane
        return lane

    @property
    def lanes(self) -> list[Lane]:
        return list(self._lanes.values())

    def spec(self, kind: str) -> JobSpec:
        try:
            return self._specs[kind]
        except KeyError:
            raise UnknownJobKind(kind) from None

    def __contains__(self, kind: object) -> bool:
        return kind in self._specs

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._specs)

    @property
    def periodic_specs(self) -> list[PeriodicSpec]:
        return list(self._periodic.values())

    async def enqueue(
        self,
        session: AsyncSession,
        *,
        kind: str,
        payload: dict[str, Any],
        run_at: datetime | None = None,
        dedupe_key: str | None = None,
        max_attempts: int | None = None,
        organisation_id: int | None = None,
    ) -> Job | None:
        """`queue.enqueue` for a registered kind, with the kind's `max_attempts` as default."""
        spec = self.spec(kind)
        return await queue.enqueue(
            session,
            kind=kind,
            payload=payload,
            run_at=run_at,
            dedupe_key=dedupe_key,
            max_attempts=spec.max_attempts if max_attempts is None else max_attempts,
            organisation_id=organisation_id,
        )
