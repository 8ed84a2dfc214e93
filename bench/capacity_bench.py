"""Raw capacity of one process: updates/s through `Phieu.handle` with many chats at once.

Many officials (one chat and one agency each) answer the real form at the same time, as the
prompts teach (the automatic official of engine_bench.py). Every update is the whole service
path — update id, chat lock, identity, campaign, submission, answers, engine, answers with
history, state, outbox rows, commit — on SQLite and on PostgreSQL, in one process, with no
send path and no rate limit: what is measured is how many updates one process can store.

Printed per database: updates/s (all updates over the wall time), p50/p99 latency of one
update (queueing for the database included), SQL statements per update, commits per update
and driver calls per update (each one a thread hop on aiosqlite — only BEGIN and COMMIT since
statements run inline, storage/database.py —, a round trip on asyncpg).

    python3 bench/capacity_bench.py [--chats 50] [--messages 40] [--postgres-url URL]
    python3 bench/capacity_bench.py --profile sqlite     # pyinstrument of the same run
    python3 bench/capacity_bench.py --tiny               # a few updates (the test suite)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_bench import (  # noqa: E402
    CHANNEL,
    DEADLINE,
    DEFAULT_PG,
    NOW,
    Official,
    drop_schema,
    postgres_schema,
)
from sqlalchemy import event  # noqa: E402

from bot.service import Phieu, Sender  # noqa: E402
from flows.loader import builtin_forms  # noqa: E402
from flows.model import Form  # noqa: E402
from flows.state import Incoming, Step  # noqa: E402
from storage.repository import Storage  # noqa: E402


@dataclass
class Counters:
    """What the database saw while the clock ran."""

    statements: int = 0
    commits: int = 0
    driver_calls: int = 0
    engine_cpu: float = 0.0  # seconds of the main thread inside flows.engine.handle
    on: bool = False

    def attach(self, storage: Storage) -> None:
        sync = storage.engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _statement(*_: Any) -> None:
            if self.on:
                self.statements += 1

        @event.listens_for(sync, "commit")
        def _commit(*_: Any) -> None:
            if self.on:
                self.commits += 1


@contextlib.contextmanager
def engine_time(counters: Counters) -> Iterator[None]:
    """Add up the CPU time of the pure engine: the yardstick the storage cost is read against.

    The machine's load changes every figure; the engine's own time changes with it, so
    "one update costs N × the engine" holds from a busy machine to an idle one.
    """
    import bot.service as service

    original = service.engine.handle

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            if counters.on:
                counters.engine_cpu += time.thread_time() - start

    service.engine.handle = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        service.engine.handle = original  # type: ignore[assignment]


@contextlib.contextmanager
def driver_calls(counters: Counters, backend: str) -> Iterator[None]:
    """Count calls that leave the event loop: aiosqlite's thread hops, asyncpg's requests.

    aiosqlite runs every call (execute, fetch, commit, cursor close…) on its own thread and
    wakes the loop with the result; asyncpg sends a request and awaits the server's reply.
    """
    if backend == "sqlite":
        import aiosqlite.core as core

        owner: Any = core.Connection
        name = "_execute"
    else:
        from sqlalchemy.dialects.postgresql import asyncpg as dialect

        owner = dialect.AsyncAdapt_asyncpg_cursor
        name = "_prepare_and_execute"
    original = getattr(owner, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        if counters.on:
            counters.driver_calls += 1
        return await original(*args, **kwargs)

    setattr(owner, name, counted)
    try:
        yield
    finally:
        setattr(owner, name, original)


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    cpu_seconds: float = 0.0  # this process's CPU time (all threads: aiosqlite's included)
    note: str = ""

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    def row(self) -> str:
        n = max(self.updates, 1)
        c = self.counters
        return (
            f"{self.name:12} {self.updates / self.seconds:9.0f} {self.percentile_ms(50):8.1f} "
            f"{self.percentile_ms(99):8.1f} {c.statements / n:8.2f} {c.commits / n:8.2f} "
            f"{c.driver_calls / n:8.2f} {self.cpu_seconds * 1000 / n:8.2f} "
            f"{c.engine_cpu * 1000 / n:8.2f} {self.cpu_seconds / max(c.engine_cpu, 1e-9):7.1f}"
            f"  {self.note}"
        )


async def prepare(storage: Storage, form: Form, chats: int) -> list[str]:
    """One campaign, and per chat an agency, its official and the official's identity."""
    async with storage.unit() as unit:
        await unit.add_campaign(form.id, form.version, "Capacity", DEADLINE)
        chat_ids = []
        for i in range(chats):
            agency = await unit.add_agency(f"CAP-{i}", f"Cơ quan {i}", "so")
            user = await unit.add_user(f"Cán bộ {i}", agency.id, "official")
            chat_id = str(8_000_000 + i)
            await unit.bind_identity(user.id, CHANNEL, chat_id, None)
            chat_ids.append(chat_id)
    return chat_ids


async def run(
    name: str, url: str, form: Form, chats: int, messages: int, warmup: int, **open_kw: Any
) -> Result:
    """`chats` officials at once, each sending `warmup` untimed then `messages` timed updates."""
    storage = await Storage.open(url, **open_kw)
    counters = Counters()
    counters.attach(storage)
    try:
        phieu = Phieu(storage, {form.id: form}, clock=lambda: NOW)
        chat_ids = await prepare(storage, form, chats)
        latencies: list[float] = []
        next_update = iter(range(1, 10**9))
        finished = 0
        warm = asyncio.Barrier(chats + 1)
        go = asyncio.Event()

        async def official(chat_id: str) -> None:
            nonlocal finished
            driver = Official(form)
            sender = Sender(chat_id, "bench", "vi")

            async def send(text: str, timed: bool) -> Step:
                start = time.perf_counter()
                outcome = await phieu.handle(
                    CHANNEL, chat_id, str(next(next_update)), Incoming(text=text), sender
                )
                if timed:
                    latencies.append(time.perf_counter() - start)
                assert outcome.step is not None, "the official was refused"
                return outcome.step

            step = await send("/tiep", False)
            for i in range(warmup + messages):
                if i == warmup:
                    await warm.wait()
                    await go.wait()
                text = driver.next(step)
                if text is None:  # finished: start over on the same submission
                    finished += 1
                    text = "/tiep"
                step = await send(text, i >= warmup)

        with driver_calls(counters, storage.engine.dialect.name), engine_time(counters):
            tasks = [asyncio.create_task(official(c)) for c in chat_ids]
            await warm.wait()
            counters.on = True
            start, cpu = time.perf_counter(), time.process_time()
            go.set()
            await asyncio.gather(*tasks)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            counters.on = False
        note = f"{chats} chats × {messages} updates, {finished} forms finished"
        return Result(name, len(latencies), elapsed, latencies, counters, cpu, note)
    finally:
        await storage.close()


BREAKDOWN = (
    "mark_processed",
    "lock_conversation",
    "standing",
    "identity",
    "open_campaign_for_form_ids",
    "submission",
    "load_answers",
    "apply_changes",
    "move_submission",
    "save_conversation",
    "save_position",
    "set_user_lang",
    "enqueue_many",
    "enqueue",
)


@contextlib.contextmanager
def breakdown(table: dict[str, list[float]]) -> Iterator[None]:
    """Time (wall, CPU of the whole process) spent in each Unit call, the engine, the unit.

    Only meaningful with one chat: then nothing else runs while a call is awaited, so the
    process's CPU time in between (aiosqlite's thread included) belongs to that call.
    """
    import bot.service as service
    import storage.repository as repository

    patched: list[tuple[Any, str, Any]] = []

    def timed(owner: Any, name: str, label: str, is_async: bool) -> None:
        original = getattr(owner, name)
        cell = table.setdefault(label, [0.0, 0.0, 0])

        def add(wall: float, cpu: float) -> None:
            cell[0] += wall
            cell[1] += cpu
            cell[2] += 1

        if is_async:

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                w, c = time.perf_counter(), time.process_time()
                try:
                    return await original(*args, **kwargs)
                finally:
                    add(time.perf_counter() - w, time.process_time() - c)

        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                w, c = time.perf_counter(), time.process_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    add(time.perf_counter() - w, time.process_time() - c)

        patched.append((owner, name, original))
        setattr(owner, name, wrapper)

    for name in BREAKDOWN:
        if hasattr(repository.Unit, name):  # older code: not every method exists
            timed(repository.Unit, name, f"unit.{name}", True)
    timed(service.engine, "handle", "engine.handle (pure)", False)
    timed(service.Phieu, "handle", "Phieu.handle (whole update)", True)
    try:
        yield
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def print_breakdown(table: dict[str, list[float]], updates: int) -> None:
    whole = table.get("Phieu.handle (whole update)", [0.0, 0.0, 0])
    parts_wall = sum(v[0] for k, v in table.items() if not k.startswith("Phieu"))
    parts_cpu = sum(v[1] for k, v in table.items() if not k.startswith("Phieu"))
    rows = [(k, v) for k, v in table.items() if v[2] and not k.startswith("Phieu")]
    rows.append(("begin, commit, service code", [whole[0] - parts_wall, whole[1] - parts_cpu, 0]))
    rows.append(("Phieu.handle (whole update)", whole))
    print(f"\n{'per update':34} {'calls':>6} {'wall ms':>8} {'cpu ms':>8}")
    for label, (wall, cpu, calls) in rows:
        print(
            f"{label:34} {calls / updates:6.2f} {wall * 1000 / updates:8.3f} "
            f"{cpu * 1000 / updates:8.3f}"
        )


async def run_backend(backend: str, args: argparse.Namespace, form: Form) -> Result | None:
    sizes = (args.chats, args.messages, args.warmup)
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            return await run("SQLite", f"sqlite+aiosqlite:///{tmp}/capacity.db", form, *sizes)
    schema, why = await postgres_schema(args.postgres_url)
    if schema is None:
        print(f"(PostgreSQL skipped, unreachable at {args.postgres_url}: {why})")
        return None
    try:
        return await run(
            "PostgreSQL",
            args.postgres_url,
            form,
            *sizes,
            connect_args={"server_settings": {"search_path": schema}},
        )
    finally:
        await drop_schema(args.postgres_url, schema)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--chats", type=int, default=50, help="officials answering at once")
    parser.add_argument("--messages", type=int, default=40, help="timed updates per chat")
    parser.add_argument("--warmup", type=int, default=5, help="untimed updates per chat first")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--form", default="binh-dinh-2019-so")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    parser.add_argument(
        "--profile", choices=("sqlite", "postgresql"), help="pyinstrument one database's run"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="one chat; wall and CPU time of each storage call, the engine, the rest",
    )
    parser.add_argument("--tiny", action="store_true", help="3 chats × 3 updates (tests)")
    args = parser.parse_args(argv)
    if args.breakdown:
        args.chats = 1
    if args.tiny:
        args.chats, args.messages, args.warmup = 3, 3, 1
    if args.chats < 1 or args.messages < 1 or args.warmup < 0:
        parser.error("--chats and --messages must be at least 1, --warmup at least 0")
    form = builtin_forms()[args.form]
    backends = ["sqlite", "postgresql"]
    if args.only or args.profile:
        backends = [args.only or args.profile]
    print(
        f"{args.chats} chats × {args.messages} updates (+{args.warmup} warm-up each), "
        f"form {form.id}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    results = []
    for backend in backends:
        profiler = None
        if args.profile:
            from pyinstrument import Profiler  # a bench-only tool: pip install pyinstrument

            profiler = Profiler(async_mode="enabled")
            profiler.start()
        table: dict[str, list[float]] = {}
        with breakdown(table) if args.breakdown else contextlib.nullcontext():
            result = await run_backend(backend, args, form)
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        if result is not None:
            results.append(result)
            if args.breakdown:
                print_breakdown(table, result.updates + args.chats * (args.warmup + 1))
    print()
    print(
        f"{'database':12} {'updates/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'stmts/u':>8} "
        f"{'commit/u':>8} {'calls/u':>8} {'cpu ms/u':>8} {'eng ms/u':>8} {'÷ eng':>7}  notes"
    )
    for r in results:
        print(r.row())


if __name__ == "__main__":
    asyncio.run(main())
