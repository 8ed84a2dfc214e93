"""From storage to scoring: the `SubmissionFacts` of an agency in a campaign.

scoring/ is pure; this adapter reads what it needs inside a unit: the answers, the
reviewers' standing verdicts (item_reviews, latest per item), the standing points of the
reviewer-scored criteria (manual_scores, latest per criterion: entered during review or
imported by `phieu score --manual`), whether the form was sent and whether it was sent after
the deadline (the submit event's note "late", or its local date); for /diem, the other
agencies' current answers the cohort's best values are computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from flows.machines import Status
from flows.model import Form
from flows.state import Answer
from scoring.model import Scale, SubmissionFacts, Verdict
from scoring.score import best_items
from storage.records import AgencyRec, CampaignRec, SubmissionRec
from storage.repository import Unit


async def verdicts_of(unit: Unit, submission_id: int) -> dict[str, Verdict]:
    """The standing verdict per item, as scoring reads it."""
    return {
        item: Verdict(rec.verdict, rec.comment, rec.corrected)
        for item, rec in (await unit.item_verdicts(submission_id)).items()
    }


async def late_of(unit: Unit, campaign: CampaignRec, sub: SubmissionRec) -> bool:
    """Whether the form was first sent after the deadline (in the campaign's time zone)."""
    for e in await unit.submission_events(sub.id):
        if e.to_status is Status.SUBMITTED:
            day = e.at.astimezone(ZoneInfo(campaign.timezone)).date()
            return e.note == "late" or day > campaign.deadline
    return False


async def facts_of(
    unit: Unit,
    campaign: CampaignRec,
    agency: AgencyRec,
    sub: SubmissionRec | None,
    answers: Mapping[str, Answer] | None = None,
) -> SubmissionFacts:
    """Everything scoring needs about `agency` in `campaign`. `sub` None (never opened) or
    still a draft: not sent ("không gửi phiếu"). `answers` when the caller has them."""
    submitted = sub is not None and Status(sub.status) is not Status.DRAFT
    if sub is None:
        return SubmissionFacts(
            agency=agency.name, code=agency.code, cohort=agency.cohort, submitted=False
        )
    return SubmissionFacts(
        agency=agency.name,
        code=agency.code,
        cohort=agency.cohort,
        answers=dict(answers) if answers is not None else await unit.load_answers(sub.id),
        verdicts=await verdicts_of(unit, sub.id),
        manual=await unit.manual_scores(sub.id),
        submitted=submitted,
        late=submitted and await late_of(unit, campaign, sub),
        status=str(sub.status),
    )


async def others_of(
    unit: Unit,
    scale: Scale,
    form: Form,
    campaign: CampaignRec,
    agency: AgencyRec,
    sub: SubmissionRec,
) -> list[SubmissionFacts]:
    """The other agencies of `agency`'s cohort in `campaign`, with their current answers to
    the items the scale's ratio_to_best criteria read (scoring.score.best_items), as sent
    and on time whatever their status: /diem measures those criteria against them. One
    query, none when the scale has no such criterion. Reviewers' verdicts are not read (a
    provisional comparison with answers as they stand)."""
    items = best_items(scale, form)
    if not items:
        return []
    answers = await unit.cohort_answers(campaign.id, agency.cohort, items, sub.id)
    return [
        SubmissionFacts(agency=str(sid), cohort=agency.cohort, answers=a)
        for sid, a in sorted(answers.items())
    ]
