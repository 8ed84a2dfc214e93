"""Which agencies a campaign targets, and which of them a reviewer may act on (issue #10).

Targets come from the campaign model (`unit.campaign_targets`: its cohorts ∪ its explicit
list, archived agencies left out), kept to the cohorts the campaign's form is for and the
agencies it names. An admin acts on every target; a reviewer on the agencies their assignments give
(`reviewer_assignments`: a cohort, an agency, or the whole campaign), or on every target
when the campaign has no assignment at all.
"""

from __future__ import annotations

from bot.desk.targets import campaign_agencies
from flows.assign import reviews
from flows.model import Form
from storage.records import AgencyRec, CampaignRec, IdentityRec, UserRec
from storage.repository import Unit

REVIEW_ROLES = frozenset({"reviewer", "admin"})


async def campaign_targets(unit: Unit, campaign: CampaignRec, form: Form | None) -> list[AgencyRec]:
    """The agencies the campaign asks, by the rule desk and reminders share
    (bot/desk/targets.py: its cohorts' agencies its form is for ∪ its named agencies)."""
    return await campaign_agencies(unit, campaign, form)


async def allowed_agencies(
    unit: Unit, user: UserRec, campaign: CampaignRec, form: Form | None
) -> list[AgencyRec]:
    """The targets `user` may review in `campaign` ([] for an official)."""
    if user.role not in REVIEW_ROLES:
        return []
    targets = await campaign_targets(unit, campaign, form)
    if user.role == "admin":
        return targets
    rows = await unit.reviewer_assignments(campaign.id)
    return [a for a in targets if reviews(rows, user.id, a.id, a.cohort)]


async def may_review(
    unit: Unit, user: UserRec, campaign: CampaignRec, form: Form | None, agency_id: int
) -> bool:
    return any(a.id == agency_id for a in await allowed_agencies(unit, user, campaign, form))


async def reviewers_of(
    unit: Unit, campaign: CampaignRec, form: Form | None, agency_id: int
) -> list[tuple[UserRec, list[IdentityRec]]]:
    """The reviewers assigned `agency_id` in `campaign`, with their chat accounts."""
    agency = next(
        (a for a in await campaign_targets(unit, campaign, form) if a.id == agency_id), None
    )
    if agency is None:
        return []
    rows = await unit.reviewer_assignments(campaign.id)
    return [
        (user, identities)
        for user, identities in await unit.users_with_role("reviewer")
        if reviews(rows, user.id, agency.id, agency.cohort)
    ]
