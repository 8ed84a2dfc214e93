"""Helpers for the end-to-end Telegram tests: the real adapter over HTTP against FakeTelegram.

Nothing here replaces production code: the bot, the dispatcher and the outbox worker come
from `bot.telegram_app`; only time is virtual (the worker's rate limiter, its sleeps and the
clock it schedules retries with), so a 429 with retry_after or a backoff costs no real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher

from bot.config import Settings, load_settings
from bot.invites import hash_code, new_code
from bot.service import Phieu
from bot.telegram_app import ALLOWED_UPDATES, make_bot, make_dispatcher, make_worker
from bot.workers.outbox import OutboxWorker, RateLimiter
from flows.loader import builtin_forms
from flows.state import Answer
from storage.records import AgencyRec, CampaignRec
from storage.repository import Storage
from tests.fakes import FakeTelegram

TOKEN = "123456:" + "A" * 35
CHANNEL = "telegram"
FORM_ID = "binh-dinh-2019-so"
AGENCY_NAME = "Sở Thông tin và Truyền thông"
WAIT = 10.0  # seconds: an upper bound, never a pause


def settings_for(tg: FakeTelegram, *, webhook: bool = False, **env: str) -> Settings:
    return load_settings(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, **env}, webhook=webhook
    )


def deadline() -> date:
    """Always in the future, so the campaign is open whenever the suite runs."""
    return (datetime.now(UTC) + timedelta(days=30)).date()


# ---- data set-up through storage ----------------------------------------------------------
async def seed_campaign(
    storage: Storage, *, code: str = "STTTT", staff: tuple[int, int] | None = (60, 40)
) -> tuple[AgencyRec, CampaignRec]:
    """An agency of the `so` cohort and an open campaign for binh-dinh-2019-so.

    `staff` pre-answers 1.8 and 1.9 (section 1), which the computed 3.2.c divides by."""
    form = builtin_forms()[FORM_ID]
    async with storage.unit() as unit:
        agency = await unit.add_agency(code, AGENCY_NAME, "so")
        campaign = await unit.add_campaign(form.id, form.version, "Đợt thử", deadline())
        if staff is not None:
            sub = await unit.submission(campaign.id, agency.id)
            changes = {"1.8": Answer(staff[0]), "1.9": Answer(staff[1])}
            await unit.apply_changes(sub.id, changes, None, "console", datetime.now(UTC))
    return agency, campaign


async def new_invite(storage: Storage, agency_id: int, *, uses: int | None = 1) -> str:
    code = new_code()
    async with storage.unit() as unit:
        expires = datetime.now(UTC) + timedelta(days=14)
        await unit.add_invite(hash_code(code), agency_id, "official", uses, expires)
    return code


async def answers_of(storage: Storage, campaign_id: int, agency_id: int) -> dict[str, Any]:
    async with storage.unit() as unit:
        sub = await unit.submission(campaign_id, agency_id, create=False)
        if sub is None:
            return {}
        return {k: a.value for k, a in (await unit.load_answers(sub.id)).items()}


async def outbox_counts(storage: Storage) -> dict[str, int]:
    async with storage.unit() as unit:
        return await unit.outbox_counts()


# ---- virtual time for the outbox worker ---------------------------------------------------
@dataclass
class VirtualClock:
    """Monotonic seconds and UTC datetimes that move only when slept on or advanced."""

    seconds: float = 0.0
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.seconds

    def utcnow(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def advance(self, seconds: float) -> None:
        self.seconds += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def virtual_worker(storage: Storage, bot: Bot, clock: VirtualClock) -> OutboxWorker:
    """The production worker (make_worker) with its clocks and sleep made virtual."""
    worker = make_worker(storage, bot)
    worker.now = clock.utcnow
    worker.sleep = clock.sleep
    worker.limiter = RateLimiter(per_second=worker.limiter.per_second, clock=clock.monotonic)
    return worker


async def drain(
    storage: Storage, clock: VirtualClock, *workers: OutboxWorker, timeout: float = WAIT
) -> None:
    """Run the workers (concurrently) until nothing is pending or being sent; when the
    only rows left wait for a retry time, move the virtual clock on instead of waiting."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    step = 0.5
    while True:
        handled = sum(await asyncio.gather(*(w.run_once() for w in workers)))
        if handled:
            step = 0.5
            continue
        counts = await outbox_counts(storage)
        if counts["pending"] == 0 and counts["sending"] == 0:
            return
        if loop.time() > end:
            raise AssertionError(f"outbox not drained after {timeout}s: {counts}")
        # Nothing due: a retry waits. No row is being sent now, so jumping ahead (doubling,
        # for long backoffs) cannot expire a lease under a worker's feet.
        step = min(step * 2, 60.0)
        clock.advance(step)


# ---- long polling --------------------------------------------------------------------------
class Polling:
    """`dp.start_polling` in a task, one update at a time, as `run_polling` runs it."""

    def __init__(self, tg: FakeTelegram, dp: Dispatcher, bot: Bot) -> None:
        self.tg, self.dp, self.bot = tg, dp, bot
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Polling:
        self.task = asyncio.create_task(
            self.dp.start_polling(
                self.bot,
                handle_as_tasks=False,
                allowed_updates=ALLOWED_UPDATES,
                handle_signals=False,
                close_bot_session=False,
            )
        )
        await self.tg.wait_for_call("getUpdates", answered=False, timeout=WAIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        if self.task.done():
            await self.task  # surfaces a crash of the polling loop
            return
        await asyncio.wait_for(self.dp.stop_polling(), WAIT)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, WAIT)

    async def handled(self, update: dict[str, Any]) -> None:
        """Wait until the dispatcher finished `update`: with handle_as_tasks=False the next
        getUpdates (offset past it) is sent only after its handler returned."""
        update_id = int(update["update_id"])
        loop = asyncio.get_running_loop()
        end = loop.time() + WAIT
        while True:
            polls = [c for c in self.tg.call_log if c.method == "getUpdates"]
            if any(int(c.params.get("offset") or 0) > update_id for c in polls):
                return
            assert self.task is not None and not self.task.done(), "polling stopped"
            remaining = end - loop.time()
            if remaining <= 0:
                raise AssertionError(f"update {update_id} not handled after {WAIT}s")
            await self.tg.wait_for_call(
                "getUpdates", count=len(polls) + 1, answered=False, timeout=remaining
            )


@dataclass
class Chat:
    """One fake user talking to the bot: act, wait until handled, deliver the replies."""

    tg: FakeTelegram
    polling: Polling
    storage: Storage
    clock: VirtualClock
    worker: OutboxWorker
    user: Any
    presses: int = 0  # callback queries this user produced

    async def act(self, update: dict[str, Any]) -> list[str]:
        """After a user action: wait for the bot, send its replies; the new texts shown."""
        before = len(self.tg.sent(self.user.chat_id))
        await self.polling.handled(update)
        await drain(self.storage, self.clock, self.worker)
        return [m["text"] for m in self.tg.sent(self.user.chat_id)[before:]]

    async def say(self, text: str) -> list[str]:
        return await self.act(await self.user.send_text(text))

    async def press(self, label: str) -> list[str]:
        self.presses += 1
        return await self.act(await self.user.press(label))

    async def press_on(self, message_id: int, label: str) -> list[str]:
        self.presses += 1
        return await self.act(await self.user.press_on(message_id, label))

    async def start(self, code: str | None = None) -> list[str]:
        return await self.act(await self.user.start(code))

    def last(self) -> dict[str, Any]:
        return self.tg.last_sent(self.user.chat_id)

    def buttons(self, message: dict[str, Any] | None = None) -> list[str]:
        message = message or self.last()
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [b["text"] for row in rows for b in row]


@dataclass
class Rig:
    """One bot process on long polling: bot, dispatcher, polling task, virtual-time worker."""

    tg: FakeTelegram
    storage: Storage
    bot: Bot
    clock: VirtualClock
    worker: OutboxWorker
    polling: Polling

    def chat(self, user_id: int, first_name: str = "Lan", language_code: str = "vi") -> Chat:
        user = self.tg.user(user_id, first_name, language_code=language_code)
        return Chat(self.tg, self.polling, self.storage, self.clock, self.worker, user)


@contextlib.asynccontextmanager
async def polling_rig(tg: FakeTelegram, storage: Storage) -> AsyncIterator[Rig]:
    bot = make_bot(settings_for(tg))
    clock = VirtualClock()
    try:
        async with Polling(tg, make_dispatcher(Phieu(storage)), bot) as polling:
            yield Rig(tg, storage, bot, clock, virtual_worker(storage, bot, clock), polling)
    finally:
        await bot.session.close()


# What the walk-through of Mục 3 (tests/e2e/test_telegram.py, test_zalo.py) stores, the same
# on every channel.
SECTION_3 = {
    "3.1.a": 40,
    "3.1.b": 10,
    "3.2.a": 45,
    "3.2.b.1": 1.5,
    "3.2.b.2": 100,
    "3.2.b.3": 8,
    "3.2.b.4": 0,
    "3.2.b": 515.5,
    "3.2.c": pytest.approx(5.155),
    "3.3": 3,
    "3.4": 5,
    "3.5": 2,
    "3.6": True,
    "3.6.a": "Mạng truyền số liệu chuyên dùng",
    "3.7.a": True,
    "3.7.a.1": 2,
    "3.7.b": False,
    "3.7.c": True,
    "3.7.d": True,
    "3.7.đ": 50,
    "3.8": True,
    "3.8.1.co": True,
    "3.8.1.so_luong": 1,
    "3.8.2.co": False,
    "3.8.3.co": True,
    "3.8.3.so_luong": 2,
    "3.8.4.co": False,
    "3.8.5.co": False,
    "3.8.6": [{"ten": "Ổ đĩa quang", "so_luong": 3}],
}


def assert_section_3(answers: dict[str, Any]) -> None:
    """The answers of Mục 3 are exactly the walk-through's, counts stored as int."""
    assert {k: v for k, v in answers.items() if k.startswith("3.")} == SECTION_3
    assert all(type(answers[k]) is int for k in ("3.1.a", "3.3", "3.7.a.1", "3.8.3.so_luong"))
