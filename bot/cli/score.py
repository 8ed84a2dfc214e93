"""`phieu score --campaign ID [--out FILE.xlsx] [--manual FILE.yaml]`: score and rank a
campaign (issue #12).

Reads the campaign's targets, their submissions, answers and the reviewers' standing
verdicts (bot/score_facts.py), scores them on the form's scale (scoring/scales/), ranks per
cohort and prints a table per cohort; `--out` writes the workbook. Reviewer-scored criteria
are entered during review (flows/review.py); `--manual` imports them in bulk first: a YAML
mapping of agency code to {criterion id: points}, stored like an entry in chat (channel
"yaml", history kept, a value already standing not stored again).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
import yaml

from bot.cli.common import DB_OPTION, fail, in_unit, say, writable
from bot.cli.lang import language, t
from bot.score_facts import facts_of
from flows.i18n import N_
from flows.loader import builtin_forms
from scoring.model import AgencyScore, Ranking, Scale, SubmissionFacts
from scoring.ranking import rank
from scoring.scales import ScaleError, scale_for
from scoring.score import before_deadline, score_submission
from scoring.texts import band_text, group_text, scale_label, unranked_text
from storage.repository import Unit

if TYPE_CHECKING:
    from rich.table import Table

MANUAL_EXAMPLE = "SO-TTTT:\n  '4.3': 15"


def read_manual(path: Path, scale: Scale) -> dict[str, dict[str, float]]:
    """Reviewer-entered points by agency code and criterion id; exits 2 with a message
    naming the file and what is wrong (unknown criterion, not a number, above its max)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        typer.echo(t(N_("Không đọc được {file}: {error}"), file=str(path), error=str(e)), err=True)
        fail(N_("Ví dụ:\n{example}"), example=MANUAL_EXAMPLE)
    problems = []
    out: dict[str, dict[str, float]] = {}
    if not isinstance(data, dict):
        problems.append(
            t(
                N_("tệp phải là bảng {{mã cơ quan: {{mã tiêu chí: điểm}}}}, không phải {value}"),
                value=repr(data)[:60],
            )
        )
        data = {}
    for code, points in data.items():
        if not isinstance(points, dict):
            problems.append(
                t(
                    N_("{code}: cần {{mã tiêu chí: điểm}}, không phải {value}"),
                    code=str(code),
                    value=repr(points),
                )
            )
            continue
        for cid, value in points.items():
            c = scale.criterion(str(cid))
            if c is None or c.rule != "manual":
                problems.append(
                    t(
                        N_("{code}, tiêu chí {id}: không phải tiêu chí do thẩm định chấm"),
                        code=str(code),
                        id=str(cid),
                    )
                )
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(
                    t(
                        N_("{code}, tiêu chí {id}: điểm phải là số, không phải {value}"),
                        code=str(code),
                        id=str(cid),
                        value=repr(value),
                    )
                )
            elif not 0 <= value <= c.max:
                problems.append(
                    t(
                        N_("{code}, tiêu chí {id}: {value} ngoài khoảng 0–{max}"),
                        code=str(code),
                        id=str(cid),
                        value=str(value),
                        max=f"{c.max:g}",
                    )
                )
            else:
                out.setdefault(str(code), {})[str(cid)] = float(value)
    if problems:
        typer.echo(f"{path}:\n  " + "\n  ".join(problems), err=True)
        fail(N_("Ví dụ:\n{example}"), example=MANUAL_EXAMPLE)
    return out


async def import_manual(
    unit: Unit, campaign_id: int, manual: dict[str, dict[str, float]], now: datetime
) -> tuple[int, list[str]]:
    """Store the points of `manual` (agency code → criterion → points, checked by
    read_manual) for the agencies' submissions in the campaign, where they differ from the
    standing ones. Returns (entries stored, codes skipped: unknown, or no submission)."""
    subs = {s.agency_id: s for s in await unit.list_submissions(campaign_id)}
    stored, skipped = 0, []
    for code, points in manual.items():
        agency = await unit.agency_by_code(code)
        sub = subs.get(agency.id) if agency is not None else None
        if sub is None:
            skipped.append(code)
            continue
        standing = await unit.manual_scores(sub.id)
        for cid, value in points.items():
            if standing.get(cid) != value:
                await unit.record_manual_score(sub.id, cid, value, None, now, channel="yaml")
                stored += 1
    return stored, skipped


async def load_facts(unit: Unit, campaign_id: int) -> tuple[Any, list[SubmissionFacts]]:
    """The campaign and the facts of every target agency (and of any agency that has a
    submission in it), in agency order."""
    campaign = await unit.campaign(campaign_id)
    if campaign is None:
        return None, []
    targets = {a.id: a for a in await unit.campaign_targets(campaign_id)}
    subs = {s.agency_id: s for s in await unit.list_submissions(campaign_id)}
    for agency_id in subs.keys() - targets.keys():
        agency = await unit.agency(agency_id)
        if agency is not None:
            targets[agency_id] = agency
    facts = []
    for agency in sorted(targets.values(), key=lambda a: a.code):
        facts.append(await facts_of(unit, campaign, agency, subs.get(agency.id)))
    return campaign, facts


def _table(ranking: Ranking, group: str) -> Table:
    from rich.table import Table

    scale = ranking.scale
    lang = language()
    rows = ranking.groups[group]
    # the group key names a variant ranked apart in Vietnamese: said in the run's language
    said = group_text(rows[0].score, lang) if rows else group
    table = Table(title=t(N_("Khối {cohort}"), cohort=said), title_justify="left")
    table.add_column(t(N_("Hạng")), justify="right")
    table.add_column(t(N_("Cơ quan")))
    for s in scale.sections:
        table.add_column(t(N_("Mục {id}"), id=s.id), justify="right")
    table.add_column(t(N_("Tổng")), justify="right")
    table.add_column(t(N_("Chỉ số")), justify="right")
    table.add_column(t(N_("Xếp loại")))
    for r in rows:
        got = r.score.sections
        variant = r.score.variant
        name = r.score.agency + (f" ({variant.name_in(lang)})" if variant else "")
        table.add_row(
            str(r.rank),
            name,
            *[f"{got.get(s.id, 0.0):.2f}" for s in scale.sections],
            f"{r.score.total:.2f}/{r.score.maximum:g}",
            f"{r.score.index:.4f}",
            band_text(r.band, lang),
        )
    return table


def _unranked(scores: list[AgencyScore]) -> Table:
    from rich.table import Table

    table = Table(title=t(N_("Không xếp hạng")), title_justify="left")
    table.add_column(t(N_("Khối")))
    table.add_column(t(N_("Cơ quan")))
    table.add_column(t(N_("Lý do")))
    for s in scores:
        table.add_row(s.cohort, s.agency, unranked_text(s, language()))
    return table


SCORE_HELP = N_("Chấm điểm và xếp hạng một đợt: mỗi khối một bảng; --out ghi ra tệp Excel.")


def score(
    campaign: int = typer.Option(
        ..., "--campaign", metavar=N_("SỐ"), help=N_("Mã đợt (phieu campaign list)")
    ),
    out: Path | None = typer.Option(
        None, "--out", metavar=N_("TỆP"), help=N_("Ghi bảng xếp hạng ra tệp .xlsx")
    ),
    manual: Path | None = typer.Option(
        None,
        "--manual",
        metavar=N_("TỆP"),
        help=N_("Điểm do thẩm định chấm: tệp YAML, mã cơ quan → mã tiêu chí → điểm"),
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Score and rank a campaign: a table per cohort; --out writes the Excel workbook."""
    if out is not None:
        writable(out)
    head = in_unit(db, lambda u: u.campaign(campaign))
    if head is None:
        fail(N_("Không có đợt #{id}. Xem: phieu campaign list"), id=str(campaign))
    form = builtin_forms().get(head.form_id)
    try:
        scale = scale_for(head.form_id)
    except ScaleError as e:
        fail(N_("Thang điểm lỗi: {error}"), error=str(e))
    if form is None or scale is None:
        fail(
            N_("Mẫu phiếu {form} chưa có thang điểm (scoring/scales/{form}.yaml)."),
            form=head.form_id,
        )
    if manual is not None:
        points = read_manual(manual, scale)
        now = datetime.now(UTC)
        stored, skipped = in_unit(db, lambda u: import_manual(u, campaign, points, now))
        say(N_("Đã nhập {n} điểm do thẩm định chấm từ {file}."), n=stored, file=str(manual))
        if skipped:
            say(
                N_("Bỏ qua (không có cơ quan hoặc chưa có phiếu trong đợt): {codes}"),
                codes=", ".join(skipped),
            )
    _, facts = in_unit(db, lambda u: load_facts(u, campaign))
    ranking = rank(scale, [score_submission(scale, form, f) for f in facts])
    if head.is_open and datetime.now(ZoneInfo(head.timezone)).date() <= head.deadline:
        ranking = before_deadline(ranking)
    # rich (~4 MB): imported by the commands that print with it, not by the bot
    from rich.console import Console

    console = Console()
    console.print(f"[bold]{head.name}[/bold] — {scale_label(scale, language())}")
    if scale.illustrative:
        warning = t(N_("Thang điểm minh họa: chưa phải thang điểm chính thức."))
        console.print(f"[yellow]{warning}[/yellow]")
    if not ranking.groups and not ranking.unranked:
        console.print(t(N_("Đợt này chưa có cơ quan nào.")))
    for group in ranking.groups:
        console.print(_table(ranking, group))
    if ranking.unranked:
        console.print(_unranked(ranking.unranked))
    if out is not None:
        from scoring.workbook import write_workbook  # openpyxl: not in every `phieu` start

        try:
            path = write_workbook(ranking, out, language())
        except OSError as e:
            fail(N_("Không ghi được {file}: {error}"), 1, file=str(out), error=str(e))
        say(N_("Đã ghi {file}"), file=str(path))
