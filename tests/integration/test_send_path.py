"""The send path on SQLite and PostgreSQL: replies leave on commit, the worker is the safety
net, two senders never share a row, the bot's rate is shared, replies go before notices,
and sent rows are pruned.

Real storage, the real ReplySender / OutboxWorker / RateShare; the chat API is a recording
transport (the Telegram wiring itself is tested over HTTP in test_reply_on_commit_*).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.render import reply_to_json
from bot.service import Phieu, Sender, utcnow
from bot.telegram_app import REPLY_GRACE, run_polling
from bot.workers.outbox import OutboxWorker, RateLimiter
from bot.workers.pacing import RateShare, SendSettings
from bot.workers.sender import ReplySender
from bot.workers.wakeup import listen_for_outbox
from flows.state import Incoming, Reply
from storage import Storage
from storage.records import OutboxRec
from tests.e2e.telegram_support import TOKEN, seed_campaign, settings_for
from tests.fakes import FakeTelegram
from tests.integration.conftest import PG_URL, _create_schema, _drop_schema

CHANNEL = "telegram"


class Recorder:
    """A transport that notes (monotonic time, chat, payload n) of every delivery."""

    def __init__(self, delay: float = 0.0) -> None:
        self.sent: list[tuple[float, str, Any]] = []
        self.delay = delay

    async def deliver(self, chat_id: str, payload: dict[str, Any]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sent.append((time.monotonic(), chat_id, payload.get("n", payload.get("text"))))


def make_worker(
    storage: Storage, transport: Recorder, *, rate: float = 1000.0, poll: float = 60.0
) -> OutboxWorker:
    return OutboxWorker(
        storage,
        {CHANNEL: transport},
        utcnow,
        limiter=RateLimiter(per_second=rate),
        idle_sleep=poll,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def two(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two 'processes' on one database: two Storages, each with its own engine and pool."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'phieu.db'}"
        first = await Storage.open(url)
        second = await Storage.open(url)
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()
        return
    schema = await _create_schema()
    kw = {"connect_args": {"server_settings": {"search_path": schema}}}
    try:
        first = await Storage.open(PG_URL, **kw)
        second = await Storage.open(PG_URL, **kw)
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()
    finally:
        await _drop_schema(schema)


async def wait_for(check: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.01)


def peak(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


async def official(storage: Storage, chat_id: int = 4242) -> None:
    agency, _ = await seed_campaign(storage)
    async with storage.unit() as unit:
        user = await unit.add_user("Lan", agency.id, "official")
        await unit.bind_identity(user.id, CHANNEL, str(chat_id), "Lan")


# ---- 1. a reply leaves on commit, not at the next poll ------------------------------------
async def test_reply_on_commit_through_telegram_without_a_poll(storage: Storage) -> None:
    """Production wiring (run_polling) with the worker's poll at 60 s: the next question
    still arrives well under a second after the answer."""
    await official(storage)
    send = replace(SendSettings(), poll=60.0)
    async with FakeTelegram(token=TOKEN) as tg:
        stop = asyncio.Event()
        task = asyncio.create_task(run_polling(settings_for(tg), storage, send=send, stop=stop))
        try:
            await tg.wait_for_call("getUpdates", answered=False, timeout=10)
            lan = tg.user(4242, "Lan")
            for text, count in (("/start", 1), ("/sua 3.1.a", 2)):
                before = time.monotonic()
                await lan.send_text(text)
                await tg.wait_for_call("sendMessage", count=count, timeout=10)
                # Loose (the machine is shared), and far below the 60 s poll.
                assert time.monotonic() - before < 3.0
            assert tg.last_sent(4242)["text"].startswith("Mục 3 · 3.1.a")
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
        assert tg.violations == []
    async with storage.unit() as unit:
        counts = await unit.outbox_counts()
    assert counts == {"pending": 0, "sending": 0, "sent": 2, "failed": 0}


async def test_the_sender_sends_what_a_commit_queued_at_once(storage: Storage) -> None:
    await official(storage)
    transport = Recorder()
    worker = make_worker(storage, transport, poll=60.0)
    sender = ReplySender(worker)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(sender.run(stop)), asyncio.create_task(worker.run(stop))]
    try:
        phieu = Phieu(storage)
        await asyncio.sleep(0.05)  # the worker's first (empty) poll is behind us
        started = time.monotonic()
        await phieu.handle(CHANNEL, "4242", "1", Incoming(text="/start"), Sender("4242"))
        sender.committed(CHANNEL, "4242")
        await wait_for(lambda: len(transport.sent) == 1, timeout=5)
        assert transport.sent[0][0] - started < 1.0
    finally:
        stop.set()
        await asyncio.gather(*tasks)


# ---- 2. a crash between commit and send: the worker delivers --------------------------------
async def test_a_reply_committed_but_never_sent_is_delivered_by_the_worker(
    storage: Storage,
) -> None:
    """The process died after the commit (no sender ever ran): the worker of another
    process leaves the fresh reply to its owner for REPLY_GRACE, then sends it."""
    await official(storage)
    await Phieu(storage).handle(CHANNEL, "4242", "1", Incoming(text="/start"), Sender("4242"))
    transport = Recorder()
    worker = make_worker(storage, transport)
    worker.reply_grace = REPLY_GRACE
    assert await worker.run_once() == 0  # still the committing process's to send
    worker.now = lambda: utcnow() + timedelta(seconds=REPLY_GRACE + 1)
    assert await worker.run_once() == 1
    assert [chat for _, chat, _ in transport.sent] == ["4242"]


async def test_rows_a_dead_sender_claimed_are_sent_after_the_lease(storage: Storage) -> None:
    async with storage.unit() as unit:
        await unit.enqueue_many(CHANNEL, "7", [{"n": 1}, {"n": 2}])
    dead = make_worker(storage, Recorder())
    claimed = await dead.claim_chats(lambda: [(CHANNEL, "7")])
    assert [r.payload["n"] for r in claimed] == [1, 2]  # ...and then the process died
    transport = Recorder()
    worker = make_worker(storage, transport)
    assert await worker.run_once() == 0  # the lease still holds
    worker.now = lambda: utcnow() + timedelta(seconds=61)
    while await worker.run_once():
        pass
    assert [n for _, _, n in transport.sent] == [1, 2]


# ---- 3. two senders never both send a row -------------------------------------------------
async def test_two_processes_senders_and_workers_send_each_row_once_in_order(
    two: tuple[Storage, Storage],
) -> None:
    first, second = two
    chats = [str(900 + i) for i in range(12)]
    transports = [Recorder(delay=0.002), Recorder(delay=0.002)]
    workers = [make_worker(s, t, poll=0.05) for s, t in zip(two, transports, strict=True)]
    senders = [ReplySender(w) for w in workers]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(x.run(stop)) for x in (*senders, *workers)]
    try:
        for n in range(5):
            for chat in chats:
                async with (first if n % 2 else second).unit() as unit:
                    await unit.enqueue_many(CHANNEL, chat, [{"n": 2 * n}, {"n": 2 * n + 1}])
                for sender in senders:  # both hear of every commit: the worst case
                    sender.committed(CHANNEL, chat)
            await asyncio.sleep(0.01)

        def done() -> bool:
            return sum(len(t.sent) for t in transports) >= len(chats) * 10

        await wait_for(done, timeout=30)
        await asyncio.sleep(0.2)  # a duplicate, if any, would arrive now
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    sent = [(chat, n) for t in transports for _, chat, n in t.sent]
    assert Counter(sent) == Counter({(c, n): 1 for c in chats for n in range(10)})
    merged = sorted((at, chat, n) for t in transports for at, chat, n in t.sent)
    for chat in chats:
        assert [n for _, c, n in merged if c == chat] == list(range(10))
    async with first.unit() as unit:
        counts = await unit.outbox_counts()
    assert counts["sent"] == len(chats) * 10 and counts["pending"] == counts["sending"] == 0


async def test_claim_chat_takes_the_due_head_run_and_nothing_when_held(storage: Storage) -> None:
    now = datetime.now(UTC)
    async with storage.unit() as unit:
        ids = await unit.enqueue_many(CHANNEL, "5", [{"n": 1}, {"n": 2}, {"n": 3}])
        await unit.enqueue(CHANNEL, "6", {"n": 9})
    async with storage.unit() as unit:
        assert await unit.claim_chat(CHANNEL, "5", now) != []
    async with storage.unit() as unit:  # held by that claim: nothing, not the rows after
        assert await unit.claim_chat(CHANNEL, "5", now) == []
        assert await unit.claim_outbox(now, 10) == [await unit.outbox_row(ids[-1] + 1)]
        await unit.retry_later(ids[0], now + timedelta(hours=1), "429")
        for sent in ids[1:]:
            await unit.mark_sent(sent, now)
        await unit.enqueue(CHANNEL, "5", {"n": 4})
    async with storage.unit() as unit:  # the head waits for a retry time: order kept
        assert await unit.claim_chat(CHANNEL, "5", now) == []


# ---- 4. the bot's rate is shared by all its senders ----------------------------------------
async def test_heartbeats_split_the_rate_and_a_leaver_gives_its_share_back(
    two: tuple[Storage, Storage],
) -> None:
    limiters = [RateLimiter(per_second=30), RateLimiter(per_second=30)]
    shares = [RateShare(s, "123", 30.0, lim, utcnow) for s, lim in zip(two, limiters, strict=True)]
    assert await shares[0].beat() == 1 and limiters[0].per_second == 30
    assert await shares[1].beat() == 2 and limiters[1].per_second == 15
    assert await shares[0].beat() == 2 and limiters[0].per_second == 15
    other_bot = RateShare(two[0], "999", 30.0, RateLimiter(), utcnow)
    assert await other_bot.beat() == 1  # another bot's senders do not count
    stop = asyncio.Event()
    stop.set()
    await shares[1].run(stop)  # stops at once and leaves
    assert await shares[0].beat() == 1 and limiters[0].per_second == 30
    silent = RateShare(two[1], "123", 30.0, RateLimiter(), utcnow)
    await silent.beat()
    shares[0].now = lambda: utcnow() + timedelta(seconds=3 * shares[0].every + 1)
    assert await shares[0].beat() == 1  # a sender silent for 3 heartbeats is forgotten


async def test_two_workers_together_stay_within_the_bots_rate(
    two: tuple[Storage, Storage],
) -> None:
    rate = 12.0
    async with two[0].unit() as unit:
        for i in range(36):  # notices to 36 chats: only the bot-wide rate holds them
            await unit.enqueue(CHANNEL, str(2000 + i), {"n": i}, kind="notice")
    transport = Recorder()
    workers = [make_worker(s, transport, rate=rate, poll=0.05) for s in two]
    shares = [
        RateShare(s, "123", rate, w.limiter, utcnow) for s, w in zip(two, workers, strict=True)
    ]
    for share in shares:
        await share.beat()
    await shares[0].beat()
    assert [w.limiter.per_second for w in workers] == [rate / 2, rate / 2]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        await wait_for(lambda: len(transport.sent) == 36, timeout=20)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    times = [at for at, _, _ in transport.sent]
    assert peak(times) <= rate
    assert times[-1] - times[0] >= (36 - rate) / rate - 0.2  # not faster than the rate


# ---- 5. replies are not held by notices nor by the per-chat budget ---------------------------
async def test_a_reply_goes_before_a_batch_of_notices(storage: Storage) -> None:
    async with storage.unit() as unit:
        for i in range(80):
            await unit.enqueue(CHANNEL, str(3000 + i), {"n": f"notice {i}"}, kind="notice")
        await unit.enqueue(CHANNEL, "4242", {"n": "reply"})
    transport = Recorder()
    worker = make_worker(storage, transport, rate=1000)
    worker.batch = 10
    await worker.run_once()
    assert transport.sent[0][2] == "reply"


async def test_a_reply_is_not_held_by_the_notice_budget_of_its_chat() -> None:
    t = [0.0]
    limiter = RateLimiter(per_second=30, chat_interval=1.0, chat_burst=3, clock=lambda: t[0])
    for _ in range(3):
        assert limiter.reserve("42") == 0.0
    assert limiter.reserve("42") > 0.5  # a fourth notice waits for the budget
    assert limiter.reserve("42", reply=True) == 0.0  # the official's answer does not
    assert limiter.reserve("42", reply=True) == 0.0


def _row(n: int, kind: str) -> OutboxRec:
    now = utcnow()
    return OutboxRec(
        n, CHANNEL, str(3000 + n), {"n": n}, "sending", 1, now, None, now, None, None, kind
    )


async def test_a_reply_waits_for_no_notice_queued_for_the_bots_rate(storage: Storage) -> None:
    """At the bot's rate, notices queue for a slot; a reply arriving then takes the next
    slot, not the one after every notice already waiting (bot/workers/turn.py)."""
    transport = Recorder()
    worker = make_worker(storage, transport, rate=5)
    for n in range(5):  # the window of 5 a second is full
        assert await worker._send(_row(n, "notice"))
    notices = [asyncio.create_task(worker._send(_row(n, "notice"))) for n in range(5, 10)]
    await asyncio.sleep(0.05)  # all five wait for a slot, one of them holding the turn
    assert worker.limiter.turn.waiting(False) == 4
    assert await worker._send(_row(99, "reply"))
    await asyncio.gather(*notices)
    order = [n for _, _, n in transport.sent]
    assert order.index(99) == 6  # after the notice that held the turn, before the other four
    assert sorted(order[7:]) == order[7:]  # the notices kept their order


async def _queued(storage: Storage, n: int) -> list[OutboxRec]:
    async with storage.unit() as unit:
        for i in range(n):
            await unit.enqueue(CHANNEL, str(5000 + i), {"n": i})
        return await unit.claim_outbox(utcnow(), n)


def _count_units(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened = [0]
    unit = storage.unit

    def counting(*args: Any, **kw: Any) -> Any:
        opened[0] += 1
        return unit(*args, **kw)

    monkeypatch.setattr(storage, "unit", counting)
    return opened


async def test_sent_marks_of_concurrent_replies_share_a_unit(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: 20 chats delivered together are marked in a few units, not 20."""
    rows = await _queued(storage, 20)
    worker = make_worker(storage, Recorder(delay=0.01))
    opened = _count_units(storage, monkeypatch)
    await worker.deliver(rows, together=True)
    assert opened[0] <= 4
    async with storage.unit() as unit:
        assert (await unit.outbox_counts()).get("sent") == 20
    assert worker._marks == {}


async def test_one_row_that_cannot_be_marked_fails_only_its_own_sender(storage: Storage) -> None:
    rows = await _queued(storage, 3)
    worker = make_worker(storage, Recorder())
    ids = [row.id for row in rows]
    outcomes = await asyncio.gather(
        *(worker.mark_sent(i) for i in [ids[0], 999_999, ids[1], ids[2]]), return_exceptions=True
    )
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "NotFound", "NoneType", "NoneType"]
    async with storage.unit() as unit:
        assert (await unit.outbox_counts()).get("sent") == 3


async def test_a_mark_asked_for_alone_is_written_at_once(storage: Storage) -> None:
    (row,) = await _queued(storage, 1)
    worker = make_worker(storage, Recorder())
    async with asyncio.timeout(5):
        await worker.mark_sent(row.id)
        await worker.mark_sent(row.id)  # idempotent
    async with storage.unit() as unit:
        assert (await unit.outbox_counts()).get("sent") == 1


async def test_the_reply_sender_is_not_delayed_by_the_worker_draining_notices(
    storage: Storage,
) -> None:
    await official(storage)
    async with storage.unit() as unit:
        for i in range(60):
            await unit.enqueue(CHANNEL, str(3000 + i), {"n": i}, kind="notice")
    transport = Recorder()
    worker = make_worker(storage, transport, rate=20, poll=0.05)  # 3 s of notices
    sender = ReplySender(worker)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(sender.run(stop))]
    try:
        await wait_for(lambda: len(transport.sent) >= 5)
        started = time.monotonic()
        await Phieu(storage).handle(CHANNEL, "4242", "1", Incoming(text="/start"), Sender("4242"))
        sender.committed(CHANNEL, "4242")
        await wait_for(lambda: any(chat == "4242" for _, chat, _ in transport.sent))
        reply_at = next(at for at, chat, _ in transport.sent if chat == "4242")
        assert reply_at - started < 2.0  # loose; the notices take 3 s
        assert len(transport.sent) < 60  # ...and were not all sent first
    finally:
        stop.set()
        await asyncio.gather(*tasks)


# ---- 6. pruning ------------------------------------------------------------------------------
async def test_pruning_removes_only_sent_rows_past_the_retention(storage: Storage) -> None:
    now = datetime.now(UTC)
    async with storage.unit() as unit:
        old_sent, new_sent, old_pending, old_failed, old_sending = [
            await unit.enqueue(CHANNEL, str(i), {"n": i}) for i in range(5)
        ]
        await unit.mark_sent(old_sent, now - timedelta(days=8))
        await unit.mark_sent(new_sent, now - timedelta(days=6))
        await unit.mark_failed(old_failed, "blocked")
    async with storage.unit() as unit:
        await unit.claim_chat(CHANNEL, "4", now - timedelta(days=30))
    worker = make_worker(storage, Recorder())
    worker.keep_sent = timedelta(days=7)
    await worker.prune()
    async with storage.unit() as unit:
        assert await unit.outbox_row(old_sent) is None
        for kept in (new_sent, old_pending, old_failed, old_sending):
            assert await unit.outbox_row(kept) is not None
        assert await unit.prune(now, keep_sent=timedelta(days=1)) == 1  # new_sent now
        assert await unit.outbox_row(new_sent) is None


async def test_health_backlog_counts_due_rows_up_to_a_cap(storage: Storage) -> None:
    now = datetime.now(UTC)
    async with storage.unit() as unit:
        assert await unit.outbox_backlog(now) == {
            "pending": 0,
            "pending_capped": False,
            "oldest_pending_s": 0.0,
        }
        for i in range(5):
            await unit.enqueue(CHANNEL, str(i), {"n": i})
        await unit.enqueue(CHANNEL, "9", {"n": 9}, not_before=now + timedelta(hours=1))
    async with storage.unit() as unit:
        backlog = await unit.outbox_backlog(now + timedelta(seconds=5), cap=3)
    assert backlog["pending"] == 3 and backlog["pending_capped"] is True
    assert backlog["oldest_pending_s"] >= 4.0


# ---- wake-ups across processes -----------------------------------------------------------
async def test_a_commit_that_queued_rows_wakes_workers_of_other_processes(
    two: tuple[Storage, Storage],
) -> None:
    """PostgreSQL: NOTIFY on commit reaches a listener on another engine; rolled back or
    empty units notify nobody. SQLite: the listener returns at once (in-process wake)."""
    first, second = two
    wake, stop = asyncio.Event(), asyncio.Event()
    listening = asyncio.create_task(listen_for_outbox(second, wake, stop, check_every=0.2))
    if first.engine.dialect.name != "postgresql":
        await asyncio.wait_for(listening, 1)
        return
    try:
        await asyncio.wait_for(wake.wait(), 5)  # the first look when listening starts
        wake.clear()
        async with first.unit() as unit:
            await unit.outbox_counts()
        with pytest.raises(RuntimeError):
            async with first.unit() as unit:
                await unit.enqueue(CHANNEL, "1", {"n": 1})
                raise RuntimeError("rolled back")
        await asyncio.sleep(0.3)
        assert not wake.is_set()
        async with first.unit() as unit:
            await unit.enqueue(CHANNEL, "1", {"n": 2}, kind="notice")
        await asyncio.wait_for(wake.wait(), 2)
        wake.clear()
        # enqueue_many notifies in its INSERT (pg_notify): still only once committed.
        with pytest.raises(RuntimeError):
            async with first.unit() as unit:
                await unit.enqueue_many(CHANNEL, "1", [{"n": 3}, {"n": 4}])
                raise RuntimeError("rolled back")
        await asyncio.sleep(0.3)
        assert not wake.is_set()
        async with first.unit() as unit:
            await unit.enqueue_many(CHANNEL, "1", [{"n": 5}, {"n": 6}])
            assert unit.notified
            await asyncio.sleep(0.3)
            assert not wake.is_set(), "woken before the commit"
        await asyncio.wait_for(wake.wait(), 2)
    finally:
        stop.set()
        await asyncio.wait_for(listening, 5)


@pytest.mark.postgres
async def test_a_commit_in_another_schema_of_the_database_wakes_nobody_here() -> None:
    """Notifications are per database, outboxes per schema: a commit that queued rows in
    one schema wakes that schema's listeners only (the channel is named after the schema)."""
    schemas = [await _create_schema(), await _create_schema()]
    stores: list[Storage] = []
    wake, stop = asyncio.Event(), asyncio.Event()
    try:
        for schema in schemas:
            kw = {"connect_args": {"server_settings": {"search_path": schema}}}
            stores.append(await Storage.open(PG_URL, **kw))
        here, elsewhere = stores
        listening = asyncio.create_task(listen_for_outbox(here, wake, stop, check_every=0.2))
        try:
            await asyncio.wait_for(wake.wait(), 5)  # the first look when listening starts
            wake.clear()
            async with elsewhere.unit() as unit:
                await unit.enqueue(CHANNEL, "1", {"n": 1}, kind="notice")
            async with elsewhere.unit() as unit:
                await unit.enqueue_many(CHANNEL, "1", [{"n": 2}, {"n": 3}])
            await asyncio.sleep(0.5)
            assert not wake.is_set(), "woken by another schema's commit"
            # The same process tags as a stranger's commit here do wake it.
            other = Storage(here.engine)
            async with other.unit() as unit:
                await unit.enqueue(CHANNEL, "1", {"n": 4}, kind="notice")
            await asyncio.wait_for(wake.wait(), 2)
        finally:
            stop.set()
            await asyncio.wait_for(listening, 5)
    finally:
        for store in stores:
            await store.close()
        for schema in schemas:
            await _drop_schema(schema)


async def test_notices_to_reviewers_are_queued_as_notices(storage: Storage) -> None:
    agency, campaign = await seed_campaign(storage)
    async with storage.unit() as unit:
        reviewer = await unit.add_user("Thẩm định", None, "reviewer")
        await unit.bind_identity(reviewer.id, CHANNEL, "777", "Thẩm định")
        sub = await unit.submission(campaign.id, agency.id)
        await Phieu(storage).review.notify_submitted(
            unit, agency, campaign, Phieu(storage).forms["binh-dinh-2019-so"], sub
        )
        [row] = await unit.pending_for_chat(CHANNEL, "777")
    assert row.kind == "notice"
    assert reply_to_json(Reply("x"))  # replies default to kind "reply"
