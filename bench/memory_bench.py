"""Memory of the bot process: idle, and after thousands of officials onboarded and answered.

The bot runs as its own process, exactly as deployed (`python -m bot.cli run telegram`,
SQLite file), long-polling the fake Bot API of tests/fakes that this script serves on
127.0.0.1. Its resident memory (VmRSS from /proc) is read when idle, then after `--officials`
officials have each redeemed an invitation (/start <code>), opened an item and answered it
(3 updates each). A bare aiogram echo bot, in its own process on the same fake with the same
messages, is the yardstick. Sending is unthrottled for the run (PHIEU_SEND_RATE and the
per-chat budget lifted: the documented benchmark setting), so the run measures what the
process keeps, not Telegram's pacing.

    python3 bench/memory_bench.py [--officials 10000] [--tiny]

Linux only (/proc). `--tiny` (20 officials) is a smoke test, not a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:" + "A" * 35
FIRST_CHAT = 7_000_000
SETTLE = 3.0  # seconds of quiet before a reading


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def echo_child() -> None:
    """The yardstick: aiogram's echo bot, nothing stored."""
    from aiogram import Bot, Dispatcher, Router
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "…")

    async def main() -> None:
        base = os.environ["TELEGRAM_API_BASE"]
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
        dp = Dispatcher()
        dp.include_router(router)
        await dp.start_polling(bot, handle_as_tasks=False)

    asyncio.run(main())


async def prepare(url: str, officials: int) -> list[str]:
    """An agency, an open campaign and one invitation code per official."""
    from bot.invites import hash_code, new_code
    from storage.repository import Storage

    storage = await Storage.open(url)
    codes = [new_code() for _ in range(officials)]
    try:
        async with storage.unit() as unit:
            agency = await unit.add_agency("MEM", "Sở Thông tin và Truyền thông", "so")
            deadline = (datetime.now(UTC) + timedelta(days=30)).date()
            await unit.add_campaign("binh-dinh-2019-so", 1, "bench", deadline)
            expires = datetime.now(UTC) + timedelta(days=14)
            for code in codes:
                await unit.add_invite(hash_code(code), agency.id, "official", 1, expires)
    finally:
        await storage.close()
    return codes


async def quiet(tg: object, seconds: float = SETTLE, limit: float = 3600) -> None:
    """Until every update was taken and no call came for `seconds`."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        calls = len(tg.call_log)  # type: ignore[attr-defined]
        await asyncio.sleep(seconds)
        if calls == len(tg.call_log) and not tg.pending_updates:  # type: ignore[attr-defined]
            return
    raise TimeoutError("the bot did not go quiet")


async def measure(kind: str, officials: int, codes: list[str], tmp: str) -> tuple[float, float]:
    from tests.fakes.telegram_api import FakeTelegram

    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": tg.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/phieu.db",
            "PHIEU_SEND_RATE": "1000000",
            "PHIEU_CHAT_BURST": "1000000",
        }
        if kind == "phieu":
            cmd = [sys.executable, "-m", "bot.cli", "run", "telegram"]
        else:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--echo-child"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        try:
            await tg.wait_for_call("getUpdates", answered=False, timeout=120)
            await quiet(tg)
            idle = rss_mb(proc.pid)
            users = [tg.user(user_id=FIRST_CHAT + i, first_name=f"CB{i}") for i in range(officials)]
            for step in range(3):
                for user, code in zip(users, codes, strict=True):
                    text = (f"/start {code}", "/sua 3.1.a", "10")[step]
                    await user.send_text(text)
                await quiet(tg, 1.0)
            await quiet(tg)
            after = rss_mb(proc.pid)
            assert not tg.violations, tg.violations[:3]
            return idle, after
        finally:
            proc.terminate()
            proc.wait(30)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--officials", type=int, default=10_000)
    parser.add_argument("--tiny", action="store_true", help="20 officials: a smoke test")
    parser.add_argument("--echo-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tiny:
        args.officials = 20
    logging.basicConfig(level=logging.WARNING)
    print(
        f"memory, {args.officials} officials × 3 updates, {datetime.now(UTC):%Y-%m-%d %H:%M} "
        f"UTC, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    rows = []
    for kind in ("echo", "phieu"):
        with tempfile.TemporaryDirectory() as tmp:
            if kind == "phieu":
                codes = await prepare(f"sqlite+aiosqlite:///{tmp}/phieu.db", args.officials)
            else:
                codes = [f"code{i}" for i in range(args.officials)]
            started = time.monotonic()
            idle, after = await measure(kind, args.officials, codes, tmp)
            rows.append((kind, idle, after, time.monotonic() - started))
    print(f"{'process':28} {'idle MB':>8} {'after MB':>9} {'growth MB':>10} {'run s':>6}")
    names = {"echo": "aiogram echo bot", "phieu": "phieu run telegram (SQLite)"}
    for kind, idle, after, secs in rows:
        print(f"{names[kind]:28} {idle:8.1f} {after:9.1f} {after - idle:10.1f} {secs:6.0f}")
    echo_idle, phieu_idle = rows[0][1], rows[1][1]
    print(f"Phiếu idle − echo idle: {phieu_idle - echo_idle:.1f} MB")


if __name__ == "__main__":
    if "--echo-child" in sys.argv:
        echo_child()
    else:
        asyncio.run(main())
