"""Campaigns: what they target, their life (draft → open → closed), and each person's place
in each campaign's questionnaire (issue #9).

Targets of a campaign = the agencies of its cohorts ∪ the agencies listed in
campaign_agencies, archived agencies left out unless they already started that campaign
(see `still_asked`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from flows.state import ConversationState
from storage._base import UnitBase, fields
from storage.models import (
    CAMPAIGN_STATUSES,
    COHORTS,
    Agency,
    AnswerRow,
    Campaign,
    CampaignAgency,
    Identity,
    Position,
    Submission,
    User,
    utcnow,
)
from storage.prepared import hot
from storage.records import AgencyRec, CampaignRec, IdentityRec, UserRec

_SAVE_POSITION_COLUMNS = ("state", "updated_at")


def campaign_rec(data: dict[str, Any]) -> CampaignRec:
    """A campaign row (its columns by name) as a record."""
    data = dict(data)
    data["cohorts"] = tuple(data.get("cohorts") or ())
    return CampaignRec(**data)


def cohort_listed(cohorts: Any, cohort: Any, postgres: bool) -> ColumnElement[bool]:
    """SQL: the JSON list `cohorts` holds the value `cohort` (a column or expression)."""
    if postgres:
        return cast(cohorts, postgresql.JSONB).has_key(cohort)
    listed = func.json_each(cohorts).table_valued("value")
    # correlate_except: the campaign and agency are the enclosing query's, however deep.
    return exists(
        select(1).select_from(listed).where(listed.c.value == cohort).correlate_except(listed)
    )


def still_asked(campaign: Any, agency: Any) -> ColumnElement[bool]:
    """SQL: `agency` is not archived, or it already started `campaign` (its submission there
    holds an answer or has left the draft status).

    Archiving only takes an agency out of campaigns it never started: where it has answers,
    it stays a target, so progress, exports, review and the campaign's counts (closed
    campaigns too) keep its submission; an empty submission (an official only opened the
    menu) does not count as started."""
    # An alias: the chat's standing statement joins `submissions` itself (storage/_submissions).
    sub = aliased(Submission)
    answered = exists(
        select(1).where(AnswerRow.submission_id == sub.id).correlate_except(AnswerRow)
    )
    started = exists(
        select(1)
        .where(
            sub.campaign_id == campaign.id,
            sub.agency_id == agency.id,
            or_(sub.status != "draft", answered),
        )
        .correlate_except(sub)
    )
    return or_(agency.archived_at.is_(None), started)


def targets(campaign: Any, agency: Any, postgres: bool) -> ColumnElement[bool]:
    """SQL: `campaign` (the Campaign entity or an alias) targets `agency` (the same)."""
    named = exists(
        select(1)
        .where(CampaignAgency.campaign_id == campaign.id, CampaignAgency.agency_id == agency.id)
        .correlate_except(CampaignAgency)
    )
    either = or_(cohort_listed(campaign.cohorts, agency.cohort, postgres), named)
    return and_(still_asked(campaign, agency), either)


# Forms a service serves: (form id, cohorts it is for; empty = every cohort), sorted.
FormCohorts = tuple[tuple[str, tuple[str, ...]], ...]


def forms_key(forms: Mapping[str, Collection[str]] | Collection[str]) -> FormCohorts:
    """Forms by id → cohorts (a bare collection of ids: every cohort each), as a hashable
    key for cached statements."""
    pairs = forms.items() if isinstance(forms, Mapping) else ((f, ()) for f in forms)
    return tuple(sorted((f, tuple(sorted(c))) for f, c in pairs))


def offered(campaign: Any, agency: Any, forms: FormCohorts, postgres: bool) -> ColumnElement[bool]:
    """SQL: `campaign` is open and offered to `agency` by a service serving `forms`.

    Executed with :today (the local date, or None for any date). It names the agency, or
    lists its cohort and its form is for that cohort (a form is
    never answered by a cohort it was not written for, unless an agency is named); only
    forms served count (a form this code cannot load is never offered). An archived agency
    is offered only the campaigns it already started (`still_asked`), like `targets`.
    """
    served = [form_id for form_id, _ in forms]
    for_all = [form_id for form_id, cohorts in forms if not cohorts]
    by_cohort: dict[str, list[str]] = {}
    for form_id, cohorts in forms:
        for cohort in cohorts:
            by_cohort.setdefault(cohort, []).append(form_id)
    takes = [campaign.form_id.in_(for_all)] if for_all else []
    takes += [and_(agency.cohort == k, campaign.form_id.in_(ids)) for k, ids in by_cohort.items()]
    by_cohort_ok = and_(
        or_(*takes) if takes else false(), cohort_listed(campaign.cohorts, agency.cohort, postgres)
    )
    named = exists(
        select(1)
        .where(CampaignAgency.campaign_id == campaign.id, CampaignAgency.agency_id == agency.id)
        .correlate_except(CampaignAgency)
    )
    today = bindparam("today", type_=Date)
    where = [
        campaign.status == "open",
        campaign.form_id.in_(served) if served else false(),
        # Not before its open date (in Việt Nam); :today NULL leaves the date out.
        or_(campaign.opens_on.is_(None), today.is_(None), campaign.opens_on <= today),
    ]
    where.append(still_asked(campaign, agency))
    return and_(*where, or_(by_cohort_ok, named))


def _check_cohorts(cohorts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for c in cohorts:
        if c not in COHORTS:
            raise ValueError(f"cohort {c!r} is not one of {', '.join(COHORTS)}")
        if c not in out:
            out.append(c)
    return out


class CampaignsUnit(UnitBase):
    # -- campaigns --------------------------------------------------------------------------

    async def add_campaign(
        self,
        form_id: str,
        form_version: int,
        name: str,
        deadline: date,
        timezone: str = "Asia/Ho_Chi_Minh",
        opened_at: datetime | None = None,
        *,
        reporting_year: int | None = None,
        status: str = "open",
        opens_on: date | None = None,
        cohorts: Collection[str] | None = None,
        agency_ids: Iterable[int] = (),
    ) -> CampaignRec:
        """A new campaign. `cohorts` None targets every cohort (what a campaign did before
        targets existed; the service still offers a form only to the cohorts it is for);
        `agency_ids` are targeted by name. `reporting_year` None is the deadline's year.
        Raises ValueError for an unknown status or cohort, Conflict for an unknown agency.
        """
        if status not in CAMPAIGN_STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(CAMPAIGN_STATUSES)}")
        values: dict[str, Any] = {
            "form_id": form_id,
            "form_version": form_version,
            "name": name,
            "deadline": deadline,
            "timezone": timezone,
            "reporting_year": reporting_year if reporting_year is not None else deadline.year,
            "status": status,
            "opens_on": opens_on,
            "cohorts": list(COHORTS) if cohorts is None else _check_cohorts(cohorts),
        }
        if opened_at is not None:
            values["opened_at"] = opened_at
        stmt = insert(Campaign).values(**values).returning(*Campaign.__table__.c)
        rec = campaign_rec(fields((await self._exec(stmt)).one()))
        await self.add_campaign_agencies(rec.id, agency_ids)
        return rec

    async def campaign(self, campaign_id: int) -> CampaignRec | None:
        stmt = select(Campaign).where(Campaign.id == campaign_id)
        row = (await self._exec(stmt)).one_or_none()
        return campaign_rec(fields(row)) if row else None

    async def list_campaigns(self, status: str | None = None) -> list[CampaignRec]:
        """Every campaign (of one status if given), oldest first."""
        stmt = select(Campaign).order_by(Campaign.id)
        if status is not None:
            stmt = stmt.where(Campaign.status == status)
        return [campaign_rec(fields(r)) for r in await self._exec(stmt)]

    async def open_campaign_for_form_ids(self, form_ids: Iterable[str]) -> CampaignRec | None:
        """The newest campaign still open whose form is one of `form_ids`."""
        ids = list(form_ids)
        if not ids:
            return None
        stmt = (
            select(Campaign)
            .where(Campaign.form_id.in_(ids), Campaign.status == "open")
            .order_by(Campaign.opened_at.desc(), Campaign.id.desc())
            .limit(1)
        )
        row = (await self._exec(stmt)).one_or_none()
        return campaign_rec(fields(row)) if row else None

    async def close_campaign(self, campaign_id: int, now: datetime) -> bool:
        """Close a draft or open campaign; False if there is none such (closed already)."""
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status != "closed")
            .values(closed_at=now, status="closed")
            .returning(Campaign.id)
        )
        return (await self._exec(stmt)).first() is not None

    async def start_campaign(self, campaign_id: int, now: datetime) -> bool:
        """draft → open (compare-and-set); False if the campaign was not a draft."""
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == "draft")
            .values(status="open", opened_at=now)
            .returning(Campaign.id)
        )
        return (await self._exec(stmt)).first() is not None

    async def extend_campaign(self, campaign_id: int, deadline: date) -> bool:
        """Move a campaign's deadline; False if it is closed or does not exist."""
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status != "closed")
            .values(deadline=deadline)
            .returning(Campaign.id)
        )
        return (await self._exec(stmt)).first() is not None

    # -- targets ----------------------------------------------------------------------------

    async def add_campaign_cohorts(self, campaign_id: int, cohorts: Iterable[str]) -> CampaignRec:
        """Add cohorts to a campaign's targets (those already there are kept once).
        Raises ValueError for an unknown cohort, LookupError for an unknown campaign."""
        wanted = _check_cohorts(cohorts)
        rec = await self.campaign(campaign_id)
        if rec is None:
            raise LookupError(f"no campaign {campaign_id}")
        merged = list(rec.cohorts) + [c for c in wanted if c not in rec.cohorts]
        if merged == list(rec.cohorts):
            return rec
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(cohorts=merged)
            .returning(*Campaign.__table__.c)
        )
        return campaign_rec(fields((await self._exec(stmt)).one()))

    async def add_campaign_agencies(self, campaign_id: int, agency_ids: Iterable[int]) -> int:
        """Target agencies by name; returns how many were not targeted by name before.
        Raises Conflict for an unknown campaign or agency."""
        rows = [{"campaign_id": campaign_id, "agency_id": a} for a in dict.fromkeys(agency_ids)]
        if not rows:
            return 0
        stmt = self._insert(CampaignAgency).on_conflict_do_nothing(
            index_elements=[CampaignAgency.campaign_id, CampaignAgency.agency_id]
        )
        before = await self.campaign_agency_ids(campaign_id)
        await self._exec(stmt, rows)
        return len({r["agency_id"] for r in rows} - set(before))

    async def unlist_agency(self, agency_id: int) -> list[CampaignRec]:
        """Take an agency out of every campaign's explicit list (before it is deleted: the
        list refers to it); returns those campaigns, oldest first ([] if none named it).
        Its cohorts' campaigns need nothing: they target agencies, not rows."""
        stmt = (
            select(Campaign)
            .join(CampaignAgency, CampaignAgency.campaign_id == Campaign.id)
            .where(CampaignAgency.agency_id == agency_id)
            .order_by(Campaign.id)
        )
        named = [campaign_rec(fields(r)) for r in await self._exec(stmt)]
        if named:
            await self._exec(delete(CampaignAgency).where(CampaignAgency.agency_id == agency_id))
        return named

    async def campaign_agency_ids(self, campaign_id: int) -> list[int]:
        """The agencies a campaign names explicitly (not those of its cohorts), by id."""
        stmt = (
            select(CampaignAgency.agency_id)
            .where(CampaignAgency.campaign_id == campaign_id)
            .order_by(CampaignAgency.agency_id)
        )
        return [int(a) for a in (await self._exec(stmt)).scalars()]

    async def campaign_targets(self, campaign_id: int) -> list[AgencyRec]:
        """The agencies a campaign targets: its cohorts' agencies ∪ its explicit list,
        archived agencies left out unless they started this campaign (`still_asked`), by
        code. [] for an unknown campaign."""
        stmt = (
            select(Agency)
            .join(Campaign, Campaign.id == campaign_id)
            .where(targets(Campaign, Agency, self._postgres))
            .order_by(Agency.code)
        )
        return [AgencyRec(**fields(r)) for r in await self._exec(stmt)]

    async def open_campaigns_for_agency(
        self,
        agency_id: int,
        forms: Mapping[str, Collection[str]] | None = None,
        today: date | None = None,
    ) -> list[CampaignRec]:
        """The open campaigns that target an agency, oldest first. With `forms` (form id →
        cohorts it is for, as Unit.standing takes them), those a service serving these
        forms offers the agency's officials on `today` (see `offered`): what they choose
        from."""
        if forms is None:
            where = and_(Campaign.status == "open", targets(Campaign, Agency, self._postgres))
        else:
            where = offered(Campaign, Agency, forms_key(forms), self._postgres)
        stmt = (
            select(Campaign)
            .join(Agency, Agency.id == agency_id)
            .where(where)
            .order_by(Campaign.opened_at, Campaign.id)
        )
        params = {"today": today} if forms is not None else None
        return [campaign_rec(fields(r)) for r in await self._exec(stmt, params)]

    async def agencies_by_codes(self, codes: Iterable[str]) -> dict[str, AgencyRec]:
        """Agencies by code, matched without regard to case; the key is the code as given.
        Codes not found are absent from the result."""
        wanted = {c.strip().upper(): c for c in codes if c.strip()}
        if not wanted:
            return {}
        stmt = select(Agency).where(func.upper(Agency.code).in_(list(wanted)))
        found: dict[str, AgencyRec] = {}
        for row in await self._exec(stmt):
            rec = AgencyRec(**fields(row))
            found[wanted[rec.code.upper()]] = rec
        return found

    async def campaign_officials(self, campaign_id: int) -> list[tuple[UserRec, list[IdentityRec]]]:
        """The officials of a campaign's target agencies, each with their chat identities
        (none for one who never opened the bot): who a notice about the campaign reaches."""
        stmt = (
            select(User, Identity.id.label("identity_id"))
            .join(Agency, Agency.id == User.agency_id)
            .join(Campaign, Campaign.id == campaign_id)
            .outerjoin(Identity, Identity.user_id == User.id)
            .where(User.role == "official", targets(Campaign, Agency, self._postgres))
            .order_by(User.id, Identity.id)
        )
        rows = (await self._exec(stmt)).all()
        ids = [r.identity_id for r in rows if r.identity_id is not None]
        idents: dict[int, IdentityRec] = {}
        if ids:
            for row in await self._exec(select(Identity).where(Identity.id.in_(ids))):
                idents[row.id] = IdentityRec(**fields(row))
        out: dict[int, tuple[UserRec, list[IdentityRec]]] = {}
        for r in rows:
            data = {k: v for k, v in fields(r).items() if k != "identity_id"}
            user = out.setdefault(data["id"], (UserRec(**data), []))
            if r.identity_id is not None:
                user[1].append(idents[r.identity_id])
        return list(out.values())

    # -- positions --------------------------------------------------------------------------

    async def position(self, user_id: int, campaign_id: int) -> ConversationState | None:
        """Where a person is in a campaign's questionnaire; None before their first answer."""
        stmt = select(Position.state).where(
            Position.user_id == user_id, Position.campaign_id == campaign_id
        )
        state = (await self._exec(stmt)).scalar_one_or_none()
        return None if state is None else ConversationState.from_json(state)

    async def save_position(
        self, user_id: int, campaign_id: int, state: ConversationState, now: datetime | None = None
    ) -> None:
        """Store a person's place in a campaign (insert or replace), one statement."""
        params = {
            "user_id": user_id,
            "campaign_id": campaign_id,
            "state": state.to_json(),
            "updated_at": now or utcnow(),
        }
        await self._exec(_save_position_statement(self._postgres), params)


_POSITION_STATE = Position.__table__.c.state.type
_POSITION_WHEN = Position.__table__.c.updated_at.type


@lru_cache(maxsize=2)
def _save_position_statement(postgres: bool) -> Any:
    """INSERT … ON CONFLICT (user_id, campaign_id) DO UPDATE, built once per dialect."""
    new = (postgresql.insert if postgres else sqlite.insert)(Position).values(
        user_id=bindparam("user_id"),
        campaign_id=bindparam("campaign_id"),
        state=bindparam("state", type_=_POSITION_STATE),
        updated_at=bindparam("updated_at", type_=_POSITION_WHEN),
    )
    return hot(
        new.on_conflict_do_update(
            index_elements=[Position.user_id, Position.campaign_id],
            set_={name: new.excluded[name] for name in _SAVE_POSITION_COLUMNS},
        )
    )
