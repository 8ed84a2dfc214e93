"""The outbox worker: every message leaves through here, after its transaction committed.

Rows are claimed in one short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so several
workers share the load), sent with no transaction open, then each marked sent right away in
its own unit, retried until it sticks (a lost connection never resends). Storage only
hands out the head of each chat's queue, so one chat's messages keep their order even with
several workers. Limits follow Telegram's: about 30 messages a second per bot (split between
workers) and about one a second per chat after a short burst. A 429 pauses this worker for
`retry_after` and puts the message back; network errors back off exponentially; a message the
API refuses for good is marked failed and logged, never retried forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio import FIRST_COMPLETED
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.workers.turn import Turn
from storage.records import OutboxRec
from storage.repository import Storage
from storage.retry import DEFAULT_POLICY, RetryPolicy, is_transient, retrying

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
PRUNE_EVERY = 3600.0
MAX_HOLD = 10.0  # longest wait before a claimed row is given back instead
MAX_WINDOW = 100  # most sends remembered for the bot-wide rate window

ChatKey = tuple[str, str]  # (channel, chat_id)


class RetryAfter(Exception):
    """The chat API asked us to wait (HTTP 429)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class TransientError(Exception):
    """Network trouble or a 5xx: worth trying again later."""


class PermanentError(Exception):
    """The API refused the message itself (400, 403 blocked by user): do not retry."""


class Transport(Protocol):
    """A channel's way of delivering one outbox payload to one chat."""

    async def deliver(self, chat_id: str, payload: dict[str, Any]) -> None: ...


@dataclass
class RateLimiter:
    """This process's share of the bot's send rate, per-chat budgets, and a global pause.

    `per_second` is what this process may send (RateShare sets it to the bot's rate divided
    by its live senders). Sends are booked with `reserve`, so concurrent senders in one
    process (the reply sender's chat tasks and the worker) never take the same slot. The
    per-chat budget (a burst of `chat_burst`, then one per `chat_interval`) is Telegram's
    advice for unsolicited messages; a reply to the chat's own message skips it (Telegram
    answers a person as fast as they write). Only chats with spent budget are remembered,
    and a chat whose bucket has refilled is forgotten, so memory stays flat in users.
    """

    per_second: float = 25.0
    chat_interval: float = 1.0
    chat_burst: int = 3
    clock: Callable[[], float] = time.monotonic
    _paused_until: float = 0.0
    _chats: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Booked send times, newest last: at most `_window_size()` of them in any window of
    # `_window_size() / per_second` seconds (Telegram counts messages per second, so a
    # reply and its question may leave together instead of 1/rate apart).
    _booked: deque[float] = field(default_factory=deque)
    # Senders waiting for a bot-wide slot queue here, first come first served within
    # replies and within notices, replies first (bot/workers/turn.py): without it a new
    # arrival could take the slot a long waiter was about to get (p99 of 7 s with 50
    # officials at once, against a p50 of 2 s), and a reply waited behind reminders.
    turn: Turn = field(default_factory=Turn)
    # After a 429 pause the first send is a probe and goes alone: the others wait for its
    # outcome (`resumed`), so several senders in flight (PHIEU_SEND_PARALLEL, the reply
    # sender's chats) do not all resume at the same instant and earn a 429 each.
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    _needs_probe: bool = False

    def __post_init__(self) -> None:
        self.resumed.set()

    def chat_delay(self, chat_id: str, reply: bool = False) -> float:
        """Seconds the chat's own budget holds a send (0 for replies)."""
        return self._chat_wait(chat_id, self.clock(), reply)

    def _window_size(self) -> int:
        return max(1, min(MAX_WINDOW, round(self.per_second)))

    def _next_slot(self, now: float) -> float:
        """The earliest time a new send may be booked for, by the bot-wide window."""
        size = self._window_size()
        while len(self._booked) > size:
            self._booked.popleft()
        if len(self._booked) < size:
            return now
        return max(now, self._booked[0] + size / self.per_second)

    def _tokens(self, chat_id: str, now: float) -> float:
        tokens, stamp = self._chats.get(chat_id, (float(self.chat_burst), now))
        return min(float(self.chat_burst), tokens + (now - stamp) / self.chat_interval)

    def _chat_wait(self, chat_id: str, now: float, reply: bool) -> float:
        if reply:
            return 0.0
        tokens = self._tokens(chat_id, now)
        return 0.0 if tokens >= 1 - 1e-9 else (1 - tokens) * self.chat_interval

    def delay(self, chat_id: str, reply: bool = False) -> float:
        """Seconds to wait before sending to `chat_id` now (0 when it may go); books nothing."""
        now = self.clock()
        return max(
            self._next_slot(now) - now,
            self._paused_until - now,
            self._chat_wait(chat_id, now, reply),
            0.0,
        )

    def reserve(self, chat_id: str, reply: bool = False) -> float:
        """Take a send to `chat_id` now if it may go: 0.0, and it is counted. Otherwise the
        seconds to wait before asking again (nothing counted meanwhile, so a held chat or a
        waiting sender never holds a slot, and what is counted is when a send really left).
        """
        now = self.clock()
        wait = self.delay(chat_id, reply)
        if wait > 0:
            return wait
        self._booked.append(now)
        while len(self._booked) > self._window_size():
            self._booked.popleft()
        if not reply:
            self._chats[chat_id] = (self._tokens(chat_id, now) - 1, now)
            if len(self._chats) > 256:
                self._forget_refilled(now)
        return 0.0

    def sent(self, chat_id: str) -> None:
        """Count a send made without `reserve` (kept for callers that pace themselves)."""
        now = self.clock()
        self._chats[chat_id] = (self._tokens(chat_id, now) - 1, now)
        self._booked.append(self._next_slot(now))
        self._forget_refilled(now)

    def _forget_refilled(self, now: float) -> None:
        """Drop chats whose bucket is full again (the same as never seen): at most the
        chats sent to in the last `chat_burst × chat_interval` seconds stay."""
        full = float(self.chat_burst)
        for chat, (tokens, stamp) in list(self._chats.items()):
            if tokens + (now - stamp) / self.chat_interval >= full:
                del self._chats[chat]

    def pause(self, seconds: float) -> None:
        """Hold every send for `seconds` (a 429's retry_after); the first one after it is a
        probe (`start_probe`)."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)
        self._needs_probe = True

    def start_probe(self) -> bool:
        """Called with a send just reserved: True if it is the first since a pause, in which
        case the other senders wait (`resumed`) until `end_probe` reports its outcome."""
        if not self._needs_probe:
            return False
        self._needs_probe = False
        self.resumed.clear()
        return True

    def end_probe(self) -> None:
        """The probe's outcome is known (a 429 has already called `pause` again)."""
        self.resumed.set()


def _log_failure(message: str, exc: Exception) -> None:
    """A database outage is already reported once per interval (storage.retry.Outage):
    no traceback per loop for it; anything else is a bug worth its traceback."""
    if is_transient(exc):
        log.debug("%s: %s", message, exc)
    else:
        log.error(message, exc_info=exc)


def backoff(attempts: int) -> float:
    return min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF)


@dataclass
class OutboxWorker:
    storage: Storage
    transports: dict[str, Transport]
    now: Callable[[], datetime]
    limiter: RateLimiter = field(default_factory=RateLimiter)
    batch: int = 50
    # The safety net's poll: replies are sent on commit (bot/workers/sender.py) and a worker is
    # woken by `wake` (in process) or NOTIFY (PostgreSQL); the poll only finds retries
    # come due, rows a crashed process left, and rows queued where nobody wakes us.
    idle_sleep: float = 1.0
    sleep: Callable[[float], Any] = asyncio.sleep
    retry: RetryPolicy = DEFAULT_POLICY
    keep_sent: timedelta = timedelta(days=7)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Seconds a fresh reply is left to the process that committed it (its reply sender)
    # before this worker's general claim takes it; 0 = at once (no reply sender anywhere).
    reply_grace: float = 0.0
    # Chats of one claimed batch sent concurrently (1: one after another).
    parallel: int = 1
    # Sent marks asked for while a mark unit is being written: they go together in the
    # next one (mark_sent). Only rows delivered and not yet marked: bounded by the sends
    # in flight.
    _marks: dict[int, asyncio.Future[None]] = field(default_factory=dict, repr=False)
    _marking: asyncio.Task[None] | None = field(default=None, repr=False)

    async def run_once(self) -> int:
        """Claim one batch (the oldest due rows of every chat, replies first), send it,
        record each outcome. Returns the rows handled.

        The claim is a unit retried with the transient-error policy (storage/retry.py),
        bounded: while the database is down nothing can be sent anyway. Each delivered row
        is marked at once (deliver_row).
        """

        async def claim() -> list[OutboxRec]:
            async with self.storage.unit() as unit:
                now = self.now()
                settled = now - timedelta(seconds=self.reply_grace) if self.reply_grace else None
                return await unit.claim_outbox(
                    now, self.batch, channels=tuple(self.transports), replies_before=settled
                )

        rows = await retrying(claim, what="outbox claim", policy=self.retry)
        await self.deliver(rows)
        return len(rows)

    async def claim_chats(self, chats: Callable[[], Collection[ChatKey]]) -> list[OutboxRec]:
        """Claim the due head of each chat's queue that `chats()` names (the reply sender's
        immediate path). `chats` is called once the unit has begun: on SQLite that is when
        this process's turn to write came, so every chat committed meanwhile joins the
        batch (one claim for many answers under load, at once when idle). Retried like any
        unit; the chats taken on the first try are the ones claimed on a retry."""
        taken: list[ChatKey] | None = None

        async def claim() -> list[OutboxRec]:
            nonlocal taken
            async with self.storage.unit() as unit:
                if taken is None:
                    taken = list(chats())
                rows: list[OutboxRec] = []
                now = self.now()
                for channel, chat_id in taken:
                    if channel in self.transports:
                        rows += await unit.claim_chat(channel, chat_id, now, self.batch)
                return rows

        return await retrying(claim, what="outbox chat claim", policy=self.retry)

    async def deliver(self, rows: list[OutboxRec], together: bool = False) -> None:
        """Send claimed rows, each chat's in order, recording each outcome. A row that
        does not go out stops its chat: the chat's later rows are given back (no attempt
        counted) to wait behind it. `together` sends the chats concurrently (the reply
        sender: a slow chat API must not queue one official behind another); the worker's
        batches go `parallel` chats at a time (1: one by one, so after a 429 nothing else
        is in flight).

        Each delivered row is marked sent at once, in its own unit, and that mark is retried
        until the database takes it (deliver_row): a connection lost during a mark can delay
        it but never turns into a second send of rows already delivered.
        """
        chats: dict[ChatKey, list[OutboxRec]] = {}
        for row in rows:
            chats.setdefault((row.channel, row.chat_id), []).append(row)

        async def one_chat(queue: list[OutboxRec]) -> None:
            for i, row in enumerate(queue):
                if not await self.deliver_row(row):
                    for later in queue[i + 1 :]:
                        await self._later(later, 0, "waits for an earlier message", False)
                    return

        if together:
            await asyncio.gather(*(one_chat(q) for q in chats.values()))
        elif self.parallel <= 1:
            for queue in chats.values():
                await one_chat(queue)
        else:
            # A few chats in flight at once: a send's round trip and its sent mark overlap
            # the next sends, so a batch of reminders to many chats reaches the bot's rate
            # (one at a time, 24/s against 30/s allowed; bench/remind_bench.py). The limiter
            # still books every send, and after a 429 it holds the others before they send.
            gate = asyncio.Semaphore(self.parallel)

            async def gated(queue: list[OutboxRec]) -> None:
                async with gate:
                    await one_chat(queue)

            await asyncio.gather(*(gated(q) for q in chats.values()))

    async def deliver_row(self, row: OutboxRec) -> bool:
        """Send one claimed row, then record the outcome; True if it was delivered.

        The sent mark runs right after the delivery and is retried (whole unit, with
        backoff) until the database is back, so a delivered row is never resent because its
        mark failed. The only resend left is a process killed between delivery and mark:
        at-least-once, as for any sender without a transaction spanning the chat API.
        """
        if not await self._send(row):
            return False
        await self.mark_sent(row.id)
        return True

    async def mark_sent(self, outbox_id: int) -> None:
        """Mark one row sent; retried until it sticks (see deliver_row). Idempotent.

        Group commit: the marks asked for while one mark unit is being written wait for the
        next, and that unit writes them all, so a crowd's replies (sent concurrently) cost
        one write transaction per round instead of one each; with one send at a time it is
        a unit per row as before. Returns when this row's mark has committed.
        """
        future = self._marks.get(outbox_id)
        if future is None:
            future = self._marks[outbox_id] = asyncio.get_running_loop().create_future()
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._write_marks(), name="outbox-sent-marks")
        await asyncio.shield(future)  # a cancelled sender leaves the mark to be written

    async def _write_marks(self) -> None:
        """Write the waiting marks, a unit for all of them, until none waits."""
        while self._marks:
            batch, self._marks = self._marks, {}
            try:
                await self._mark(list(batch))
            except Exception:
                # Not a lost connection (that is retried forever): a row the unit could
                # not mark. Each alone, so one bad row fails only its own sender.
                for outbox_id, future in batch.items():
                    try:
                        await self._mark([outbox_id])
                    except Exception as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(None)
            else:
                for future in batch.values():
                    future.set_result(None)

    async def _mark(self, ids: list[int]) -> None:
        async def mark() -> None:
            async with self.storage.unit() as unit:
                now = self.now()
                for outbox_id in ids:
                    await unit.mark_sent(outbox_id, now)

        what = f"outbox {ids[0]} sent mark" + (f" (+{len(ids) - 1})" if len(ids) > 1 else "")
        await retrying(mark, what=what, policy=self.retry.forever())

    async def _send(self, row: OutboxRec) -> bool:
        """Deliver one row; True if it went out (the caller marks it sent)."""
        reply = row.kind == "reply"
        wait = self.limiter.delay(row.chat_id, reply)
        if wait > MAX_HOLD:
            # Paused by a long 429: give the row back rather than hold its lease.
            await self._later(row, wait, "paused by the rate limiter", count_attempt=False)
            return False
        while (wait := self.limiter.chat_delay(row.chat_id, reply)) > 0:
            await self.sleep(wait)  # a notice's chat budget: not in the bot-wide queue
        async with self.limiter.turn(reply):
            await self.limiter.resumed.wait()  # a probe after a 429 is out: its outcome first
            while (wait := self.limiter.reserve(row.chat_id, reply)) > 0:
                await self.sleep(wait)
            probe = self.limiter.start_probe()
        try:
            return await self._deliver(row)
        finally:
            if probe:
                self.limiter.end_probe()

    async def _deliver(self, row: OutboxRec) -> bool:
        """Hand one reserved row to its transport and record a failure; True if it went."""
        transport = self.transports[row.channel]
        try:
            await transport.deliver(row.chat_id, row.payload)
        except RetryAfter as e:
            self.limiter.pause(e.seconds)
            log.warning("outbox %s: 429, retry after %ss", row.id, e.seconds)
            await self._later(row, e.seconds, str(e), count_attempt=False)
            return False
        except TransientError as e:
            log.warning("outbox %s: transient error (attempt %d): %s", row.id, row.attempts, e)
            await self._later(row, backoff(row.attempts), str(e))
            return False
        except PermanentError as e:
            log.error("outbox %s to %s/%s refused: %s", row.id, row.channel, row.chat_id, e)
            reason = str(e)[:500]

            async def failed() -> None:
                async with self.storage.unit() as unit:
                    await unit.mark_failed(row.id, reason)

            await retrying(failed, what=f"outbox {row.id} failed mark", policy=self.retry)
            return False
        except Exception as e:
            # A bug or an unforeseen error must not strand the rest of the batch in
            # "sending" nor be retried forever: back off, then give up like any other.
            log.exception("outbox %s: unexpected error (attempt %d)", row.id, row.attempts)
            await self._later(row, backoff(row.attempts), repr(e))
            return False
        return True

    async def _later(
        self, row: OutboxRec, seconds: float, error: str, count_attempt: bool = True
    ) -> None:
        async def later() -> None:
            async with self.storage.unit() as unit:
                if count_attempt and row.attempts >= MAX_ATTEMPTS:
                    log.error(
                        "outbox %s gave up after %d attempts: %s", row.id, row.attempts, error
                    )
                    await unit.mark_failed(row.id, error[:500])
                else:
                    await unit.retry_later(
                        row.id,
                        self.now() + timedelta(seconds=seconds),
                        error[:500],
                        refund_attempt=not count_attempt,
                    )

        await retrying(later, what=f"outbox {row.id} retry", policy=self.retry)

    async def prune(self) -> None:
        """Housekeeping the sender is well placed to do: forget old update ids and chat
        arrivals, and outbox rows sent more than `keep_sent` ago."""

        async def prune() -> int:
            async with self.storage.unit() as unit:
                removed = await unit.prune(self.now(), keep_sent=self.keep_sent)
                return removed + await unit.prune_arrivals(self.now() - timedelta(days=1))

        removed = await retrying(prune, what="prune", policy=self.retry)
        if removed:
            log.info("pruned %d old processed-update, invite-failure and sent rows", removed)

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until `stop` is set; waits for `wake` (or the poll) when nothing is due."""
        next_prune = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY
                try:
                    await self.prune()
                except Exception as exc:
                    _log_failure("outbox prune failed", exc)
            try:
                handled = await self.run_once()
            except Exception as exc:
                _log_failure("outbox worker iteration failed", exc)
                handled = 0
            if not handled:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a wake-up, `stop`, or the poll interval, whichever comes first."""
        if self.wake.is_set():
            self.wake.clear()
            return
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        try:
            await asyncio.wait(waits, timeout=self.idle_sleep, return_when=FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        self.wake.clear()
