"""The reminder planner and the outbox together, on SQLite and PostgreSQL, with a fake clock."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.workers.outbox import OutboxWorker, RateLimiter
from bot.workers.reminders import ReminderPlanner, broadcast, broadcast_audience
from flows.loader import builtin_forms
from flows.machines import Status
from flows.navigation import summarise
from flows.state import Answer
from storage import Storage
from storage.models import Campaign

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FORMS = builtin_forms()


def local(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN).astimezone(UTC)


@dataclass
class Clock:
    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Recorder:
    """A transport that records what it delivered; can hang on a given delivery."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    hang_on: int | None = None
    hanging: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, chat_id: str, payload: dict[str, Any]) -> None:
        if self.hang_on is not None and len(self.sent) == self.hang_on:
            self.hanging.set()
            await asyncio.Event().wait()  # never returns: the worker is "killed" here
        self.sent.append((chat_id, payload["text"]))


@dataclass
class World:
    campaign_id: int
    agencies: dict[str, int]
    users: dict[str, int]


async def setup(storage: Storage, n: int = 3) -> World:
    """n draft agencies (one official each, chat = 700+i), one submitted, one reviewer."""
    async with storage.unit() as u:
        camp = await u.add_campaign("binh-dinh-2019-so", 1, "CQĐT 2026", date(2026, 11, 26))
        agencies, users = {}, {}
        for i in range(n):
            a = await u.add_agency(f"S{i}", f"Sở số {i}", "so")
            user = await u.add_user(f"Cán bộ {i}", a.id, "official")
            await u.bind_identity(user.id, "telegram", str(700 + i), None)
            agencies[f"S{i}"], users[f"S{i}"] = a.id, user.id
        done = await u.add_agency("DONE", "Sở đã nộp", "so")
        user = await u.add_user("Đã nộp", done.id, "official")
        await u.bind_identity(user.id, "telegram", "799", None)
        sub = await u.submission(camp.id, done.id)
        await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, user.id, local(2026, 11, 1))
        huyen = await u.add_agency("H1", "UBND huyện (mẫu khác)", "huyen")
        hu = await u.add_user("Huyện", huyen.id, "official")
        await u.bind_identity(hu.id, "telegram", "798", None)
        reviewer = await u.add_user("Thẩm định", None, "reviewer")
        await u.bind_identity(reviewer.id, "telegram", "900", None)
        users["reviewer"] = reviewer.id
    return World(camp.id, agencies, users)


def planner(storage: Storage, clock: Clock) -> ReminderPlanner:
    return ReminderPlanner(storage, FORMS, clock)


async def chats_with_rows(storage: Storage, prefix: str = "remind:") -> list[str]:
    async with storage.unit() as u:
        return sorted(r["chat_id"] for r in await u.keyed_rows(prefix))


async def test_due_reminders_go_to_officials_of_agencies_that_did_not_submit(
    storage: Storage,
) -> None:
    world = await setup(storage)
    clock = Clock(local(2026, 11, 18, 12))
    p = planner(storage, clock)
    assert await p.run_once() == 0  # before d-7
    clock.at = local(2026, 11, 19, 8)
    assert await p.run_once() == 3
    # 799 submitted, 798 is of another cohort (not targeted), 900 is told only when late.
    assert await chats_with_rows(storage) == ["700", "701", "702"]
    assert await p.run_once() == 0  # again: nothing new
    clock.at = local(2026, 11, 19, 15)
    assert await p.run_once() == 0
    async with storage.unit() as u:
        rows = await u.keyed_rows(f"remind:{world.campaign_id}:{world.agencies['S0']}:")
    assert len(rows) == 1 and rows[0]["kind"] == "notice"
    text = rows[0]["payload"]["text"]
    assert text.startswith("⏰ Nhắc nộp phiếu “CQĐT 2026” của Sở số 0: còn 7 ngày (hạn 26/11/2026)")
    total = summarise(FORMS["binh-dinh-2019-so"], {}).total  # questions asked of a blank form
    assert f"đã trả lời 0/{total} câu, còn thiếu Mục 1, Mục 2, Mục 3, Mục 4 và 4 mục khác" in text
    assert rows[0]["payload"]["actions"] == [["▶️ Tiếp tục", "c||continue"]]


async def test_progress_counts_what_was_answered(storage: Storage) -> None:
    world = await setup(storage, n=1)
    form = FORMS["binh-dinh-2019-so"]
    section1 = [q for q in form.questions if q.section == "1"]
    async with storage.unit() as u:
        sub = await u.submission(world.campaign_id, world.agencies["S0"])
        changes = {q.id: Answer(None, "không có") for q in section1}
        await u.apply_changes(sub.id, changes, world.users["S0"], "telegram", local(2026, 11, 2))
    clock = Clock(local(2026, 11, 23, 9))
    assert await planner(storage, clock).run_once() == 1
    async with storage.unit() as u:
        (row,) = await u.keyed_rows("remind:")
    total = summarise(form, changes).total
    assert (
        f"đã trả lời {len(section1)}/{total} câu, còn thiếu Mục 2, Mục 3" in row["payload"]["text"]
    )


async def test_returned_and_accepted_agencies_get_their_own_words(storage: Storage) -> None:
    world = await setup(storage, n=2)
    async with storage.unit() as u:
        for code, path in (
            ("S0", [Status.SUBMITTED, Status.IN_REVIEW, Status.RETURNED]),
            ("S1", [Status.SUBMITTED, Status.IN_REVIEW, Status.ACCEPTED]),
        ):
            sub = await u.submission(world.campaign_id, world.agencies[code])
            for old, new in zip([Status.DRAFT, *path], path, strict=False):
                assert await u.move_submission(sub.id, old, new, None, local(2026, 11, 2))
    await planner(storage, Clock(local(2026, 11, 25, 8))).run_once()
    async with storage.unit() as u:
        texts = {r["chat_id"]: r["payload"]["text"] for r in await u.keyed_rows("remind:")}
    assert "có mục được trả lại, chưa nộp lại" in texts["700"]
    assert "chưa xác nhận số liệu" in texts["701"]


async def test_quiet_hours_hold_everything_until_morning(storage: Storage) -> None:
    await setup(storage, n=1)
    clock = Clock(local(2026, 11, 22, 23, 0))  # d-3 is 23/11 08:00; worker up at 23:00 the
    p = planner(storage, clock)  # day before: nothing (not due yet)
    assert await p.run_once() == 0
    clock.at = local(2026, 11, 23, 21, 5)  # missed the whole day: now quiet → waits
    assert await p.run_once() == 0
    clock.at = local(2026, 11, 24, 6, 59)
    assert await p.run_once() == 0
    clock.at = local(2026, 11, 24, 7, 0)
    assert await p.run_once() == 1


async def test_deadline_extended_after_some_were_sent(storage: Storage) -> None:
    world = await setup(storage, n=1)
    clock = Clock(local(2026, 11, 19, 8))
    p = planner(storage, clock)
    sent_at: dict[str, datetime] = {}

    async def run_at(when: datetime) -> None:
        clock.at = when
        await p.run_once()
        async with storage.unit() as u:
            for r in await u.keyed_rows("remind:"):
                slot = r["dedupe_key"].split("@")[0].rsplit(":", 1)[1]
                sent_at.setdefault(f"{r['chat_id']}/{slot}", when)

    await run_at(local(2026, 11, 19, 8))
    await run_at(local(2026, 11, 23, 8))
    async with storage.unit() as u:  # `phieu campaign extend` (campaigns work) does this
        await u._exec(
            update(Campaign)
            .where(Campaign.id == world.campaign_id)
            .values(deadline=date(2026, 12, 3))
        )
    for day in [
        *(date(2026, 11, d) for d in range(24, 31)),
        *(date(2026, 12, d) for d in range(1, 6)),
    ]:
        await run_at(datetime(day.year, day.month, day.day, 9, tzinfo=VN).astimezone(UTC))
    assert sent_at == {
        "700/d-7": local(2026, 11, 19, 8),
        "700/d-3": local(2026, 11, 23, 8),
        "700/d-1": local(2026, 12, 2, 9),
        "700/d-0": local(2026, 12, 3, 9),
        "700/overdue": local(2026, 12, 4, 9),
        "900/overdue": local(2026, 12, 4, 9),  # the reviewer's digest
    }


async def test_muted_official_is_skipped_and_can_unmute(storage: Storage) -> None:
    world = await setup(storage, n=2)
    async with storage.unit() as u:
        await u.set_reminder_mute(world.campaign_id, world.users["S0"], True, local(2026, 11, 1))
    clock = Clock(local(2026, 11, 19, 8))
    await planner(storage, clock).run_once()
    assert await chats_with_rows(storage) == ["701"]
    async with storage.unit() as u:
        await u.set_reminder_mute(world.campaign_id, world.users["S0"], False, local(2026, 11, 20))
    clock.at = local(2026, 11, 23, 8)
    await planner(storage, clock).run_once()
    assert await chats_with_rows(storage) == ["700", "701", "701"]


async def test_two_planners_and_two_workers_racing_make_one_row_and_one_send_each(
    storage: Storage,
) -> None:
    await setup(storage, n=40)
    clock = Clock(local(2026, 11, 19, 8))
    counts = await asyncio.gather(*(planner(storage, clock).run_once() for _ in range(2)))
    assert sum(counts) == 40
    # Once more, both at the same instant again: nothing new.
    assert await asyncio.gather(*(planner(storage, clock).run_once() for _ in range(2))) == [0, 0]
    assert len(await chats_with_rows(storage)) == 40
    transport = Recorder()

    def worker() -> OutboxWorker:
        limiter = RateLimiter(per_second=10_000, chat_burst=10)
        return OutboxWorker(storage, {"telegram": transport}, clock, limiter=limiter, batch=7)

    a, b = worker(), worker()
    while True:
        handled = await asyncio.gather(a.run_once(), b.run_once())
        if not any(handled):
            break
    per_chat = Counter(chat for chat, _ in transport.sent)
    assert len(per_chat) == 40 and set(per_chat.values()) == {1}


async def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
    storage: Storage,
) -> None:
    await setup(storage, n=10)
    clock = Clock(local(2026, 11, 19, 8))
    assert await planner(storage, clock).run_once() == 10
    transport = Recorder(hang_on=4)
    fast = RateLimiter(per_second=10_000)
    doomed = OutboxWorker(storage, {"telegram": transport}, clock, limiter=fast, batch=10)
    task = asyncio.create_task(doomed.run_once())
    await asyncio.wait_for(transport.hanging.wait(), 10)
    task.cancel()  # killed while sending the 5th: 4 are marked sent, 6 are "sending"
    with pytest.raises(asyncio.CancelledError):
        await task
    async with storage.unit() as u:
        assert (await u.outbox_counts())["sent"] == 4
    first = list(transport.sent)
    transport.hang_on = None
    heir = OutboxWorker(storage, {"telegram": transport}, clock, limiter=RateLimiter(10_000))
    assert await heir.run_once() == 0  # the dead worker's lease still holds
    clock.at += timedelta(seconds=61)
    assert await heir.run_once() == 6
    assert transport.sent[:4] == first
    assert sorted(c for c, _ in transport.sent) == [str(700 + i) for i in range(10)]
    async with storage.unit() as u:
        assert (await u.outbox_counts())["sent"] == 10
    assert await planner(storage, clock).run_once() == 0  # and the planner queues none again


async def test_replies_are_not_delayed_behind_a_reminder_batch(storage: Storage) -> None:
    await setup(storage, n=60)
    clock = Clock(local(2026, 11, 19, 8))
    assert await planner(storage, clock).run_once() == 60
    async with storage.unit() as u:
        await u.enqueue("telegram", "555", {"text": "câu hỏi tiếp theo"})  # a reply, queued last
    transport = Recorder()
    w = OutboxWorker(storage, {"telegram": transport}, clock, limiter=RateLimiter(10_000), batch=20)
    await w.run_once()
    assert transport.sent[0] == ("555", "câu hỏi tiếp theo")
    assert len(transport.sent) == 20


async def test_broadcast_reaches_each_chat_once_and_only_pending_when_asked(
    storage: Storage,
) -> None:
    world = await setup(storage, n=3)
    async with storage.unit() as u:
        campaign = await u.campaign(world.campaign_id)
        assert campaign is not None
        everyone = await broadcast_audience(u, campaign, FORMS, only_pending=False)
        pending = await broadcast_audience(u, campaign, FORMS, only_pending=True)
    assert everyone.chats == 4 and pending.chats == 3
    assert await broadcast(storage, world.campaign_id, "Họp lúc 9h", pending) == 3
    assert await broadcast(storage, world.campaign_id, "Họp lúc 9h", everyone) == 1
    assert await chats_with_rows(storage, "broadcast:") == ["700", "701", "702", "799"]


def test_remind_every_setting() -> None:
    from bot.config import ConfigError
    from bot.workers.reminders import every_from_env

    assert every_from_env({}) == 60
    assert every_from_env({"PHIEU_REMIND_EVERY": "15"}) == 15
    for bad in ("0", "abc", "-5", "100000"):
        with pytest.raises(ConfigError, match="PHIEU_REMIND_EVERY=60"):
            every_from_env({"PHIEU_REMIND_EVERY": bad})


async def test_phieu_worker_plans_and_sends_through_the_bot_api(storage: Storage) -> None:
    """`phieu worker` (run_workers) runs the planner beside the delivery: an overdue reminder
    reaches the official's Telegram chat with its “Tiếp tục” button."""
    from bot.workers.channels import run_workers
    from tests.e2e.telegram_support import TOKEN, settings_for
    from tests.fakes import FakeTelegram

    async with storage.unit() as u:
        camp = await u.add_campaign("binh-dinh-2019-so", 1, "Đợt cũ", date(2020, 1, 1))
        # No quiet hours, weekends allowed: the overdue notice is due whenever the test runs.
        settings = {
            "days_before": [7, 3, 1], "at": "08:00", "on_deadline": True, "overdue": True,
            "quiet_start": "00:00", "quiet_end": "00:00", "no_weekends": False,
            "overdue_to_head": True, "overdue_to_reviewer": False,
        }  # fmt: skip
        await u.set_reminder_plan(camp.id, settings, datetime.now(UTC))
        agency = await u.add_agency("S9", "Sở Chín", "so")
        user = await u.add_user("Lan", agency.id, "official")
        await u.bind_identity(user.id, "telegram", "4242", None)
    stop = asyncio.Event()
    async with FakeTelegram(token=TOKEN) as tg:
        tg.user(4242)
        task = asyncio.create_task(
            run_workers(settings_for(tg), None, storage, stop=stop, forms=FORMS)
        )
        try:
            call = await tg.wait_for_call("sendMessage", timeout=20)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
        assert call.params["chat_id"] == 4242
        assert "Sở Chín" in call.params["text"] and "quá hạn" in call.params["text"]
        buttons = call.params["reply_markup"]["inline_keyboard"]
        assert buttons[0][0]["callback_data"] == "c||continue"
    async with storage.unit() as u:
        assert (await u.outbox_counts())["sent"] == 1


@dataclass
class Timed:
    """Records monotonic send times; answers 429 (RetryAfter) on the calls listed."""

    at: list[tuple[float, str]] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)
    calls: int = 0

    async def deliver(self, chat_id: str, payload: dict[str, Any]) -> None:
        from bot.workers.outbox import RetryAfter

        self.calls += 1
        if self.calls in self.refuse:
            raise RetryAfter(0.5)
        started = time.monotonic()  # when the request leaves: what the rate is about
        await asyncio.sleep(0.01)  # a round trip
        self.at.append((started, chat_id))


async def test_a_worker_sending_chats_in_parallel_stays_within_the_rate_and_loses_nothing(
    storage: Storage,
) -> None:
    await setup(storage, n=45)
    clock = Clock(local(2026, 11, 19, 8))
    assert await planner(storage, clock).run_once() == 45
    transport = Timed(refuse={5})
    w = OutboxWorker(
        storage, {"telegram": transport}, utcnow_real, limiter=RateLimiter(20), parallel=4
    )
    end = time.monotonic() + 20
    while time.monotonic() < end:
        await w.run_once()
        async with storage.unit() as u:
            if (await u.outbox_counts())["sent"] == 45:
                break
        await asyncio.sleep(0.05)
    sent = Counter(chat for _, chat in transport.at)
    assert len(sent) == 45 and set(sent.values()) == {1}
    times = sorted(t for t, _ in transport.at)
    peak = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    assert peak <= 21  # the bot's rate (20/s), however many chats are in flight


def utcnow_real() -> datetime:
    return datetime.now(UTC)


def test_send_parallel_setting() -> None:
    from bot.config import ConfigError
    from bot.workers.pacing import SendSettings

    assert SendSettings.from_env({}).parallel == 4
    assert SendSettings.from_env({"PHIEU_SEND_PARALLEL": "1"}).parallel == 1
    for bad in ("0", "2.5", "x"):
        with pytest.raises(ConfigError, match="PHIEU_SEND_PARALLEL=4"):
            SendSettings.from_env({"PHIEU_SEND_PARALLEL": bad})
