"""Updates per second through Phiếu's real Telegram path, next to a bare aiogram echo bot.

Both bots poll the same kind of local fake Bot API (tests/fakes, every request checked
against the spec) over real HTTP on 127.0.0.1, with the same queued updates. Phiếu's path is
the whole thing: getUpdates → router → service (engine + one SQLite/PostgreSQL transaction
with outbox rows) → outbox worker → sendMessage. The echo bot answers each message with one
sendMessage and stores nothing. The outbox rate limits are lifted for the measurement (they
would otherwise dominate it by design); the figure is processing capacity, not a promise to
exceed Telegram's limits.

    python3 bench/telegram_bench.py [--users 40] [--messages 10] [--postgres-url URL] [--tiny]

`--tiny` runs 3 users × 4 messages: a smoke test that the bench still works (the suite runs
it), not a measurement. The PostgreSQL run uses a throwaway schema, dropped afterwards even
if the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import Message  # noqa: E402

from bot.channels.telegram import CHANNEL, TelegramTransport  # noqa: E402
from bot.service import Phieu, utcnow  # noqa: E402
from bot.telegram_app import make_dispatcher  # noqa: E402
from bot.workers.outbox import OutboxWorker, RateLimiter  # noqa: E402
from storage.repository import Storage  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:" + "A" * 35
SCRIPT = ["/start", "/sua 3.1.a", "10", "5", "20", "1,5", "2", "3", "4", "1"]
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def make_bot(base_url: str) -> Bot:
    return Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))


async def queue_updates(tg: FakeTelegram, users: int, messages: int) -> int:
    people = [tg.user(user_id=5000 + i, first_name=f"CB{i}") for i in range(users)]
    for step in range(messages):
        for person in people:
            await person.send_text(SCRIPT[step % len(SCRIPT)])
    return users * messages


async def wait_until(check, timeout: float = 600.0) -> None:
    deadline = time.perf_counter() + timeout
    while not await check():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark did not finish")
        await asyncio.sleep(0.005)


async def bench_echo(users: int, messages: int) -> float:
    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        total = await queue_updates(tg, users, messages)
        bot = make_bot(tg.base_url)
        router = Router()

        @router.message()
        async def echo(message: Message) -> None:
            await message.answer(message.text or "")

        dp = Dispatcher()
        dp.include_router(router)
        start = time.perf_counter()
        task = asyncio.create_task(
            dp.start_polling(bot, handle_as_tasks=False, handle_signals=False)
        )
        await tg.wait_for_call("sendMessage", count=total, timeout=600)
        elapsed = time.perf_counter() - start
        await dp.stop_polling()
        await task
        await bot.session.close()
        assert not tg.violations, tg.violations
        return total / elapsed


async def prepare(storage: Storage, users: int) -> None:
    async with storage.unit() as unit:
        agency = await unit.add_agency("BENCH", "Sở Thông tin và Truyền thông", "so")
        await unit.add_campaign("binh-dinh-2019-so", 1, "bench", datetime(2026, 11, 26).date())
        for i in range(users):
            user = await unit.add_user(f"CB{i}", agency.id, "official")
            await unit.bind_identity(user.id, CHANNEL, str(5000 + i), f"CB{i}")


async def bench_phieu(url: str, users: int, messages: int, **open_kw: Any) -> tuple[float, float]:
    storage = await Storage.open(url, **open_kw)
    try:
        await prepare(storage, users)
        async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
            total = await queue_updates(tg, users, messages)
            bot = make_bot(tg.base_url)
            dp = make_dispatcher(Phieu(storage))
            worker = OutboxWorker(
                storage,
                {CHANNEL: TelegramTransport(bot)},
                utcnow,
                limiter=RateLimiter(per_second=1e9, chat_interval=1e-9, chat_burst=10**6),
                idle_sleep=0.005,
            )
            stop = asyncio.Event()
            start = time.perf_counter()
            polling = asyncio.create_task(
                dp.start_polling(bot, handle_as_tasks=False, handle_signals=False)
            )
            sending = asyncio.create_task(worker.run(stop))

            async def handled() -> bool:
                async with storage.unit() as unit:
                    return await unit.count_processed(CHANNEL) >= total

            async def delivered() -> bool:
                async with storage.unit() as unit:
                    counts = await unit.outbox_counts()
                return counts["pending"] == 0 and counts["sending"] == 0

            await wait_until(handled)
            intake = time.perf_counter() - start
            await wait_until(delivered)
            full = time.perf_counter() - start
            stop.set()
            await dp.stop_polling()
            await asyncio.gather(polling, sending)
            await bot.session.close()
            assert not tg.violations, tg.violations
            return total / intake, total / full
    finally:
        await storage.close()


async def pg_url_or_none(url: str) -> str | None:
    try:
        storage = await Storage.open(url, migrate=False)
        async with storage.engine.connect():
            pass
        await storage.close()
    except Exception as e:
        print(f"(PostgreSQL skipped: {type(e).__name__}: {e})")
        return None
    return url


async def fresh_pg_schema(url: str) -> str:
    """A throwaway schema so the benchmark never touches real tables."""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    storage = await Storage.open(url, migrate=False)
    async with storage.engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    await storage.close()
    return schema


async def drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    storage = await Storage.open(url, migrate=False)
    async with storage.engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    await storage.close()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--tiny", action="store_true", help="2 users × 2 messages, no PostgreSQL")
    args = parser.parse_args(argv)
    if args.tiny:
        args.users, args.messages = 2, 2
    logging.basicConfig(level=logging.WARNING)
    n = args.users * args.messages
    print(
        f"{n} updates ({args.users} users × {args.messages} messages), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    echo = await bench_echo(args.users, args.messages)
    rows = [("aiogram echo bot (no storage)", echo, echo)]
    with tempfile.TemporaryDirectory() as tmp:
        intake, full = await bench_phieu(
            f"sqlite+aiosqlite:///{tmp}/bench.db", args.users, args.messages
        )
        rows.append(("Phiếu, SQLite", intake, full))
    if not args.tiny and await pg_url_or_none(args.postgres_url):
        schema = await fresh_pg_schema(args.postgres_url)
        try:
            intake, full = await bench_phieu(
                args.postgres_url,
                args.users,
                args.messages,
                connect_args={"server_settings": {"search_path": schema}},
            )
        finally:
            await drop_schema(args.postgres_url, schema)
        rows.append(("Phiếu, PostgreSQL", intake, full))
    print(f"{'path':32} {'handled/s':>10} {'delivered/s':>12} {'÷ echo':>8}")
    for name, handled, delivered in rows:
        print(f"{name:32} {handled:10.1f} {delivered:12.1f} {delivered / echo:8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
