"""The reply sender: what an update's transaction queued leaves as soon as it has committed.

The process that handled an update calls `committed(channel, chat_id)` right after the
commit; a task of this process then claims that chat's due rows (`OutboxWorker.run_once`
with `chat=`, the same claim lease, send, retry and mark as the worker) and sends them. No
poll delay stands between an answer and the next question. The outbox row stays the
durable record: if this process dies between the commit and the send, or the send meets a
429 or a network error, the worker (`OutboxWorker.run`) sends it later. Two claimers never
share a row (storage `claim_chat`: FOR UPDATE SKIP LOCKED, and nothing unless the claim
starts at the chat's oldest unsent row).

Chats are sent to concurrently (up to `concurrency` at once), each chat's rows in order; the
rate limiter shared with this process's worker books the bot-wide slots. Memory is bounded
by the chats with work in flight: nothing is kept for a chat once its rows are out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.outbox import OutboxWorker

log = logging.getLogger(__name__)

ChatKey = tuple[str, str]  # (channel, chat_id)
MAX_ROUNDS = 20  # claims per wake-up for one chat


@dataclass
class ReplySender:
    """Sends each committed chat's queued rows at once; run `run(stop)` as a task."""

    worker: OutboxWorker
    concurrency: int = 16
    _dirty: dict[ChatKey, None] = field(default_factory=dict)  # ordered set, oldest first
    _busy: set[ChatKey] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def committed(self, channel: str, chat_id: str) -> None:
        """A unit that queued rows for this chat has committed: send them now.

        Never blocks and never raises; safe to call from any coroutine of this loop."""
        self._dirty[(channel, str(chat_id))] = None
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: start a delivery task for each committed chat not already busy."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._start_ready()
                self._wake.clear()
                waking = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({stopping, waking}, return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
        finally:
            stopping.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=10)

    def _start_ready(self) -> None:
        for key in list(self._dirty):
            if len(self._busy) >= self.concurrency:
                return
            if key in self._busy:
                continue  # its task sees the new rows: it loops until the chat is empty
            del self._dirty[key]
            self._busy.add(key)
            task = asyncio.create_task(self._deliver(key), name=f"send-{key[1]}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, key: ChatKey) -> None:
        try:
            # Bounded: a row that keeps coming due at once (a 429 with retry_after 0) is
            # left to the worker's poll instead of spinning here.
            for _ in range(MAX_ROUNDS):
                self._dirty.pop(key, None)
                if not await self.worker.run_once(chat=key) and key not in self._dirty:
                    return
        except Exception:
            # The rows stay in the outbox, claimed or pending: the worker sends them.
            log.exception("immediate send to %s/%s failed; the worker will retry", *key)
        finally:
            self._busy.discard(key)
            if self._dirty:
                self._wake.set()
