"""`/progress` in chat (issue #10): where each agency stands, with totals per cohort.

One module so the CLI's `phieu progress` (desk engineer) and this can be unified: `rows()`
reads, `summary()` counts and `render()` writes the chat message.

Stages, in lifecycle order: not_started (no answer yet), answering (with % of visible
items answered), submitted (and resubmitted; late when after the deadline), in_review,
returned, accepted, confirmed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flows.i18n import N_, translate
from flows.machines import Status
from flows.model import Form
from flows.navigation import summarise
from storage.records import AgencyRec, CampaignRec, SubmissionRec
from storage.repository import Unit

STAGES = (
    "not_started",
    "answering",
    "submitted",
    "in_review",
    "returned",
    "accepted",
    "confirmed",
)
STAGE_LABELS = {
    "not_started": N_("chưa bắt đầu"),
    "answering": N_("đang trả lời"),
    "submitted": N_("đã nộp"),
    "in_review": N_("đang thẩm định"),
    "returned": N_("bị trả lại"),
    "accepted": N_("đã chấp nhận"),
    "confirmed": N_("đã xác nhận"),
}
_BY_STATUS = {
    Status.SUBMITTED: "submitted",
    Status.RESUBMITTED: "submitted",
    Status.IN_REVIEW: "in_review",
    Status.RETURNED: "returned",
    Status.ACCEPTED: "accepted",
    Status.CONFIRMED: "confirmed",
}


@dataclass(frozen=True, slots=True)
class ProgressRow:
    agency: AgencyRec
    stage: str
    percent: int | None = None  # answering: share of visible items answered
    days_late: int = 0  # submitted after the deadline by this many days (campaign's zone)


def days_late(submitted_at: datetime | None, campaign: CampaignRec) -> int:
    """Whole days after the deadline the submission came in (0 when on time)."""
    if submitted_at is None:
        return 0
    local = submitted_at.astimezone(ZoneInfo(campaign.timezone)).date()
    return max(0, (local - campaign.deadline).days)


def stage_of(
    sub: SubmissionRec | None, answered: int, total: int, campaign: CampaignRec
) -> tuple[str, int | None, int]:
    if sub is None or (sub.status is Status.DRAFT and answered == 0):
        return "not_started", None, 0
    if sub.status is Status.DRAFT:
        return "answering", round(100 * answered / max(total, 1)), 0
    return _BY_STATUS[sub.status], None, days_late(sub.submitted_at, campaign)


async def rows(
    unit: Unit, campaign: CampaignRec, form: Form, agencies: list[AgencyRec]
) -> list[ProgressRow]:
    """One row per agency of `agencies` (their order kept)."""
    subs = {s.agency_id: s for s in await unit.list_submissions(campaign.id)}
    out = []
    for agency in agencies:
        sub = subs.get(agency.id)
        answered = total = 0
        if sub is not None and sub.status is Status.DRAFT:
            s = summarise(form, await unit.load_answers(sub.id))
            answered, total = len(s.answered) + len(s.not_applicable), s.total
        stage, percent, late = stage_of(sub, answered, total, campaign)
        out.append(ProgressRow(agency, stage, percent, late))
    return out


def summary(progress: list[ProgressRow]) -> dict[str, Counter[str]]:
    """Counts of each stage per cohort, plus "" for all cohorts together."""
    out: dict[str, Counter[str]] = {"": Counter()}
    for row in progress:
        out.setdefault(row.agency.cohort, Counter())[row.stage] += 1
        out[""][row.stage] += 1
    return out


COHORT_LABELS = {"so": N_("Sở, ban, ngành"), "huyen": N_("Huyện"), "xa": N_("Xã")}


def _counts(lang: str, counts: Counter[str]) -> str:
    return " · ".join(
        f"{translate(lang, STAGE_LABELS[s])} {counts[s]}" for s in STAGES if counts[s]
    )


def render(lang: str, campaign: CampaignRec, progress: list[ProgressRow]) -> str:
    lines = [translate(lang, N_("📊 Tiến độ “{campaign}”"), {"campaign": campaign.name})]
    totals = summary(progress)
    for cohort in sorted(c for c in totals if c):
        label = translate(lang, COHORT_LABELS.get(cohort, cohort))
        lines.append(f"\n{label}: {_counts(lang, totals[cohort])}")
        for row in progress:
            if row.agency.cohort != cohort:
                continue
            text = translate(lang, STAGE_LABELS[row.stage])
            if row.percent is not None:
                text += f" ({row.percent}%)"
            if row.days_late:
                text += " " + translate(lang, N_("(trễ {n} ngày)"), {"n": row.days_late})
            lines.append(f"• {row.agency.name}: {text}")
    lines.append(
        "\n"
        + translate(
            lang,
            N_("Tổng {n} cơ quan: {counts}"),
            {"n": len(progress), "counts": _counts(lang, totals[""]) or "—"},
        )
    )
    return "\n".join(lines)
