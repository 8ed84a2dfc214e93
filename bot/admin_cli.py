"""Minimal administration for a Sở TTTT: agencies, campaigns and invitations from the CLI."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import typer

from bot.invites import hash_code, invite_link, new_code
from flows.i18n import translate
from flows.loader import builtin_forms
from flows.parsing import Confirm, Ok, Problem, parse_email, parse_phone, parse_url
from storage.database import DatabaseSetupError
from storage.records import Conflict
from storage.repository import Storage, Unit

T = TypeVar("T")
TZ = "Asia/Ho_Chi_Minh"
COHORTS = ("so", "huyen", "xa")
ROLES = ("official", "reviewer", "admin")

agencies_app = typer.Typer(help="Cơ quan, đơn vị.", no_args_is_help=True)
campaign_app = typer.Typer(help="Đợt thu thập phiếu.", no_args_is_help=True)
invite_app = typer.Typer(
    help="Mã mời (chỉ người được mời mới dùng được bot).", no_args_is_help=True
)

DB_OPTION = typer.Option(None, "--db", help="Tệp SQLite (mặc định DATABASE_URL hoặc ./phieu.db)")


def _url(db: Path | None) -> str | None:
    if db is not None:
        return f"sqlite+aiosqlite:///{db}"
    return os.environ.get("DATABASE_URL") or None


def in_unit(db: Path | None, work: Callable[[Unit], Awaitable[T]]) -> T:
    """Run one transaction against the configured database from a sync CLI command."""

    async def main() -> T:
        storage = await Storage.open(_url(db), setting="--db" if db else "DATABASE_URL")
        try:
            async with storage.unit() as unit:
                return await work(unit)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except Conflict as e:
        typer.echo(f"Không lưu được: {e}", err=True)
        raise typer.Exit(1) from None
    except DatabaseSetupError as e:
        typer.echo(f"Lỗi cấu hình: {e}", err=True)
        raise typer.Exit(2) from None


def parse_day(text: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        typer.echo(f"Ngày không hợp lệ: {text!r}. Ví dụ: 26/11/2026", err=True)
        raise typer.Exit(2) from None


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        typer.echo(f"{name} phải là một trong: {', '.join(allowed)}", err=True)
        raise typer.Exit(2)
    return value


def _contact_ok(option: str, read: Ok | Problem | Confirm) -> None:
    """A contact field is read by the same parser as the question it prefills (1.4–1.6), so
    what officials are offered is an answer Phiếu would accept; anything else stops here with
    the parser's message and example (exit 2), not later as a silently dropped prefill."""
    if isinstance(read, Ok):
        return
    message = translate("vi", read.msgid, read.params)
    example = f" Ví dụ: {read.example}" if isinstance(read, Problem) and read.example else ""
    typer.echo(f"{option}: {message}{example}", err=True)
    raise typer.Exit(2)


@agencies_app.command("add")
def agencies_add(
    code: str = typer.Option(..., "--code", help="Mã cơ quan, ví dụ STTTT"),
    name: str = typer.Option(..., "--name", help="Tên cơ quan"),
    cohort: str = typer.Option(..., "--cohort", help="so | huyen | xa"),
    address: str | None = typer.Option(None, "--address", help="Địa chỉ (điền sẵn 1.3)"),
    website: str | None = typer.Option(None, "--website", help="Trang thông tin điện tử"),
    phone: str | None = typer.Option(None, "--phone", help="Điện thoại, Fax"),
    email: str | None = typer.Option(None, "--email", help="Thư điện tử liên hệ"),
    db: Path | None = DB_OPTION,
) -> None:
    """Add an agency; the optional contact fields are offered to its officials, prefilled."""
    _choice("--cohort", cohort, COHORTS)
    contact = {
        "address": address,
        "website": website,
        "phone": phone,
        "email": email,
    }
    extra = {k: v.strip() for k, v in contact.items() if v and v.strip()}
    for key, check in (("website", parse_url), ("phone", parse_phone), ("email", parse_email)):
        if key in extra:
            _contact_ok(f"--{key}", check(extra[key]))
    rec = in_unit(db, lambda u: u.add_agency(code.strip(), name.strip(), cohort, **extra))
    typer.echo(f"Đã thêm {rec.code}\t{rec.cohort}\t{rec.name}")
    for key, value in extra.items():
        typer.echo(f"  {key}: {value}")


@agencies_app.command("list")
def agencies_list(db: Path | None = DB_OPTION) -> None:
    """List agencies."""
    for a in in_unit(db, lambda u: u.list_agencies()):
        typer.echo(f"{a.code}\t{a.cohort}\t{a.name}")


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


@invite_app.command("create")
def invite_create(
    agency: str = typer.Option(..., "--agency", help="Mã cơ quan"),
    role: str = typer.Option("official", "--role", help="official | reviewer | admin"),
    uses: int | None = typer.Option(1, "--uses", help="Số lần dùng (mặc định 1)"),
    expires: str | None = typer.Option(None, "--expires", help="DD/MM/YYYY (mặc định +14 ngày)"),
    bot: str | None = typer.Option(
        None, "--bot", envvar="TELEGRAM_BOT_USERNAME", help="Tên bot Telegram, để in đường link"
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Create an invitation: prints the code and the Telegram link (shown only once)."""
    _choice("--role", role, ROLES)
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
    typer.echo(f"Link: {invite_link(bot, code)}")
    typer.echo(
        f"Cơ quan {agency}, vai trò {role}, {uses or 'không giới hạn'} lần, "
        f"hết hạn {until:%d/%m/%Y %H:%M}. Mã chỉ hiện một lần."
    )


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
