"""The outbox stays within Telegram's limits: ≈30/s per bot, ≈1/s per chat after a burst
for unsolicited messages (notices); a reply to the chat's own message is not held per chat.

A real OutboxWorker on real storage, with a recording transport and a virtual clock: the
send times it records are the times the worker chose, so the limits are checked exactly
and the test takes no real time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.workers.outbox import OutboxWorker, RateLimiter, RetryAfter
from storage import Storage

START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


class Recorder:
    """A transport that notes when each message left; can answer 429 a few times."""

    def __init__(self, clock: Clock, throttle: int = 0, retry_after: float = 2) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, int]] = []
        self.throttle = throttle
        self.retry_after = retry_after

    async def deliver(self, chat_id: str, payload: dict[str, Any]) -> None:
        if self.throttle:
            self.throttle -= 1
            raise RetryAfter(self.retry_after)
        self.sent.append((self.clock.t, chat_id, payload["n"]))


def worker(storage: Storage, clock: Clock, transport: Recorder, per_second: float) -> OutboxWorker:
    return OutboxWorker(
        storage,
        {"telegram": transport},
        clock.now,
        limiter=RateLimiter(per_second=per_second, clock=clock.monotonic),
        sleep=clock.sleep,
    )


async def drain(w: OutboxWorker, storage: Storage, clock: Clock) -> None:
    for _ in range(10_000):
        if not await w.run_once():
            async with storage.unit() as unit:
                counts = await unit.outbox_counts()
            if counts["pending"] == 0 and counts["sending"] == 0:
                return
            clock.t += 0.5  # only rows waiting for a retry time are left
    raise AssertionError("outbox did not drain")


def peak(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


async def enqueue(storage: Storage, chats: int, per_chat: int, kind: str = "notice") -> None:
    async with storage.unit() as unit:
        for n in range(per_chat):
            for chat in range(chats):
                await unit.enqueue("telegram", str(1000 + chat), {"n": n, "text": "x"}, kind=kind)


async def test_bot_wide_and_per_chat_limits_hold(storage: Storage) -> None:
    clock = Clock()
    transport = Recorder(clock)
    await enqueue(storage, chats=40, per_chat=5)
    await drain(worker(storage, clock, transport, per_second=25), storage, clock)

    assert len(transport.sent) == 200
    assert peak([t for t, _, _ in transport.sent]) <= 25
    by_chat: dict[str, list[float]] = defaultdict(list)
    for t, chat, _ in transport.sent:
        by_chat[chat].append(t)
    for times in by_chat.values():
        # A burst of three, then about one a second.
        assert peak(times, window=1.0) <= 4  # three at once, a fourth as the bucket refills
        assert times[-1] - times[2] >= 1.0 * (len(times) - 3) - 1e-9


async def test_order_per_chat_and_each_message_once(storage: Storage) -> None:
    clock = Clock()
    transport = Recorder(clock)
    await enqueue(storage, chats=3, per_chat=10)
    await drain(worker(storage, clock, transport, per_second=25), storage, clock)
    assert Counter((chat, n) for _, chat, n in transport.sent) == Counter(
        {(str(1000 + c), n): 1 for c in range(3) for n in range(10)}
    )
    for chat in ("1000", "1001", "1002"):
        assert [n for _, c, n in transport.sent if c == chat] == list(range(10))


async def test_429_pauses_the_worker_and_costs_no_attempt(storage: Storage) -> None:
    clock = Clock()
    transport = Recorder(clock, throttle=12)
    await enqueue(storage, chats=1, per_chat=2)
    await drain(worker(storage, clock, transport, per_second=25), storage, clock)
    assert [n for _, _, n in transport.sent] == [0, 1]
    assert transport.sent[0][0] >= 2 * 12  # waited retry_after each time
    async with storage.unit() as unit:
        counts = await unit.outbox_counts()
    assert counts["sent"] == 2 and counts["failed"] == 0  # 12 × 429 did not exhaust it


async def test_one_busy_chat_gets_a_burst_then_one_a_second(storage: Storage) -> None:
    clock = Clock()
    transport = Recorder(clock)
    await enqueue(storage, chats=1, per_chat=10)
    await drain(worker(storage, clock, transport, per_second=25), storage, clock)
    times = [t for t, _, _ in transport.sent]
    assert len(times) == 10
    assert peak(times, window=1.0) <= 4
    gaps = [b - a for a, b in itertools.pairwise(times[3:])]
    assert all(gap >= 1.0 - 1e-9 for gap in gaps), gaps


async def test_a_long_429_gives_the_batch_back_instead_of_holding_it(storage: Storage) -> None:
    clock = Clock()
    transport = Recorder(clock, throttle=1, retry_after=30)
    await enqueue(storage, chats=3, per_chat=1)
    w = worker(storage, clock, transport, per_second=25)
    assert await w.run_once() == 3
    async with storage.unit() as unit:
        counts = await unit.outbox_counts()
    assert counts["sending"] == 0 and counts["pending"] == 3 and transport.sent == []
    await drain(w, storage, clock)
    assert len(transport.sent) == 3 and min(t for t, _, _ in transport.sent) >= 30
