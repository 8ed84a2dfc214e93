"""`phieu remind`: a campaign's reminder plan (show as a dry run, set) and broadcasts.

phieu remind plan --campaign 3 [--now "23/11/2026 08:00"]     what would go out, when
phieu remind plan set --campaign 3 --days 10,3,1 --at 08:00 [--quiet 21:00-07:00]
                      [--no-weekends | --weekends]
phieu remind broadcast --campaign 3 --text "…" [--only pending] [--yes]
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import DB_OPTION, url_of
from bot.workers.reminders import (
    ReminderPlanner,
    base_key,
    broadcast,
    broadcast_audience,
)
from flows import reminders as rp
from flows.loader import builtin_forms
from storage.database import DatabaseSetupError
from storage.records import CampaignRec
from storage.repository import Storage

T = TypeVar("T")
BROADCAST_CONFIRM_ABOVE = 20  # people: more than this asks "chắc chắn?" unless --yes

remind_app = typer.Typer(help="Nhắc hạn nộp phiếu và thông báo.", no_args_is_help=True)
plan_app = typer.Typer(help="Kế hoạch nhắc của một đợt.", invoke_without_command=True)
remind_app.add_typer(plan_app, name="plan")

CASE_WORDS = {
    rp.Case.PENDING: "chưa nộp",
    rp.Case.RETURNED: "bị trả lại",
    rp.Case.UNCONFIRMED: "chưa xác nhận",
}
WEEKDAYS = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
ROLE_WORDS = {"official": "cán bộ", "head": "thủ trưởng", "reviewer": "thẩm định"}


def with_storage(db: Path | None, work: Callable[[Storage], Awaitable[T]]) -> T:
    async def main() -> T:
        storage = await Storage.open(url_of(db), setting="--db" if db else "DATABASE_URL")
        try:
            return await work(storage)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except DatabaseSetupError as e:
        typer.echo(f"Lỗi cấu hình: {e}", err=True)
        raise typer.Exit(2) from None


def parse_now(text: str | None, tz: str) -> datetime:
    """--now: "23/11/2026 08:00" (local time of the campaign) or ISO 8601 with an offset."""
    if not text:
        return datetime.now(UTC)
    for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=ZoneInfo(tz))
        except ValueError:
            pass
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        typer.echo(
            f'Thời điểm không hợp lệ: {text!r}. Ví dụ: --now "23/11/2026 08:00" (giờ Việt '
            "Nam) hoặc --now 2026-11-23T08:00+07:00",
            err=True,
        )
        raise typer.Exit(2)
    return value


async def _campaign(storage: Storage, campaign_id: int) -> CampaignRec:
    async with storage.unit() as unit:
        campaign = await unit.campaign(campaign_id)
    if campaign is None:
        typer.echo(f"Không có đợt #{campaign_id}. Xem các đợt: phieu campaign list", err=True)
        raise typer.Exit(1)
    return campaign


@plan_app.callback()
def plan_show(
    ctx: typer.Context,
    campaign: int | None = typer.Option(None, "--campaign", help="Số đợt (phieu campaign list)"),
    now: str | None = typer.Option(None, "--now", help='Giả định "bây giờ": "23/11/2026 08:00"'),
    limit: int = typer.Option(40, "--limit", help="Số dòng tối đa trong bảng"),
    db: Path | None = DB_OPTION,
) -> None:
    """Show what the plan would send and when (a dry run: nothing is queued)."""
    if ctx.invoked_subcommand is not None:
        return
    if campaign is None:
        typer.echo("Cần --campaign. Ví dụ: phieu remind plan --campaign 1", err=True)
        raise typer.Exit(2)
    forms = builtin_forms()

    async def work(storage: Storage) -> None:
        camp = await _campaign(storage, campaign)
        when = parse_now(now, camp.timezone)
        planner = ReminderPlanner(storage, forms, lambda: when)
        snap = await planner.snapshot(camp.id)
        assert snap is not None
        async with storage.unit() as unit:
            subs = [s for s, _ in snap.submissions.values()]
            answers = await unit.answers_of(subs)
        ids = [a.id for a in snap.agencies]
        standings = planner.standings(snap, snap.agencies, answers, ids)
        reminders = rp.upcoming(snap.info, snap.plan, standings, when, snap.muted)
        names = {
            "agency": {a.id: a.name for a in snap.agencies},
            "user": {
                u.id: u.name
                for u in [*snap.reviewers, *(u for us in snap.officials.values() for u in us)]
            },
        }
        show(camp, snap.plan, reminders, snap.taken, when, limit, len(snap.muted), names)

    with_storage(db, work)


def show(
    camp: CampaignRec,
    plan: rp.ReminderPlan,
    reminders: list[rp.Reminder],
    taken: set[str],
    now: datetime,
    limit: int,
    muted: int,
    names: dict[str, dict[int, str]],
) -> None:
    zone = ZoneInfo(camp.timezone)
    console = Console()
    console.print(
        f"Đợt #{camp.id} “{camp.name}”, hạn {camp.deadline:%d/%m/%Y} — kế hoạch: "
        f"{plan.describe()}; bây giờ {now.astimezone(zone):%d/%m/%Y %H:%M}"
    )
    for name, at in rp.slot_times(
        rp.CampaignInfo(camp.id, camp.name, camp.deadline, camp.timezone), plan
    ):
        local = at.astimezone(zone)
        console.print(f"  mốc {name}: {WEEKDAYS[local.weekday()]} {local:%d/%m/%Y %H:%M}")
    table = Table(title="Sẽ gửi (chạy thử, chưa gửi gì)")
    for column in ("Thời điểm", "Mốc", "Cơ quan", "Người nhận", "Trường hợp", "Trạng thái"):
        table.add_column(column)
    for r in reminders[:limit]:
        state = "đã xếp hàng" if r.key in taken else "sẽ gửi"
        agency = "(tổng hợp)" if r.agency_id == 0 else names["agency"].get(r.agency_id, "?")
        person = names["user"].get(r.user_id, f"#{r.user_id}")
        table.add_row(
            f"{r.at.astimezone(zone):%d/%m/%Y %H:%M}",
            r.slot,
            agency,
            f"{person} ({ROLE_WORDS.get(r.role, r.role)})",
            CASE_WORDS[r.case],
            state,
        )
    console.print(table)
    per_slot = Counter(r.slot for r in reminders if base_key(r.key) not in taken)
    summary = ", ".join(f"{slot}: {n}" for slot, n in per_slot.items()) or "không có"
    console.print(f"Tổng: {len(reminders)} tin nhắc ({summary} chưa gửi); {muted} người tắt nhắc.")
    if len(reminders) > limit:
        console.print(f"(hiện {limit} dòng đầu; thêm --limit để xem nhiều hơn)")


@plan_app.command("set")
def plan_set(
    campaign: int = typer.Option(..., "--campaign", help="Số đợt (phieu campaign list)"),
    days: str | None = typer.Option(None, "--days", help="Số ngày trước hạn: 10,3,1"),
    at: str | None = typer.Option(None, "--at", help="Giờ gửi (giờ Việt Nam): 08:00"),
    quiet: str | None = typer.Option(None, "--quiet", help="Giờ yên lặng: 21:00-07:00"),
    no_weekends: bool | None = typer.Option(
        None, "--no-weekends/--weekends", help="Không gửi thứ Bảy, Chủ nhật"
    ),
    on_deadline: bool | None = typer.Option(
        None, "--on-deadline/--no-on-deadline", help="Nhắc sáng ngày hết hạn"
    ),
    overdue: bool | None = typer.Option(
        None, "--overdue/--no-overdue", help="Báo quá hạn ngày hôm sau"
    ),
    overdue_to_head: bool | None = typer.Option(
        None, "--overdue-to-head/--no-overdue-to-head", help="Báo quá hạn cho thủ trưởng"
    ),
    overdue_to_reviewer: bool | None = typer.Option(
        None,
        "--overdue-to-reviewer/--no-overdue-to-reviewer",
        help="Báo quá hạn cho cán bộ thẩm định",
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Change a campaign's plan; options not given keep their current value."""
    try:
        new_days = rp.parse_days(days) if days is not None else None
        new_at = rp.parse_at(at) if at is not None else None
        new_quiet = rp.parse_quiet(quiet) if quiet is not None else None
    except rp.PlanError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None

    async def work(storage: Storage) -> rp.ReminderPlan:
        await _campaign(storage, campaign)
        async with storage.unit() as unit:
            current = rp.plan_from_row(await unit.reminder_plan(campaign))
            plan = rp.ReminderPlan(
                days_before=new_days if new_days is not None else current.days_before,
                at=new_at or current.at,
                on_deadline=current.on_deadline if on_deadline is None else on_deadline,
                overdue=current.overdue if overdue is None else overdue,
                quiet_start=new_quiet[0] if new_quiet else current.quiet_start,
                quiet_end=new_quiet[1] if new_quiet else current.quiet_end,
                no_weekends=current.no_weekends if no_weekends is None else no_weekends,
                overdue_to_head=(
                    current.overdue_to_head if overdue_to_head is None else overdue_to_head
                ),
                overdue_to_reviewer=(
                    current.overdue_to_reviewer
                    if overdue_to_reviewer is None
                    else overdue_to_reviewer
                ),
            )
            await unit.set_reminder_plan(campaign, rp.plan_to_row(plan), datetime.now(UTC))
        return plan

    plan = with_storage(db, work)
    typer.echo(f"Đã lưu kế hoạch nhắc của đợt #{campaign}: {plan.describe()}")


@remind_app.command("broadcast")
def broadcast_cmd(
    campaign: int = typer.Option(..., "--campaign", help="Số đợt (phieu campaign list)"),
    text: str = typer.Option(..., "--text", help="Nội dung thông báo"),
    only: str | None = typer.Option(
        None, "--only", help="pending: chỉ cơ quan chưa nộp / bị trả lại / chưa xác nhận"
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Không hỏi lại trước khi gửi"),
    db: Path | None = DB_OPTION,
) -> None:
    """Send an announcement to the officials of a campaign's agencies (once per chat)."""
    if only not in (None, "pending"):
        typer.echo(f"--only không hợp lệ: {only!r}. Ví dụ: --only pending", err=True)
        raise typer.Exit(2)
    if not text.strip():
        typer.echo('Thông báo trống. Ví dụ: --text "Hạn nộp phiếu là 26/11"', err=True)
        raise typer.Exit(2)
    forms = builtin_forms()

    async def work(storage: Storage) -> tuple[int, int]:
        camp = await _campaign(storage, campaign)
        async with storage.unit() as unit:
            audience = await broadcast_audience(unit, camp, forms, only == "pending")
        people = len(audience.people)
        if people > BROADCAST_CONFIRM_ABOVE and not yes:
            question = f"Gửi thông báo tới {people} người ({audience.chats} tài khoản chat)?"
            if not await asyncio.to_thread(typer.confirm, question):
                typer.echo("Đã huỷ, chưa gửi gì.")
                raise typer.Exit(1)
        return people, await broadcast(storage, camp.id, text.strip(), audience)

    people, queued = with_storage(db, work)
    typer.echo(
        f"Đã xếp hàng {queued} tin tới {people} người; `phieu worker` gửi đi "
        "(tin đã gửi cùng nội dung không gửi lại)."
    )
