"""The agencies a campaign asks: one function, so the rule lives in one place.

With the campaign model (storage `campaign_targets`: its cohorts ∪ its explicit list,
archived agencies excluded unless they already started the campaign, storage
`still_asked`: archiving takes an agency out of new campaigns only), the targets are
those, less the agencies of a cohort the form is not for unless listed by name (what the
service offers: a form only to the cohorts it is for). Before it, the agencies of the
form's cohorts (every cohort when the form names none), archived ones excluded.
"""

from __future__ import annotations

from flows.loader import builtin_forms
from flows.model import Form
from storage.records import AgencyRec, CampaignRec
from storage.repository import Unit


def form_of(campaign: CampaignRec) -> Form | None:
    """The campaign's questionnaire among the built-in forms (None if it is not there)."""
    return builtin_forms().get(campaign.form_id)


async def campaign_agencies(
    unit: Unit, campaign: CampaignRec, form: Form | None = None
) -> list[AgencyRec]:
    """The target agencies of `campaign`, by cohort then code: the ONE rule the desk
    (`phieu progress`, exports), review (who may review, /progress) and reminders share,
    the same as the service's offer (storage `offered`). `form`: the campaign's form when
    the caller has it (else the built-in one of that id)."""
    form = form or form_of(campaign)
    cohorts = set(form.cohorts) if form is not None and form.cohorts else None
    targets = getattr(unit, "campaign_targets", None)
    if targets is not None:
        named = set(await unit.campaign_agency_ids(campaign.id))
        agencies: list[AgencyRec] = [
            a
            for a in await targets(campaign.id)
            if cohorts is None or a.cohort in cohorts or a.id in named
        ]
    else:
        agencies = [
            a
            for a in await unit.list_agencies()
            if a.archived_at is None and (cohorts is None or a.cohort in cohorts)
        ]
    return sorted(agencies, key=lambda a: (a.cohort, a.code))
