"""`phieu invite bulk`: an invitation per imported official of a campaign's agencies, and a
workbook to mail-merge (issue #9). Registered on the `phieu invite` group."""

from __future__ import annotations

import asyncio
import os
import shlex
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import (
    DB_OPTION,
    TZ,
    campaign_option,
    date_option,
    in_unit,
    parse_day,
    refuse_overwrite,
    writable,
)
from bot.cli.invite import bot_name, invite_app
from bot.desk.invites import InviteRow, bot_username, write_invites
from bot.desk.targets import campaign_agencies
from bot.desk.text import cli_lang, tr
from bot.invites import hash_code, new_code
from flows.i18n import N_, ngettext, nt
from storage.repository import Unit

# How many agency codes a line names before saying "and K more".
SHOWN_CODES = 10
# An invitation made before the deadline stays usable a while after it: late joiners.
GRACE = timedelta(days=7)
MIN_VALID = timedelta(days=14)


def _fail(msgid: str, params: dict[str, object] | None = None, code: int = 2) -> typer.Exit:
    typer.echo(tr(msgid, params), err=True)
    return typer.Exit(code)


def _say_unstaffed(codes: list[str]) -> None:
    """One line naming the target agencies without an official (the first SHOWN_CODES codes,
    then how many more), so nobody is left uninvited without the administrator knowing;
    nothing when every agency has one."""
    if not codes:
        return
    shown = ", ".join(codes[:SHOWN_CODES])
    if len(codes) > SHOWN_CODES:
        more = len(codes) - SHOWN_CODES
        shown = nt(
            cli_lang(),
            ngettext("{codes} và {n} cơ quan khác", "{codes} và {n} cơ quan khác", more),
            {"codes": shown},
        )
    typer.echo(
        nt(
            cli_lang(),
            ngettext(
                "{n} cơ quan chưa có cán bộ đầu mối: {codes}. Thêm cán bộ vào trang «Cán bộ», chạy "
                "phieu agencies import, rồi chạy lại phieu invite bulk vào một tệp mới.",
                "{n} cơ quan chưa có cán bộ đầu mối: {codes}. Thêm cán bộ vào trang «Cán bộ», chạy "
                "phieu agencies import, rồi chạy lại phieu invite bulk vào một tệp mới.",
                len(codes),
            ),
            {"codes": shown},
        )
    )


@invite_app.command(
    "bulk",
    help=N_(
        "Mỗi cán bộ đầu mối của các cơ quan trong đợt một mã mời; tệp Excel có cơ quan, người, "
        "mã, link và mã QR của link. Mã chỉ hiện trong tệp này."
    ),
)
def invite_bulk(
    file: Path = typer.Argument(..., metavar=N_("TỆP"), help=N_("Tệp .xlsx sẽ ghi (để trộn thư)")),
    campaign_id: int = campaign_option(),
    everyone: bool = typer.Option(
        False, "--all", help=N_("Cả người đã vào Phiếu hoặc đã có mã còn hạn (mã cũ bị thu hồi)")
    ),
    expires: str | None = date_option(
        None, "--expires", N_("DD/MM/YYYY (mặc định: hạn nộp + 7 ngày, ít nhất 14 ngày)")
    ),
    bot: str | None = typer.Option(
        None,
        "--bot",
        envvar="TELEGRAM_BOT_USERNAME",
        metavar=N_("TÊN_BOT"),
        help=N_("Tên bot Telegram, để ghi link"),
    ),
    codes_only: bool = typer.Option(
        False, "--codes-only", help=N_("Chỉ ghi mã (khi chưa biết tên bot)")
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help=N_("Ghi đè tệp đã có (các mã mời trong tệp cũ sẽ chỉ còn ở đó nếu tệp được sao lưu)"),
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """One invitation per official of the campaign's agencies; a workbook with agency,
    person, code, link and a QR code of the link per row. Codes are shown only here."""
    if file.suffix.lower() != ".xlsx":
        raise _fail(N_("Tên tệp phải có đuôi .xlsx, ví dụ: moi.xlsx"))
    writable(file)
    # The workbook is the only place the codes are written: an earlier one is never replaced
    # unless asked, or its codes would be lost (still valid, but held by nobody).
    again = ["phieu", "invite", "bulk", "--campaign", str(campaign_id), str(file)]
    again += ["--all"] if everyone else []
    again += ["--codes-only"] if codes_only else []
    again += ["--expires", expires] if expires else []
    again += ["--bot", bot] if bot else []  # as given (or from the setting): the same run
    refuse_overwrite(file, force, shlex.join(again))
    tz = ZoneInfo(TZ)
    now = datetime.now(UTC)
    until: datetime | None = None
    if expires:
        until = datetime.combine(parse_day(expires), time(23, 59, 59), tz)
        if until <= now:
            raise _fail(
                N_("Ngày hết hạn {day} đã qua; chọn một ngày sau hôm nay."), {"day": expires}
            )
    username = asyncio.run(
        bot_username(
            os.environ.get("TELEGRAM_BOT_TOKEN", "").strip() or None,
            os.environ.get("TELEGRAM_API_BASE", "").strip() or None,
            bot_name(bot),
        )
    )
    if username is None and not codes_only:
        raise _fail(
            N_(
                "Chưa biết tên bot nên không ghi được link mời. Đặt TELEGRAM_BOT_TOKEN (Phiếu hỏi "
                "Telegram), hoặc TELEGRAM_BOT_USERNAME / --bot ten_bot; hoặc dùng --codes-only để "
                "chỉ ghi mã."
            )
        )
    lang = cli_lang()
    temp = file.with_name(f".{file.name}.tmp")

    async def work(u: Unit) -> tuple[int, int, int, int, list[str]]:
        campaign = await u.campaign(campaign_id)
        if campaign is None:
            raise _fail(
                N_("Không có đợt #{id}. Xem: phieu campaign list"), {"id": str(campaign_id)}
            )
        if campaign.status == "closed":
            raise _fail(N_("Đợt #{id} đã đóng: không tạo mã mời nữa."), {"id": str(campaign_id)})
        valid_until = until or max(
            datetime.combine(campaign.deadline, time(23, 59, 59), tz) + GRACE, now + MIN_VALID
        )
        agencies = {a.id: a for a in await campaign_agencies(u, campaign)}
        officials = await u.people_of(agencies, role="official")
        # Agencies nobody can be invited for: the administrator must import their officials.
        staffed = {p.agency_id for p in officials}
        unstaffed = [a.code for a in agencies.values() if a.id not in staffed]
        skipped = revoked = 0
        if not everyone:
            joined = await u.users_with_identity(p.id for p in officials)
            holding = await u.usable_invites_of((p.id for p in officials), now)
            chosen = [p for p in officials if p.id not in joined and p.id not in holding]
            skipped = len(officials) - len(chosen)
        else:
            chosen = officials
            revoked = await u.revoke_person_invites((p.id for p in chosen), now)
        if not chosen:
            return 0, skipped, 0, revoked, unstaffed
        rows, invites = [], []
        for p in chosen:
            code = new_code()
            agency = agencies[p.agency_id]  # type: ignore[index]
            rows.append(
                InviteRow(agency.code, agency.name, p.name, p.position, p.phone, p.email, code)
            )
            invites.append(
                {
                    "code_hash": hash_code(code),
                    "agency_id": agency.id,
                    "role": "official",
                    "uses_left": 1,
                    "expires_at": valid_until.astimezone(UTC),
                    "user_id": p.id,
                }
            )
        # The workbook is written before the invitations are committed, and put in place
        # after: no code is ever valid without the administrator holding it.
        write_invites(temp, rows, username, valid_until, TZ, lang)
        await u.add_person_invites(invites)
        return len(rows), skipped, len({p.agency_id for p in chosen}), revoked, unstaffed

    try:
        made, skipped, agencies_count, revoked, unstaffed = in_unit(db, work)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if made == 0:
        typer.echo(
            nt(
                lang,
                ngettext(
                    "Không có cán bộ đầu mối nào cần mã mời ({n} người đã vào Phiếu hoặc "
                    "đã có mã còn hạn; --all để tạo lại). Nhập cán bộ: phieu agencies import.",
                    "Không có cán bộ đầu mối nào cần mã mời ({n} người đã vào Phiếu hoặc "
                    "đã có mã còn hạn; --all để tạo lại). Nhập cán bộ: phieu agencies import.",
                    skipped,
                ),
            )
        )
        _say_unstaffed(unstaffed)
        return
    temp.replace(file)
    # Two counts: the agencies' is a phrase of its own, so each gets its plural form.
    agencies = nt(
        lang,
        ngettext("{count} cơ quan", "{count} cơ quan", agencies_count),
        {"count": agencies_count},
    )
    typer.echo(
        nt(
            lang,
            ngettext(
                "Đã tạo {n} mã mời cho cán bộ đầu mối của {agencies} → {file}",
                "Đã tạo {n} mã mời cho cán bộ đầu mối của {agencies} → {file}",
                made,
            ),
            {"agencies": agencies, "file": str(file)},
        )
    )
    if skipped:
        typer.echo(
            nt(
                lang,
                ngettext(
                    "Bỏ qua {n} người đã vào Phiếu hoặc đã có mã còn hạn (--all để tạo lại).",
                    "Bỏ qua {n} người đã vào Phiếu hoặc đã có mã còn hạn (--all để tạo lại).",
                    skipped,
                ),
            )
        )
    if revoked:
        typer.echo(
            nt(
                lang,
                ngettext(
                    "Đã thu hồi {n} mã mời cũ của những người này (--all): các mã trong tệp "
                    "mời trước không dùng được nữa, chỉ dùng mã trong {file}.",
                    "Đã thu hồi {n} mã mời cũ của những người này (--all): các mã trong tệp "
                    "mời trước không dùng được nữa, chỉ dùng mã trong {file}.",
                    revoked,
                ),
                {"file": str(file)},
            )
        )
    if username is None:
        typer.echo(tr(N_("Chưa biết tên bot: tệp chỉ có mã, không có link và mã QR.")))
    typer.echo(tr(N_("Mã chỉ có trong tệp này: giữ tệp cẩn thận.")))
    _say_unstaffed(unstaffed)
