"""Which agencies a campaign targets, and which of them a reviewer may act on (issue #10).

Targets come from the campaign model (`unit.campaign_targets`: its cohorts ∪ its explicit
list, archived agencies left out), kept to the cohorts the campaign's form is for and the
agencies it names. An admin acts on every target; a reviewer on the agencies their assignments give
(`reviewer_assignments`: a cohort, an agency, or the whole campaign), or on every target
when the campaign has no assignment at all.
"""

from __future__ import annotations

from flows.model import Form
from storage.records import AgencyRec, CampaignRec, IdentityRec, UserRec
from storage.repository import Unit

REVIEW_ROLES = frozenset({"reviewer", "admin"})


async def campaign_targets(unit: Unit, campaign: CampaignRec, form: Form | None) -> list[AgencyRec]:
    """The agencies the campaign asks (`unit.campaign_targets`), of the cohorts its form is
    for (a campaign targeting every cohort still offers a cohort's form only to it) or named
    by it (offered the form whatever their cohort: storage `offered`)."""
    cohorts = set(form.cohorts) if form is not None else set()
    named = set(await unit.campaign_agency_ids(campaign.id)) if cohorts else set()
    return [
        a
        for a in await unit.campaign_targets(campaign.id)
        if not cohorts or a.cohort in cohorts or a.id in named
    ]


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
    if not rows:
        return targets
    mine = [r for r in rows if r.user_id == user.id]
    return [
        a
        for a in targets
        if any(
            (r.agency_id is None and r.cohort is None)
            or r.agency_id == a.id
            or (r.agency_id is None and r.cohort == a.cohort)
            for r in mine
        )
    ]


async def may_review(
    unit: Unit, user: UserRec, campaign: CampaignRec, form: Form | None, agency_id: int
) -> bool:
    return any(a.id == agency_id for a in await allowed_agencies(unit, user, campaign, form))


async def reviewers_of(
    unit: Unit, campaign: CampaignRec, form: Form | None, agency_id: int
) -> list[tuple[UserRec, list[IdentityRec]]]:
    """The reviewers assigned `agency_id` in `campaign`, with their chat accounts."""
    out = []
    for user, identities in await unit.users_with_role("reviewer"):
        if await may_review(unit, user, campaign, form, agency_id):
            out.append((user, identities))
    return out
