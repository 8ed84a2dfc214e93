"""Reminders' storage: outbox rows queued once (dedupe keys), plans, mutes, bulk reads.

A dedupe key is unique in `outbox`: `enqueue_once` inserts with ON CONFLICT DO NOTHING on
both databases, so two planners at the same instant (or one run twice, or run again after
a restart or a deadline extension) queue each reminder once. The row keeps its key after it
is sent (prune leaves keyed rows alone), which is what stops a repeat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from storage._base import UnitBase, fields
from storage._chat import SEND_AT_ONCE
from storage.models import (
    Identity,
    Outbox,
    ReminderMute,
    ReminderPlanRow,
    Submission,
    User,
    utcnow,
)
from storage.records import IdentityRec, UserRec

_CHUNK = 500  # rows per INSERT / IN (…): well under both databases' parameter limits


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class RemindersUnit(UnitBase):
    queued: bool = False

    # -- outbox rows queued once --------------------------------------------------------------

    async def enqueue_once(
        self,
        channel: str,
        chat_id: str,
        payload: dict[str, Any],
        dedupe_key: str,
        kind: str = "notice",
        not_before: datetime | None = None,
    ) -> int | None:
        """Queue a message unless a row with `dedupe_key` exists (sent or not): its id, or
        None when the key was taken (nothing written)."""
        stmt = (
            self._insert(Outbox)
            .values(
                channel=channel,
                chat_id=str(chat_id),
                payload=payload,
                not_before=not_before or SEND_AT_ONCE,
                kind=kind,
                dedupe_key=dedupe_key,
            )
            .on_conflict_do_nothing(index_elements=[Outbox.dedupe_key])
            .returning(Outbox.id)
        )
        row = (await self._exec(stmt)).first()
        if row is None:
            return None
        self.queued = True
        return int(row[0])

    async def enqueue_once_many(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Queue many keyed messages: each of `rows` has channel, chat_id, payload,
        dedupe_key (and optionally kind, default "notice"; not_before). Returns the keys
        actually inserted, in key order; taken keys are skipped without error."""
        inserted: list[str] = []
        # One statement, compiled once and executed for many rows (SQLAlchemy batches them
        # as multi-row INSERTs with RETURNING): a VALUES list built per chunk cost seconds
        # to compile for 20,000 reminders. In key order: two planners inserting the same
        # keys then wait on each other in the same order on PostgreSQL instead of
        # deadlocking.
        stmt = (
            self._insert(Outbox)
            .on_conflict_do_nothing(index_elements=[Outbox.dedupe_key])
            .returning(Outbox.dedupe_key)
        )
        now = utcnow()
        for chunk in _chunks(sorted(rows, key=lambda r: str(r["dedupe_key"]))):
            values = [
                {
                    "channel": r["channel"],
                    "chat_id": str(r["chat_id"]),
                    "payload": r["payload"],
                    "kind": r.get("kind", "notice"),
                    "not_before": r.get("not_before") or SEND_AT_ONCE,
                    "dedupe_key": r["dedupe_key"],
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                }
                for r in chunk
            ]
            result = await self._exec(stmt, values)
            inserted += [str(k) for k in result.scalars() if k is not None]
        if inserted:
            self.queued = True
        return inserted

    async def taken_keys(self, prefix: str) -> set[str]:
        """Dedupe keys already queued that start with `prefix` (e.g. "remind:3:")."""
        stmt = select(Outbox.dedupe_key).where(
            Outbox.dedupe_key.startswith(prefix, autoescape=True)
        )
        return {str(k) for k in (await self._exec(stmt)).scalars()}

    async def keyed_rows(self, prefix: str) -> list[dict[str, Any]]:
        """Outbox rows whose key starts with `prefix`, oldest first (tests, CLI)."""
        stmt = (
            select(Outbox)
            .where(Outbox.dedupe_key.startswith(prefix, autoescape=True))
            .order_by(Outbox.id)
        )
        return [fields(r) for r in await self._exec(stmt)]

    # -- plans ------------------------------------------------------------------------------

    async def reminder_plan(self, campaign_id: int) -> dict[str, Any] | None:
        """The stored plan's fields (flows.reminders.plan_from_row reads them), or None."""
        stmt = select(ReminderPlanRow).where(ReminderPlanRow.campaign_id == campaign_id)
        row = (await self._exec(stmt)).one_or_none()
        return fields(row) if row else None

    async def set_reminder_plan(
        self, campaign_id: int, settings: dict[str, Any], now: datetime
    ) -> None:
        """Create or replace a campaign's plan. `settings`: days_before (list of int), at,
        quiet_start, quiet_end ("HH:MM"), on_deadline, overdue, no_weekends,
        overdue_to_head, overdue_to_reviewer (bool). Raises Conflict for an unknown
        campaign."""
        values = {**settings, "campaign_id": campaign_id, "updated_at": now}
        stmt = (
            self._insert(ReminderPlanRow)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[ReminderPlanRow.campaign_id],
                set_={k: v for k, v in values.items() if k != "campaign_id"},
            )
        )
        await self._exec(stmt)

    # -- mutes ------------------------------------------------------------------------------

    async def set_reminder_mute(
        self,
        campaign_id: int,
        user_id: int,
        muted: bool | None,
        now: datetime,
        channel: str | None = None,
    ) -> bool:
        """Record a person muting (True), unmuting (False) or toggling (None) a campaign's
        reminders; returns whether they are muted now. Every change is a new row."""
        if muted is None:
            muted = not await self.reminder_muted(campaign_id, user_id)
        await self._exec(
            ReminderMute.__table__.insert().values(
                campaign_id=campaign_id, user_id=user_id, muted=muted, channel=channel, at=now
            )
        )
        return muted

    async def reminder_muted(self, campaign_id: int, user_id: int) -> bool:
        stmt = (
            select(ReminderMute.muted)
            .where(ReminderMute.campaign_id == campaign_id, ReminderMute.user_id == user_id)
            .order_by(ReminderMute.id.desc())
            .limit(1)
        )
        return bool((await self._exec(stmt)).scalar_one_or_none())

    async def muted_users(self, campaign_id: int) -> set[int]:
        """Users whose latest mute row for the campaign says muted."""
        latest = (
            select(func.max(ReminderMute.id))
            .where(ReminderMute.campaign_id == campaign_id)
            .group_by(ReminderMute.user_id)
        )
        stmt = select(ReminderMute.user_id).where(
            ReminderMute.id.in_(latest), ReminderMute.muted.is_(True)
        )
        return {int(u) for u in (await self._exec(stmt)).scalars()}

    async def mute_history(self, campaign_id: int, user_id: int) -> list[dict[str, Any]]:
        stmt = (
            select(ReminderMute)
            .where(ReminderMute.campaign_id == campaign_id, ReminderMute.user_id == user_id)
            .order_by(ReminderMute.id)
        )
        return [fields(r) for r in await self._exec(stmt)]

    # -- bulk reads for the planner ---------------------------------------------------------

    async def submissions_by_agency(self, campaign_id: int) -> dict[int, tuple[int, str]]:
        """agency id → (submission id, status) for the campaign's existing submissions."""
        stmt = select(Submission.agency_id, Submission.id, Submission.status).where(
            Submission.campaign_id == campaign_id
        )
        return {int(a): (int(i), str(s)) for a, i, s in await self._exec(stmt)}

    async def people_of_agencies(
        self, agency_ids: Sequence[int], role: str = "official"
    ) -> dict[int, list[UserRec]]:
        """agency id → its users with `role`, by id."""
        out: dict[int, list[UserRec]] = {}
        for chunk in _chunks(list(agency_ids)):
            stmt = (
                select(User)
                .where(and_(User.agency_id.in_(chunk), User.role == role))
                .order_by(User.id)
            )
            for row in await self._exec(stmt):
                user = UserRec(**fields(row))
                out.setdefault(int(user.agency_id or 0), []).append(user)
        return out

    async def identities_of(self, user_ids: Sequence[int]) -> dict[int, list[IdentityRec]]:
        """user id → their chat accounts (every channel), oldest first."""
        out: dict[int, list[IdentityRec]] = {}
        for chunk in _chunks(list(user_ids)):
            stmt = select(Identity).where(Identity.user_id.in_(chunk)).order_by(Identity.id)
            for row in await self._exec(stmt):
                ident = IdentityRec(**fields(row))
                out.setdefault(ident.user_id, []).append(ident)
        return out
