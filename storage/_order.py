"""Per-chat order of concurrent updates: arrivals noted first, applied oldest first.

Rule (issue #14): updates of one chat are applied in the order the channel numbered them
(Telegram's update_id; for Zalo the message date then id), even when they arrive at the same
time on several webhook connections or processes. The chat's row lock alone serialises them
but in whatever order the lock is granted, so an answer could be saved under the previous item.

How: a handler first notes its arrival (chat, number) in its own short committed unit, then
waits a short grace so siblings sent at the same instant can note theirs, then, holding the
chat lock, applies its update only if no OLDER arrival of that chat is still waiting;
otherwise it rolls back and tries again a moment later (the older one is being handled and
takes the lock next). An arrival is forgotten in the unit that applies it. An arrival older
than `hold` (its handler died before applying it) no longer blocks anyone: the channel will
redeliver it and it is then applied late, which is logged.

Why not an inbox table drained by whoever holds the lock: a Telegram handler also needs its
own hooks (the invitation's binding, the edit of a pressed message) in the same unit, which an
inbox row would have to serialise; waiting for one's turn keeps each update in its own handler.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage._base import UnitBase
from storage.models import ChatArrival


class OrderUnit(UnitBase):
    async def note_arrival(
        self, channel: str, chat_id: str, update_id: str, seq: int, now: datetime
    ) -> None:
        """Record that update `update_id` (number `seq`) of a chat arrived; idempotent."""
        stmt = (
            self._insert(ChatArrival)
            .values(
                channel=channel,
                update_id=str(update_id),
                chat_id=str(chat_id),
                seq=seq,
                arrived_at=now,
            )
            .on_conflict_do_nothing(index_elements=[ChatArrival.channel, ChatArrival.update_id])
        )
        await self._exec(stmt)

    async def older_arrival(
        self, channel: str, chat_id: str, seq: int, since: datetime
    ) -> int | None:
        """The number of an older arrival of this chat still waiting (noted after `since`)."""
        stmt = (
            select(ChatArrival.seq)
            .where(
                ChatArrival.channel == channel,
                ChatArrival.chat_id == str(chat_id),
                ChatArrival.seq < seq,
                ChatArrival.arrived_at >= since,
            )
            .order_by(ChatArrival.seq)
            .limit(1)
        )
        return (await self._exec(stmt)).scalar_one_or_none()

    async def forget_arrival(self, channel: str, update_id: str) -> None:
        """Drop an arrival: its update is applied (or was a redelivery) in this unit."""
        await self._exec(
            delete(ChatArrival).where(
                ChatArrival.channel == channel, ChatArrival.update_id == str(update_id)
            )
        )

    async def prune_arrivals(self, before: datetime) -> int:
        """Forget arrivals never applied (their handler died); returns how many."""
        done = await self._exec(delete(ChatArrival).where(ChatArrival.arrived_at < before))
        return int(done.rowcount or 0)
