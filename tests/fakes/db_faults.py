"""Real database faults for tests and benches: cut PostgreSQL connections, lock a SQLite file.

`PgCutter` terminates server backends with `pg_terminate_backend`, which is what a restart, a
failover or a pooler timeout does to a client, but only the backends whose application_name
is this test's own (other people share the server: never kill their connections).

`CutPoints` decides WHEN: it wraps chosen `Unit` methods (by name) so that the n-th call of
one cuts the connections first; the statement then runs on a dead connection and fails the
way production code would see it (inside a unit, during a mark, during a claim…).

`hold_sqlite_lock` keeps `BEGIN EXCLUSIVE` on a SQLite file from another OS process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage._chat import ChatUnit

# The Unit methods a cut can be put in front of, grouped by the point of a unit they stand for.
POINTS: dict[str, tuple[str, ...]] = {
    "inside-unit": ("lock_conversation",),  # update id recorded, chat not yet locked
    "late-in-unit": ("enqueue_many",),  # answers written, replies being queued
    "claim": ("claim_outbox",),  # after the handler committed, before the send
    "mark": ("mark_sent",),  # message delivered, being marked sent
}


def app_name(prefix: str = "phieu-cut") -> str:
    """A fresh application_name: the only backends a test's cutter may terminate."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class PgCutter:
    """Terminates the PostgreSQL backends carrying one application_name."""

    def __init__(self, url: str, application_name: str) -> None:
        self.application_name = application_name
        self._admin: AsyncEngine = create_async_engine(
            url,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"application_name": f"{application_name}-admin"}},
        )
        self.killed = 0

    async def cut(self) -> int:
        """Terminate this application's backends now; returns how many were cut."""
        async with self._admin.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name = :name"
                ),
                {"name": self.application_name},
            )
            n = len(rows.all())
        self.killed += n
        return n

    async def close(self) -> None:
        await self._admin.dispose()


@dataclass
class CutPoints:
    """Cut before the n-th call (1-based) of a point's methods; records what it did."""

    cut: Callable[[], Any]
    plan: dict[str, set[int]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    done: list[tuple[str, int]] = field(default_factory=list)

    def at(self, point: str, *call_numbers: int) -> CutPoints:
        self.plan.setdefault(point, set()).update(call_numbers)
        return self

    @contextlib.contextmanager
    def installed(self) -> Iterator[CutPoints]:
        """Wrap the methods of every planned point on ChatUnit for the block's duration."""
        saved: list[tuple[str, Any]] = []
        for point in self.plan:
            for name in POINTS[point]:
                original = getattr(ChatUnit, name)
                saved.append((name, original))
                setattr(ChatUnit, name, self._wrap(point, original))
        try:
            yield self
        finally:
            for name, original in reversed(saved):
                setattr(ChatUnit, name, original)

    def _wrap(self, point: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        async def wrapper(unit: Any, *args: Any, **kwargs: Any) -> Any:
            n = self.calls.get(point, 0) + 1
            self.calls[point] = n
            if n in self.plan[point]:
                self.done.append((point, n))
                result = self.cut()
                if asyncio.iscoroutine(result):
                    await result
            return await original(unit, *args, **kwargs)

        return wrapper


_LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
conn.close()
"""


@contextlib.asynccontextmanager
async def hold_sqlite_lock(path: Path, seconds: float) -> AsyncIterator[subprocess.Popen[str]]:
    """Another process holds BEGIN EXCLUSIVE on `path` for `seconds` (starts locked)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    assert line.strip() == "locked", line
    try:
        yield proc
    finally:
        await asyncio.to_thread(proc.wait, seconds + 30)


class TcpProxy:
    """A TCP relay on 127.0.0.1 in front of the database, to take the database away.

    `stop()` closes the listening socket and resets every relayed connection: clients see
    what a server gone down looks like (connection reset, then connection refused), while
    the real PostgreSQL keeps serving everyone else. `start()` listens again on the same
    port. Only this process's connections through the proxy are affected.
    """

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()  # RST, as a dead server's host would answer
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()
                self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
