"""The database goes away: real connection cuts on PostgreSQL, a locked file on SQLite.

Cuts are `pg_terminate_backend` of THIS test's backends only (application_name per test),
put at chosen points (tests/fakes/db_faults.POINTS): inside a unit, late in a unit, while
the worker claims (between commit and send), while it marks a delivered row sent. An outage
is a TCP proxy in front of PostgreSQL, stopped and started by the test (the server itself
keeps running for everyone else). Every test shows: each update applied exactly once, each
queued reply delivered exactly once, no crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiogram import Bot
from aiogram.types import Update
from aiohttp.test_utils import TestServer

import bot.telegram_app as telegram_app
from bot.render import reply_to_json
from bot.telegram_app import (
    ALLOWED_UPDATES,
    make_bot,
    make_dispatcher,
    make_web_app,
    make_worker,
    polling_phieu,
    webhook_phieu,
    worker_health_app,
)
from bot.workers.outbox import OutboxWorker, RateLimiter
from flows.state import Reply
from storage.models import Outbox
from storage.repository import Storage
from storage.retry import is_transient
from tests.e2e.telegram_support import (
    TOKEN,
    answers_of,
    new_invite,
    seed_campaign,
    settings_for,
)
from tests.fakes.db_faults import CutPoints, PgCutter, TcpProxy, app_name, hold_sqlite_lock
from tests.fakes.telegram_api import FakeTelegram
from tests.integration.conftest import PG_URL, _create_schema, _drop_schema
from tests.integration.conftest import storage as storage  # the fixture, re-exported

CHANNEL = "telegram"
ROOT = Path(__file__).resolve().parents[2]
SECRET = "phieu_webhook_Secret-0123456789"
WAIT = 60.0


# ---- databases -----------------------------------------------------------------------------
@dataclass
class Db:
    storage: Storage
    kind: str  # "postgresql" | "sqlite"
    url: str
    cutter: PgCutter | None = None
    path: Path | None = None  # the SQLite file
    schema: str | None = None

    async def cut(self) -> None:
        assert self.cutter is not None
        await self.cutter.cut()


@contextlib.asynccontextmanager
async def postgres(url: str = PG_URL) -> AsyncIterator[Db]:
    """A fresh schema reached with this test's own application_name, and its cutter."""
    schema = await _create_schema()
    name = app_name()
    cutter = PgCutter(PG_URL, name)
    try:
        storage = await Storage.open(
            url,
            connect_args={
                "server_settings": {"search_path": schema, "application_name": name},
                "timeout": 5,
            },
        )
        try:
            yield Db(storage, "postgresql", url, cutter=cutter, schema=schema)
        finally:
            await storage.close()
    finally:
        await cutter.close()
        await _drop_schema(schema)


@contextlib.asynccontextmanager
async def sqlite(tmp_path: Path, busy_timeout: float = 0.3) -> AsyncIterator[Db]:
    """A SQLite file whose busy timeout is short, so a held lock surfaces as an error."""
    path = tmp_path / "phieu.db"
    url = f"sqlite+aiosqlite:///{path}"
    storage = await Storage.open(url, connect_args={"timeout": busy_timeout})
    try:
        yield Db(storage, "sqlite", url, path=path)
    finally:
        await storage.close()


async def bind_users(storage: Storage, agency_id: int, user_ids: list[int]) -> None:
    async with storage.unit() as unit:
        for uid in user_ids:
            user = await unit.add_user(f"CB{uid}", agency_id, "official")
            await unit.bind_identity(user.id, CHANNEL, str(uid), f"CB{uid}")


async def processed(storage: Storage) -> int:
    async with storage.unit() as unit:
        return await unit.count_processed(CHANNEL)


async def queued_texts(storage: Storage) -> Counter[tuple[str, str]]:
    async with storage.unit() as unit:
        rows = (await unit._exec(sa.select(Outbox.chat_id, Outbox.payload))).all()
    return Counter((str(r.chat_id), r.payload.get("text")) for r in rows if "text" in r.payload)


def sent_texts(tg: FakeTelegram) -> Counter[tuple[str, str]]:
    return Counter(
        (str(c.params.get("chat_id")), c.params.get("text"))
        for c in tg.call_log
        if c.method == "sendMessage" and c.status == 200
    )


async def until(check: Any, timeout: float = WAIT, quiet: float = 0.0) -> None:
    """Wait until `await check()` is True (and stays so for `quiet` seconds)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    since: float | None = None
    while True:
        try:
            ok = await check()
        except Exception as exc:  # the test's own look-up may meet a cut too
            if not is_transient(exc):
                raise
            ok = False
        if ok:
            since = since if since is not None else loop.time()
            if loop.time() - since >= quiet:
                return
        else:
            since = None
        assert loop.time() < end, f"not reached after {timeout}s"
        await asyncio.sleep(0.05)


async def assert_exactly_once(db: Db, tg: FakeTelegram, updates: int) -> None:
    """Every update applied once, every queued reply delivered once, nothing left."""
    assert await processed(db.storage) == updates
    queued = await queued_texts(db.storage)
    sent = sent_texts(tg)
    assert sum(queued.values()) >= updates  # every update got at least one reply
    assert queued - sent == Counter(), "replies never delivered"
    assert sent - queued == Counter(), "replies delivered twice"
    async with db.storage.unit() as unit:
        counts = await unit.outbox_counts()
    assert counts["pending"] == counts["sending"] == counts["failed"] == 0, counts
    assert tg.violations == []


# ---- polling ---------------------------------------------------------------------------------
class SkewedClock:
    """The worker's UTC clock, moved ahead to expire leases (a lost mark would resend)."""

    def __init__(self) -> None:
        self.skew = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skew


@dataclass
class PollingBot:
    tg: FakeTelegram
    db: Db
    clock: SkewedClock
    worker: OutboxWorker

    async def confirmed(self, update_id: int) -> bool:
        """Telegram considers `update_id` handled: a getUpdates asked for later ones."""
        polls = [c for c in self.tg.call_log if c.method == "getUpdates"]
        return any(int(c.params.get("offset") or 0) > update_id for c in polls)

    async def settle(self, last_update: int) -> None:
        async def done() -> bool:
            if not await self.confirmed(last_update):
                return False
            async with self.db.storage.unit() as unit:
                counts = await unit.outbox_counts()
            return counts["pending"] == 0 and counts["sending"] == 0

        await until(done, quiet=0.5)
        # Two minutes on: a row left "sending" by a lost mark would now be resent.
        self.clock.skew = timedelta(minutes=2)
        for _ in range(3):
            await self.worker.run_once()


@contextlib.asynccontextmanager
async def polling_bot(db: Db) -> AsyncIterator[PollingBot]:
    """The production polling intake (polling_phieu, one update at a time) and worker."""
    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        bot = make_bot(settings_for(tg))
        clock = SkewedClock()
        worker = make_worker(db.storage, bot)
        worker.now = clock
        worker.limiter = RateLimiter(per_second=1000, chat_interval=0.001, chat_burst=100)
        dp = make_dispatcher(polling_phieu(db.storage))
        stop = asyncio.Event()
        sending = asyncio.create_task(worker.run(stop))
        polling = asyncio.create_task(
            dp.start_polling(
                bot,
                handle_as_tasks=False,
                allowed_updates=ALLOWED_UPDATES,
                handle_signals=False,
                close_bot_session=False,
            )
        )
        try:
            yield PollingBot(tg, db, clock, worker)
        finally:
            await asyncio.wait_for(dp.stop_polling(), WAIT)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(polling, WAIT)
            stop.set()
            await asyncio.wait_for(sending, WAIT)
            await bot.session.close()


async def officials(db: Db, tg: FakeTelegram, n: int, first: int = 7000) -> list[Any]:
    agency, _ = await seed_campaign(db.storage)
    ids = [first + i for i in range(n)]
    await bind_users(db.storage, agency.id, ids)
    return [tg.user(uid, f"CB{uid}") for uid in ids]


SCRIPT = ["/sua 3.1.a", "42", "/xem"]


async def talk(people: list[Any]) -> list[int]:
    """Each official sends the script; returns the update ids in order."""
    ids: list[int] = []
    for text in SCRIPT:
        for person in people:
            ids.append(int((await person.send_text(text))["update_id"]))
    return ids


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["inside-unit", "late-in-unit", "claim", "mark"])
async def test_polling_survives_cuts_on_postgres(point: str) -> None:
    async with postgres() as db, polling_bot(db) as pb:
        people = await officials(db, pb.tg, 3)
        plan = CutPoints(cut=db.cut).at(point, 1, 3, 4)
        with plan.installed():
            ids = await talk(people)
            await pb.settle(ids[-1])
        assert len(plan.done) == 3, plan.done
        await assert_exactly_once(db, pb.tg, len(ids))
        answers = await answers_of(db.storage, 1, 1)
        assert answers["3.1.a"] == 42


@pytest.mark.postgres
async def test_polling_recovers_from_several_seconds_without_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = TcpProxy()
    await proxy.start()
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        async with postgres(url) as db, polling_bot(db) as pb:
            people = await officials(db, pb.tg, 3)
            first = await talk(people[:1])
            await until(lambda: pb.confirmed(first[-1]))
            await proxy.stop()
            with caplog.at_level(logging.WARNING, logger="storage.retry"):
                ids = await talk(people)  # arrive while the database is gone
                await asyncio.sleep(4.0)
                assert await processed_via_new_engine(db) == len(first)  # nothing applied
                # The process says so once per interval, not once per attempt.
                down = [r for r in caplog.records if "database unavailable" in r.getMessage()]
                assert 1 <= len(down) <= 2, [r.getMessage() for r in down]
                await proxy.start()
                await pb.settle(ids[-1])
            assert any("database back after" in r.getMessage() for r in caplog.records)
            await assert_exactly_once(db, pb.tg, len(first) + len(ids))
    finally:
        await proxy.stop()


async def processed_via_new_engine(db: Db) -> int:
    """Count applied updates on a direct connection (the proxied one is down)."""
    assert db.schema is not None
    other = await Storage.open(
        PG_URL, migrate=False, connect_args={"server_settings": {"search_path": db.schema}}
    )
    try:
        return await processed(other)
    finally:
        await other.close()


async def test_polling_survives_a_locked_sqlite_file(tmp_path: Path) -> None:
    async with sqlite(tmp_path) as db, polling_bot(db) as pb:
        people = await officials(db, pb.tg, 3)
        first = await talk(people[:1])
        await until(lambda: pb.confirmed(first[-1]))
        assert db.path is not None
        async with hold_sqlite_lock(db.path, 3.0):
            ids = await talk(people)
            await asyncio.sleep(1.0)
        await pb.settle(ids[-1])
        await assert_exactly_once(db, pb.tg, len(first) + len(ids))


# ---- the outbox worker -----------------------------------------------------------------------
async def queue_rows(storage: Storage, chats: int, per_chat: int) -> None:
    async with storage.unit() as unit:
        for c in range(chats):
            for i in range(per_chat):
                await unit.enqueue(CHANNEL, str(9000 + c), reply_to_json(Reply(f"tin {c}.{i}")))


@contextlib.asynccontextmanager
async def worker_for(db: Db) -> AsyncIterator[tuple[FakeTelegram, OutboxWorker, SkewedClock]]:
    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        for c in range(4):
            tg.user(9000 + c, f"U{c}")
        bot = make_bot(settings_for(tg))
        worker = make_worker(db.storage, bot)
        clock = SkewedClock()
        worker.now = clock
        worker.limiter = RateLimiter(per_second=1000, chat_interval=0.001, chat_burst=100)
        try:
            yield tg, worker, clock
        finally:
            await bot.session.close()


async def drain_worker(worker: OutboxWorker, clock: SkewedClock, storage: Storage) -> None:
    async def empty() -> bool:
        try:
            await worker.run_once()
        except Exception as exc:  # a bounded claim may give up: the loop goes on
            logging.getLogger(__name__).info("run_once: %s", exc)
        async with storage.unit() as unit:
            counts = await unit.outbox_counts()
        return counts["pending"] == 0 and counts["sending"] == 0

    await until(empty)
    clock.skew = timedelta(minutes=2)  # leases out: nothing may be resent
    for _ in range(3):
        await worker.run_once()


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["claim", "mark"])
async def test_worker_sends_each_row_once_across_cuts(point: str) -> None:
    async with postgres() as db, worker_for(db) as (tg, worker, clock):
        await queue_rows(db.storage, 4, 5)
        plan = CutPoints(cut=db.cut).at(point, 1, 2, 5, 9)
        with plan.installed():
            await drain_worker(worker, clock, db.storage)
        assert len(plan.done) == 4
        sent = sent_texts(tg)
        assert sum(sent.values()) == 20 and set(sent.values()) == {1}
        for c in range(4):  # each chat's messages in order
            assert [m["text"] for m in tg.sent(9000 + c)] == [f"tin {c}.{i}" for i in range(5)]


@pytest.mark.postgres
async def test_deliver_row_keeps_marking_until_the_database_is_back() -> None:
    """The per-row mark other senders reuse: the database vanishes right after the send."""
    proxy = TcpProxy()
    await proxy.start()
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        async with postgres(url) as db, worker_for(db) as (tg, worker, clock):
            await queue_rows(db.storage, 1, 1)
            async with db.storage.unit() as unit:
                (row,) = await unit.claim_outbox(clock(), 10)
            original = worker._send

            async def send_then_lose_database(r: Any) -> bool:
                ok = await original(r)
                await proxy.stop()
                asyncio.get_running_loop().call_later(2.0, asyncio.ensure_future, proxy.start())
                return ok

            worker._send = send_then_lose_database  # type: ignore[method-assign]
            assert await worker.deliver_row(row)
            async with db.storage.unit() as unit:
                stored = await unit.outbox_row(row.id)
            assert stored is not None and stored.status == "sent"
            assert sum(sent_texts(tg).values()) == 1
    finally:
        await proxy.stop()


async def test_worker_sends_each_row_once_with_a_locked_sqlite_file(tmp_path: Path) -> None:
    async with sqlite(tmp_path) as db, worker_for(db) as (tg, worker, clock):
        await queue_rows(db.storage, 4, 3)
        assert db.path is not None
        async with hold_sqlite_lock(db.path, 2.0):
            task = asyncio.create_task(drain_worker(worker, clock, db.storage))
            await asyncio.sleep(2.5)
        await task
        sent = sent_texts(tg)
        assert sum(sent.values()) == 12 and set(sent.values()) == {1}


# ---- webhook ---------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def webhook_server(db: Db) -> AsyncIterator[tuple[FakeTelegram, TestServer, Bot]]:
    async with FakeTelegram(token=TOKEN) as tg:
        settings = settings_for(
            tg, webhook=True, PUBLIC_URL="https://phieu.example.vn", WEBHOOK_SECRET=SECRET
        )
        bot = make_bot(settings)
        server = TestServer(make_web_app(settings, db.storage, bot), host="127.0.0.1")
        await server.start_server()
        async with Bot(TOKEN, session=bot.session) as admin:
            await admin.set_webhook(
                str(server.make_url("/telegram/webhook")),
                secret_token=SECRET,
                allowed_updates=ALLOWED_UPDATES,
            )
        try:
            yield tg, server, bot
        finally:
            await server.close()


async def wait_webhook_quiet(db: Db, tg: FakeTelegram, n: int) -> None:
    async def done() -> bool:
        async with db.storage.unit() as unit:
            counts = await unit.outbox_counts()
        return (
            await processed(db.storage) >= n and counts["pending"] == 0 and counts["sending"] == 0
        )

    await until(done, quiet=0.5)


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["inside-unit", "late-in-unit", "mark"])
async def test_webhook_survives_cuts_on_postgres(point: str) -> None:
    async with postgres() as db, webhook_server(db) as (tg, _server, _):
        people = await officials(db, tg, 3)
        plan = CutPoints(cut=db.cut).at(point, 1, 3, 4)
        with plan.installed():
            ids = await talk(people)
            await wait_webhook_quiet(db, tg, len(ids))
        assert len(plan.done) == 3
        await assert_exactly_once(db, tg, len(ids))
        assert {d["status"] for d in tg.webhook_deliveries} == {200}


@pytest.mark.postgres
async def test_webhook_answers_500_only_when_the_database_stays_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telegram_app, "WEBHOOK_RETRY_S", 1.0)
    proxy = TcpProxy()
    await proxy.start()
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        async with postgres(url) as db, webhook_server(db) as (tg, server, _):
            people = await officials(db, tg, 1)
            await people[0].send_text("/xem")
            await wait_webhook_quiet(db, tg, 1)
            await proxy.stop()
            async with aiohttp.ClientSession() as http:
                async with http.get(server.make_url("/healthz")) as resp:
                    assert resp.status == 503
                    assert (await resp.json())["database"] == "unreachable"
                await people[0].send_text("/sua 3.1.a")
                await until(lambda: _has_status(tg, 500), timeout=20)
                await proxy.start()
                await wait_webhook_quiet(db, tg, 2)  # Telegram resent it: applied once
                async with http.get(server.make_url("/healthz")) as resp:
                    assert resp.status == 200
            await assert_exactly_once(db, tg, 2)
    finally:
        await proxy.stop()


async def _has_status(tg: FakeTelegram, status: int) -> bool:
    return any(d.get("status") == status for d in tg.webhook_deliveries)


async def test_webhook_survives_a_locked_sqlite_file(tmp_path: Path) -> None:
    async with sqlite(tmp_path) as db, webhook_server(db) as (tg, _server, _):
        people = await officials(db, tg, 2)
        assert db.path is not None
        async with hold_sqlite_lock(db.path, 2.0):
            ids = await talk(people)
            await asyncio.sleep(1.0)
        await wait_webhook_quiet(db, tg, len(ids))
        await assert_exactly_once(db, tg, len(ids))


# ---- per-chat order --------------------------------------------------------------------------
def message_update(update_id: int, chat: int, text: str, message_id: int) -> dict[str, Any]:
    user = {"id": chat, "is_bot": False, "first_name": "Lan", "language_code": "vi"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "Lan"},
            "from": user,
            "text": text,
            **(
                {"entities": [{"type": "bot_command", "offset": 0, "length": text.find(" ")}]}
                if text.startswith("/start ")
                else {}
            ),
        },
    }


async def feed_reversed(db: Db, updates: list[dict[str, Any]], gap: float = 0.01) -> None:
    """Webhook requests of one chat arriving newest first, a few ms apart, concurrently,
    through two "processes" (two services on the same database)."""
    bot = Bot(TOKEN)
    dps = [make_dispatcher(webhook_phieu(db.storage)) for _ in range(2)]

    async def one(i: int, data: dict[str, Any]) -> None:
        await asyncio.sleep(gap * i)
        update = Update.model_validate(data, context={"bot": bot})
        await dps[i % 2].feed_update(bot, update)

    try:
        await asyncio.gather(*(one(i, u) for i, u in enumerate(reversed(updates))))
    finally:
        await bot.session.close()


async def chat_outbox(storage: Storage, chat: int) -> list[str]:
    async with storage.unit() as unit:
        rows = await unit.pending_for_chat(CHANNEL, str(chat))
    return [r.payload.get("text", "") for r in rows]


async def ordering_case(db: Db) -> None:
    agency, campaign = await seed_campaign(db.storage)
    await bind_users(db.storage, agency.id, [5001])
    # Answers typed quickly: the first must land on 3.1.a, the second on the next item.
    await feed_reversed(
        db,
        [
            message_update(10, 5001, "/sua 3.1.a", 1),
            message_update(11, 5001, "12", 2),
            message_update(12, 5001, "7", 3),
        ],
    )
    answers = await answers_of(db.storage, campaign.id, agency.id)
    assert answers["3.1.a"] == 12
    assert 7 in [v for k, v in answers.items() if k not in ("1.8", "1.9", "3.1.a")]
    texts = await chat_outbox(db.storage, 5001)
    saved = [t for t in texts if t.startswith("✅ Đã lưu")]
    assert saved[0].startswith("✅ Đã lưu 3.1.a: 12")

    # The welcome after /start <code> comes before the replies to later updates.
    code = await new_invite(db.storage, agency.id)
    await feed_reversed(
        db, [message_update(20, 6001, f"/start {code}", 1), message_update(21, 6001, "/xem", 2)]
    )
    texts = await chat_outbox(db.storage, 6001)
    assert texts[0].startswith("Chào mừng!"), texts
    assert await processed(db.storage) == 5


@pytest.mark.postgres
async def test_concurrent_updates_of_a_chat_apply_in_update_id_order_postgres() -> None:
    async with postgres() as db:
        await ordering_case(db)


async def test_concurrent_updates_of_a_chat_apply_in_update_id_order_sqlite(
    tmp_path: Path,
) -> None:
    async with sqlite(tmp_path, busy_timeout=30) as db:
        await ordering_case(db)


async def test_an_abandoned_arrival_stops_blocking_after_the_hold(tmp_path: Path) -> None:
    """A handler that died after noting its arrival holds its chat back at most order_hold."""
    async with sqlite(tmp_path, busy_timeout=30) as db:
        agency, _ = await seed_campaign(db.storage)
        await bind_users(db.storage, agency.id, [5002])
        loop = asyncio.get_running_loop()
        noted = loop.time()
        async with db.storage.unit() as unit:
            await unit.note_arrival(CHANNEL, "5002", "30", 30, datetime.now(UTC))
        phieu = webhook_phieu(db.storage)
        phieu.order_hold = 0.5
        bot = Bot(TOKEN)
        try:
            dp = make_dispatcher(phieu)
            update = Update.model_validate(
                message_update(31, 5002, "/xem", 1), context={"bot": bot}
            )
            await dp.feed_update(bot, update)
            # Held back until the abandoned arrival is order_hold old, then applied.
            assert 0.5 <= loop.time() - noted < 5
        finally:
            await bot.session.close()
        assert await processed(db.storage) == 1


# ---- /healthz of phieu worker ----------------------------------------------------------------
@pytest.mark.postgres
async def test_worker_health_is_503_while_the_database_is_unreachable() -> None:
    proxy = TcpProxy()
    await proxy.start()
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        async with postgres(url) as db:
            server = TestServer(worker_health_app(db.storage), host="127.0.0.1")
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as http:
                    healthz = server.make_url("/healthz")
                    async with http.get(healthz) as resp:
                        assert resp.status == 200
                    await proxy.stop()
                    async with http.get(healthz) as resp:
                        assert resp.status == 503
                    await proxy.start()
                    async with http.get(healthz) as resp:
                        assert resp.status == 200
            finally:
                await server.close()
    finally:
        await proxy.stop()


# ---- the console, as a real process ----------------------------------------------------------
@contextlib.asynccontextmanager
async def pg_role_schema(port: int = 5432) -> AsyncIterator[tuple[str, str]]:
    """A login role whose defaults are this test's schema and application_name, so a child
    process (phieu chat) lands in it and can be cut alone. Yields (DATABASE_URL, app name)."""
    tag = uuid.uuid4().hex[:10]
    role, schema, name = f"phieu_t_{tag}", f"t_{tag}", app_name("phieu-console")
    admin = sa.ext.asyncio.create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"'))
            for key, value in (("search_path", schema), ("application_name", name)):
                await conn.execute(
                    sa.text(f"ALTER ROLE \"{role}\" IN DATABASE test SET {key} = '{value}'")
                )
    except Exception as exc:
        await admin.dispose()
        if os.environ.get("PHIEU_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc!r}")
    try:
        yield f"postgresql+asyncpg://{role}@127.0.0.1:{port}/test", name
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            await conn.execute(sa.text(f'DROP ROLE "{role}"'))
        await admin.dispose()


CONSOLE_LINES = ["/sua 3.1.a", "12", "3", "4", "/xem", "/sua 3.1.b", "5", "/xem"]


async def start_console(tmp_path: Path, url: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT))
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "chat",
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def console_state(url: str) -> tuple[int, dict[str, int]]:
    """(updates applied, outbox counts) of the console, read on a connection of our own
    (another application_name, so the cutter leaves it alone)."""
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {"server_settings": {"application_name": "observer"}}
    storage = await Storage.open(url, migrate=False, **kwargs)
    try:
        async with storage.unit() as unit:
            return await unit.count_processed("console"), await unit.outbox_counts()
    finally:
        await storage.close()


async def applied_at_least(url: str, n: int) -> None:
    async def check() -> bool:
        with contextlib.suppress(Exception):  # the console may still be migrating
            applied, counts = await console_state(url)
            return applied >= n and counts["pending"] == counts["sending"] == 0
        return False

    await until(check, timeout=120)


async def type_lines(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
    await proc.stdin.drain()


async def finish(proc: asyncio.subprocess.Process) -> str:
    """Type /quit, wait for a clean exit: status 0, no traceback; returns stdout (stderr
    is kept in proc.stderr_text)."""
    await type_lines(proc, ["/quit"])
    assert proc.stdin is not None
    proc.stdin.close()
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 0, err.decode()[-3000:]
    assert b"Traceback" not in out + err, err.decode()[-3000:]
    proc.stderr_text = err.decode()  # type: ignore[attr-defined]
    return out.decode()


@contextlib.asynccontextmanager
async def console(tmp_path: Path, url: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await start_console(tmp_path, url)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def replies(stdout: str) -> list[tuple[str, str]]:
    """(typed, what was printed after it) for each echoed line."""
    out: list[tuple[str, str]] = []
    for line in stdout.splitlines():
        if line.startswith("> "):
            out.append((line[2:], ""))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + line + "\n")
    return out


@pytest.mark.postgres
async def test_console_process_survives_cuts_during_turns(tmp_path: Path) -> None:
    async with pg_role_schema() as (url, name):
        cutter = PgCutter(PG_URL, name)
        try:
            async with console(tmp_path, url) as proc:
                await applied_at_least(url, 1)  # started, menu shown
                stop = asyncio.Event()
                cutting = asyncio.create_task(_keep_cutting(cutter, stop))
                # Typed at a person's pace, so the cuts keep landing while turns run even
                # when each turn takes only a few milliseconds.
                for line in CONSOLE_LINES:
                    await type_lines(proc, [line])
                    await asyncio.sleep(0.4)
                await applied_at_least(url, 1 + len(CONSOLE_LINES))
                stop.set()
                await cutting
                out = await finish(proc)
        finally:
            await cutter.close()
        assert cutter.killed >= 5  # the process's connections were cut again and again
        assert "database unavailable" in proc.stderr_text  # …and cuts landed inside units
        turns = replies(out)
        assert [t for t, _ in turns] == CONSOLE_LINES
        assert all(said.strip() for _, said in turns)  # every line got its reply
        assert "✅ Đã lưu 3.1.a: 12" in turns[1][1]
        assert out.count("✅ Đã lưu 3.1.a: 12") == 1  # printed once
        applied, counts = await console_state(url)
        assert applied == len(CONSOLE_LINES) + 1  # the menu, then each line, once
        assert counts["pending"] == counts["sending"] == 0


async def _keep_cutting(cutter: PgCutter, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await cutter.cut()
        # Often enough to land inside turns, rarely enough to let each turn get through.
        await asyncio.sleep(0.25)


@pytest.mark.postgres
async def test_console_says_reconnecting_while_the_database_is_away(tmp_path: Path) -> None:
    proxy = TcpProxy()
    await proxy.start()
    try:
        async with pg_role_schema(proxy.port) as (url, _):
            direct = url.replace(f":{proxy.port}/", ":5432/")
            async with console(tmp_path, url) as proc:
                await applied_at_least(direct, 1)
                await type_lines(proc, ["/sua 3.1.a"])
                await applied_at_least(direct, 2)
                await proxy.stop()
                await type_lines(proc, ["12"])
                assert proc.stdout is not None
                seen = ""
                while "đang kết nối lại…" not in seen:
                    raw = await asyncio.wait_for(proc.stdout.readline(), WAIT)
                    assert raw, "the console exited"
                    seen += raw.decode()
                await asyncio.sleep(3.0)  # still down: the process waits, it does not exit
                assert proc.returncode is None
                await proxy.start()
                await applied_at_least(direct, 3)
                out = seen + await finish(proc)
            assert out.count("✅ Đã lưu 3.1.a: 12") == 1
            assert out.count("đang kết nối lại") == 1  # once per outage, not per attempt
            applied, counts = await console_state(direct)
            assert applied == 3 and counts["pending"] == counts["sending"] == 0
    finally:
        await proxy.stop()


async def test_console_process_waits_out_a_locked_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "phieu.db"
    url = f"sqlite+aiosqlite:///{path}"
    async with console(tmp_path, url) as proc:
        await applied_at_least(url, 1)
        async with hold_sqlite_lock(path, 2.0):
            await type_lines(proc, ["/sua 3.1.a", "12"])
            await asyncio.sleep(1.0)
        await applied_at_least(url, 3)
        out = await finish(proc)
    assert out.count("✅ Đã lưu 3.1.a: 12") == 1
    applied, counts = await console_state(url)
    assert applied == 3 and counts["pending"] == counts["sending"] == 0


# ---- the storage pieces, on both databases ---------------------------------------------------
async def test_arrivals_contract(storage: Storage) -> None:
    now = datetime.now(UTC)
    async with storage.unit() as unit:
        await unit.note_arrival(CHANNEL, "1", "10", 10, now)
        await unit.note_arrival(CHANNEL, "1", "10", 10, now)  # a redelivery: no error
        await unit.note_arrival(CHANNEL, "1", "12", 12, now)
        await unit.note_arrival(CHANNEL, "2", "11", 11, now)  # another chat
    async with storage.unit() as unit:
        assert await unit.older_arrival(CHANNEL, "1", 12, now - timedelta(seconds=5)) == 10
        assert await unit.older_arrival(CHANNEL, "1", 10, now - timedelta(seconds=5)) is None
        assert await unit.older_arrival("console", "1", 12, now - timedelta(seconds=5)) is None
        # An arrival older than the hold no longer counts.
        assert await unit.older_arrival(CHANNEL, "1", 12, now + timedelta(seconds=1)) is None
        await unit.forget_arrival(CHANNEL, "10")
        assert await unit.older_arrival(CHANNEL, "1", 12, now - timedelta(seconds=5)) is None
        assert await unit.prune_arrivals(now + timedelta(seconds=1)) == 2
    assert await storage.ping()


async def test_ping_is_false_when_nothing_answers() -> None:
    proxy = TcpProxy()
    await proxy.start()
    await proxy.stop()  # a port where nothing listens any more
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    storage = Storage(sa.ext.asyncio.create_async_engine(url))
    try:
        assert await storage.ping(timeout=2.0) is False
    finally:
        await storage.close()
