"""The reply sender: what an update's transaction queued leaves as soon as it has committed.

The process that handled an update calls `committed(channel, chat_id)` right after the
commit; this process then claims that chat's due rows and sends them with the outbox
worker's own routines (`OutboxWorker.claim_chats` and `deliver`: the same lease, limiter,
retry rules and marks). No poll delay stands between an answer and the next question. The
outbox row stays the durable record: if this process dies between the commit and the send,
or the send meets a 429 or a network error, the worker (`OutboxWorker.run`) sends it later.
Two claimers never share a row (storage `claim_chat`: FOR UPDATE SKIP LOCKED, and nothing
unless the claim starts at the chat's oldest unsent row).

One claim is pending at a time and takes every chat committed until its unit begins, so
under load one transaction claims for many answers; the claimed batches are delivered
concurrently. Memory is bounded by the chats with work in flight.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.workers.outbox import ChatKey, OutboxWorker
from storage.records import OutboxRec

log = logging.getLogger(__name__)

MAX_CHATS = 50  # chats claimed in one transaction


@dataclass
class ReplySender:
    """Sends each committed chat's queued rows at once; run `run(stop)` as a task."""

    worker: OutboxWorker
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
        """Until `stop`: claim for the committed chats, deliver each batch in a task."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                if not self._ready():
                    waking = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait({stopping, waking}, return_when=asyncio.FIRST_COMPLETED)
                    waking.cancel()
                    self._wake.clear()
                    continue
                taken: list[ChatKey] = []

                def take(into: list[ChatKey] = taken) -> list[ChatKey]:
                    into += self._take()
                    return into

                try:
                    rows = await self.worker.claim_chats(take)
                except Exception:
                    # The rows stay pending in the outbox: the worker sends them.
                    log.exception("reply claim failed; the worker will send these")
                    rows = []
                # Chats with nothing claimed (another worker holds their head) are free.
                self._busy -= set(taken) - {(row.channel, row.chat_id) for row in rows}
                if rows:
                    task = asyncio.create_task(self._deliver(rows), name="reply-batch")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            stopping.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=10)

    def _ready(self) -> bool:
        return any(key not in self._busy for key in self._dirty)

    def _take(self) -> list[ChatKey]:
        """The committed chats not being delivered, oldest first; now marked busy (a busy
        chat's new rows wait for its batch, so its messages stay in order)."""
        taken = [key for key in self._dirty if key not in self._busy][:MAX_CHATS]
        for key in taken:
            del self._dirty[key]
            self._busy.add(key)
        return taken

    async def _deliver(self, rows: list[OutboxRec]) -> None:
        keys = {(row.channel, row.chat_id) for row in rows}
        try:
            await self.worker.deliver(rows, together=True)
        except Exception:
            log.exception("reply delivery failed; the worker will retry")
        finally:
            self._busy -= keys
            if self._dirty:
                self._wake.set()
