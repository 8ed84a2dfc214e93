"""`phieu remind`: a campaign's reminder plan (show as a dry run, set) and broadcasts.

phieu remind plan --campaign 3 [--now "23/11/2026 08:00"]     what would go out, when
phieu remind plan set --campaign 3 --days 10,3,1 --at 08:00 [--quiet 21:00-07:00]
                      [--no-weekends | --weekends]
phieu remind broadcast --campaign 3 --text "…" [--only pending] [--yes]
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import DB_OPTION, fail, say, with_storage
from bot.cli.lang import language, t
from bot.workers.reminders import (
    ReminderPlanner,
    base_key,
    broadcast,
    broadcast_audience,
)
from flows import reminders as rp
from flows.i18n import N_
from flows.loader import builtin_forms
from storage.records import CampaignRec
from storage.repository import Storage

BROADCAST_CONFIRM_ABOVE = 20  # people: more than this asks "chắc chắn?" unless --yes

remind_app = typer.Typer(help=N_("Nhắc hạn nộp phiếu và thông báo."), no_args_is_help=True)
plan_app = typer.Typer(help=N_("Kế hoạch nhắc của một đợt."), invoke_without_command=True)
remind_app.add_typer(plan_app, name="plan")

CASE_WORDS = {
    rp.Case.PENDING: N_("chưa nộp"),
    rp.Case.RETURNED: N_("bị trả lại"),
    rp.Case.UNCONFIRMED: N_("chưa xác nhận"),
}
WEEKDAYS = (N_("T2"), N_("T3"), N_("T4"), N_("T5"), N_("T6"), N_("T7"), N_("CN"))
ROLE_WORDS = {"official": N_("cán bộ"), "head": N_("thủ trưởng"), "reviewer": N_("thẩm định")}
CAMPAIGN_HELP = N_("Số đợt (phieu campaign list)")


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
        fail(
            N_(
                'Thời điểm không hợp lệ: {text!r}. Ví dụ: --now "23/11/2026 08:00" (giờ Việt '
                "Nam) hoặc --now 2026-11-23T08:00+07:00"
            ),
            text=text,
        )
    return value


async def _campaign(storage: Storage, campaign_id: int) -> CampaignRec:
    async with storage.unit() as unit:
        campaign = await unit.campaign(campaign_id)
    if campaign is None:
        fail(N_("Không có đợt #{id}. Xem các đợt: phieu campaign list"), 1, id=str(campaign_id))
    return campaign


@plan_app.callback()
def plan_show(
    ctx: typer.Context,
    campaign: int | None = typer.Option(None, "--campaign", metavar=N_("SỐ"), help=CAMPAIGN_HELP),
    now: str | None = typer.Option(
        None, "--now", metavar=N_("THỜI_ĐIỂM"), help=N_('Giả định "bây giờ": "23/11/2026 08:00"')
    ),
    limit: int = typer.Option(
        40, "--limit", metavar=N_("SỐ"), help=N_("Số dòng tối đa trong bảng")
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Show what the plan would send and when (a dry run: nothing is queued)."""
    if ctx.invoked_subcommand is not None:
        return
    if campaign is None:
        fail(N_("Cần --campaign. Ví dụ: phieu remind plan --campaign 1"))
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
    # rich (~4 MB): imported by the commands that print with it, not by the bot
    from rich.console import Console
    from rich.table import Table

    zone = ZoneInfo(camp.timezone)
    console = Console()
    console.print(
        t(
            N_("Đợt #{id} “{name}”, hạn {deadline} — kế hoạch: {plan}; bây giờ {now}"),
            id=str(camp.id),
            name=camp.name,
            deadline=f"{camp.deadline:%d/%m/%Y}",
            plan=plan.describe(),
            now=f"{now.astimezone(zone):%d/%m/%Y %H:%M}",
        )
    )
    for name, at in rp.slot_times(
        rp.CampaignInfo(camp.id, camp.name, camp.deadline, camp.timezone), plan
    ):
        local = at.astimezone(zone)
        console.print(
            t(
                N_("  mốc {slot}: {weekday} {at}"),
                slot=name,
                weekday=t(WEEKDAYS[local.weekday()]),
                at=f"{local:%d/%m/%Y %H:%M}",
            )
        )
    table = Table(title=t(N_("Sẽ gửi (chạy thử, chưa gửi gì)")))
    for column in (
        N_("Thời điểm"),
        N_("Mốc"),
        N_("Cơ quan"),
        N_("Người nhận"),
        N_("Trường hợp"),
        N_("Trạng thái"),
    ):
        table.add_column(t(column))
    for r in reminders[:limit]:
        state = t(N_("đã xếp hàng")) if r.key in taken else t(N_("sẽ gửi"))
        agency = t(N_("(tổng hợp)")) if r.agency_id == 0 else names["agency"].get(r.agency_id, "?")
        person = names["user"].get(r.user_id, f"#{r.user_id}")
        table.add_row(
            f"{r.at.astimezone(zone):%d/%m/%Y %H:%M}",
            r.slot,
            agency,
            f"{person} ({t(ROLE_WORDS[r.role]) if r.role in ROLE_WORDS else r.role})",
            t(CASE_WORDS[r.case]),
            state,
        )
    console.print(table)
    per_slot = Counter(r.slot for r in reminders if base_key(r.key) not in taken)
    summary = ", ".join(f"{slot}: {n}" for slot, n in per_slot.items()) or t(N_("không có"))
    console.print(
        t(
            N_("Tổng: {count} tin nhắc ({summary} chưa gửi); {muted} người tắt nhắc."),
            count=len(reminders),
            summary=summary,
            muted=muted,
        )
    )
    if len(reminders) > limit:
        console.print(t(N_("(hiện {limit} dòng đầu; thêm --limit để xem nhiều hơn)"), limit=limit))


@plan_app.command(
    "set", help=N_("Đổi kế hoạch nhắc của một đợt; tuỳ chọn không nêu giữ nguyên giá trị cũ.")
)
def plan_set(
    campaign: int = typer.Option(..., "--campaign", metavar=N_("SỐ"), help=CAMPAIGN_HELP),
    days: str | None = typer.Option(
        None, "--days", metavar=N_("NGÀY"), help=N_("Số ngày trước hạn: 10,3,1")
    ),
    at: str | None = typer.Option(
        None, "--at", metavar=N_("GIỜ"), help=N_("Giờ gửi (giờ Việt Nam): 08:00")
    ),
    quiet: str | None = typer.Option(
        None, "--quiet", metavar=N_("GIỜ-GIỜ"), help=N_("Giờ yên lặng: 21:00-07:00")
    ),
    no_weekends: bool | None = typer.Option(
        None, "--no-weekends/--weekends", help=N_("Không gửi thứ Bảy, Chủ nhật")
    ),
    on_deadline: bool | None = typer.Option(
        None, "--on-deadline/--no-on-deadline", help=N_("Nhắc sáng ngày hết hạn")
    ),
    overdue: bool | None = typer.Option(
        None, "--overdue/--no-overdue", help=N_("Báo quá hạn ngày hôm sau")
    ),
    overdue_to_head: bool | None = typer.Option(
        None, "--overdue-to-head/--no-overdue-to-head", help=N_("Báo quá hạn cho thủ trưởng")
    ),
    overdue_to_reviewer: bool | None = typer.Option(
        None,
        "--overdue-to-reviewer/--no-overdue-to-reviewer",
        help=N_("Báo quá hạn cho cán bộ thẩm định"),
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Change a campaign's plan; options not given keep their current value."""
    try:
        new_days = rp.parse_days(days) if days is not None else None
        new_at = rp.parse_at(at) if at is not None else None
        new_quiet = rp.parse_quiet(quiet) if quiet is not None else None
    except rp.PlanError as e:
        typer.echo(e.text(language()), err=True)
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
    say(N_("Đã lưu kế hoạch nhắc của đợt #{id}: {plan}"), id=str(campaign), plan=plan.describe())


@remind_app.command(
    "broadcast",
    help=N_("Gửi thông báo tới cán bộ các cơ quan của một đợt (mỗi tài khoản chat một lần)."),
)
def broadcast_cmd(
    campaign: int = typer.Option(..., "--campaign", metavar=N_("SỐ"), help=CAMPAIGN_HELP),
    text: str = typer.Option(..., "--text", metavar=N_("NỘI_DUNG"), help=N_("Nội dung thông báo")),
    only: str | None = typer.Option(
        None,
        "--only",
        metavar="pending",
        help=N_("pending: chỉ cơ quan chưa nộp / bị trả lại / chưa xác nhận"),
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help=N_("Không hỏi lại trước khi gửi")),
    db: Path | None = DB_OPTION,
) -> None:
    """Send an announcement to the officials of a campaign's agencies (once per chat)."""
    if only not in (None, "pending"):
        fail(N_("--only không hợp lệ: {only!r}. Ví dụ: --only pending"), only=only)
    if not text.strip():
        fail(N_('Thông báo trống. Ví dụ: --text "Hạn nộp phiếu là 26/11"'))
    forms = builtin_forms()

    async def work(storage: Storage) -> tuple[int, int]:
        camp = await _campaign(storage, campaign)
        async with storage.unit() as unit:
            audience = await broadcast_audience(unit, camp, forms, only == "pending")
        people = len(audience.people)
        if people > BROADCAST_CONFIRM_ABOVE and not yes:
            question = t(
                N_("Gửi thông báo tới {people} người ({chats} tài khoản chat)?"),
                people=people,
                chats=audience.chats,
            )
            if not await asyncio.to_thread(typer.confirm, question):
                say(N_("Đã huỷ, chưa gửi gì."))
                raise typer.Exit(1)
        return people, await broadcast(storage, camp.id, text.strip(), audience)

    people, queued = with_storage(db, work)
    say(
        N_(
            "Đã xếp hàng {queued} tin tới {people} người; `phieu worker` gửi đi "
            "(tin đã gửi cùng nội dung không gửi lại)."
        ),
        queued=queued,
        people=people,
    )
