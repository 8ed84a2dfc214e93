"""Per-chat plumbing: conversation state and its lock, seen update ids, the outbox."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Insert,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
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
    SendWorker,
    utcnow,
)
from storage.prepared import hot
from storage.records import NotFound, OutboxRec

# not_before of a message due at once: earlier than any clock, real or a test's.
SEND_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
# updated_at of a conversation row made by its first update and not saved yet: every notice
# queued to the chat is newer (newest_notice_choices, read under the chat's lock).
NEVER_SAVED = SEND_AT_ONCE

# The statements every update runs, built once (building one costs about as much as running
# it on SQLite); values are bound per execution.
_LOCK = hot(
    select(Conversation.id, Conversation.state, Conversation.user_id)
    .where(Conversation.channel == bindparam("channel"), Conversation.chat_id == bindparam("chat"))
    .with_for_update()
)
_STATE = Conversation.__table__.c.state.type
_WHEN = Conversation.__table__.c.updated_at.type
_SAVE = hot(
    update(Conversation)
    .where(Conversation.id == bindparam("conversation"))
    .values(state=bindparam("new_state", type_=_STATE), updated_at=bindparam("now", type_=_WHEN))
)
_SAVE_BOUND = hot(_SAVE.values(user_id=bindparam("user")))
_ENQUEUE = insert(Outbox).returning(Outbox.id)
# The PostgreSQL notification channel a unit that queued outbox rows notifies on commit.
# Notifications are per database, tables per schema: the channel is named after the
# connection's schema (`phieu_outbox` in public, `phieu_outbox.<schema>` elsewhere, cut to
# PostgreSQL's 63-byte names), so deployments or tests in other schemas of one database
# never wake this one's workers. The server computes it (OUTBOX_CHANNEL_SQL), so notifier
# and listener agree without a setting.
OUTBOX_CHANNEL = "phieu_outbox"
OUTBOX_CHANNEL_SQL = (
    "CASE WHEN coalesce(current_schema(), 'public') = 'public' THEN 'phieu_outbox' "
    "ELSE left('phieu_outbox.' || current_schema(), 63) END"
)


@lru_cache(maxsize=4)
def _enqueue_notifying(tag: str) -> Insert:
    """_ENQUEUE that also notifies the outbox channel (OUTBOX_CHANNEL_SQL) with this
    process's `tag` (PostgreSQL).

    pg_notify in RETURNING is sent when the transaction commits, like a NOTIFY statement,
    and PostgreSQL folds the same (channel, payload) of one transaction into one
    notification: the rows and the wake-up travel in one round trip instead of two.
    One tag per process, so the cache holds one statement.
    """
    channel = literal_column(f"({OUTBOX_CHANNEL_SQL})")
    return insert(Outbox).returning(Outbox.id, func.pg_notify(channel, literal(tag)))


@lru_cache(maxsize=2)
def _mark_statement(postgres: bool) -> Insert:
    new = (postgresql.insert if postgres else sqlite.insert)(ProcessedUpdate)
    return hot(
        # processed_at bound, not the column's default: a default is computed by SQLAlchemy
        # per run, which the hot path (storage/prepared.py) does not do.
        new.values(
            channel=bindparam("channel"),
            update_id=bindparam("update"),
            processed_at=bindparam("now", type_=ProcessedUpdate.__table__.c.processed_at.type),
        )
        .on_conflict_do_nothing(index_elements=[ProcessedUpdate.channel, ProcessedUpdate.update_id])
        .returning(ProcessedUpdate.update_id)
    )


class ChatUnit(UnitBase):
    # Set when this unit queued outbox rows: Storage.unit then NOTIFYs workers on PostgreSQL,
    # unless `notified` (the rows' INSERT notified already, with `notify_tag`).
    queued: bool = False
    notified: bool = False
    notify_tag: str | None = None

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
                .values(
                    channel=channel,
                    chat_id=chat_id,
                    state=ConversationState().to_json(),
                    updated_at=NEVER_SAVED,
                )
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

    async def newest_notice_choices(self, channel: str, chat_id: str) -> list[str] | None:
        """The choice payloads of the newest notice queued to a chat since its conversation
        was last saved, or None (no such notice, or the chat has spoken since). Read it under
        the chat's lock (a row its first update made counts as never saved: NEVER_SAVED).

        On a channel without buttons (console, Zalo) a typed number refers to the last
        numbered list on the screen: after a notice (a reviewer's "mời thẩm định", an
        official's "trả lại") that is the notice's, not the conversation's (issue #13)."""
        saved = (
            select(Conversation.updated_at)
            .where(Conversation.channel == channel, Conversation.chat_id == chat_id)
            .scalar_subquery()
        )
        stmt = (
            select(Outbox.payload)
            .where(
                Outbox.channel == channel,
                Outbox.chat_id == chat_id,
                Outbox.kind == "notice",
                or_(saved.is_(None), Outbox.created_at > saved),
            )
            .order_by(Outbox.id.desc())
            .limit(1)
        )
        payload = (await self._exec(stmt)).scalar_one_or_none()
        if not isinstance(payload, dict):
            return None
        choices = [c[1] for c in payload.get("choices") or () if isinstance(c, list) and c[1:]]
        return [str(c) for c in choices] or None

    # -- processed updates ------------------------------------------------------------------

    async def mark_processed(self, channel: str, update_id: str) -> bool:
        """Record an update id; False if it was already recorded (a redelivery: do nothing).

        On PostgreSQL a second worker with the same id waits on the primary key until the
        first commits (then gets False) or rolls back (then gets True).
        """
        params = {"channel": channel, "update": str(update_id), "now": utcnow()}
        stmt = _mark_statement(self._postgres)
        return (await self._exec(stmt, params)).first() is not None

    async def prune(
        self,
        now: datetime,
        keep: timedelta = timedelta(days=7),
        keep_sent: timedelta = timedelta(days=7),
    ) -> int:
        """Forget old processed update ids, invite failures and sent outbox rows.

        Telegram redelivers an update for at most a day, and after a week without updates it
        may start ids anew at random: an old id kept for ever could swallow a new update.
        A sent outbox row is only a record once it went out; `keep_sent` after its sending it
        is deleted (pending, sending and failed rows are never pruned, nor rows with a dedupe
        key: storage/_reminders.py). Returns rows deleted.
        """
        cutoff = now - keep
        done = await self._exec(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
        failures = await self._exec(
            delete(InviteFailure).where(InviteFailure.at < now - timedelta(days=1))
        )
        sent = await self._exec(
            delete(Outbox).where(
                Outbox.status == "sent",
                Outbox.sent_at < now - keep_sent,
                # A keyed row (reminder, broadcast) is the record that it went out: deleting
                # it would let the planner queue the same reminder again.
                Outbox.dedupe_key.is_(None),
            )
        )
        return int(done.rowcount or 0) + int(failures.rowcount or 0) + int(sent.rowcount or 0)

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
        kind: str = "reply",
    ) -> int:
        """Queue a message; it can leave only after this unit commits.

        Without `not_before` it is due at once, whatever clock the claimer uses (stored as
        the epoch, so a test's fake clock in the past still sees it as due). `kind` is
        "reply" (answers the chat's own message: sent first, no per-chat budget) or
        "notice" (unsolicited: paced per chat, after replies).
        """
        stmt = (
            insert(Outbox)
            .values(
                channel=channel,
                chat_id=str(chat_id),
                payload=payload,
                not_before=not_before or SEND_AT_ONCE,
                kind=kind,
            )
            .returning(Outbox.id)
        )
        self.queued = True
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
        self.queued = True
        stmt = _ENQUEUE
        if self._postgres and self.notify_tag is not None:
            stmt = _enqueue_notifying(self.notify_tag)
        ids = sorted(int(i) for i in (await self._exec(stmt, rows)).scalars())
        self.notified = self.notified or stmt is not _ENQUEUE
        return ids

    async def claim_outbox(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float = 60,
        channels: Collection[str] | None = None,
        replies_before: datetime | None = None,
    ) -> list[OutboxRec]:
        """Take up to `limit` due messages, oldest first, marked "sending" under a lease.

        Due = pending with not_before <= now, or "sending" whose lease ran out (its worker
        died). Only the head of each chat's queue is handed out (no older pending or sending
        row in that chat), so a chat's messages leave in order even with many workers, and a
        message put back by retry_later holds back the ones after it. On PostgreSQL rows are
        picked FOR UPDATE SKIP LOCKED: concurrent workers get disjoint batches. Commit the
        unit before sending, then mark each row in a new unit. `channels` limits the claim
        to the channels this worker can deliver. With `replies_before`, replies queued after
        that instant are left alone: the process that committed them is sending them
        (bot/workers/sender.py), and a worker racing it would only split the chat's rows.
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
        if replies_before is not None:
            pick = pick.where(or_(Outbox.kind != "reply", Outbox.created_at <= replies_before))
        if channels is not None:
            pick = pick.where(Outbox.channel.in_(list(channels)))
        # Replies before notices: an official waiting for the next question never queues
        # behind a batch of reminders.
        replies_first = case((Outbox.kind == "reply", 0), else_=1)
        pick = (
            pick.order_by(replies_first, Outbox.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Outbox)
        )
        ids = list((await self._exec(pick)).scalars())
        rows = await self._claim_ids(ids, due, now, lease_seconds)
        # One row per chat here, so putting replies first reorders no chat.
        return sorted(rows, key=lambda r: (r.kind != "reply", r.id))

    async def claim_chat(
        self,
        channel: str,
        chat_id: str,
        now: datetime,
        limit: int = 20,
        lease_seconds: float = 60,
    ) -> list[OutboxRec]:
        """Take the due head of one chat's queue, in order: what its own process just queued.

        The rows handed out are the longest run, from the chat's oldest unsent row, of rows
        that are due; nothing if that oldest row is held by another worker or waits for a
        retry time, so the chat's order is kept. On PostgreSQL the rows are locked FOR UPDATE
        SKIP LOCKED, and a claim whose first locked row is not the chat's oldest unsent row
        (another claimer holds the head) takes nothing: two claimers never share a row.
        """
        due = and_(
            Outbox.not_before <= now,
            or_(
                Outbox.status == "pending",
                and_(Outbox.status == "sending", Outbox.claimed_until < now),
            ),
        )
        in_chat = and_(
            Outbox.channel == channel,
            Outbox.chat_id == str(chat_id),
            Outbox.status.in_(("pending", "sending")),
        )
        oldest = aliased(Outbox)
        head = (
            select(func.min(oldest.id))
            .where(
                oldest.channel == channel,
                oldest.chat_id == str(chat_id),
                oldest.status.in_(("pending", "sending")),
            )
            .scalar_subquery()
        )
        pick = (
            select(Outbox.id, due.label("due"), head.label("head"))
            .where(in_chat)
            .order_by(Outbox.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Outbox)
        )
        rows = (await self._exec(pick)).all()
        if not rows or rows[0].id != rows[0].head:
            return []
        ids: list[int] = []
        for row in rows:
            if not row.due:
                break
            ids.append(row.id)
        return await self._claim_ids(ids, due, now, lease_seconds)

    async def _claim_ids(
        self, ids: list[int], due: Any, now: datetime, lease_seconds: float
    ) -> list[OutboxRec]:
        """Mark the picked rows "sending" under a lease; the rows claimed, oldest first."""
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

    async def outbox_backlog(self, now: datetime, cap: int = 1000) -> dict[str, Any]:
        """What a health check needs without scanning the table: {"pending": rows due now,
        counted up to `cap` through the status index, "pending_capped": whether the count
        stopped at `cap`, "oldest_pending_s": age in seconds of the oldest due row}."""
        due = and_(Outbox.status == "pending", Outbox.not_before <= now)
        capped = select(Outbox.id).where(due).limit(cap).subquery()
        count = (await self._exec(select(func.count()).select_from(capped))).scalar_one()
        oldest = (
            await self._exec(select(func.min(Outbox.created_at)).where(due))
        ).scalar_one_or_none()
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        return {
            "pending": int(count),
            "pending_capped": int(count) >= cap,
            "oldest_pending_s": round(age, 3),
        }

    # -- processes that send ----------------------------------------------------------------

    async def heartbeat(
        self, worker_id: str, bot: str, now: datetime, alive_within: timedelta
    ) -> int:
        """Say `worker_id` sends for `bot` now; returns how many of the bot's senders are
        alive (this one included). Senders silent for `alive_within` are forgotten."""
        await self._exec(delete(SendWorker).where(SendWorker.seen_at < now - alive_within))
        upsert = (
            self._insert(SendWorker)
            .values(id=worker_id, bot=bot, seen_at=now)
            .on_conflict_do_update(index_elements=[SendWorker.id], set_={"seen_at": now})
        )
        await self._exec(upsert)
        stmt = select(func.count()).select_from(SendWorker).where(SendWorker.bot == bot)
        return max(int((await self._exec(stmt)).scalar_one()), 1)

    async def leave(self, worker_id: str) -> None:
        """A sender stops: the others take its share at their next heartbeat."""
        await self._exec(delete(SendWorker).where(SendWorker.id == worker_id))

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
