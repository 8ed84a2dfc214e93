"""Answers/s and latency of `Phieu.handle` (engine + one transaction + outbox), and the engine.

An automatic official answers the form the way the prompts teach: the example shown after
"Ví dụ:" for each question, "1" (✅ Đúng) to confirm a computed or doubtful value, the sample
document or link when evidence is asked, "Xong" after one row of an open list, /tiep past a
failed cross-check. When the form is finished a new agency's official starts on a fresh
submission, so the data grows as in a real campaign. Each message is one update: one call,
timed alone with time.perf_counter.

    python3 bench/engine_bench.py [--answers 2000] [--warmup 100] [--postgres-url URL]
                                  [--form binh-dinh-2019-so] [--tiny]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bot.service import Phieu, Sender  # noqa: E402
from flows import engine  # noqa: E402
from flows.loader import builtin_forms  # noqa: E402
from flows.machines import Mode, Status  # noqa: E402
from flows.model import Evidence, Form, ItemType  # noqa: E402
from flows.parsing import example_for  # noqa: E402
from flows.state import Answer, Context, ConversationState, Incoming, Step  # noqa: E402
from storage.models import AnswerRow  # noqa: E402
from storage.repository import Storage  # noqa: E402

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DEADLINE = date(2026, 11, 26)
CHANNEL = "telegram"
EVIDENCE_DOCUMENT = "12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/ke-hoach-2019"
EVIDENCE_LINK = "https://sotttt.binhdinh.gov.vn/tin-tuc"
_ASKING = (Mode.ANSWERING, Mode.CONFIRMING_VALUE, Mode.LIST_MORE, Mode.AWAITING_EVIDENCE)


class Official:
    """Decides the next message from the last step; None when the form is finished."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.errors = 0
        self.checks = 0
        self._failed_on: str | None = None

    def next(self, step: Step) -> str | None:
        state = step.state
        if state.mode not in _ASKING or state.item is None:
            return None
        q = self.form.question(state.item)
        if q is None:
            return None
        if any(r.kind == "check" for r in step.replies):
            self.checks += 1
            return "/tiep"  # "▶ Để sau, tiếp tục": the figures are made up, move on
        if any(r.kind == "error" for r in step.replies):
            self.errors += 1
            if self._failed_on == q.id:
                return "/bo"  # the example did not do twice: skip rather than loop
            self._failed_on = q.id
        else:
            self._failed_on = None
        if state.mode is Mode.CONFIRMING_VALUE:
            return "1"
        if state.mode is Mode.LIST_MORE:
            return "Xong"
        if state.mode is Mode.AWAITING_EVIDENCE:
            return EVIDENCE_DOCUMENT if q.evidence is Evidence.DOCUMENT else EVIDENCE_LINK
        if q.type is ItemType.COMPUTED:
            return "1"
        return example_for(q)


@dataclass
class Result:
    name: str
    latencies: list[float]  # seconds, one per answer
    note: str = ""

    @property
    def per_second(self) -> float:
        return len(self.latencies) / sum(self.latencies)

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000


def context(form: Form) -> Context:
    return Context(
        now=NOW.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")),
        agency_name="Sở Thông tin và Truyền thông",
        deadline=DEADLINE,
        status=Status.DRAFT,
        user_name="Cán bộ đầu mối",
    )


# -- the engine alone --------------------------------------------------------------------------


def bench_engine(form: Form, n: int, warmup: int) -> Result:
    ctx = context(form)
    official = Official(form)
    latencies: list[float] = []
    sessions = 0
    answers: dict[str, Answer] = {}
    state = ConversationState()

    def send(text: str) -> Step:
        nonlocal state
        start = time.perf_counter()
        step = engine.handle(form, answers, state, Incoming(text=text), ctx)
        elapsed = time.perf_counter() - start
        for item, answer in step.changes.items():  # what the caller's transaction stores
            if answer is None:
                answers.pop(item, None)
            else:
                answers[item] = answer
        state = step.state
        latencies.append(elapsed)
        return step

    step = send("/tiep")
    latencies.clear()
    while len(latencies) < warmup + n:
        message = official.next(step)
        if message is None:  # finished: the next agency starts afresh
            sessions += 1
            answers, state = {}, ConversationState()
            step = send("/tiep")
            latencies.pop()
            continue
        step = send(message)
    note = f"{sessions} forms finished, {official.checks} checks, {official.errors} errors"
    return Result("engine only (flows.engine.handle)", latencies[warmup:], note)


# -- the whole path ----------------------------------------------------------------------------


async def bench_service(
    name: str, url: str, form: Form, n: int, warmup: int, **open_kw: Any
) -> Result:
    storage = await Storage.open(url, **open_kw)
    try:
        phieu = Phieu(storage, {form.id: form}, clock=lambda: NOW)
        async with storage.unit() as unit:
            await unit.add_campaign(form.id, form.version, "Bench", DEADLINE)
        official = Official(form)
        latencies: list[float] = []
        sessions = 0
        update = 0

        async def new_official() -> Callable[[str], Awaitable[Step]]:
            async with storage.unit() as unit:
                agency = await unit.add_agency(
                    f"BENCH-{sessions}", "Sở Thông tin và Truyền thông", "so"
                )
                user = await unit.add_user("Cán bộ đầu mối", agency.id, "official")
                chat_id = str(7_000_000 + sessions)
                await unit.bind_identity(user.id, CHANNEL, chat_id, None)
            sender = Sender(chat_id, "bench", "vi")

            async def send(text: str) -> Step:
                nonlocal update
                update += 1
                start = time.perf_counter()
                outcome = await phieu.handle(
                    CHANNEL, chat_id, str(update), Incoming(text=text), sender
                )
                latencies.append(time.perf_counter() - start)
                assert outcome.step is not None, "the official was refused"
                return outcome.step

            return send

        send = await new_official()
        step = await send("/tiep")
        latencies.clear()
        while len(latencies) < warmup + n:
            message = official.next(step)
            if message is None:
                sessions += 1
                send = await new_official()
                step = await send("/tiep")
                latencies.pop()
                continue
            step = await send(message)
        async with storage.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(AnswerRow))).scalar()
        note = f"{sessions} forms finished, {stored} answers stored"
        return Result(name, latencies[warmup:], note)
    finally:
        await storage.close()


async def postgres_schema(url: str) -> tuple[str | None, str]:
    """A throwaway schema (the benchmark never touches real tables), or None and why not."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        storage = await Storage.open(
            url, migrate=False, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
        )
    except Exception as exc:  # a bad URL or a missing driver
        return None, f"{type(exc).__name__}: {exc}"
    try:
        async with storage.engine.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        await storage.close()
    return schema, ""


async def drop_schema(url: str, schema: str) -> None:
    storage = await Storage.open(url, migrate=False, isolation_level="AUTOCOMMIT")
    try:
        async with storage.engine.connect() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await storage.close()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--answers", type=int, default=2000, help="answers timed per path")
    parser.add_argument("--warmup", type=int, default=100, help="answers sent first, not timed")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--form", default="binh-dinh-2019-so")
    parser.add_argument("--tiny", action="store_true", help="20 answers, 5 warm-up")
    args = parser.parse_args(argv)
    if args.tiny:
        args.answers, args.warmup = 20, 5
    form = builtin_forms()[args.form]
    print(
        f"{args.answers} answers per path (+{args.warmup} warm-up), form {form.id}, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )

    results = [bench_engine(form, args.answers, args.warmup)]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        results.append(
            await bench_service("Phieu.handle, SQLite", url, form, args.answers, args.warmup)
        )
    schema, why = await postgres_schema(args.postgres_url)
    if schema is None:
        print(f"(PostgreSQL skipped, unreachable at {args.postgres_url}: {why})")
    else:
        try:
            results.append(
                await bench_service(
                    "Phieu.handle, PostgreSQL",
                    args.postgres_url,
                    form,
                    args.answers,
                    args.warmup,
                    connect_args={"server_settings": {"search_path": schema}},
                )
            )
        finally:
            await drop_schema(args.postgres_url, schema)

    print()
    print(f"{'path':36} {'answers/s':>10} {'p50 ms':>8} {'p99 ms':>8}  notes")
    for r in results:
        print(
            f"{r.name:36} {r.per_second:10.0f} {r.percentile_ms(50):8.2f} "
            f"{r.percentile_ms(99):8.2f}  {r.note}"
        )


if __name__ == "__main__":
    asyncio.run(main())
