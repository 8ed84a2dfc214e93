"""`phieu invite`: invitation codes (only invited people can use the bot)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import (
    DB_OPTION,
    ROLES,
    TZ,
    choice,
    day,
    fail,
    in_unit,
    parse_day,
    say,
    today_local,
)
from bot.cli.lang import t
from bot.invites import hash_code, invite_link, new_code
from flows.i18n import N_
from storage.records import InviteRec
from storage.repository import Unit

invite_app = typer.Typer(
    help=N_("Mã mời (chỉ người được mời mới dùng được bot)."), no_args_is_help=True
)


@invite_app.command(
    "create",
    help=N_(
        "Tạo một mã mời cho một cơ quan: in mã và đường link Telegram, hoặc tin nhắn gửi bot "
        "Zalo (mã chỉ hiện một lần)."
    ),
)
def invite_create(
    agency: str = typer.Option(..., "--agency", metavar=N_("MÃ"), help=N_("Mã cơ quan")),
    role: str = typer.Option(
        "official", "--role", metavar=N_("VAI_TRÒ"), help=N_("official | reviewer | admin")
    ),
    uses: int | None = typer.Option(
        1, "--uses", metavar=N_("SỐ"), help=N_("Số lần dùng (mặc định 1)")
    ),
    expires: str | None = typer.Option(
        None,
        "--expires",
        metavar=N_("DD/MM/YYYY"),
        help=N_("Ngày hết hạn, DD/MM/YYYY (mặc định: sau 14 ngày)"),
    ),
    bot: str | None = typer.Option(
        None,
        "--bot",
        metavar=N_("TÊN_BOT"),
        envvar="TELEGRAM_BOT_USERNAME",
        help=N_("Tên bot Telegram, để in đường link"),
    ),
    channel: str = typer.Option(
        "telegram",
        "--channel",
        metavar=N_("KÊNH"),
        help=N_("telegram | zalo: kênh người được mời sẽ dùng"),
    ),
    zalo_bot: str | None = typer.Option(
        None,
        "--zalo-bot",
        metavar=N_("TÊN_BOT"),
        envvar="ZALO_BOT_NAME",
        help=N_("Tên bot Zalo, để in hướng dẫn"),
    ),
    db: Path | None = DB_OPTION,
) -> None:
    choice("--role", role, ROLES)
    choice("--channel", channel, ("telegram", "zalo"))
    if uses is not None and uses < 1:
        fail(N_("--uses phải ≥ 1"))
    tz = ZoneInfo(TZ)
    if expires:
        last = parse_day(expires, "--expires")
        today = today_local()
        if last < today:
            fail(
                N_(
                    "--expires {value} đã qua (hôm nay là {today}): mã mời sẽ không dùng được. "
                    "Ví dụ: --expires {example}"
                ),
                value=day(last),
                today=day(today),
                example=day(today + timedelta(days=14)),
            )
        until = datetime.combine(last, time(23, 59, 59), tz)
    else:
        until = datetime.now(tz) + timedelta(days=14)
    code = new_code()

    async def work(u: Unit) -> str:
        found = await u.agencies_by_codes([agency])
        rec = found.get(agency)
        if rec is None:
            fail(N_("Không có cơ quan mã {code!r}. Xem: phieu agencies list"), code=agency)
        await u.add_invite(hash_code(code), rec.id, role, uses, until.astimezone(UTC))
        return rec.code

    agency_code = in_unit(db, work)
    say(N_("Mã mời: {code}"), code=code)
    if channel == "zalo":
        for line in zalo_instructions(zalo_bot, code):
            typer.echo(line)
    elif bot:
        say(N_("Link: {link}"), link=invite_link(bot, code))
    else:
        say(
            N_(
                "Chưa biết tên bot Telegram nên chưa in được đường link: thêm --bot TÊN_BOT (hoặc "
                "đặt TELEGRAM_BOT_USERNAME). Cán bộ vẫn có thể gõ /start {code} trong bot."
            ),
            code=code,
        )
    say(
        N_("Cơ quan {agency}, vai trò {role}, {uses} lần, hết hạn {until}. Mã chỉ hiện một lần."),
        agency=agency_code,
        role=role,
        uses=str(uses) if uses else t(N_("không giới hạn")),
        until=f"{until:%d/%m/%Y %H:%M}",
    )


def zalo_instructions(bot_name: str | None, code: str) -> list[str]:
    """What to tell a Zalo user: Zalo has no deep links for bots, so the code is sent as a
    message (alone, or as `/start <code>`) to the bot, found by name in Zalo."""
    name = bot_name or t(N_("<tên bot Zalo>"))
    return [
        t(
            N_(
                "Gửi cho người được mời: mở Zalo, tìm bot “{name}”, bấm Quan tâm/Nhắn tin rồi "
                "gửi tin nhắn:"
            ),
            name=name,
        ),
        f"  {code}",
        t(N_("(hoặc: /start {code})"), code=code),
    ]


def _state(i: InviteRec, now: datetime) -> str:
    if i.revoked_at:
        return t(N_("đã thu hồi"))
    if i.expires_at and i.expires_at <= now:
        return t(N_("đã hết hạn"))
    if i.uses_left is not None and i.uses_left <= 0:
        return t(N_("đã dùng hết"))
    return t(N_("còn hiệu lực"))


@invite_app.command(
    "list",
    help=N_(
        "Danh sách mã mời: số, cơ quan, vai trò, lượt còn lại, hạn (mã chỉ lưu dạng băm, chỉ "
        "hiện vài ký tự đầu của mã băm)."
    ),
)
def invite_list(db: Path | None = DB_OPTION) -> None:
    async def work(u: Unit) -> tuple[list[InviteRec], dict[int, str]]:
        codes = {a.id: a.code for a in await u.list_agencies()}
        return await u.list_invites(), codes

    invites, codes = in_unit(db, work)
    if not invites:
        say(N_("Chưa có mã mời nào. Tạo mã: phieu invite create --agency MÃ"))
        return
    now = datetime.now(UTC)
    for i in invites:
        uses = "∞" if i.uses_left is None else str(i.uses_left)
        until = f"{i.expires_at.astimezone(ZoneInfo(TZ)):%d/%m/%Y}" if i.expires_at else "—"
        agency = codes.get(i.agency_id, "—") if i.agency_id is not None else "—"
        typer.echo(
            "\t".join(
                (
                    f"#{i.id}",
                    f"{i.code_hash[:8]}…",
                    agency,
                    i.role,
                    t(N_("còn {uses} lần"), uses=uses),
                    t(N_("hết hạn {until}"), until=until),
                    _state(i, now),
                )
            )
        )


@invite_app.command(
    "revoke", help=N_("Thu hồi một mã mời theo số của nó (xem: phieu invite list).")
)
def invite_revoke(
    invite_id: int = typer.Argument(..., help=N_("Số mã mời")),
    db: Path | None = DB_OPTION,
) -> None:
    if not in_unit(db, lambda u: u.revoke_invite(invite_id)):
        fail(N_("Không có mã mời #{id} còn hiệu lực."), 1, id=str(invite_id))
    say(N_("Đã thu hồi mã mời #{id}."), id=str(invite_id))
