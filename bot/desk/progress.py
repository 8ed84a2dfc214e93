"""Who has submitted: the campaign read from storage in four statements, handed to the pure
flows/progress.py, then shown as a rich table or written as a workbook."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.desk.cells import cell
from bot.desk.directory import COHORT_LABELS
from bot.desk.targets import campaign_agencies
from bot.desk.text import tr
from flows.i18n import N_
from flows.model import Form
from flows.progress import (
    STAGES,
    AgencyInput,
    AgencyProgress,
    CohortTotal,
    agency_progress,
    cohort_totals,
    stage_label,
)
from storage.records import AgencyRec, CampaignRec
from storage.repository import Unit

if TYPE_CHECKING:  # the bot imports this module for campaign_progress: no rich, no openpyxl
    from rich.console import Console


async def campaign_progress(
    unit: Unit,
    campaign: CampaignRec,
    form: Form,
    today: date | None = None,
    chunk: int = 250,
    agencies: list[AgencyRec] | None = None,
) -> list[AgencyProgress]:
    """Every target agency of the campaign (or `agencies`, e.g. a reviewer's share), by
    cohort then code (see flows/progress.py). `phieu progress` and the chat /progress
    (bot/review/progress.py) both read here, so their figures cannot disagree.

    Answers are read `chunk` submissions at a time and dropped once counted, so memory
    follows the chunk, not the campaign (5,000 whole questionnaires are a million answers).
    """
    if agencies is None:
        agencies = await campaign_agencies(unit, campaign, form)
    agencies = sorted(agencies, key=lambda a: (a.cohort, a.code))
    submissions = {s.agency_id: s for s in await unit.list_submissions(campaign.id)}
    first = await unit.first_submissions(campaign.id)
    rows = []
    for start in range(0, len(agencies), chunk):
        part = agencies[start : start + chunk]
        answers = await unit.answers_of(submissions[a.id].id for a in part if a.id in submissions)
        for a in part:
            sub = submissions.get(a.id)
            given = AgencyInput(
                code=a.code,
                name=a.name,
                cohort=a.cohort,
                status=sub.status if sub else None,
                answers=answers.get(sub.id, {}) if sub else {},
                submitted_at=(first.get(sub.id) or sub.submitted_at) if sub else None,
                updated_at=sub.updated_at if sub else None,
            )
            rows.append(agency_progress(form, given, campaign.deadline, campaign.timezone, today))
    return rows


def _local(at: datetime | None, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%d/%m/%Y %H:%M") if at else "—"


def cohort_name(cohort: str) -> str:
    return COHORT_LABELS.get(cohort, cohort)


def detail(lang: str, row: AgencyProgress, tz: str) -> str:
    """What the stage column says beyond the stage: % done, on time / late."""
    if row.stage == "answering":
        return tr(
            N_("{percent}% câu bắt buộc, {done}/{total} phần xong"),
            {"percent": row.percent, "done": row.sections_done, "total": row.sections_total},
            lang,
        )
    if row.submitted:
        when = _local(row.submitted_at, tz)
        if row.late:
            return tr(N_("nộp {when}, muộn"), {"when": when}, lang)
        return tr(N_("nộp {when}, đúng hạn"), {"when": when}, lang)
    return tr(N_("quá hạn"), None, lang) if row.overdue else ""


# The columns of the agencies table, terminal and workbook alike (the workbook adds figures
# to sort on before the last: % of required items, sections, submission date, late).
AGENCY_COLUMNS = (N_("Mã"), N_("Cơ quan"), N_("Nhóm"), N_("Tình trạng"), N_("Chi tiết"),
                  N_("Hoạt động cuối"))  # fmt: skip


def total_headers(lang: str) -> list[str]:
    """The headers of the totals per cohort, terminal and workbook alike: cohort, agencies,
    one column per stage, all submitted, late, last activity. The total of submissions is
    "Tổng đã nộp": beside the stage "đã nộp" a header "Đã nộp" differed only by case."""
    head = [tr(N_("Nhóm"), None, lang), tr(N_("Số cơ quan"), None, lang)]
    head += [stage_label(lang, s) for s in STAGES]
    head += [tr(h, None, lang) for h in (N_("Tổng đã nộp"), N_("Muộn"), N_("Hoạt động cuối"))]
    return head


def print_progress(
    console: Console,
    lang: str,
    campaign: CampaignRec,
    rows: list[AgencyProgress],
) -> None:
    """The agencies table, then the totals per cohort."""
    from rich.table import Table

    tz = campaign.timezone
    table = Table(
        title=tr(N_("Đợt #{id}: {name}"), {"id": str(campaign.id), "name": campaign.name}, lang),
        caption=tr(N_("Hạn nộp: {deadline}"), {"deadline": campaign.deadline}, lang),
    )
    for header in AGENCY_COLUMNS:
        table.add_column(tr(header, None, lang))
    for r in rows:
        table.add_row(
            r.code,
            r.name,
            cohort_name(r.cohort),
            stage_label(lang, r.stage),
            detail(lang, r, tz),
            _local(r.last_activity, tz),
        )
    console.print(table)
    totals = cohort_totals(rows)
    summary = Table(title=tr(N_("Tổng theo nhóm"), None, lang))
    for i, header in enumerate(total_headers(lang)):
        # the first column (the cohort) and the last (a date) are text; the others counts
        summary.add_column(header, justify="right" if 0 < i < len(STAGES) + 4 else "left")
    for t in totals:
        summary.add_row(*_total_cells(t, tz))
    console.print(summary)


def _total_cells(t: CohortTotal, tz: str) -> list[str]:
    return [
        cohort_name(t.cohort),
        str(t.agencies),
        *(str(t.by_stage[s]) for s in STAGES),
        str(t.submitted),
        str(t.late),
        _local(t.last_activity, tz),
    ]


def write_progress(
    path: Path, lang: str, campaign: CampaignRec, rows: list[AgencyProgress]
) -> None:
    """The same figures as a workbook: a sheet of agencies (the terminal's columns, with the
    figures behind "Chi tiết" as numbers and dates to sort on), a sheet of totals per cohort
    (the terminal's columns)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    tz = ZoneInfo(campaign.timezone)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(tr(N_("Tiến độ"), None, lang))
    ws.freeze_panes = "C2"
    *first, last = AGENCY_COLUMNS
    headers = [*first, N_("% câu bắt buộc"), N_("Phần xong"), N_("Ngày nộp"), N_("Muộn"), last]
    ws.append([cell(ws, tr(h, None, lang), bold=True) for h in headers])
    day = "DD/MM/YYYY HH:MM"
    for r in rows:
        ws.append(
            [
                cell(ws, r.code),
                cell(ws, r.name),
                cell(ws, cohort_name(r.cohort)),
                cell(ws, stage_label(lang, r.stage)),
                cell(ws, detail(lang, r, campaign.timezone)),
                cell(ws, r.percent),
                cell(ws, f"{r.sections_done}/{r.sections_total}"),
                cell(
                    ws, r.submitted_at.astimezone(tz) if r.submitted_at else None, number_format=day
                ),
                cell(ws, tr(N_("có"), None, lang) if r.late else ""),
                cell(
                    ws,
                    r.last_activity.astimezone(tz) if r.last_activity else None,
                    number_format=day,
                ),
            ]
        )
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    totals = wb.create_sheet(tr(N_("Tổng theo nhóm"), None, lang))
    totals.append([cell(totals, h, bold=True) for h in total_headers(lang)])
    for t in cohort_totals(rows):
        totals.append(
            [
                cell(totals, cohort_name(t.cohort)),
                t.agencies,
                *(t.by_stage[s] for s in STAGES),
                t.submitted,
                t.late,
                cell(
                    totals,
                    t.last_activity.astimezone(tz) if t.last_activity else None,
                    number_format=day,
                ),
            ]
        )
    wb.save(path)
