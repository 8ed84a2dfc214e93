"""One policy for transient database errors: which errors, how a unit of work is retried.

Transient = the same unit, run again a moment later, can succeed: the connection was lost
(PostgreSQL restart, failover, a pooler or `pg_terminate_backend` cutting it, the server not
reachable yet), the server refused to serialise (serialization failure, deadlock), or SQLite's
file is held by another process ("database is locked"/busy after the busy timeout). Anything
else (a constraint, a bug, bad SQL) is not retried: running it again gives the same error.

Retrying is safe because a unit is one transaction that is either all kept or all dropped,
and every update's id is recorded in the same transaction as its effects: when a connection
is lost during COMMIT and the commit did happen, the retry finds the id and changes nothing
(see bot/service.py). `retrying` runs the WHOLE unit again (never the failed statement alone)
with exponential backoff and jitter, for a bounded time or, where giving up would lose an
update (polling, the console, a delivered row's sent mark), until the database is back.

While the database stays down the process says so in ONE log line per `report_every`
seconds (`Outage`), not one per attempt, and once more when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("storage.retry")

T = TypeVar("T")

# PostgreSQL SQLSTATEs worth a retry of the whole transaction (PostgreSQL manual, Appendix A):
# class 08 connection exception; 40001 serialization_failure; 40P01 deadlock_detected;
# 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, failover);
# 53300 too_many_connections (a pooler or server full for a moment).
_PG_RETRY_STATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03", "53300"})
_PG_RETRY_CLASSES = ("08",)
# SQLite result codes: SQLITE_BUSY (5), SQLITE_LOCKED (6); extended codes keep them in the low byte.
_SQLITE_BUSY_CODES = frozenset({5, 6})
_SQLITE_BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")
# OSErrors about a local file, not the network: retrying changes nothing.
_LOCAL_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
# asyncpg's client-side signs of a connection that is gone (no SQLSTATE attached).
_LOST_WORDS = ("connection is closed", "connection was closed", "connection reset")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and SQLAlchemy's `.orig`, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo.extend([e.__cause__, e.__context__, getattr(e, "orig", None)])
    return seen


def is_transient(exc: BaseException) -> bool:
    """True if running the whole unit of work again may succeed (see the module doc)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    for e in _chain(exc):
        if isinstance(e, PoolTimeout | ConnectionError | TimeoutError):
            return True
        if isinstance(e, OSError) and not isinstance(e, _LOCAL_OS_ERRORS):
            return True  # connect refused / host unreachable while the server is down
        state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(state, str) and (
            state in _PG_RETRY_STATES or state.startswith(_PG_RETRY_CLASSES)
        ):
            return True
        if isinstance(e, sqlite3.OperationalError):
            code = getattr(e, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_BUSY_CODES:
                return True
            if any(w in str(e).lower() for w in _SQLITE_BUSY_WORDS):
                return True
        type_name = type(e).__name__
        if type_name in ("ConnectionDoesNotExistError", "InterfaceError", "OperationalError") and (
            any(w in str(e).lower() for w in _LOST_WORDS + _SQLITE_BUSY_WORDS)
        ):
            return True
    return False


class Outage:
    """Says that the database is unreachable once per `report_every` seconds, process-wide.

    Every failed attempt calls `failed`, every success `ok`; only the first failure of an
    outage, then one line per interval, then one "back" line are logged.
    """

    def __init__(self, report_every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.report_every = report_every
        self.clock = clock
        self.since: float | None = None
        self._last_report = float("-inf")
        self.failures = 0
        self.reports = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, what: str, exc: BaseException) -> None:
        now = self.clock()
        self.failures += 1
        if self.since is None:
            self.since = now
        if now - self._last_report >= self.report_every:
            self._last_report = now
            self.reports += 1
            log.warning(
                "database unavailable for %.0fs (%s: %s); retrying",
                now - self.since,
                what,
                _short(exc),
            )

    def ok(self) -> None:
        if self.since is not None:
            log.warning("database back after %.1fs", self.clock() - self.since)
            self.since = None
            self._last_report = float("-inf")


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


OUTAGE = Outage()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for transient errors: first_delay·2ⁿ capped at max_delay, with jitter.

    `budget` is the longest time (seconds) spent retrying one unit before its last error
    is raised; None means until the database is back (for work that must not be dropped).
    """

    first_delay: float = 0.05
    max_delay: float = 2.0
    budget: float | None = 30.0

    def forever(self) -> RetryPolicy:
        return replace(self, budget=None)

    def bounded(self, seconds: float) -> RetryPolicy:
        return replace(self, budget=seconds)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        "Equal jitter": half the exponential step is fixed, half random, so processes that
        lost the database together do not come back in lockstep.
        """
        step = min(self.max_delay, self.first_delay * 2 ** max(attempt - 1, 0))
        return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not secrecy


DEFAULT_POLICY = RetryPolicy()


async def retrying(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    on_retry: Callable[[int, BaseException], object] | None = None,
    outage: Outage | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `work()` (one whole unit of work) until it returns or fails for good.

    A transient error (is_transient) waits policy.delay(n) and runs it again, until
    policy.budget seconds have passed since the first attempt; then, or on any other
    error, the error is raised. `on_retry(attempt, error)` is called before each wait
    (the console tells the official it is reconnecting). `what` names the unit in logs.
    """
    outage = outage or OUTAGE
    started = clock()
    attempt = 0
    while True:
        try:
            result = await work()
        except Exception as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            outage.failed(what, exc)
            if policy.budget is not None and clock() - started >= policy.budget:
                log.error("%s: database still unavailable after %d attempts", what, attempt)
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            await sleep(policy.delay(attempt))
            continue
        outage.ok()
        return result
