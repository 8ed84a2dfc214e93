"""Cut PostgreSQL connections under `phieu run telegram` (polling) and count what is lost.

The bot is the production `run_polling` (router → service → outbox worker → sendMessage)
against the fake Bot API of tests/fakes on 127.0.0.1, on a throwaway PostgreSQL schema.
Officials send messages; `--cuts` times the bot's connections are terminated with
`pg_terminate_backend` (only this run's application_name), at points taken in turn: inside a
unit (update id recorded, chat not locked yet), late in a unit (replies being queued), while
the worker claims rows (between commit and send), and while it marks a delivered row sent.

At the end the worker's clock jumps two minutes ahead, so a row left "sending" by a lost mark
is resent exactly as it would be after its lease ran out. Printed figures:

- updates dropped: updates Telegram considers handled (getUpdates moved past them) that
  were never applied (no processed-update row);
- replies lost: queued replies never delivered;
- duplicates sent: sendMessage calls beyond one per queued reply.

    python3 bench/db_cuts.py [--cuts 20] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

import bot.telegram_app as telegram_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from storage.models import Outbox  # noqa: E402
from storage.repository import Storage  # noqa: E402
from tests.fakes.db_faults import POINTS, CutPoints, PgCutter, app_name  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:" + "A" * 35
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCRIPT = ["/start", "/xem"]
CHANNEL = "telegram"


class SkewedClock:
    """UTC now, plus a skew the bench moves forward to expire the outbox leases."""

    def __init__(self) -> None:
        self.skew = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skew


def plan_cuts(cuts: int, updates: int) -> CutPoints:
    """`cuts` cuts spread over the four points in turn, at distinct call numbers."""
    points = list(POINTS)
    plan = CutPoints(cut=lambda: None)
    for i in range(cuts):
        point = points[i % len(points)]
        nth = i // len(points)
        # Spread over the run: the k-th cut of a point hits call 1 + k * stride.
        stride = max(updates // max(cuts // len(points), 1), 1) if point != "mark" else 2
        plan.at(point, 1 + nth * stride)
    return plan


async def seed(storage: Storage, users: int) -> None:
    async with storage.unit() as unit:
        agency = await unit.add_agency("CUTS", "Sở Thông tin và Truyền thông", "so")
        await unit.add_campaign("binh-dinh-2019-so", 1, "cuts", date.today() + timedelta(days=30))
        for i in range(users):
            user = await unit.add_user(f"CB{i}", agency.id, "official")
            await unit.bind_identity(user.id, CHANNEL, str(7000 + i), f"CB{i}")


async def settle(check: Any, quiet: float, timeout: float) -> None:
    """Wait until `check()` stays True for `quiet` seconds (or `timeout` passes)."""
    end = time.monotonic() + timeout
    since: float | None = None
    while time.monotonic() < end:
        if await check():
            since = since or time.monotonic()
            if time.monotonic() - since >= quiet:
                return
        else:
            since = None
        await asyncio.sleep(0.2)


async def run(url: str, cuts: int, users: int) -> dict[str, int]:
    schema = f"cuts_{int(time.time() * 1000)}"
    admin = sa.ext.asyncio.create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    name = app_name("phieu-bench-cuts")
    cutter = PgCutter(url, name)
    storage = await Storage.open(
        url,
        connect_args={"server_settings": {"search_path": schema, "application_name": name}},
    )
    # The bench's own look-ups go through another engine, never cut.
    observer = await Storage.open(
        url,
        migrate=False,
        connect_args={"server_settings": {"search_path": schema, "application_name": "observer"}},
    )
    clock = SkewedClock()
    saved_now = telegram_app.utcnow
    telegram_app.utcnow = clock  # the worker's clock (leases, retries)
    try:
        await seed(storage, users)
        async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
            people = [tg.user(7000 + i, f"CB{i}") for i in range(users)]
            updates: list[int] = []
            for text in SCRIPT:
                for person in people:
                    updates.append(int((await person.send_text(text))["update_id"]))
            settings = load_settings(
                {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url}
            )
            plan = plan_cuts(cuts, len(updates))
            plan.cut = cutter.cut
            with plan.installed():
                task = asyncio.create_task(telegram_app.run_polling(settings, storage))

                async def confirmed() -> bool:
                    polls = [c for c in tg.call_log if c.method == "getUpdates"]
                    return any(int(c.params.get("offset") or 0) > updates[-1] for c in polls)

                async def quiet() -> bool:
                    async with observer.unit() as unit:
                        counts = await unit.outbox_counts()
                    return await confirmed() and counts["pending"] == 0

                await settle(quiet, quiet=2.0, timeout=120)
                clock.skew = timedelta(minutes=2)  # leases of rows left "sending" run out
                await settle(quiet, quiet=3.0, timeout=60)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            async with observer.unit() as unit:
                processed = await unit.count_processed(CHANNEL)
                rows = (await unit._exec(sa.select(Outbox.chat_id, Outbox.payload))).all()
            queued = Counter((str(r.chat_id), r.payload.get("text")) for r in rows)
            sent = Counter(
                (str(c.params.get("chat_id")), c.params.get("text"))
                for c in tg.call_log
                if c.method == "sendMessage" and c.status == 200
            )
            return {
                "updates": len(updates),
                "cuts planned": cuts,
                "cuts made": len(plan.done),
                "updates dropped": len(updates) - processed,
                "replies queued": sum(queued.values()),
                "replies lost": sum((queued - sent).values()),
                "duplicates sent": sum((sent - queued).values()),
            }
    finally:
        telegram_app.utcnow = saved_now
        await storage.close()
        await observer.close()
        await cutter.close()
        for _ in range(5):  # a DROP can deadlock with other sessions' catalogue work
            try:
                async with admin.connect() as conn:
                    await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                break
            except sa.exc.DBAPIError:
                await asyncio.sleep(0.5)
        await admin.dispose()


async def main(argv: list[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cuts", type=int, default=20)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument(
        "--tiny", action="store_true", help="4 cuts, 4 officials (the test of benches)"
    )
    args = parser.parse_args(argv)
    if args.tiny:
        args.cuts, args.users = 4, 4
    logging.basicConfig(level=logging.CRITICAL)
    started = time.monotonic()
    figures = await run(args.postgres_url, args.cuts, args.users)
    print(f"db_cuts: polling on PostgreSQL, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for key, value in figures.items():
        print(f"  {key:<16} {value}")
    print(f"  {'seconds':<16} {time.monotonic() - started:.1f}")
    return figures


if __name__ == "__main__":
    asyncio.run(main())
