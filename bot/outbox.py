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
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage.records import OutboxRec
from storage.repository import Storage
from storage.retry import DEFAULT_POLICY, RetryPolicy, is_transient, retrying

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
PRUNE_EVERY = 3600.0
MAX_HOLD = 10.0  # longest wait before a claimed row is given back instead


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
    """Token buckets: one for the whole bot (per worker), one per chat, plus a global pause."""

    per_second: float = 25.0
    chat_interval: float = 1.0
    chat_burst: int = 3
    clock: Callable[[], float] = time.monotonic
    _next_global: float = 0.0
    _paused_until: float = 0.0
    _chats: dict[str, tuple[float, float]] = field(default_factory=dict)

    def delay(self, chat_id: str) -> float:
        """Seconds to wait before sending to `chat_id` now (0 when it may go)."""
        now = self.clock()
        tokens, stamp = self._chats.get(chat_id, (float(self.chat_burst), now))
        tokens = min(float(self.chat_burst), tokens + (now - stamp) / self.chat_interval)
        chat_wait = 0.0 if tokens >= 1 else (1 - tokens) * self.chat_interval
        return max(self._next_global - now, self._paused_until - now, chat_wait, 0.0)

    def sent(self, chat_id: str) -> None:
        now = self.clock()
        tokens, stamp = self._chats.get(chat_id, (float(self.chat_burst), now))
        tokens = min(float(self.chat_burst), tokens + (now - stamp) / self.chat_interval)
        self._chats[chat_id] = (tokens - 1, now)
        self._next_global = max(self._next_global, now) + 1.0 / self.per_second
        if len(self._chats) > 10_000:
            self._chats.clear()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.clock() + seconds)


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
    idle_sleep: float = 0.2
    sleep: Callable[[float], Any] = asyncio.sleep
    retry: RetryPolicy = DEFAULT_POLICY

    async def run_once(self) -> int:
        """Claim one batch, send it row by row, record each outcome. Returns the rows handled.

        Each delivered row is marked sent at once, in its own unit, and that mark is retried
        until the database takes it (deliver_row): a connection lost during a mark can delay
        it but never turns into a second send of rows already delivered. The claim is a unit
        retried with the transient-error policy (storage/retry.py), bounded: while the
        database is down nothing can be sent anyway.
        """

        async def claim() -> list[OutboxRec]:
            async with self.storage.unit() as unit:
                return await unit.claim_outbox(
                    self.now(), self.batch, channels=tuple(self.transports)
                )

        rows = await retrying(claim, what="outbox claim", policy=self.retry)
        for row in rows:
            await self.deliver_row(row)
        return len(rows)

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
        """Mark one row sent; retried until it sticks (see deliver_row). Idempotent."""

        async def mark() -> None:
            async with self.storage.unit() as unit:
                await unit.mark_sent(outbox_id, self.now())

        await retrying(mark, what=f"outbox {outbox_id} sent mark", policy=self.retry.forever())

    async def _send(self, row: OutboxRec) -> bool:
        """Deliver one row; True if it went out (the caller marks it sent)."""
        wait = self.limiter.delay(row.chat_id)
        if wait > MAX_HOLD:
            # Paused by a long 429: give the row back rather than hold its lease.
            await self._later(row, wait, "paused by the rate limiter", count_attempt=False)
            return False
        if wait > 0:
            await self.sleep(wait)
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
        self.limiter.sent(row.chat_id)
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
        """Housekeeping the sender is well placed to do: forget old update ids."""

        async def prune() -> int:
            async with self.storage.unit() as unit:
                removed = await unit.prune(self.now())
                return removed + await unit.prune_arrivals(self.now() - timedelta(days=1))

        removed = await retrying(prune, what="prune", policy=self.retry)
        if removed:
            log.info("pruned %d old processed-update and invite-failure rows", removed)

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until `stop` is set; sleeps briefly when there is nothing to send."""
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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_sleep)
