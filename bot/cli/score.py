"""`phieu score --campaign ID [--out FILE.xlsx] [--manual FILE.yaml]`: score and rank a
campaign (issue #12).

Reads the campaign's targets, their submissions, answers and the reviewers' standing
verdicts (bot/score_facts.py), scores them on the form's scale (scoring/scales/), ranks per
cohort and prints a table per cohort; `--out` writes the workbook. `--manual` gives the
points of reviewer-scored criteria: a YAML mapping of agency code to {criterion id: points}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from bot.cli.common import DB_OPTION, in_unit, writable
from bot.score_facts import facts_of
from flows.loader import builtin_forms
from scoring.model import AgencyScore, Ranking, Scale, SubmissionFacts
from scoring.ranking import rank
from scoring.scales import ScaleError, scale_for
from scoring.score import score_submission
from scoring.texts import scale_label, unranked_text
from scoring.workbook import write_workbook
from storage.repository import Unit

MANUAL_EXAMPLE = "SO-TTTT:\n  '4.3': 15"


def read_manual(path: Path, scale: Scale) -> dict[str, dict[str, float]]:
    """Reviewer-entered points by agency code and criterion id; exits 2 with a message
    naming the file and what is wrong (unknown criterion, not a number, above its max)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        typer.echo(f"Không đọc được {path}: {e}", err=True)
        typer.echo(f"Ví dụ:\n{MANUAL_EXAMPLE}", err=True)
        raise typer.Exit(2) from None
    problems = []
    out: dict[str, dict[str, float]] = {}
    if not isinstance(data, dict):
        problems.append("tệp phải là bảng {mã cơ quan: {mã tiêu chí: điểm}}")
        data = {}
    for code, points in data.items():
        if not isinstance(points, dict):
            problems.append(f"{code}: cần {{mã tiêu chí: điểm}}, không phải {points!r}")
            continue
        for cid, value in points.items():
            c = scale.criterion(str(cid))
            if c is None or c.rule != "manual":
                problems.append(f"{code}, tiêu chí {cid}: không phải tiêu chí do thẩm định chấm")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{code}, tiêu chí {cid}: điểm phải là số, không phải {value!r}")
            elif not 0 <= value <= c.max:
                problems.append(f"{code}, tiêu chí {cid}: {value} ngoài khoảng 0–{c.max:g}")
            else:
                out.setdefault(str(code), {})[str(cid)] = float(value)
    if problems:
        typer.echo(f"{path}:\n  " + "\n  ".join(problems), err=True)
        typer.echo(f"Ví dụ:\n{MANUAL_EXAMPLE}", err=True)
        raise typer.Exit(2)
    return out


async def load_facts(
    unit: Unit, campaign_id: int, manual: dict[str, dict[str, float]]
) -> tuple[Any, list[SubmissionFacts]]:
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
        facts.append(
            await facts_of(
                unit, campaign, agency, subs.get(agency.id), manual=manual.get(agency.code)
            )
        )
    return campaign, facts


def _table(ranking: Ranking, group: str) -> Table:
    scale = ranking.scale
    t = Table(title=f"Khối {group}", title_justify="left")
    t.add_column("Hạng", justify="right")
    t.add_column("Cơ quan")
    for s in scale.sections:
        t.add_column(f"Mục {s.id}", justify="right")
    t.add_column("Tổng", justify="right")
    t.add_column("Chỉ số", justify="right")
    t.add_column("Xếp loại")
    for r in ranking.groups[group]:
        got = r.score.sections
        name = r.score.agency + (f" ({r.score.variant.name})" if r.score.variant else "")
        t.add_row(
            str(r.rank),
            name,
            *[f"{got.get(s.id, 0.0):.2f}" for s in scale.sections],
            f"{r.score.total:.2f}/{r.score.maximum:g}",
            f"{r.score.index:.4f}",
            r.band,
        )
    return t


def _unranked(scores: list[AgencyScore]) -> Table:
    t = Table(title="Không xếp hạng", title_justify="left")
    t.add_column("Khối")
    t.add_column("Cơ quan")
    t.add_column("Lý do")
    for s in scores:
        t.add_row(s.cohort, s.agency, unranked_text(s))
    return t


def score(
    campaign: int = typer.Option(..., "--campaign", help="Mã đợt (phieu campaign list)"),
    out: Path | None = typer.Option(None, "--out", help="Ghi bảng xếp hạng ra tệp .xlsx"),
    manual: Path | None = typer.Option(
        None, "--manual", help="Điểm do thẩm định chấm: YAML {mã cơ quan: {tiêu chí: điểm}}"
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Score and rank a campaign: a table per cohort; --out writes the Excel workbook."""
    if out is not None:
        writable(out)
    head = in_unit(db, lambda u: u.campaign(campaign))
    if head is None:
        typer.echo(f"Không có đợt #{campaign}. Xem: phieu campaign list", err=True)
        raise typer.Exit(2)
    form = builtin_forms().get(head.form_id)
    try:
        scale = scale_for(head.form_id)
    except ScaleError as e:
        typer.echo(f"Thang điểm lỗi: {e}", err=True)
        raise typer.Exit(2) from None
    if form is None or scale is None:
        typer.echo(
            f"Mẫu phiếu {head.form_id} chưa có thang điểm (scoring/scales/{head.form_id}.yaml).",
            err=True,
        )
        raise typer.Exit(2)
    points = read_manual(manual, scale) if manual else {}
    _, facts = in_unit(db, lambda u: load_facts(u, campaign, points))
    ranking = rank(scale, [score_submission(scale, form, f) for f in facts])
    console = Console()
    console.print(f"[bold]{head.name}[/bold] — {scale_label(scale)}")
    if scale.illustrative:
        console.print("[yellow]Thang điểm minh họa: chưa phải thang điểm chính thức.[/yellow]")
    if not ranking.groups and not ranking.unranked:
        console.print("Đợt này chưa có cơ quan nào.")
    for group in ranking.groups:
        console.print(_table(ranking, group))
    if ranking.unranked:
        console.print(_unranked(ranking.unranked))
    if out is not None:
        try:
            path = write_workbook(ranking, out)
        except OSError as e:
            typer.echo(f"Không ghi được {out}: {e}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"Đã ghi {path}")
