"""`phieu progress`: who has submitted, per agency and per cohort (issue #9)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import DB_OPTION, campaign_option, in_unit, writable
from bot.cli.outfile import format_of, write_or_say
from bot.desk.progress import campaign_progress, print_progress, write_progress
from bot.desk.targets import form_of
from bot.desk.text import cli_lang, tr
from flows.i18n import N_
from flows.progress import AgencyProgress
from storage.records import CampaignRec
from storage.repository import Unit

PROGRESS_HELP = N_(
    "Tiến độ theo cơ quan: chưa bắt đầu, đang trả lời (% đã xong), đã nộp (đúng hạn / muộn), "
    "các bước thẩm định; tổng theo nhóm; hoạt động cuối."
)


async def load_campaign(u: Unit, campaign_id: int) -> CampaignRec:
    """The campaign, or a polite exit (code 2) naming what is missing (progress, export)."""
    campaign = await u.campaign(campaign_id)
    if campaign is None:
        typer.echo(
            tr(N_("Không có đợt #{id}. Xem: phieu campaign list"), {"id": str(campaign_id)}),
            err=True,
        )
        raise typer.Exit(2)
    if form_of(campaign) is None:
        typer.echo(
            tr(N_("Không tìm thấy mẫu phiếu {form} của đợt này."), {"form": campaign.form_id}),
            err=True,
        )
        raise typer.Exit(2)
    return campaign


def progress(
    campaign_id: int = campaign_option(),
    fmt: str | None = typer.Option(
        None,
        "--format",
        metavar=N_("ĐỊNH_DẠNG"),
        help=N_("table | xlsx (mặc định: theo đuôi tệp --out, không có --out thì table)"),
    ),
    out: Path | None = typer.Option(
        None, "--out", metavar=N_("TỆP"), help=N_("Tệp .xlsx để ghi, ví dụ tien-do.xlsx")
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Per agency: not started, answering (% done), submitted (on time / late), review states;
    totals per cohort; last activity."""
    if fmt is not None and fmt not in ("table", "xlsx"):
        typer.echo(tr(N_("--format phải là table hoặc xlsx.")), err=True)
        raise typer.Exit(2)
    # --out alone writes the workbook its name says; a name saying another format is refused
    fmt = format_of(out, fmt, "table", ("xlsx",), "tien-do")
    if fmt == "xlsx" and out is None:
        typer.echo(
            tr(N_("Cần --out TỆP.xlsx khi --format xlsx, ví dụ --out tien-do.xlsx")), err=True
        )
        raise typer.Exit(2)
    if out is not None:
        writable(out)

    async def work(u: Unit) -> tuple[CampaignRec, list[AgencyProgress]]:
        campaign = await load_campaign(u, campaign_id)
        form = form_of(campaign)
        assert form is not None  # load_campaign checked it
        today = datetime.now(ZoneInfo(campaign.timezone)).date()
        return campaign, await campaign_progress(u, campaign, form, today)

    campaign, rows = in_unit(db, work)
    lang = cli_lang()
    if not rows:
        typer.echo(tr(N_("Đợt #{id} chưa có cơ quan nào."), {"id": str(campaign.id)}))
        return
    if fmt == "xlsx":
        assert out is not None
        write_or_say(out, lambda: write_progress(out, lang, campaign, rows))
        typer.echo(
            tr(N_("Đã ghi {file} ({count} cơ quan)."), {"file": str(out), "count": len(rows)})
        )
        return
    # rich (~4 MB): imported by the commands that print with it, not by the bot
    from rich.console import Console

    print_progress(Console(), lang, campaign, rows)
