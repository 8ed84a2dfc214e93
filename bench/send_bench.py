"""The send path from outside, with production settings: latency, messages per answer, a crowd.

Phiếu runs exactly as `phieu run telegram` runs it (`bot.telegram_app.run_polling`, the send
rates of `SendSettings.from_env()`, i.e. the defaults unless PHIEU_* variables are set),
long-polling the local fake Bot API of tests/fakes (every request checked against the
spec) over real HTTP on 127.0.0.1. Officials are scripted users of that fake:

1. one official answering at once: the time from sending an answer to the arrival, at the
   Bot API, of the next question (the bot's first message after the answer that carries
   buttons: questions do, acknowledgements and errors do not); p50 / p99.
2. Bot API messages (sendMessage + editMessageText) per answer in that run.
3. `--crowd` officials (50) answering at once, each sending its next answer as soon as its
   question arrives (zero think time, a closed loop): answers/s for the bot, and p50 / p99
   of the same latency. Little's law fixes that latency: N officials always waiting on a
   bot that sends at most 30 messages/s wait N × messages per answer / 30 s on average,
   whatever the code does; the floor is printed next to the figure.
4. the same crowd as real officials answer: an open-loop load of `--offered` answers/s
   (25, below the 30/s ceiling) for the crowd as a whole, arriving as a Poisson process
   (exponential gaps); each answer is sent by one of the officials whose next question
   has arrived (chosen at random). Achieved answers/s, and p50 / p99 of the same latency.

For each, `cpu ms` is the CPU time this process (bot + fake) spent per answer: on a shared
machine the latencies follow the load, the CPU cost much less.

Memory (RSS of the bot process idle, and after thousands of officials onboarded and
answered, next to a bare aiogram echo bot) is `bench/memory_bench.py`.

    python3 bench/send_bench.py [--answers 200] [--crowd 50] [--rounds 10] [--offered 25]
                                [--seconds 40] [--postgres-url URL | --no-postgres] [--tiny]

`--tiny` is a smoke test (a few answers, 3 officials), not a measurement. PostgreSQL runs
in a throwaway schema that is dropped afterwards, even when the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bot.channels.telegram import CHANNEL  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.service import Phieu  # noqa: E402
from bot.telegram_app import run_polling  # noqa: E402
from storage.repository import Storage  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:" + "A" * 35
# One cycle an official repeats: back to the menu, jump to 3.1.a, answer onwards.
SCRIPT = ["/start", "/sua 3.1.a", "10", "5", "20", "1,5", "2", "3", "4", "1"]
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
FIRST_CHAT = 5000
SENDS = ("sendMessage", "editMessageText")
TELEGRAM_RATE = 30.0  # messages a second per bot, the production default


class Watch:
    """Hands each chat the arrival time of the bot's next message with buttons.

    One task reads the fake's call log once, in order (a cursor, no rescans), and resolves
    the waiting chat's future; the fake's own wake-up signal is used, so nothing polls."""

    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg
        self.cursor = 0
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.messages = 0
        self._task: asyncio.Task[None] | None = None

    def expect(self, chat_id: int) -> asyncio.Future[float]:
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
        log = self.tg.call_log
        while True:
            while self.cursor < len(log):
                call = log[self.cursor]
                self.cursor += 1
                if call.method not in SENDS:
                    continue
                self.messages += 1
                chat = int(call.params.get("chat_id", 0))
                if call.params.get("reply_markup") and chat in self.waiting:
                    future = self.waiting.pop(chat)
                    if not future.done():
                        future.set_result(call.at)
            await self.tg._signal.wait(1.0)  # the fake's notify-on-every-call signal


async def prepare(storage: Storage, officials: int) -> None:
    async with storage.unit() as unit:
        agency = await unit.add_agency("BENCH", "Sở Thông tin và Truyền thông", "so")
        deadline = (datetime.now(UTC) + timedelta(days=30)).date()
        await unit.add_campaign("binh-dinh-2019-so", 1, "bench", deadline)
        for i in range(officials):
            user = await unit.add_user(f"CB{i}", agency.id, "official")
            await unit.bind_identity(user.id, CHANNEL, str(FIRST_CHAT + i), f"CB{i}")


@asynccontextmanager
async def production_bot(storage: Storage, tg: FakeTelegram) -> AsyncIterator[None]:
    """`phieu run telegram` against the fake, stopped on exit. On code without the `stop`
    parameter (before the send path was reworked) the same wiring is assembled by hand."""
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url})
    stop = asyncio.Event()
    if "stop" in inspect.signature(run_polling).parameters:
        task = asyncio.create_task(run_polling(settings, storage, stop=stop))
    else:  # the original code: run_polling minus its signal handling
        from bot.telegram_app import make_bot, make_dispatcher, make_worker, running_worker

        async def original() -> None:
            bot = make_bot(settings)
            dp = make_dispatcher(Phieu(storage))

            async def stopper() -> None:
                await stop.wait()
                await dp.stop_polling()

            watcher = asyncio.create_task(stopper())
            async with running_worker(make_worker(storage, bot)):
                await dp.start_polling(bot, handle_as_tasks=False, handle_signals=False)
            watcher.cancel()
            await bot.session.close()

        task = asyncio.create_task(original())
    await tg.wait_for_call("getUpdates", answered=False, timeout=30)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def official(
    tg: FakeTelegram, watch: Watch, index: int, answers: int, latencies: list[float]
) -> None:
    """Answer `answers` times, each as soon as the previous question arrived."""
    user = tg.user(user_id=FIRST_CHAT + index, first_name=f"CB{index}")
    for n in range(answers):
        arrived = watch.expect(user.chat_id)
        sent_at = time.monotonic()
        await user.send_text(SCRIPT[n % len(SCRIPT)])
        latencies.append(await asyncio.wait_for(arrived, 60) - sent_at)


class Ready:
    """The officials whose next question has arrived, any of whom may answer next."""

    def __init__(self, officials: int, rng: random.Random) -> None:
        self.idle = list(range(officials))
        self.rng = rng
        self.changed = asyncio.Event()

    async def take(self) -> tuple[int, bool]:
        """A random ready official, and whether the answer had to wait for one."""
        waited = not self.idle
        while not self.idle:
            self.changed.clear()
            await self.changed.wait()
        i = self.rng.randrange(len(self.idle))
        self.idle[i], self.idle[-1] = self.idle[-1], self.idle[i]
        return self.idle.pop(), waited

    def back(self, index: int) -> None:
        self.idle.append(index)
        self.changed.set()


async def open_loop(
    tg: FakeTelegram, watch: Watch, officials: int, offered: float, seconds: float, seed: int
) -> tuple[list[float], int, float]:
    """Answers arriving at `offered` a second (Poisson) for `seconds`, each sent by a random
    official whose question has arrived. Returns the latencies, how many arrivals found no
    official ready (they wait for one), and the span from the first answer to the last
    question."""
    rng = random.Random(seed)
    ready = Ready(officials, rng)
    users = [tg.user(user_id=FIRST_CHAT + i, first_name=f"CB{i}") for i in range(officials)]
    turns = [1] * officials  # the warm-up sent SCRIPT[0]
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    deferred = 0

    async def answer(i: int) -> None:
        arrived = watch.expect(users[i].chat_id)
        sent_at = time.monotonic()
        await users[i].send_text(SCRIPT[turns[i] % len(SCRIPT)])
        turns[i] += 1
        latencies.append(await asyncio.wait_for(arrived, 60) - sent_at)
        ready.back(i)

    start = time.monotonic()
    due = start
    while (due := due + rng.expovariate(offered)) < start + seconds:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        i, waited = await ready.take()
        deferred += waited
        task = asyncio.create_task(answer(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return latencies, deferred, time.monotonic() - start


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank] * 1000


async def run(
    url: str,
    officials: int,
    answers: int,
    offered: float = 0.0,
    seconds: float = 0.0,
    **open_kw: Any,
) -> dict[str, float]:
    """`officials` answering at once, `answers` each (zero think time), or, with `offered`,
    an open-loop load of that many answers a second for `seconds`; the first cycle's
    /start is warm-up."""
    storage = await Storage.open(url, **open_kw)
    try:
        await prepare(storage, officials)
        async with (
            FakeTelegram(token=TOKEN, auto_webhook=False) as tg,
            production_bot(storage, tg),
            Watch(tg) as watch,
        ):
            warm: list[float] = []
            await asyncio.gather(*(official(tg, watch, i, 1, warm) for i in range(officials)))
            first = watch.messages
            latencies: list[float] = []
            deferred = 0
            cpu = time.process_time()
            start = time.monotonic()
            if offered:
                latencies, deferred, _span = await open_loop(
                    tg, watch, officials, offered, seconds, seed=officials
                )
            else:
                await asyncio.gather(
                    *(official(tg, watch, i, answers, latencies) for i in range(officials))
                )
            elapsed = time.monotonic() - start
            cpu = time.process_time() - cpu
            await asyncio.sleep(0.3)  # messages after the last question, if any, are counted
            assert not tg.violations, tg.violations[:3]
            return {
                "answers": len(latencies),
                "per_second": len(latencies) / elapsed,
                "p50": pct(latencies, 50),
                "p99": pct(latencies, 99),
                "mean": statistics.fmean(latencies) * 1000,
                "messages": (watch.messages - first) / len(latencies),
                "cpu_ms": cpu / len(latencies) * 1000,
                "deferred": deferred,
            }
    finally:
        await storage.close()


async def reachable(url: str) -> bool:
    try:
        engine = sa.ext.asyncio.create_async_engine(url, connect_args={"timeout": 5})
        async with engine.connect():
            pass
        await engine.dispose()
    except Exception as e:
        print(f"(PostgreSQL skipped: {type(e).__name__}: {e})")
        return False
    return True


@asynccontextmanager
async def pg_schema(url: str) -> AsyncIterator[dict[str, Any]]:
    """A throwaway schema for one run, always dropped."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.ext.asyncio.create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield {"connect_args": {"server_settings": {"search_path": schema}}}
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=200, help="answers of the lone official")
    parser.add_argument("--crowd", type=int, default=50, help="officials answering at once")
    parser.add_argument("--rounds", type=int, default=10, help="answers of each in the crowd")
    parser.add_argument(
        "--offered", type=float, default=25.0, help="answers/s the crowd offers (open loop)"
    )
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the open loop")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="a smoke test, not a measurement")
    args = parser.parse_args(argv)
    if args.tiny:
        args.answers, args.crowd, args.rounds, args.offered, args.seconds = 6, 3, 3, 3.0, 1.5
    logging.basicConfig(level=logging.WARNING)
    send_env = {k: v for k, v in os.environ.items() if k.startswith("PHIEU_")}
    print(
        f"send path, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, settings: {send_env or 'production defaults'}"
    )
    rows = []
    crowd_args = (args.crowd, args.rounds)
    open_args = (args.crowd, 0, args.offered, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        lone = await run(f"sqlite+aiosqlite:///{tmp}/lone.db", 1, args.answers)
        crowd = await run(f"sqlite+aiosqlite:///{tmp}/crowd.db", *crowd_args)
        real = await run(f"sqlite+aiosqlite:///{tmp}/open.db", *open_args)
        rows.append(("SQLite", lone, crowd, real))
    if not args.no_postgres and await reachable(args.postgres_url):
        results = []
        for one in ((1, args.answers), crowd_args, open_args):
            async with pg_schema(args.postgres_url) as kw:
                results.append(await run(args.postgres_url, *one, **kw))
        rows.append(("PostgreSQL", *results))
    report(rows, args.crowd, args.offered)


def report(rows: list[tuple[str, dict[str, float], ...]], crowd: int, offered: float) -> None:
    """Three tables: one official; the zero-think crowd next to its Little's-law floor;
    the open-loop crowd."""
    print(
        f"{'database':10} | {'1 official: p50 ms':>18} {'p99 ms':>7} {'msgs/answer':>11} "
        f"{'cpu ms':>6}"
    )
    for name, lone, *_ in rows:
        print(
            f"{name:10} | {lone['p50']:18.1f} {lone['p99']:7.1f} {lone['messages']:11.2f} "
            f"{lone['cpu_ms']:6.1f}"
        )
    print(
        f"{'database':10} | {crowd} at once, zero think time: {'answers/s':>9} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'mean ms':>7} {'floor ms':>8} {'cpu ms':>6}"
    )
    for name, _, closed, _ in rows:
        # Little's law: N in the loop at X answers/s wait N / X on average; X is at most
        # 30 messages/s ÷ messages per answer.
        floor = crowd * closed["messages"] / TELEGRAM_RATE * 1000
        print(
            f"{name:10} | {'':29}{closed['per_second']:9.1f} {closed['p50']:7.1f} "
            f"{closed['p99']:7.1f} {closed['mean']:7.1f} {floor:8.1f} {closed['cpu_ms']:6.1f}"
        )
    print(
        f"{'database':10} | {crowd} officials, {offered:g} answers/s offered (Poisson): "
        f"{'answers/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'msgs/answer':>11} {'waited':>6} "
        f"{'cpu ms':>6}"
    )
    for name, *_, real in rows:
        print(
            f"{name:10} | {'':42}{real['per_second']:9.1f} {real['p50']:7.1f} "
            f"{real['p99']:7.1f} {real['messages']:11.2f} {real['deferred']:6.0f} "
            f"{real['cpu_ms']:6.1f}"
        )
    print(
        "floor = crowd × msgs/answer ÷ 30 messages/s (Little's law: no code waits less with "
        "zero think time); waited = open-loop answers that found no official ready. cpu ms "
        "= CPU time of this process (bot and fake Bot API together) per answer; load average "
        f"now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )


if __name__ == "__main__":
    asyncio.run(main())
