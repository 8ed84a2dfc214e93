"""Campaigns, submissions and their answers: the part that must never lose an answer."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal, overload

from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from flows.machines import SUBMISSION_TRANSITIONS, Status
from flows.state import Answer, ConversationState
from storage._base import UnitBase, fields, log
from storage._campaigns import FormCohorts, campaign_rec, forms_key, offered
from storage.models import (
    Agency,
    AnswerHistory,
    AnswerRow,
    Campaign,
    Identity,
    Position,
    Submission,
    SubmissionEvent,
    User,
)
from storage.prepared import hot
from storage.records import (
    AgencyRec,
    HistoryRec,
    NotFound,
    StandingRec,
    SubmissionEventRec,
    SubmissionRec,
    UserRec,
)


def _legal_moves() -> frozenset[tuple[Status, Status]]:
    """(from, to) pairs the submission machine allows, read from its transition table."""
    moves: set[tuple[Status, Status]] = set()
    for t in SUBMISSION_TRANSITIONS:
        source = t["source"]
        sources = source if isinstance(source, list) else [source]
        moves.update((Status(str(s)), Status(str(t["dest"]))) for s in sources)
    return frozenset(moves)


LEGAL_MOVES = _legal_moves()
# Moves that (re)submit: they stamp submitted_at (lateness is judged on it).
_SUBMITTING = frozenset({Status.SUBMITTED, Status.RESUBMITTED})


def _submission(row: Any) -> SubmissionRec:
    data = row if isinstance(row, dict) else fields(row)
    data["status"] = Status(data["status"])
    return SubmissionRec(**data)


def _answer(data: dict[str, Any] | None) -> Answer | None:
    return None if data is None else Answer.from_json(data)


_PREFIXES = (("ag__", Agency), ("ca__", Campaign), ("su__", Submission))


@lru_cache(maxsize=16)
def _standing_statement(postgres: bool, forms: FormCohorts) -> Select[Any]:
    """identity → user → agency → the chat's campaign → submission, position, in one go.

    The campaign is the open one the chat chose (:chosen) if it still targets the agency,
    else the newest open one that does; `n_open` counts those that do, so the caller knows
    whether to offer a choice. A campaign targets the agency when it names it, or lists its
    cohort and its form is for that cohort; only forms in `forms` count. The person's
    position in that campaign comes along (`po__state`), locked on PostgreSQL like the
    submission.

    Built once per (dialect, forms) and executed with :channel, :external_id and :chosen.
    On PostgreSQL the submission is read in a LATERAL sub-select FOR UPDATE: the row is
    locked and its newest version returned even if another unit held it. SQLite needs no
    row lock (the unit holds the database) and has no LATERAL: a plain outer join.
    """

    def targeted(c: Any) -> Any:
        return offered(c, Agency, forms, postgres)

    pick = aliased(Campaign)
    chosen = bindparam("chosen", type_=Integer)
    the_campaign = (
        select(pick.id)
        .where(targeted(pick))
        .order_by(case((pick.id == chosen, 0), else_=1), pick.opened_at.desc(), pick.id.desc())
        .limit(1)
        .correlate(Agency)
        .scalar_subquery()
    )
    other = aliased(Campaign)
    n_open = select(func.count(other.id)).where(targeted(other)).correlate(Agency).scalar_subquery()
    submission: Any = Submission
    if postgres:
        submission = (
            select(Submission)
            .where(Submission.campaign_id == Campaign.id, Submission.agency_id == Agency.id)
            .with_for_update()
            .lateral("su")
        )
        joined_on = true()
    else:
        joined_on = and_(Submission.campaign_id == Campaign.id, Submission.agency_id == Agency.id)
    columns: list[Any] = list(User.__table__.c)
    columns += [c.label(f"ag__{c.name}") for c in Agency.__table__.c]
    columns += [c.label(f"ca__{c.name}") for c in Campaign.__table__.c]
    sub_columns = submission.c if postgres else Submission.__table__.c
    columns += [sub_columns[c.name].label(f"su__{c.name}") for c in Submission.__table__.c]
    position: Any = Position
    if postgres:
        # Locked like the submission, and read again once the lock is had: two chats of one
        # person (Telegram and Zalo) share this place, the second must see the first's move.
        position = (
            select(Position.state)
            .where(Position.user_id == User.id, Position.campaign_id == Campaign.id)
            .with_for_update()
            .lateral("po")
        )
        position_on: Any = true()
    else:
        position_on = and_(Position.user_id == User.id, Position.campaign_id == Campaign.id)
    state = position.c.state if postgres else Position.state
    columns += [n_open.label("n_open"), state.label("po__state")]
    return hot(
        select(*columns)
        .select_from(Identity)
        .join(User, User.id == Identity.user_id)
        .outerjoin(Agency, Agency.id == User.agency_id)
        .outerjoin(Campaign, Campaign.id == the_campaign)
        .outerjoin(submission, joined_on)
        .outerjoin(position, position_on)
        .where(
            Identity.channel == bindparam("channel"),
            Identity.external_id == bindparam("external_id"),
        )
    )


_TOUCH = hot(
    update(Submission)
    .where(Submission.id == bindparam("submission"))
    .values(
        updated_at=bindparam("now", type_=Submission.__table__.c.updated_at.type),
        answers_rev=bindparam("rev", type_=Submission.__table__.c.answers_rev.type),
    )
)
_HISTORY = insert(AnswerHistory)
_KEPT = ("value", "na_reason", "evidence", "updated_by", "channel", "updated_at")


@lru_cache(maxsize=2)
def _upsert_statement(postgres: bool) -> Any:
    """INSERT … ON CONFLICT DO UPDATE of answer rows, run with one parameter set per row."""
    new = (postgresql.insert if postgres else sqlite.insert)(AnswerRow)
    return new.on_conflict_do_update(
        index_elements=[AnswerRow.submission_id, AnswerRow.item_id],
        set_={name: new.excluded[name] for name in _KEPT},
    )


_LOAD_ANSWERS = select(
    AnswerRow.item_id, AnswerRow.value, AnswerRow.na_reason, AnswerRow.evidence
).where(AnswerRow.submission_id == bindparam("submission_id"))


class SubmissionsUnit(UnitBase):
    # -- where an official stands ------------------------------------------------------------

    async def standing(
        self,
        channel: str,
        external_id: str,
        forms: Mapping[str, Collection[str]] | Collection[str],
        chosen: int | None = None,
        today: date | None = None,
    ) -> StandingRec | None:
        """A chat account's user, agency, campaign, submission and position, in one statement.

        `forms` maps each form id the caller serves to the cohorts it is for (empty: every
        cohort; a bare collection of ids means every cohort for each). The campaign is
        `chosen` (the chat's pick) when it is open and targets the agency, else the newest
        open campaign that does (see _standing_statement); `campaigns_open` counts those.
        With `today` (the date in Việt Nam), a campaign whose open date is later is not open
        yet for officials.
        None for a stranger. The submission, when there is one, stays locked until this
        unit ends (PostgreSQL: FOR UPDATE; SQLite: the unit holds the database), so answers
        read next are exactly what is stored.
        """
        stmt = _standing_statement(self._postgres, forms_key(forms))
        params = {
            "channel": channel,
            "external_id": external_id,
            "chosen": chosen,
            "today": today,
        }
        row = (await self._exec(stmt, params)).one_or_none()
        if row is None:
            return None
        data = fields(row)
        n_open = int(data.pop("n_open") or 0)
        position = data.pop("po__state")
        parts: dict[str, dict[str, Any]] = {prefix: {} for prefix, _ in _PREFIXES}
        user: dict[str, Any] = {}
        for name, value in data.items():
            part = parts.get(name[:4])
            if part is None:
                user[name] = value
            else:
                part[name[4:]] = value
        agency = AgencyRec(**parts["ag__"]) if parts["ag__"]["id"] is not None else None
        campaign = campaign_rec(parts["ca__"]) if parts["ca__"]["id"] is not None else None
        sub = None
        if parts["su__"]["id"] is not None:
            sub = _submission(parts["su__"])
            self._locked_submissions.add(sub.id)
            self._answer_tokens[sub.id] = sub.answers_rev
        return StandingRec(
            UserRec(**user),
            agency,
            campaign,
            sub,
            campaigns_open=n_open if agency is not None else 0,
            position=None if position is None else ConversationState.from_json(position),
        )

    # -- submissions ------------------------------------------------------------------------

    @overload
    async def submission(
        self, campaign_id: int, agency_id: int, create: Literal[True] = True
    ) -> SubmissionRec: ...

    @overload
    async def submission(
        self, campaign_id: int, agency_id: int, create: bool
    ) -> SubmissionRec | None: ...

    async def submission(
        self, campaign_id: int, agency_id: int, create: bool = True
    ) -> SubmissionRec | None:
        """An agency's submission in a campaign, created as a draft on first use.

        Read first (the usual case); insert-if-missing then read again, so two first
        messages at once still make one row.
        Raises Conflict if the campaign or agency does not exist.
        """
        find = select(Submission).where(
            Submission.campaign_id == campaign_id, Submission.agency_id == agency_id
        )
        row = (await self._exec(find)).one_or_none()
        if row is None and create:
            stmt = (
                self._insert(Submission)
                .values(campaign_id=campaign_id, agency_id=agency_id)
                .on_conflict_do_nothing(
                    index_elements=[Submission.campaign_id, Submission.agency_id]
                )
            )
            await self._exec(stmt)
            row = (await self._exec(find)).one_or_none()
        return _submission(row) if row else None

    async def submission_by_id(self, submission_id: int) -> SubmissionRec | None:
        stmt = select(Submission).where(Submission.id == submission_id)
        row = (await self._exec(stmt)).one_or_none()
        return _submission(row) if row else None

    async def list_submissions(self, campaign_id: int) -> list[SubmissionRec]:
        stmt = select(Submission).where(Submission.campaign_id == campaign_id)
        return [_submission(r) for r in await self._exec(stmt.order_by(Submission.id))]

    async def move_submission(
        self,
        submission_id: int,
        expected: Status,
        new: Status,
        user_id: int | None,
        now: datetime,
        note: str | None = None,
        channel: str | None = None,
    ) -> bool:
        """Compare-and-set the status: True only if it was still `expected` and now is `new`.

        Two workers racing to move the same submission: one UPDATE matches, the other
        matches no row (PostgreSQL re-reads the row after the first commits) and gets False.
        Raises ValueError for a move the submission machine does not allow.
        """
        expected, new = Status(expected), Status(new)
        if (expected, new) not in LEGAL_MOVES:
            raise ValueError(f"a submission cannot move from {expected} to {new}")
        values: dict[str, Any] = {
            "status": new.value,
            "version": Submission.version + 1,
            "updated_at": now,
        }
        if new in _SUBMITTING:
            values["submitted_at"] = now
        stmt = (
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == expected.value)
            .values(**values)
            .returning(Submission.id)
        )
        if (await self._exec(stmt)).first() is None:
            log.info("submission %s: %s → %s refused (status moved)", submission_id, expected, new)
            return False
        event = insert(SubmissionEvent).values(
            submission_id=submission_id,
            from_status=expected.value,
            to_status=new.value,
            user_id=user_id,
            at=now,
            note=note,
            channel=channel,
        )
        await self._exec(event)
        return True

    async def submission_events(self, submission_id: int) -> list[SubmissionEventRec]:
        stmt = (
            select(SubmissionEvent)
            .where(SubmissionEvent.submission_id == submission_id)
            .order_by(SubmissionEvent.id)
        )
        out = []
        for row in await self._exec(stmt):
            data = fields(row)
            data["from_status"] = Status(data["from_status"])
            data["to_status"] = Status(data["to_status"])
            out.append(SubmissionEventRec(**data))
        return out

    # -- answers ----------------------------------------------------------------------------

    def _holds(self, submission_id: int) -> bool:
        """Whether no other unit can change this submission's answers until this one ends."""
        return not self._postgres or submission_id in self._locked_submissions

    async def load_answers(self, submission_id: int) -> dict[str, Answer]:
        """The current answers of a submission, by item id (a new dict: the caller's own).

        Under this unit's lock, with the submission's token read (Unit.standing), the
        answers the process kept under that token are used (storage/answer_cache.py)."""
        holds = self._holds(submission_id)
        answers = None
        if holds and self.answer_cache is not None:
            answers = self.answer_cache.get(submission_id, self._answer_tokens.get(submission_id))
        if answers is None:
            params = {"submission_id": submission_id}
            rows = await self._exec(_LOAD_ANSWERS, params)
            answers = {r.item_id: Answer(r.value, r.na_reason, r.evidence) for r in rows}
        if holds:
            self._known_answers[submission_id] = dict(answers)
        return answers

    async def previous_answers(
        self, agency_id: int, form_ids: Iterable[str], campaign_id: int
    ) -> dict[str, Answer]:
        """The agency's answers to its latest campaign before `campaign_id` of one of
        `form_ids` (last year's answers, offered again as "Giữ nguyên"); {} if none.

        One statement: the latest earlier submission is a scalar subquery.
        """
        ids = list(form_ids)
        if not ids:
            return {}
        latest = (
            select(Submission.id)
            .join(Campaign, Campaign.id == Submission.campaign_id)
            .where(
                Submission.agency_id == agency_id,
                Campaign.form_id.in_(ids),
                Campaign.id < campaign_id,
            )
            .order_by(Campaign.opened_at.desc(), Campaign.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        stmt = select(
            AnswerRow.item_id, AnswerRow.value, AnswerRow.na_reason, AnswerRow.evidence
        ).where(AnswerRow.submission_id == latest)
        return {r.item_id: Answer(r.value, r.na_reason, r.evidence) for r in await self._exec(stmt)}

    async def cohort_answers(
        self, campaign_id: int, cohort: str, items: Collection[str], other_than: int
    ) -> dict[int, dict[str, Answer]]:
        """The current answers to `items` of every submission of `campaign_id` but
        `other_than` whose agency is in `cohort`, by submission id, whatever its status (what
        /diem compares a ratio_to_best criterion with). One statement."""
        if not items:
            return {}
        stmt = (
            select(
                AnswerRow.submission_id,
                AnswerRow.item_id,
                AnswerRow.value,
                AnswerRow.na_reason,
                AnswerRow.evidence,
            )
            .join(Submission, Submission.id == AnswerRow.submission_id)
            .join(Agency, Agency.id == Submission.agency_id)
            .where(
                Submission.campaign_id == campaign_id,
                Submission.id != other_than,
                Agency.cohort == cohort,
                AnswerRow.item_id.in_(list(items)),
            )
        )
        out: dict[int, dict[str, Answer]] = {}
        for r in await self._exec(stmt):
            out.setdefault(r.submission_id, {})[r.item_id] = Answer(
                r.value, r.na_reason, r.evidence
            )
        return out

    async def apply_changes(
        self,
        submission_id: int,
        changes: Mapping[str, Answer | None],
        user_id: int | None,
        channel: str,
        now: datetime,
    ) -> int:
        """Write an engine step's answer changes (None deletes) and one history row each.

        The submission row is updated first: on PostgreSQL that row lock serialises every
        writer of this submission (Telegram and Zalo at once, a reviewer…), so the `old`
        recorded in history is exactly what was replaced. Changes that change nothing are
        not recorded. Returns the number of history rows written; raises NotFound for an
        unknown submission.
        """
        if not changes:
            return 0
        token = secrets.randbits(63)  # the answers' new token (models.Submission.answers_rev)
        touched = await self._exec(_TOUCH, {"submission": submission_id, "now": now, "rev": token})
        if touched.rowcount == 0:  # rowcount, not RETURNING: one driver call fewer
            raise NotFound(f"no submission {submission_id}")
        self._answer_tokens[submission_id] = token

        known = self._known_answers.get(submission_id)
        if known is not None:  # read under this unit's lock, kept current below: no re-read
            current = {k: known[k].to_json() for k in changes if k in known}
        else:
            current = await self._current(submission_id, list(changes))
        history: list[dict[str, Any]] = []
        upserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        for item_id, answer in changes.items():
            old = current.get(item_id)
            new = answer.to_json() if answer is not None else None
            if old == new:
                continue
            history.append(
                {
                    "submission_id": submission_id,
                    "item_id": item_id,
                    "old": old,
                    "new": new,
                    "user_id": user_id,
                    "channel": channel,
                    "at": now,
                }
            )
            if answer is None:
                deletes.append(item_id)
            else:
                upserts.append(
                    {
                        "submission_id": submission_id,
                        "item_id": item_id,
                        "value": answer.value,
                        "na_reason": answer.na_reason,
                        "evidence": answer.evidence,
                        "updated_by": user_id,
                        "channel": channel,
                        "updated_at": now,
                    }
                )
        if deletes:
            await self._exec(
                delete(AnswerRow).where(
                    AnswerRow.submission_id == submission_id, AnswerRow.item_id.in_(deletes)
                )
            )
        if upserts:
            await self._exec(_upsert_statement(self._postgres), upserts)
        if history:
            await self._exec(_HISTORY, history)
        if known is not None:
            for item_id, answer in changes.items():
                if answer is None:
                    known.pop(item_id, None)
                else:
                    known[item_id] = answer
        return len(history)

    async def _current(self, submission_id: int, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        stmt = select(
            AnswerRow.item_id, AnswerRow.value, AnswerRow.na_reason, AnswerRow.evidence
        ).where(AnswerRow.submission_id == submission_id, AnswerRow.item_id.in_(item_ids))
        return {
            r.item_id: Answer(r.value, r.na_reason, r.evidence).to_json()
            for r in await self._exec(stmt)
        }

    async def answer_history(
        self, submission_id: int, item_id: str | None = None
    ) -> list[HistoryRec]:
        """Every recorded change, oldest first (of one item if `item_id` is given)."""
        stmt = select(AnswerHistory).where(AnswerHistory.submission_id == submission_id)
        if item_id is not None:
            stmt = stmt.where(AnswerHistory.item_id == item_id)
        out = []
        for row in await self._exec(stmt.order_by(AnswerHistory.id)):
            data = fields(row)
            data["old"] = _answer(data["old"])
            data["new"] = _answer(data["new"])
            out.append(HistoryRec(**data))
        return out
