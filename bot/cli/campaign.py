"""`phieu campaign`: collection campaigns (đợt thu thập phiếu)."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import DB_OPTION, TZ, in_unit, parse_day
from flows.loader import builtin_forms

campaign_app = typer.Typer(help="Đợt thu thập phiếu.", no_args_is_help=True)


@campaign_app.command("open")
def campaign_open(
    form: str = typer.Option(..., "--form", help="Mã mẫu phiếu (phieu forms list)"),
    deadline: str = typer.Option(..., "--deadline", help="DD/MM/YYYY"),
    name: str | None = typer.Option(None, "--name"),
    db: Path | None = DB_OPTION,
) -> None:
    """Open a collection campaign for a form with a deadline (Asia/Ho_Chi_Minh)."""
    forms = builtin_forms()
    if form not in forms:
        typer.echo(f"Không có mẫu phiếu '{form}'. Có: {', '.join(sorted(forms))}", err=True)
        raise typer.Exit(2)
    day = parse_day(deadline)
    f = forms[form]
    title = name or f"{f.title.vi[:80]} — hạn {day:%d/%m/%Y}"
    rec = in_unit(db, lambda u: u.add_campaign(f.id, f.version, title, day, TZ))
    typer.echo(f"Đã mở đợt #{rec.id}: {rec.form_id} v{rec.form_version}, hạn {day:%d/%m/%Y}")


@campaign_app.command("list")
def campaign_list(db: Path | None = DB_OPTION) -> None:
    """List campaigns."""
    for c in in_unit(db, lambda u: u.list_campaigns()):
        state = "mở" if c.closed_at is None else "đã đóng"
        typer.echo(f"#{c.id}\t{c.form_id} v{c.form_version}\thạn {c.deadline:%d/%m/%Y}\t{state}")
