"""The transient-error policy: what is retried, for how long, and what the log says."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg.exceptions as pg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from storage.retry import Outage, RetryPolicy, is_transient, retrying


def wrapped(orig: BaseException, cls: type[DBAPIError] = OperationalError) -> DBAPIError:
    """As SQLAlchemy raises it: the driver's error as `.orig` and as the cause."""
    try:
        try:
            raise orig
        except BaseException as e:
            raise cls("SELECT 1", {}, e) from e
    except DBAPIError as outer:
        return outer


def sqlite_error(message: str, code: int | None) -> sqlite3.OperationalError:
    e = sqlite3.OperationalError(message)
    if code is not None:
        e.sqlite_errorcode = code  # type: ignore[attr-defined]
    return e


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(pg.ConnectionDoesNotExistError("connection was closed in the middle")),
        wrapped(pg.AdminShutdownError("terminating connection due to administrator command")),
        wrapped(pg.CannotConnectNowError("the database system is starting up")),
        wrapped(pg.SerializationError("could not serialize access")),
        wrapped(pg.DeadlockDetectedError("deadlock detected"), DBAPIError),
        wrapped(pg.TooManyConnectionsError("sorry, too many clients already")),
        wrapped(pg.ConnectionFailureError("connection failure")),
        wrapped(ConnectionResetError(104, "Connection reset by peer")),
        wrapped(pg.InterfaceError("cannot call Connection.fetch(): connection is closed")),
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),
        PoolTimeout("QueuePool limit of size 5 overflow 10 reached"),
        wrapped(sqlite_error("database is locked", 5)),
        wrapped(sqlite_error("database is locked", None)),
        wrapped(sqlite_error("database table is locked", 6)),
        wrapped(sqlite_error("database is busy", 517)),  # SQLITE_BUSY_SNAPSHOT
    ],
    ids=lambda e: type(e).__name__ + ":" + str(getattr(e, "orig", e))[:30],
)
def test_transient_errors_are_retried(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(pg.UniqueViolationError("duplicate key"), IntegrityError),
        wrapped(pg.UndefinedTableError('relation "x" does not exist'), ProgrammingError),
        wrapped(sqlite_error("no such table: outbox", 1)),
        wrapped(sqlite_error("unable to open database file", 14)),
        FileNotFoundError(2, "No such file", "/nope/phieu.db"),
        PermissionError(13, "Permission denied"),
        ValueError("bug"),
        RuntimeError("submission kept moving; giving up"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors_are_not_retried(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_invalidated_connection_is_transient_whatever_the_driver_said() -> None:
    exc = wrapped(RuntimeError("odd driver message"))
    exc.connection_invalidated = True
    assert is_transient(exc)


@given(attempt=st.integers(min_value=1, max_value=60))
def test_backoff_grows_is_capped_and_jittered(attempt: int) -> None:
    policy = RetryPolicy(first_delay=0.05, max_delay=2.0)
    step = min(2.0, 0.05 * 2 ** (attempt - 1))
    assert step / 2 <= policy.delay(attempt) <= step


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


LOST = wrapped(pg.ConnectionDoesNotExistError("connection was closed in the middle"))


async def test_unit_retried_until_it_succeeds() -> None:
    t = FakeTime()
    failures = [LOST, LOST, LOST]
    seen: list[int] = []

    async def work() -> str:
        if failures:
            raise failures.pop()
        return "done"

    result = await retrying(
        work,
        what="t",
        on_retry=lambda n, _: seen.append(n),
        outage=Outage(clock=t.clock),
        sleep=t.sleep,
        clock=t.clock,
    )
    assert result == "done" and seen == [1, 2, 3] and len(t.sleeps) == 3


async def test_bounded_budget_raises_the_last_error() -> None:
    t = FakeTime()

    async def work() -> None:
        raise LOST

    with pytest.raises(OperationalError):
        await retrying(
            work,
            what="t",
            policy=RetryPolicy(budget=5.0),
            outage=Outage(clock=t.clock),
            sleep=t.sleep,
            clock=t.clock,
        )
    assert 5.0 <= t.now <= 5.0 + 2.0


async def test_forever_keeps_trying_past_any_budget() -> None:
    t = FakeTime()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        if t.now < 600:  # ten minutes down
            raise LOST
        return calls

    result = await retrying(
        work,
        what="t",
        policy=RetryPolicy(budget=1.0).forever(),
        outage=Outage(clock=t.clock),
        sleep=t.sleep,
        clock=t.clock,
    )
    assert result > 300  # capped backoff: about one attempt a second, never given up


async def test_permanent_error_is_raised_at_once() -> None:
    t = FakeTime()

    async def work() -> None:
        raise wrapped(pg.UniqueViolationError("duplicate key"), IntegrityError)

    with pytest.raises(IntegrityError):
        await retrying(work, what="t", outage=Outage(clock=t.clock), sleep=t.sleep, clock=t.clock)
    assert t.sleeps == []


async def test_one_log_line_per_interval_not_per_attempt(caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    outage = Outage(report_every=10.0, clock=t.clock)

    async def work() -> str:
        if t.now < 35:
            raise LOST
        return "ok"

    with caplog.at_level(logging.WARNING, logger="storage.retry"):
        await retrying(
            work,
            what="update telegram/1",
            policy=RetryPolicy().forever(),
            outage=outage,
            sleep=t.sleep,
            clock=t.clock,
        )
    lines = [r.getMessage() for r in caplog.records]
    down = [m for m in lines if m.startswith("database unavailable")]
    assert outage.failures > 20  # many attempts…
    assert len(down) == 4  # …one line at 0, 10, 20, 30 s
    assert "ConnectionDoesNotExist" in down[0] or "OperationalError" in down[0]
    assert lines[-1].startswith("database back after")
    assert not outage.down
