"""`phieu review`: which agencies each reviewer reviews in a campaign (issue #10).

    phieu review assign --campaign 1 --reviewer 7 --cohort huyen
    phieu review assign --campaign 1 --reviewer "Trần Văn Hoà" --agency STTTT --agency SYT
    phieu review assign --campaign 1 --reviewer 7            # the whole campaign
    phieu review list --campaign 1
    phieu review clear --campaign 1 --reviewer 7

A campaign without any assignment is reviewed by every reviewer, for every target agency.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import COHORTS, DB_OPTION, choice, in_unit
from storage.records import UserRec
from storage.repository import Unit

review_app = typer.Typer(help="Thẩm định: giao cơ quan cho cán bộ thẩm định.", no_args_is_help=True)

CAMPAIGN_OPTION = typer.Option(..., "--campaign", help="Số (id) đợt thu thập")
REVIEWER_OPTION = typer.Option(..., "--reviewer", help="Id hoặc họ tên cán bộ thẩm định")


async def _reviewer(u: Unit, who: str) -> UserRec:
    """The reviewer named by id or by exact name; exits 2 with the reason otherwise."""
    users = [r for r, _ in await u.users_with_role("reviewer")]
    found = [r for r in users if str(r.id) == who.strip() or r.name == who.strip()]
    if len(found) != 1:
        names = ", ".join(f"{r.id} ({r.name})" for r in users) or "chưa có ai"
        reason = "trùng tên" if found else "không có cán bộ thẩm định"
        typer.echo(f"'{who}': {reason}. Cán bộ thẩm định: {names}", err=True)
        raise typer.Exit(2)
    return found[0]


async def _campaign_or_exit(u: Unit, campaign_id: int) -> None:
    if await u.campaign(campaign_id) is None:
        typer.echo(f"Không có đợt số {campaign_id}. Xem: phieu campaign list", err=True)
        raise typer.Exit(2)


@review_app.command("assign")
def review_assign(
    campaign: int = CAMPAIGN_OPTION,
    reviewer: str = REVIEWER_OPTION,
    cohort: list[str] = typer.Option([], "--cohort", help="so | huyen | xa (lặp lại được)"),
    agency: list[str] = typer.Option([], "--agency", help="Mã cơ quan (lặp lại được)"),
    db: Path | None = DB_OPTION,
) -> None:
    """Give a reviewer cohorts and/or agencies of a campaign (neither: all of it)."""
    for c in cohort:
        choice("--cohort", c, COHORTS)

    async def work(u: Unit) -> list[str]:
        await _campaign_or_exit(u, campaign)
        who = await _reviewer(u, reviewer)
        said = []
        for c in cohort:
            await u.assign_reviewer(campaign, who.id, cohort=c)
            said.append(f"khối {c}")
        for code in agency:
            rec = await u.agency_by_code(code)
            if rec is None:
                typer.echo(f"Không có cơ quan mã '{code}'. Xem: phieu agencies list", err=True)
                raise typer.Exit(2)
            await u.assign_reviewer(campaign, who.id, agency_id=rec.id)
            said.append(f"{rec.code} ({rec.name})")
        if not cohort and not agency:
            await u.assign_reviewer(campaign, who.id)
            said.append("toàn bộ cơ quan của đợt")
        return [f"{who.name}: {', '.join(said)}"]

    for line in in_unit(db, work):
        typer.echo(f"Đã giao thẩm định — {line}")


@review_app.command("list")
def review_list(campaign: int = CAMPAIGN_OPTION, db: Path | None = DB_OPTION) -> None:
    """Show who reviews what in a campaign."""

    async def work(u: Unit) -> list[str]:
        await _campaign_or_exit(u, campaign)
        rows = await u.reviewer_assignments(campaign)
        if not rows:
            return ["Chưa giao: mọi cán bộ thẩm định xem mọi cơ quan của đợt."]
        out = []
        for r in rows:
            user = await u.user(r.user_id)
            agency = await u.agency(r.agency_id) if r.agency_id else None
            what = (
                f"{agency.code} ({agency.name})"
                if agency
                else f"khối {r.cohort}"
                if r.cohort
                else "toàn bộ đợt"
            )
            out.append(f"{r.user_id} {user.name if user else '?'}: {what}")
        return out

    for line in in_unit(db, work):
        typer.echo(line)


@review_app.command("clear")
def review_clear(
    campaign: int = CAMPAIGN_OPTION, reviewer: str = REVIEWER_OPTION, db: Path | None = DB_OPTION
) -> None:
    """Remove every assignment of one reviewer in a campaign."""

    async def work(u: Unit) -> int:
        await _campaign_or_exit(u, campaign)
        who = await _reviewer(u, reviewer)
        return await u.clear_assignments(campaign, who.id)

    typer.echo(f"Đã bỏ {in_unit(db, work)} phân công.")
