"""The administrator's desk: agencies and people loaded in bulk, archived, removed; what
progress and export read of a whole campaign in a few statements (never one per agency)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Text, bindparam, cast, delete, exists, func, insert, select, update

from flows.state import Answer
from storage._base import UnitBase, fields
from storage.models import (
    Agency,
    AnswerHistory,
    AnswerRow,
    Identity,
    Invite,
    Submission,
    SubmissionEvent,
    User,
    _untag,
)
from storage.records import AgencyRec, Conflict, InviteRec, UserRec

AGENCY_FIELDS = ("name", "cohort", "address", "website", "phone", "email", "head")
PERSON_FIELDS = ("position", "phone", "email", "role")


def code_key(code: str) -> str:
    """Agency codes are compared without case or surrounding spaces ("sttt" is "STTT")."""
    return code.strip().casefold()


def name_key(name: str) -> str:
    """A person is the same person when their name matches without case and extra spaces."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True, slots=True)
class ImportCounts:
    agencies_added: int = 0
    agencies_updated: int = 0
    people_added: int = 0
    people_updated: int = 0
    # Re-imported rows whose values were already stored: nothing written for them.
    agencies_unchanged: int = 0
    people_unchanged: int = 0


class HistoryText(NamedTuple):
    """A history row as the export's history sheet reads it: the agency, the person's name,
    and the old and new answers as their stored JSON text (`answer_of_text` decodes one).
    Text, not Answer: a million changes repeat a few thousand distinct answers, so the
    export formats each distinct text once and never decodes the repeats."""

    agency_id: int
    item_id: str
    old: str | None
    new: str | None
    user_name: str | None
    channel: str
    at: datetime


# An answer as stored: (value JSON text, reason "không áp dụng", evidence JSON text).
Stored = tuple[str | None, str | None, str | None]


def stored_answer(stored: Stored) -> Answer:
    """The Answer of a stored (value, reason, evidence): the JSON columns are read as their
    text and decoded here — the same values as the column type gives (`_json_value`) at a
    third of the cost per answer, which matters at a million answers."""
    value, na_reason, evidence = stored
    return Answer(
        _json_value(value) if value is not None else None,
        na_reason,
        _json_value(evidence) if evidence is not None else None,
    )


def answer_of_text(text: str | None) -> Answer | None:
    """The Answer of a stored history JSON text (None for None: created or deleted)."""
    return Answer.from_json(_json_value(text)) if text is not None else None


class DeskUnit(UnitBase):
    # -- agencies ---------------------------------------------------------------------------

    async def agency_by_code_ci(self, code: str) -> AgencyRec | None:
        """The agency whose code matches without case (the import and the CLI's rule)."""
        stmt = select(Agency).where(func.lower(Agency.code) == code.strip().lower())
        row = (await self._exec(stmt)).first()
        return AgencyRec(**fields(row)) if row else None

    async def agencies_by_code(self) -> dict[str, AgencyRec]:
        """Every agency by code_key(code), archived ones included."""
        rows = await self._exec(select(Agency))
        return {code_key(r.code): AgencyRec(**fields(r)) for r in rows}

    async def update_agency(self, agency_id: int, changes: Mapping[str, Any]) -> AgencyRec:
        """Set some of AGENCY_FIELDS (and `code`, `archived_at`); raises Conflict on a taken
        code, KeyError on an unknown field, LookupError on an unknown agency."""
        unknown = set(changes) - {*AGENCY_FIELDS, "code", "archived_at"}
        if unknown:
            raise KeyError(f"not agency fields: {sorted(unknown)}")
        stmt = (
            update(Agency)
            .where(Agency.id == agency_id)
            .values(**changes)
            .returning(*Agency.__table__.c)
        )
        row = (await self._exec(stmt)).one_or_none()
        if row is None:
            raise LookupError(f"no agency {agency_id}")
        return AgencyRec(**fields(row))

    async def agency_has_answers(self, agency_id: int) -> bool:
        """Whether any submission of the agency holds an answer or moved status."""
        subs = select(Submission.id).where(Submission.agency_id == agency_id)
        answered = exists().where(AnswerRow.submission_id.in_(subs))
        moved = exists().where(SubmissionEvent.submission_id.in_(subs))
        return bool((await self._exec(select(answered | moved))).scalar())

    async def agency_has_members(self, agency_id: int) -> bool:
        """Whether someone of the agency has joined a chat (has an identity)."""
        joined = exists().where(Identity.user_id == User.id, User.agency_id == agency_id)
        return bool((await self._exec(select(joined))).scalar())

    async def delete_agency(self, agency_id: int) -> None:
        """Delete an agency that has no answers and no joined people, with its invites,
        empty submissions and imported people. Callers check agency_has_answers and
        agency_has_members first (a Conflict is raised if a row still refers to it)."""
        await self._exec(delete(Invite).where(Invite.agency_id == agency_id))
        people = select(User.id).where(User.agency_id == agency_id)
        await self._exec(delete(Invite).where(Invite.user_id.in_(people)))
        await self._exec(delete(Submission).where(Submission.agency_id == agency_id))
        await self._exec(delete(User).where(User.agency_id == agency_id))
        await self._exec(delete(Agency).where(Agency.id == agency_id))

    # -- the import -------------------------------------------------------------------------

    async def import_directory(
        self,
        agencies: Sequence[Mapping[str, Any]],
        people: Sequence[Mapping[str, Any]],
    ) -> ImportCounts:
        """Add or update agencies (matched by code without case) and people (matched by
        agency and name without case), in this unit: all of it or, on an error, none.

        `agencies`: dicts with `code` and AGENCY_FIELDS (None clears a field); `people`:
        dicts with `name`, `agency_code` and PERSON_FIELDS. A re-imported agency keeps its
        stored code spelling and is un-archived. Rows are written with one statement per
        kind (executemany), so 5,000 agencies take a few statements, not 5,000.
        """
        known = await self.agencies_by_code()
        new_agencies, changed_agencies = [], []
        same_agencies = 0
        for row in agencies:
            values = {k: row.get(k) for k in AGENCY_FIELDS}
            found = known.get(code_key(row["code"]))
            if found is None:
                new_agencies.append({"code": row["code"].strip(), **values})
            elif found.archived_at is None and all(
                getattr(found, k) == v for k, v in values.items()
            ):
                # Counted as "không đổi", not "cập nhật" (newcomer report: an unchanged
                # workbook re-imported said every row was updated).
                same_agencies += 1
            else:
                changed_agencies.append({"_id": found.id, **values, "archived_at": None})
        if new_agencies:
            await self._exec(insert(Agency), new_agencies)
        if changed_agencies:
            stmt = (
                update(Agency)
                .where(Agency.id == bindparam("_id"))
                .values({k: bindparam(k) for k in (*AGENCY_FIELDS, "archived_at")})
            )
            await self._exec(stmt, changed_agencies)
        ids = {key: rec.id for key, rec in (await self.agencies_by_code()).items()}
        gone = sorted({p["agency_code"] for p in people if code_key(p["agency_code"]) not in ids})
        if gone:  # checked by the reader; removed since by someone else: nothing is written
            raise Conflict(f"agency codes no longer exist: {', '.join(gone)}")

        agency_ids = {ids[code_key(p["agency_code"])] for p in people}
        existing: dict[tuple[int, str], int] = {}
        stored: dict[int, dict[str, Any]] = {}
        if agency_ids:
            stmt = select(
                User.id, User.agency_id, User.name, *(getattr(User, k) for k in PERSON_FIELDS)
            ).where(User.agency_id.in_(agency_ids))
            for r in await self._exec(stmt):
                existing.setdefault((r.agency_id, name_key(r.name)), r.id)
                stored[r.id] = {k: getattr(r, k) for k in PERSON_FIELDS}
        new_people, changed_people = [], []
        same_people = 0
        for p in people:
            agency_id = ids[code_key(p["agency_code"])]
            values = {k: p.get(k) for k in PERSON_FIELDS}
            user_id = existing.get((agency_id, name_key(p["name"])))
            if user_id is not None and stored.get(user_id) == values:
                same_people += 1
            elif user_id is None:
                new_people.append(
                    {"name": " ".join(p["name"].split()), "agency_id": agency_id, **values}
                )
            else:
                changed_people.append({"_id": user_id, **values})
        if new_people:
            await self._exec(insert(User), new_people)
        if changed_people:
            stmt = (
                update(User)
                .where(User.id == bindparam("_id"))
                .values({k: bindparam(k) for k in PERSON_FIELDS})
            )
            await self._exec(stmt, changed_people)
        return ImportCounts(
            len(new_agencies),
            len(changed_agencies),
            len(new_people),
            len(changed_people),
            same_agencies,
            same_people,
        )

    # -- people and their invitations -------------------------------------------------------

    async def people_of(self, agency_ids: Iterable[int], role: str | None = None) -> list[UserRec]:
        """The people of these agencies (with `role` if given), by agency then id."""
        ids = list(agency_ids)
        if not ids:
            return []
        stmt = select(User).where(User.agency_id.in_(ids))
        if role is not None:
            stmt = stmt.where(User.role == role)
        rows = await self._exec(stmt.order_by(User.agency_id, User.id))
        return [UserRec(**fields(r)) for r in rows]

    async def users_with_identity(self, user_ids: Iterable[int]) -> set[int]:
        ids = list(user_ids)
        if not ids:
            return set()
        stmt = select(Identity.user_id).where(Identity.user_id.in_(ids)).distinct()
        return {r.user_id for r in await self._exec(stmt)}

    async def usable_invites_of(self, user_ids: Iterable[int], now: datetime) -> set[int]:
        """The people among `user_ids` who hold an invitation still usable at `now`."""
        ids = list(user_ids)
        if not ids:
            return set()
        stmt = select(Invite).where(Invite.user_id.in_(ids))
        recs = [InviteRec(**fields(r)) for r in await self._exec(stmt)]
        return {r.user_id for r in recs if r.user_id is not None and r.usable(now)}

    async def revoke_person_invites(self, user_ids: Iterable[int], now: datetime) -> int:
        """Revoke the invitations of these people not yet revoked; how many were."""
        ids = list(user_ids)
        if not ids:
            return 0
        stmt = (
            update(Invite)
            .where(Invite.user_id.in_(ids), Invite.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return (await self._exec(stmt)).rowcount or 0

    async def add_person_invites(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert invitations made for people: dicts of Invite columns incl. `user_id`."""
        if rows:
            await self._exec(insert(Invite), list(rows))

    # -- a whole campaign, for progress and export ------------------------------------------

    async def answers_of(self, submission_ids: Iterable[int]) -> dict[int, dict[str, Answer]]:
        """The answers of several submissions: {submission id: {item id: Answer}}, one query
        per 1,000 ids (`answer_texts`, decoded).

        Exports read a campaign a few hundred submissions at a time with it, so memory stays
        bounded by the chunk, not the campaign; the reminder planner reads the agencies it
        reminds. Any iterable of ids (a generator too)."""
        texts = await self.answer_texts(submission_ids)
        return {
            sub: {item: stored_answer(t) for item, t in given.items()}
            for sub, given in texts.items()
        }

    async def answer_texts(self, submission_ids: Iterable[int]) -> dict[int, dict[str, Stored]]:
        """The answers of several submissions as stored: {submission id: {item id: (value
        JSON text, reason "không áp dụng", evidence JSON text)}}; `stored_answer` decodes one.

        The answers export reads these: 5,000 submissions hold a million answers, most of
        them repeats (a choice, a link), formatted once per distinct text, never decoded
        again. At most 1,000 ids per statement: a whole campaign (the reminder planner asks
        for every submission) stays far below the databases' bound-parameter limits."""
        ids = list(submission_ids)
        out: dict[int, dict[str, Stored]] = {i: {} for i in ids}
        for start in range(0, len(ids), 1000):
            stmt = select(
                AnswerRow.submission_id,
                AnswerRow.item_id,
                cast(AnswerRow.value, Text),
                AnswerRow.na_reason,
                cast(AnswerRow.evidence, Text),
            ).where(AnswerRow.submission_id.in_(ids[start : start + 1000]))
            for sub_id, item_id, value, na_reason, evidence in (await self._exec(stmt)).all():
                out[sub_id][item_id] = (value, na_reason, evidence)
        return out

    async def history_count(self, campaign_id: int) -> int:
        """How many answer changes the campaign's submissions have (the answers export
        decides with it where the history goes)."""
        stmt = (
            select(func.count())
            .select_from(AnswerHistory)
            .join(Submission, Submission.id == AnswerHistory.submission_id)
            .where(Submission.campaign_id == campaign_id)
        )
        return int((await self._exec(stmt)).scalar_one())

    async def history_texts(self, submission_ids: Iterable[int]) -> list[HistoryText]:
        """Every answer change of these submissions, by submission then time, with who
        made it (None when the person is unknown); answers as stored JSON text."""
        ids = list(submission_ids)
        if not ids:
            return []
        h = AnswerHistory
        stmt = (
            select(
                Submission.agency_id,
                h.item_id,
                cast(h.old, Text),  # decoded by the caller, once per distinct text
                cast(h.new, Text),
                User.name,
                h.channel,
                cast(h.at, Text),  # parsed here: a third of the column type's cost
            )
            .join(Submission, Submission.id == h.submission_id)
            .outerjoin(User, User.id == h.user_id)
            .where(h.submission_id.in_(ids))
            .order_by(h.submission_id, h.id)
        )
        times: dict[str, datetime] = {}  # changes come in bulk: many share their time
        out = []
        for agency_id, item_id, old, new, user_name, channel, at in (await self._exec(stmt)).all():
            when = times.get(at)
            if when is None:
                when = times[at] = _aware(at)
            out.append(HistoryText(agency_id, item_id, old, new, user_name, channel, when))
        return out

    async def first_submissions(self, campaign_id: int) -> dict[int, datetime]:
        """When each submission of the campaign was first submitted (lateness is judged on
        it: a late resubmission after a return is not a late submission)."""
        stmt = (
            select(SubmissionEvent.submission_id, func.min(SubmissionEvent.at).label("at"))
            .join(Submission, Submission.id == SubmissionEvent.submission_id)
            .where(Submission.campaign_id == campaign_id, SubmissionEvent.to_status == "submitted")
            .group_by(SubmissionEvent.submission_id)
        )
        rows = await self._exec(stmt)
        return {r.submission_id: _aware(r.at) for r in rows}


def _json_value(text: str) -> Any:
    """What ExactJSON gives back for a stored JSON text: tagged numbers undone. A plain
    string (no escape) or a natural number is read without the JSON parser."""
    if text[:1] == '"' and "\\" not in text:
        return text[1:-1]
    if text.isdigit() and text.isascii():
        return int(text)
    value = json.loads(text)
    return _untag(value) if isinstance(value, dict | list) else value


def _aware(at: datetime) -> datetime:
    """An aggregate skips the column type: SQLite's MIN() gives naive UTC text back."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
