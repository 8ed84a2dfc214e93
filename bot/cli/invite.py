"""`phieu invite`: invitation codes (only invited people can use the bot)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import DB_OPTION, ROLES, TZ, choice, in_unit, parse_day
from bot.invites import hash_code, invite_link, new_code
from storage.repository import Unit

invite_app = typer.Typer(
    help="Mã mời (chỉ người được mời mới dùng được bot).", no_args_is_help=True
)


@invite_app.command("create")
def invite_create(
    agency: str = typer.Option(..., "--agency", help="Mã cơ quan"),
    role: str = typer.Option("official", "--role", help="official | reviewer | admin"),
    uses: int | None = typer.Option(1, "--uses", help="Số lần dùng (mặc định 1)"),
    expires: str | None = typer.Option(None, "--expires", help="DD/MM/YYYY (mặc định +14 ngày)"),
    bot: str | None = typer.Option(
        None, "--bot", envvar="TELEGRAM_BOT_USERNAME", help="Tên bot Telegram, để in đường link"
    ),
    channel: str = typer.Option(
        "telegram", "--channel", help="telegram | zalo: kênh người được mời sẽ dùng"
    ),
    zalo_bot: str | None = typer.Option(
        None, "--zalo-bot", envvar="ZALO_BOT_NAME", help="Tên bot Zalo, để in hướng dẫn"
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Create an invitation: prints the code and what to send (Telegram link, or the message
    to send the Zalo bot); the code is shown only once."""
    choice("--role", role, ROLES)
    choice("--channel", channel, ("telegram", "zalo"))
    if uses is not None and uses < 1:
        typer.echo("--uses phải ≥ 1", err=True)
        raise typer.Exit(2)
    tz = ZoneInfo(TZ)
    if expires:
        until = datetime.combine(parse_day(expires), time(23, 59, 59), tz)
    else:
        until = datetime.now(tz) + timedelta(days=14)
    code = new_code()

    async def work(u: Unit) -> None:
        rec = await u.agency_by_code(agency)
        if rec is None:
            typer.echo(f"Không có cơ quan mã '{agency}'. Xem: phieu agencies list", err=True)
            raise typer.Exit(2)
        await u.add_invite(hash_code(code), rec.id, role, uses, until.astimezone(UTC))

    in_unit(db, work)
    typer.echo(f"Mã mời: {code}")
    if channel == "zalo":
        for line in zalo_instructions(zalo_bot, code):
            typer.echo(line)
    else:
        typer.echo(f"Link: {invite_link(bot, code)}")
    typer.echo(
        f"Cơ quan {agency}, vai trò {role}, {uses or 'không giới hạn'} lần, "
        f"hết hạn {until:%d/%m/%Y %H:%M}. Mã chỉ hiện một lần."
    )


def zalo_instructions(bot_name: str | None, code: str) -> list[str]:
    """What to tell a Zalo user: Zalo has no deep links for bots, so the code is sent as a
    message (alone, or as `/start <code>`) to the bot, found by name in Zalo."""
    name = bot_name or "<tên bot Zalo>"
    return [
        f"Gửi cho người được mời: mở Zalo, tìm bot “{name}”, bấm Quan tâm/Nhắn tin rồi gửi "
        "tin nhắn:",
        f"  {code}",
        f"(hoặc: /start {code})",
    ]


@invite_app.command("list")
def invite_list(db: Path | None = DB_OPTION) -> None:
    """List invitations (codes are stored hashed; only ids and hash prefixes are shown)."""
    for i in in_unit(db, lambda u: u.list_invites()):
        state = "đã thu hồi" if i.revoked_at else "còn hiệu lực"
        uses = "∞" if i.uses_left is None else str(i.uses_left)
        until = f"{i.expires_at:%d/%m/%Y}" if i.expires_at else "—"
        typer.echo(
            f"#{i.id}\t{i.code_hash[:8]}…\tagency={i.agency_id}\t{i.role}\t"
            f"còn {uses} lần\thết hạn {until}\t{state}"
        )


@invite_app.command("revoke")
def invite_revoke(invite_id: int, db: Path | None = DB_OPTION) -> None:
    """Revoke an invitation by id."""
    if not in_unit(db, lambda u: u.revoke_invite(invite_id)):
        typer.echo(f"Không có mã mời #{invite_id} còn hiệu lực.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Đã thu hồi mã mời #{invite_id}.")
