"""The queue for the bot-wide send slot: replies first, then unsolicited messages.

Every send of a process waits here for its turn at the bot's rate (RateLimiter.reserve).
A plain FIFO lock let a reply to an official's own message wait behind notices and
reminders queued before it: with a batch of reminders going out at 30/s, the official's
next question waited for each of them. Here a waiting reply always gets the next turn
before any waiting notice; within each class the order is first come, first served (a
waiter is never overtaken by a later one of its class, so the p99 of a crowd of replies
stays near its p50). Notices still get every turn no reply is waiting for, so they are
only held while officials are answering faster than the bot may send.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Turn:
    """A lock with two queues, replies served before notices; FIFO within each."""

    def __init__(self) -> None:
        self._held = False
        self._replies: deque[asyncio.Future[None]] = deque()
        self._notices: deque[asyncio.Future[None]] = deque()

    def waiting(self, reply: bool) -> int:
        """How many senders of that class wait for a turn (for tests and health)."""
        queue = self._replies if reply else self._notices
        return sum(1 for waiter in queue if not waiter.done())

    @asynccontextmanager
    async def __call__(self, reply: bool) -> AsyncIterator[None]:
        """Hold the turn for one send: `async with turn(reply=True): ...`."""
        await self._acquire(reply)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, reply: bool) -> None:
        if not self._held:  # free means nobody waits: a release hands the turn on directly
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._replies if reply else self._notices).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed the turn just as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        """Hand the turn to the first reply waiting, else the first notice, else free it."""
        for queue in (self._replies, self._notices):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():  # a cancelled waiter is skipped
                    waiter.set_result(None)
                    return
        self._held = False
