"""Campaigns: what they target, their life (draft → open → closed), and each person's place
in each campaign's questionnaire (issue #9).

Targets of a campaign = the agencies of its cohorts ∪ the agencies listed in
campaign_agencies (archived agencies left out, once agencies can be archived).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from flows.state import ConversationState
from storage._base import UnitBase, fields
from storage.models import (
    CAMPAIGN_STATUSES,
    COHORTS,
    Agency,
    Campaign,
    CampaignAgency,
    Position,
    utcnow,
)
from storage.records import AgencyRec, CampaignRec

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
    return exists(select(1).select_from(listed).where(listed.c.value == cohort))


def targets(campaign: Any, agency: Any, postgres: bool) -> ColumnElement[bool]:
    """SQL: `campaign` (the Campaign entity or an alias) targets `agency` (the same)."""
    named = exists(
        select(1).where(
            CampaignAgency.campaign_id == campaign.id, CampaignAgency.agency_id == agency.id
        )
    )
    either = or_(cohort_listed(campaign.cohorts, agency.cohort, postgres), named)
    archived: InstrumentedAttribute[Any] | None = getattr(Agency, "archived_at", None)
    if archived is not None:  # agencies.archived_at comes with the desk's work (issue #9)
        return and_(agency.archived_at.is_(None), either)
    return either


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
        archived agencies left out, by code. [] for an unknown campaign."""
        stmt = (
            select(Agency)
            .join(Campaign, Campaign.id == campaign_id)
            .where(targets(Campaign, Agency, self._postgres))
            .order_by(Agency.code)
        )
        return [AgencyRec(**fields(r)) for r in await self._exec(stmt)]

    async def open_campaigns_for_agency(self, agency_id: int) -> list[CampaignRec]:
        """The open campaigns that target an agency, oldest first."""
        stmt = (
            select(Campaign)
            .join(Agency, Agency.id == agency_id)
            .where(Campaign.status == "open", targets(Campaign, Agency, self._postgres))
            .order_by(Campaign.opened_at, Campaign.id)
        )
        return [campaign_rec(fields(r)) for r in await self._exec(stmt)]

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
    return new.on_conflict_do_update(
        index_elements=[Position.user_id, Position.campaign_id],
        set_={name: new.excluded[name] for name in _SAVE_POSITION_COLUMNS},
    )
