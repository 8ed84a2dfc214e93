"""`phieu export answers`: a campaign's answers to Excel or CSV (issue #9 "Answers out")."""

from __future__ import annotations

import errno
from pathlib import Path

import typer

from bot.cli.common import DB_OPTION, campaign_option, with_storage, writable
from bot.desk.answers import HISTORY_MODES, ExportResult, export_answers
from bot.desk.elsewhere import ExportFailed
from bot.desk.targets import form_of
from bot.desk.text import cli_lang, tr
from flows.i18n import N_
from storage.records import CampaignRec
from storage.repository import Storage

# What the administrator is told for the usual reasons a file cannot be written (the
# system's own words are English).
_OS_REASONS = {
    errno.EISDIR: N_("đó là một thư mục — chọn tên tệp khác"),
    errno.ENOENT: N_("không có thư mục đó — tạo thư mục trước hoặc ghi vào thư mục hiện tại"),
    errno.EACCES: N_("không có quyền ghi vào đó — chọn thư mục khác"),
    errno.EPERM: N_("không có quyền ghi vào đó — chọn thư mục khác"),
    errno.ENOSPC: N_("đĩa đã đầy — giải phóng chỗ hoặc ghi sang ổ khác"),
    errno.EROFS: N_("ổ đĩa chỉ đọc — chọn thư mục khác"),
}

export_app = typer.Typer(help=N_("Xuất dữ liệu ra Excel / CSV."), no_args_is_help=True)


def _fail(msgid: str, params: dict[str, object] | None = None, code: int = 2) -> typer.Exit:
    typer.echo(tr(msgid, params), err=True)
    return typer.Exit(code)


@export_app.command(
    "answers",
    help=N_(
        "Câu trả lời của một đợt: mỗi nhóm một trang, mỗi cơ quan một dòng, mỗi mục một cột, "
        "kèm lịch sử thay đổi. CSV: UTF-8 có BOM (và TỆP-lich-su.csv)."
    ),
)
def export_answers_command(
    file: Path = typer.Argument(
        ..., metavar=N_("TỆP"), help=N_("Tệp ra: .xlsx (hoặc .csv với --format csv)")
    ),
    campaign_id: int = campaign_option(),
    fmt: str = typer.Option("xlsx", "--format", metavar=N_("ĐỊNH_DẠNG"), help=N_("xlsx | csv")),
    history: str = typer.Option(
        "auto",
        "--history",
        metavar=N_("NƠI"),
        help=N_(
            "Lịch sử thay đổi: auto (trang Lịch sử; quá 100.000 dòng thì tệp TỆP-lich-su.csv "
            "riêng) | sheet (luôn trong tệp Excel, chậm khi dài) | csv (luôn tệp riêng) | none"
        ),
    ),
    no_history: bool = typer.Option(
        False, "--no-history", help=N_("Không kèm lịch sử thay đổi (như --history none)")
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Answers of a campaign: a sheet per cohort, one row per agency, one column per item,
    plus the history of every change. CSV: UTF-8 with BOM (and FILE-lich-su.csv)."""
    if fmt not in ("xlsx", "csv"):
        raise _fail(N_("--format phải là xlsx hoặc csv."))
    if history not in HISTORY_MODES:
        raise _fail(N_("--history phải là auto, sheet, csv hoặc none, ví dụ: --history csv"))
    if no_history and history not in ("auto", "none"):
        raise _fail(
            N_("--no-history và --history {mode} trái nhau: chọn một, ví dụ: --history none"),
            {"mode": history},
        )
    if file.suffix.lower() != f".{fmt}":  # an .xlsx written as tra-loi.txt opens as garbage
        raise _fail(
            N_("Tên tệp phải có đuôi .{ext} (--format {ext}), ví dụ: tra-loi.{ext}"), {"ext": fmt}
        )
    writable(file)
    lang = cli_lang()

    async def main(storage: Storage) -> tuple[CampaignRec, ExportResult]:
        async with storage.unit() as unit:
            campaign = await unit.campaign(campaign_id)
        if campaign is None:
            raise _fail(
                N_("Không có đợt #{id}. Xem: phieu campaign list"), {"id": str(campaign_id)}
            )
        form = form_of(campaign)
        if form is None:
            raise _fail(
                N_("Không tìm thấy mẫu phiếu {form} của đợt này."), {"form": campaign.form_id}
            )
        # The bar goes to stderr and only on a terminal: piped or captured, rich left an
        # empty first line on stdout (newcomer report).
        # rich (~4 MB): imported by the commands that print with it, not by the bot
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)
        with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task(tr(N_("Đang xuất"), None, lang), total=None)
            result = await export_answers(
                storage,
                campaign,
                form,
                file,
                fmt,
                lang,
                lambda n: bar.advance(task, n),
                history="none" if no_history else history,
            )
        return campaign, result

    try:
        campaign, result = with_storage(db, main)
    except OSError as e:
        why = _OS_REASONS.get(e.errno or 0)
        raise _fail(
            N_("Không ghi được tệp {file}: {error}"),
            {
                "file": str(e.filename or file),
                "error": tr(why, None) if why else (e.strerror or str(e)),
            },
            1,
        ) from None
    except ExportFailed as e:
        raise _fail(
            N_("Xuất không thành công: {error}. Thử lại; nếu vẫn lỗi, báo quản trị hệ thống."),
            {"error": str(e)},
            1,
        ) from None
    said = (
        N_(
            "Đã xuất đợt #{id}: {agencies} cơ quan, {submissions} phiếu, "
            "không kèm lịch sử → {files}"
        )
        if no_history or history == "none"
        else N_(
            "Đã xuất đợt #{id}: {agencies} cơ quan, {submissions} phiếu, "
            "{history} thay đổi → {files}"
        )
    )
    typer.echo(
        tr(
            said,
            {
                "id": str(campaign.id),
                "agencies": result.agencies,
                "submissions": result.submissions,
                "history": result.history,
                "files": ", ".join(str(f) for f in result.files),
            },
            lang,
        )
    )
