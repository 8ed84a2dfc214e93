"""Reminders at scale: planning for 10,000 agencies, and delivering 10,000 reminders against
the fake Bot API with its flood control on (≈30 messages/s per bot, 429 beyond).

1. plan (pure): flows.reminders.due() for `--agencies` agencies (two officials each, with
   progress) at a "d-3" instant: time, reminders, peak memory (tracemalloc).
2. plan (storage): bot/workers/reminders.ReminderPlanner.run_once() on a SQLite file with
   those agencies, officials and Telegram accounts: time to read, compute progress (every
   agency has a reminder due) and queue the keyed rows; then a second run (nothing new).
3. deliver: the outbox worker as `phieu worker` builds it (production SendSettings: 30/s
   for the bot), with a reply sender sharing its limiter as `phieu serve` has, sending the
   rows queued in 2. (one per official: `--agencies` × 2 messages; `--deliver` caps it)
   through aiogram to the fake Bot API over HTTP with `set_rate_limit(30)`: messages/s,
   429s received, and the latency of replies committed every second meanwhile (p50, max).
   Goal (issue #11): ≥ 27 messages/s with 0 × 429; replies not held behind the batch.

    python3 bench/remind_bench.py [--agencies 10000] [--deliver 10000] [--tiny]

`--tiny` (200 agencies, 150 deliveries) is a smoke test, not a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.telegram import CHANNEL  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.render import reply_to_json  # noqa: E402
from bot.telegram_app import make_bot, make_worker  # noqa: E402
from bot.workers.pacing import SendSettings  # noqa: E402
from bot.workers.reminders import ReminderPlanner  # noqa: E402
from bot.workers.sender import ReplySender  # noqa: E402
from flows import reminders as rp  # noqa: E402
from flows.loader import builtin_forms  # noqa: E402
from flows.machines import Status  # noqa: E402
from flows.state import Reply  # noqa: E402
from storage.models import Agency, Identity, User  # noqa: E402
from storage.repository import Storage  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:" + "A" * 35
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINE = date(2026, 11, 26)
D3 = datetime(2026, 11, 23, 9, 0, tzinfo=VN).astimezone(UTC)
FIRST_CHAT = 100_000
REPLY_CHAT = 99_999


def standings(n: int) -> list[rp.AgencyStanding]:
    statuses = [Status.DRAFT, Status.DRAFT, Status.RETURNED, Status.ACCEPTED, Status.SUBMITTED]
    return [
        rp.AgencyStanding(
            agency_id=i,
            name=f"UBND xã số {i}",
            status=statuses[i % len(statuses)],
            answered=i % 204,
            total=204,
            missing_sections=("6", "8") if i % 3 else ("2", "3", "4", "5", "6", "7"),
            officials=(rp.Person(2 * i, "A"), rp.Person(2 * i + 1, "B", "en")),
            reviewers=(rp.Person(10**9, "Thẩm định"),),
        )
        for i in range(n)
    ]


def bench_pure(n: int) -> None:
    campaign = rp.CampaignInfo(1, "CQĐT 2026", DEADLINE)
    rp.due(campaign, rp.ReminderPlan(), standings(5), D3)  # load the catalogs first
    agencies = standings(n)
    started = time.perf_counter()
    due = rp.due(campaign, rp.ReminderPlan(), agencies, D3)
    elapsed = time.perf_counter() - started
    del due
    tracemalloc.start()  # apart: tracing slows the code it watches
    due = rp.due(campaign, rp.ReminderPlan(), agencies, D3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    upcoming = rp.upcoming(campaign, rp.ReminderPlan(), agencies, D3)
    later = time.perf_counter() - started
    print(
        f"plan (pure), {n} agencies: {len(due)} reminders due in {elapsed * 1000:.0f} ms "
        f"({elapsed / n * 1e6:.1f} µs/agency), peak {peak / 2**20:.1f} MiB; "
        f"whole plan ahead ({len(upcoming)} reminders) {later * 1000:.0f} ms"
    )


async def seed(storage: Storage, n: int) -> int:
    """A campaign, n agencies of the `so` cohort, two officials each with a Telegram
    account: bulk inserts (one statement per 500 rows), not the admin commands."""
    async with storage.unit() as u:
        camp = await u.add_campaign("binh-dinh-2019-so", 1, "CQĐT 2026", DEADLINE)
        now = datetime.now(UTC)
        for start in range(0, n, 500):
            ids = range(start, min(n, start + 500))
            agencies = [
                {"code": f"A{i:05d}", "name": f"Sở số {i}", "cohort": "so", "created_at": now}
                for i in ids
            ]
            made = list((await u._exec(insert(Agency).returning(Agency.id), agencies)).scalars())
            users = [
                {"name": f"Cán bộ {i}.{k}", "agency_id": a, "role": "official", "lang": "vi",
                 "created_at": now}
                for i, a in zip(ids, made, strict=True)
                for k in range(2)
            ]  # fmt: skip
            people = list((await u._exec(insert(User).returning(User.id), users)).scalars())
            first = FIRST_CHAT + 2 * start
            chats = [
                {"user_id": user, "channel": CHANNEL, "external_id": str(first + j),
                 "created_at": now}
                for j, user in enumerate(people)
            ]  # fmt: skip
            await u._exec(insert(Identity), chats)
    return camp.id


async def bench_planner(storage: Storage, n: int) -> int:
    started = time.perf_counter()
    await seed(storage, n)
    seeded = time.perf_counter() - started
    planner = ReminderPlanner(storage, builtin_forms(), lambda: D3)
    started = time.perf_counter()
    queued = await planner.run_once()
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = await planner.run_once()
    second = time.perf_counter() - started
    print(
        f"plan (SQLite), {n} agencies × 2 officials (seeded in {seeded:.1f} s): "
        f"{queued} rows queued in {first:.1f} s; run again: {again} new in {second:.2f} s"
    )
    return queued


async def bench_deliver(storage: Storage, limit: int) -> None:
    async with storage.unit() as u:  # keep `limit` reminder rows, drop the rest
        rows = await u.keyed_rows("remind:")
        for row in rows[limit:]:
            await u.mark_failed(row["id"], "not in this run")
    n = min(limit, len(rows))
    async with FakeTelegram(token=TOKEN) as tg:
        for i in range(len(rows)):
            tg.user(FIRST_CHAT + i)
        tg.user(REPLY_CHAT)
        tg.set_rate_limit(30)
        settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url})
        bot = make_bot(settings)
        send = replace(SendSettings.from_env(), poll=0.2)
        limiter = send.limiter()
        worker = make_worker(storage, bot, send=send, limiter=limiter)
        sender = ReplySender(worker)
        stop = asyncio.Event()
        latencies: list[float] = []

        async def replies() -> None:
            """A reply committed every second, sent by the reply sender at once."""
            k = 0
            while not stop.is_set():
                k += 1
                async with storage.unit() as unit:
                    await unit.enqueue(CHANNEL, str(REPLY_CHAT), reply_to_json(Reply(f"r{k}")))
                at = time.monotonic()
                sender.committed(CHANNEL, str(REPLY_CHAT))
                while len(tg.sent(REPLY_CHAT)) < k and not stop.is_set():
                    await asyncio.sleep(0.005)
                if not stop.is_set():
                    latencies.append(time.monotonic() - at)
                await asyncio.sleep(1.0)

        started = time.monotonic()
        tasks = [
            asyncio.create_task(worker.run(stop)),
            asyncio.create_task(sender.run(stop)),
            asyncio.create_task(replies()),
        ]
        while True:
            async with storage.unit() as unit:
                counts = await unit.outbox_counts()
            reminders_sent = counts["sent"] - len(latencies)
            if reminders_sent >= n or counts["pending"] + counts["sending"] == 0:
                break
            await asyncio.sleep(0.5)
        elapsed = time.monotonic() - started
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bot.session.close()
        sent = sum(1 for c in tg.call_log if c.method == "sendMessage" and c.status == 200)
        rate = sent / elapsed
        p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
        worst = max(latencies) * 1000 if latencies else float("nan")
        print(
            f"deliver, {n} reminders through the fake Bot API (flood control 30/s): "
            f"{elapsed:.1f} s, {rate:.1f} messages/s, {tg.rate_limited} × 429; "
            f"{len(latencies)} replies meanwhile: p50 {p50:.0f} ms, max {worst:.0f} ms"
        )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agencies", type=int, default=10_000)
    parser.add_argument("--deliver", type=int, default=10_000)
    parser.add_argument("--tiny", action="store_true", help="200 agencies, 150 deliveries")
    args = parser.parse_args(argv)
    if args.tiny:
        args.agencies, args.deliver = 200, 150
    logging.basicConfig(level=logging.ERROR)
    print(f"remind_bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    bench_pure(args.agencies)
    with tempfile.TemporaryDirectory() as tmp:
        storage = await Storage.open(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            await bench_planner(storage, args.agencies)
            await bench_deliver(storage, args.deliver)
        finally:
            await storage.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
