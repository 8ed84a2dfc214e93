"""The Zalo send path from outside: answer latency, messages per answer, a crowd.

Phiếu runs exactly as `phieu run zalo` runs it (`bot.zalo.app.run_polling`, settings from
the environment, i.e. the defaults unless PHIEU_* variables are set), long-polling the
local fake Zalo Bot API of tests/fakes (every request checked against the contract: one
update per getUpdates, timeout as a string, text 1–2,000 characters) over real HTTP on
127.0.0.1. The same figures as bench/send_bench.py gives for Telegram:

1. one official answering at once: from sending an answer to the arrival, at the API, of
   the next question (the bot's first message after the answer that offers numbered choices
   or typed commands); p50 / p99, and sendMessage calls per answer;
2. `--crowd` officials (50) answering at once, each answering as soon as its question
   arrives: answers/s and p50 / p99 — once at the production send rate
   (PHIEU_ZALO_SEND_RATE, 10 a second by default: Zalo publishes no limit, so Phiếu stays
   modest and this row is the rate, by design), once with the rate lifted (`--lifted`,
   1000/s), which measures the processing capacity of the path.

`cpu ms` is this process's CPU time (bot and fake together) per answer.

    python3 bench/zalo_bench.py [--answers 200] [--crowd 50] [--rounds 10]
                                [--postgres-url URL | --no-postgres] [--tiny]

`--tiny` is a smoke test (a few answers, 3 officials, SQLite only), not a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.send_bench import SCRIPT, pct, pg_schema, reachable  # noqa: E402
from bot.channels.zalo import CHANNEL  # noqa: E402
from bot.workers.pacing import SendSettings  # noqa: E402
from bot.zalo.app import run_polling  # noqa: E402
from bot.zalo.config import load_zalo_settings  # noqa: E402
from storage.repository import Storage  # noqa: E402
from tests.fakes.zalo_api import FakeZalo, text_update  # noqa: E402

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LIFTED = 1000.0


def user_of(i: int) -> str:
    return f"{0xE4EA2CD5189D0000 + i:x}"  # opaque hex ids, as Zalo's


class Watch:
    """Hands each chat the arrival time of the bot's next question (a message with numbered
    choices or the bracketed typed commands); reads the fake's sent list once, in order."""

    def __init__(self, zalo: FakeZalo) -> None:
        self.zalo = zalo
        self.cursor = 0
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.messages = 0
        self._task: asyncio.Task[None] | None = None

    def expect(self, chat_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = future
        return future

    async def __aenter__(self) -> Watch:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _run(self) -> None:
        sent = self.zalo.sent
        while True:
            self.zalo.on_send.clear()
            while self.cursor < len(sent):
                item = sent[self.cursor]
                self.cursor += 1
                self.messages += 1
                text = item.text or ""
                question = text.endswith("]") or "\n1. " in text
                if question and item.chat_id in self.waiting:
                    future = self.waiting.pop(item.chat_id)
                    if not future.done():
                        future.set_result(item.at)
            await self.zalo.on_send.wait()


async def prepare(storage: Storage, officials: int) -> None:
    async with storage.unit() as unit:
        agency = await unit.add_agency("BENCH", "Sở Thông tin và Truyền thông", "so")
        deadline = (datetime.now(UTC) + timedelta(days=30)).date()
        await unit.add_campaign("binh-dinh-2019-so", 1, "bench", deadline)
        for i in range(officials):
            user = await unit.add_user(f"CB{i}", agency.id, "official")
            await unit.bind_identity(user.id, CHANNEL, user_of(i), f"CB{i}")


@asynccontextmanager
async def production_bot(
    storage: Storage, zalo: FakeZalo, tmp: str, rate: float | None
) -> AsyncIterator[None]:
    """`phieu run zalo` against the fake, stopped on exit."""
    env = {**os.environ, "ZALO_BOT_TOKEN": zalo.token, "ZALO_API_BASE": zalo.base_url}
    env["PHIEU_ZALO_MEDIA_DIR"] = f"{tmp}/media"
    if rate is not None:
        env["PHIEU_ZALO_SEND_RATE"] = str(rate)
    settings = load_zalo_settings(env)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_polling(settings, storage, stop=stop, send=SendSettings.from_env(env), poll_timeout=5)
    )
    while not any(m == "getUpdates" for m, _ in zalo.calls):
        if task.done():
            await task
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def official(
    zalo: FakeZalo, watch: Watch, index: int, answers: int, latencies: list[float]
) -> None:
    user = user_of(index)
    for n in range(answers):
        arrived = watch.expect(user)
        sent_at = time.monotonic()
        zalo.push(text_update(user, SCRIPT[n % len(SCRIPT)], name=f"CB{index}"))
        latencies.append(await asyncio.wait_for(arrived, 120) - sent_at)


async def run(
    url: str, officials: int, answers: int, rate: float | None = None, **open_kw: Any
) -> dict[str, float]:
    storage = await Storage.open(url, **open_kw)
    try:
        await prepare(storage, officials)
        with tempfile.TemporaryDirectory() as tmp:
            async with (
                FakeZalo() as zalo,
                production_bot(storage, zalo, tmp, rate),
                Watch(zalo) as watch,
            ):
                warm: list[float] = []
                await asyncio.gather(*(official(zalo, watch, i, 1, warm) for i in range(officials)))
                first = watch.messages
                latencies: list[float] = []
                cpu = time.process_time()
                start = time.monotonic()
                await asyncio.gather(
                    *(official(zalo, watch, i, answers, latencies) for i in range(officials))
                )
                elapsed = time.monotonic() - start
                cpu = time.process_time() - cpu
                await asyncio.sleep(0.3)
                assert not zalo.violations, zalo.violations[:3]
                return {
                    "per_second": len(latencies) / elapsed,
                    "p50": pct(latencies, 50),
                    "p99": pct(latencies, 99),
                    "mean": statistics.fmean(latencies) * 1000,
                    "messages": (watch.messages - first) / len(latencies),
                    "cpu_ms": cpu / len(latencies) * 1000,
                }
    finally:
        await storage.close()


async def measure_sqlite(tmp: str, args: argparse.Namespace) -> list[dict[str, float]]:
    """Lone official, crowd at the production rate, crowd with the rate lifted: each on a
    fresh database file."""
    db = f"sqlite+aiosqlite:///{tmp}"
    return [
        await run(f"{db}/lone.db", 1, args.answers),
        await run(f"{db}/crowd.db", args.crowd, args.rounds),
        await run(f"{db}/lifted.db", args.crowd, args.rounds, rate=LIFTED),
    ]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=200, help="answers of the lone official")
    parser.add_argument("--crowd", type=int, default=50, help="officials answering at once")
    parser.add_argument("--rounds", type=int, default=10, help="answers of each in the crowd")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="a smoke test, not a measurement")
    args = parser.parse_args(argv)
    if args.tiny:
        args.answers, args.crowd, args.rounds, args.no_postgres = 6, 3, 3, True
    logging.basicConfig(level=logging.WARNING)
    send_env = {k: v for k, v in os.environ.items() if k.startswith("PHIEU_")}
    print(
        f"Zalo send path, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, settings: {send_env or 'production defaults'}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite", await measure_sqlite(tmp, args)))
    if not args.no_postgres and await reachable(args.postgres_url):
        results = []
        for rate in (None, None, LIFTED):
            async with pg_schema(args.postgres_url) as kw:
                n, rounds = (1, args.answers) if not results else (args.crowd, args.rounds)
                results.append(await run(args.postgres_url, n, rounds, rate=rate, **kw))
        rows.append(("PostgreSQL", results))
    print(
        f"{'database':10} | {'1 official: p50 ms':>18} {'p99 ms':>7} {'msgs/answer':>11} "
        f"{'cpu ms':>6} | {args.crowd} at once, production rate: {'answers/s':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} | rate lifted: {'answers/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'cpu ms':>6}"
    )
    for name, (lone, crowd, lifted) in rows:
        print(
            f"{name:10} | {lone['p50']:18.1f} {lone['p99']:7.1f} {lone['messages']:11.2f} "
            f"{lone['cpu_ms']:6.1f} | {'':27}{crowd['per_second']:9.1f} {crowd['p50']:7.1f} "
            f"{crowd['p99']:7.1f} | {'':13}{lifted['per_second']:9.1f} {lifted['p50']:7.1f} "
            f"{lifted['p99']:7.1f} {lifted['cpu_ms']:6.1f}"
        )
    print(
        "Zalo hands out one update per getUpdates; the next poll goes out while updates are "
        "handled (one chat in order). The production-rate row is PHIEU_ZALO_SEND_RATE at "
        "work. Load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )


if __name__ == "__main__":
    asyncio.run(main())
