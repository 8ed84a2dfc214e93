"""Per-chat plumbing: conversation state and its lock, seen update ids, the outbox."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Insert, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from flows.state import ConversationState
from storage._base import UnitBase, fields, log
from storage.models import (
    OUTBOX_STATUSES,
    Conversation,
    InviteFailure,
    Outbox,
    ProcessedUpdate,
    utcnow,
)
from storage.records import NotFound, OutboxRec

# not_before of a message due at once: earlier than any clock, real or a test's.
SEND_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)

# The statements every update runs, built once (building one costs about as much as running
# it on SQLite); values are bound per execution.
_LOCK = (
    select(Conversation.id, Conversation.state, Conversation.user_id)
    .where(Conversation.channel == bindparam("channel"), Conversation.chat_id == bindparam("chat"))
    .with_for_update()
)
_STATE = Conversation.__table__.c.state.type
_WHEN = Conversation.__table__.c.updated_at.type
_SAVE = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation"))
    .values(state=bindparam("new_state", type_=_STATE), updated_at=bindparam("now", type_=_WHEN))
)
_SAVE_BOUND = _SAVE.values(user_id=bindparam("user"))
_ENQUEUE = insert(Outbox).returning(Outbox.id)


@lru_cache(maxsize=2)
def _mark_statement(postgres: bool) -> Insert:
    new = (postgresql.insert if postgres else sqlite.insert)(ProcessedUpdate)
    return (
        new.values(channel=bindparam("channel"), update_id=bindparam("update"))
        .on_conflict_do_nothing(index_elements=[ProcessedUpdate.channel, ProcessedUpdate.update_id])
        .returning(ProcessedUpdate.update_id)
    )


class ChatUnit(UnitBase):
    # -- conversations ----------------------------------------------------------------------

    async def lock_conversation(
        self, channel: str, chat_id: str
    ) -> tuple[int, ConversationState, int | None]:
        """(conversation id, state, bound user id) of a chat, created if new, and locked.

        On PostgreSQL the row stays locked (SELECT … FOR UPDATE) until this unit ends, so
        two workers handling the same chat take turns; on SQLite every unit already holds
        the write lock (BEGIN IMMEDIATE). Call it first in a unit, before other locks.
        """
        which = {"channel": channel, "chat": chat_id}
        row = (await self._exec(_LOCK, which)).one_or_none()
        if row is None:  # a new chat: insert-if-missing (two first messages make one row)
            create = (
                self._insert(Conversation)
                .values(channel=channel, chat_id=chat_id, state=ConversationState().to_json())
                .on_conflict_do_nothing(index_elements=[Conversation.channel, Conversation.chat_id])
            )
            await self._exec(create)
            row = (await self._exec(_LOCK, which)).one()
        return row.id, ConversationState.from_json(row.state), row.user_id

    async def save_conversation(
        self, conversation_id: int, state: ConversationState, user_id: int | None = None
    ) -> None:
        """Store a chat's state; `user_id` binds the chat to a user (None keeps the binding)."""
        params = {"conversation": conversation_id, "new_state": state.to_json(), "now": utcnow()}
        stmt = _SAVE
        if user_id is not None:
            stmt, params["user"] = _SAVE_BOUND, user_id
        if (await self._exec(stmt, params)).rowcount == 0:  # rowcount: no RETURNING to fetch
            raise NotFound(f"no conversation {conversation_id}")

    # -- processed updates ------------------------------------------------------------------

    async def mark_processed(self, channel: str, update_id: str) -> bool:
        """Record an update id; False if it was already recorded (a redelivery: do nothing).

        On PostgreSQL a second worker with the same id waits on the primary key until the
        first commits (then gets False) or rolls back (then gets True).
        """
        params = {"channel": channel, "update": str(update_id)}
        stmt = _mark_statement(self._postgres)
        return (await self._exec(stmt, params)).first() is not None

    async def prune(self, now: datetime, keep: timedelta = timedelta(days=7)) -> int:
        """Forget old processed update ids and invite failures.

        Telegram redelivers an update for at most a day, and after a week without updates it
        may start ids anew at random: an old id kept for ever could swallow a new update.
        """
        cutoff = now - keep
        done = await self._exec(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
        failures = await self._exec(
            delete(InviteFailure).where(InviteFailure.at < now - timedelta(days=1))
        )
        return int(done.rowcount or 0) + int(failures.rowcount or 0)

    async def count_processed(self, channel: str) -> int:
        """How many updates of a channel were handled (health checks, benchmarks)."""
        stmt = (
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.channel == channel)
        )
        return int((await self._exec(stmt)).scalar_one())

    # -- outbox -----------------------------------------------------------------------------

    async def enqueue(
        self,
        channel: str,
        chat_id: str,
        payload: dict[str, Any],
        not_before: datetime | None = None,
    ) -> int:
        """Queue a message; it can leave only after this unit commits.

        Without `not_before` it is due at once, whatever clock the claimer uses (stored as
        the epoch, so a test's fake clock in the past still sees it as due).
        """
        stmt = (
            insert(Outbox)
            .values(
                channel=channel,
                chat_id=str(chat_id),
                payload=payload,
                not_before=not_before or SEND_AT_ONCE,
            )
            .returning(Outbox.id)
        )
        return int((await self._exec(stmt)).scalar_one())

    async def enqueue_many(
        self, channel: str, chat_id: str, payloads: list[dict[str, Any]]
    ) -> list[int]:
        """Queue several messages for one chat in one statement, in order."""
        if not payloads:
            return []
        rows = [
            {"channel": channel, "chat_id": str(chat_id), "payload": p, "not_before": SEND_AT_ONCE}
            for p in payloads
        ]
        return sorted(int(i) for i in (await self._exec(_ENQUEUE, rows)).scalars())

    async def claim_outbox(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float = 60,
        channels: Collection[str] | None = None,
    ) -> list[OutboxRec]:
        """Take up to `limit` due messages, oldest first, marked "sending" under a lease.

        Due = pending with not_before <= now, or "sending" whose lease ran out (its worker
        died). Only the head of each chat's queue is handed out (no older pending or sending
        row in that chat), so a chat's messages leave in order even with many workers, and a
        message put back by retry_later holds back the ones after it. On PostgreSQL rows are
        picked FOR UPDATE SKIP LOCKED: concurrent workers get disjoint batches. Commit the
        unit before sending, then mark each row in a new unit. `channels` limits the claim
        to the channels this worker can deliver.
        """
        due = and_(
            Outbox.not_before <= now,
            or_(
                Outbox.status == "pending",
                and_(Outbox.status == "sending", Outbox.claimed_until < now),
            ),
        )
        earlier = aliased(Outbox)
        waiting_behind = (
            select(earlier.id)
            .where(
                earlier.channel == Outbox.channel,
                earlier.chat_id == Outbox.chat_id,
                earlier.id < Outbox.id,
                earlier.status.in_(("pending", "sending")),
            )
            .exists()
        )
        pick = select(Outbox.id).where(due, ~waiting_behind)
        if channels is not None:
            pick = pick.where(Outbox.channel.in_(list(channels)))
        pick = pick.order_by(Outbox.id).limit(limit).with_for_update(skip_locked=True, of=Outbox)
        ids = list((await self._exec(pick)).scalars())
        if not ids:
            return []
        claim = (
            update(Outbox)
            .where(Outbox.id.in_(ids), due)  # re-checked: harmless, and safe without locks
            .values(
                status="sending",
                claimed_until=now + timedelta(seconds=lease_seconds),
                attempts=Outbox.attempts + 1,
            )
            .returning(*Outbox.__table__.c)
        )
        rows = [OutboxRec(**fields(r)) for r in await self._exec(claim)]
        log.debug("claimed %d outbox rows", len(rows))
        return sorted(rows, key=lambda r: r.id)

    async def mark_sent(self, outbox_id: int, now: datetime) -> None:
        await self._set_outbox(outbox_id, status="sent", sent_at=now, claimed_until=None)

    async def mark_sent_many(self, outbox_ids: Collection[int], now: datetime) -> int:
        """Mark a batch sent in one statement; returns how many rows it changed."""
        if not outbox_ids:
            return 0
        stmt = (
            update(Outbox)
            .where(Outbox.id.in_(list(outbox_ids)))
            .values(status="sent", sent_at=now, claimed_until=None)
            .returning(Outbox.id)
        )
        return len((await self._exec(stmt)).all())

    async def retry_later(
        self, outbox_id: int, not_before: datetime, error: str, *, refund_attempt: bool = False
    ) -> None:
        """Back to pending until `not_before` (a 429's retry_after, a network error…).

        `refund_attempt` gives back the attempt the claim counted: being asked to wait
        (429) is not a failure and must not bring a message closer to being given up.
        """
        values: dict[str, Any] = {
            "status": "pending",
            "not_before": not_before,
            "claimed_until": None,
            "last_error": error,
        }
        if refund_attempt:
            values["attempts"] = Outbox.attempts - 1
        await self._set_outbox(outbox_id, **values)

    async def mark_failed(self, outbox_id: int, error: str) -> None:
        """Give up on a message (blocked bot, chat gone, too many attempts)."""
        await self._set_outbox(outbox_id, status="failed", claimed_until=None, last_error=error)

    async def _set_outbox(self, outbox_id: int, **values: Any) -> None:
        stmt = update(Outbox).where(Outbox.id == outbox_id).values(**values).returning(Outbox.id)
        if (await self._exec(stmt)).first() is None:
            raise NotFound(f"no outbox row {outbox_id}")

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per status, every status present (0 when none)."""
        counts = dict.fromkeys(OUTBOX_STATUSES, 0)
        stmt = select(Outbox.status, func.count()).group_by(Outbox.status)
        for status, n in await self._exec(stmt):
            counts[status] = int(n)
        return counts

    async def outbox_row(self, outbox_id: int) -> OutboxRec | None:
        row = (await self._exec(select(Outbox).where(Outbox.id == outbox_id))).one_or_none()
        return OutboxRec(**fields(row)) if row else None

    async def pending_for_chat(self, channel: str, chat_id: str) -> list[OutboxRec]:
        """Messages of one chat not yet claimed, oldest first (mostly for tests)."""
        stmt = (
            select(Outbox)
            .where(
                Outbox.channel == channel,
                Outbox.chat_id == str(chat_id),
                Outbox.status == "pending",
            )
            .order_by(Outbox.id)
        )
        return [OutboxRec(**fields(r)) for r in await self._exec(stmt)]
