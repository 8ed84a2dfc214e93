"""`/progress` in chat (issue #10): where each agency stands, with totals per cohort.

The figures come from the ONE computation `phieu progress` uses (bot/desk/progress.py
reading, flows/progress.py counting: stages, % of required items, lateness), so chat and
terminal cannot disagree; only the rendering is here (a chat message, not a table).
"""

from __future__ import annotations

from datetime import date

from bot.desk.progress import campaign_progress
from flows.i18n import N_, translate
from flows.model import Form
from flows.progress import ANSWERING, STAGES, AgencyProgress, cohort_totals, stage_label
from storage.records import AgencyRec, CampaignRec
from storage.repository import Unit

COHORT_LABELS = {"so": N_("Sở, ban, ngành"), "huyen": N_("Huyện"), "xa": N_("Xã")}


async def rows(
    unit: Unit,
    campaign: CampaignRec,
    form: Form,
    agencies: list[AgencyRec],
    today: date | None = None,
) -> list[AgencyProgress]:
    """One row per agency of `agencies`, by cohort then code."""
    return await campaign_progress(unit, campaign, form, today, agencies=agencies)


def _counts(lang: str, counts: dict[str, int]) -> str:
    return " · ".join(f"{stage_label(lang, s)} {counts[s]}" for s in STAGES if counts.get(s))


def render(lang: str, campaign: CampaignRec, progress: list[AgencyProgress]) -> str:
    """The chat message: per cohort its counts then its agencies, then the grand total."""
    lines = [translate(lang, N_("📊 Tiến độ “{campaign}”"), {"campaign": campaign.name})]
    totals = {t.cohort: t for t in cohort_totals(progress)}
    grand = dict.fromkeys(STAGES, 0)
    for t in totals.values():
        for stage, n in t.by_stage.items():
            grand[stage] += n
    for cohort in sorted(totals):
        label = translate(lang, COHORT_LABELS.get(cohort, cohort))
        lines.append(f"\n{label}: {_counts(lang, totals[cohort].by_stage)}")
        for row in progress:
            if row.cohort != cohort:
                continue
            text = stage_label(lang, row.stage)
            if row.stage == ANSWERING:
                text += f" ({row.percent}%)"
            if row.days_late:
                text += " " + translate(lang, N_("(trễ {n} ngày)"), {"n": row.days_late})
            lines.append(f"• {row.name}: {text}")
    lines.append(
        "\n"
        + translate(
            lang,
            N_("Tổng {n} cơ quan: {counts}"),
            {"n": len(progress), "counts": _counts(lang, grand) or "—"},
        )
    )
    return "\n".join(lines)
