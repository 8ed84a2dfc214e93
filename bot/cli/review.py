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

from bot.cli.common import COHORTS, DB_OPTION, choice, fail, in_unit, say
from bot.cli.lang import t
from flows.i18n import N_
from storage.records import UserRec
from storage.repository import Unit

review_app = typer.Typer(
    help=N_("Thẩm định: giao cơ quan cho cán bộ thẩm định."), no_args_is_help=True
)

CAMPAIGN_OPTION = typer.Option(..., "--campaign", metavar=N_("SỐ"), help=N_("Số (id) đợt thu thập"))
REVIEWER_OPTION = typer.Option(
    ..., "--reviewer", metavar=N_("NGƯỜI"), help=N_("Id hoặc họ tên cán bộ thẩm định")
)


async def _reviewer(u: Unit, who: str) -> UserRec:
    """The reviewer named by id or by exact name; exits 2 with the reason otherwise."""
    users = [r for r, _ in await u.users_with_role("reviewer")]
    found = [r for r in users if str(r.id) == who.strip() or r.name == who.strip()]
    if len(found) != 1:
        names = ", ".join(f"{r.id} ({r.name})" for r in users) or t(N_("chưa có ai"))
        reason = t(N_("trùng tên")) if found else t(N_("không có cán bộ thẩm định"))
        fail(
            N_("'{who}': {reason}. Cán bộ thẩm định: {names}"), who=who, reason=reason, names=names
        )
    return found[0]


async def _campaign_or_exit(u: Unit, campaign_id: int) -> None:
    if await u.campaign(campaign_id) is None:
        fail(N_("Không có đợt số {id}. Xem: phieu campaign list"), id=str(campaign_id))


@review_app.command(
    "assign",
    help=N_(
        "Giao cho một cán bộ thẩm định các khối và/hoặc cơ quan của một đợt (không nêu: cả đợt)."
    ),
)
def review_assign(
    campaign: int = CAMPAIGN_OPTION,
    reviewer: str = REVIEWER_OPTION,
    cohort: list[str] = typer.Option(
        [], "--cohort", metavar=N_("KHỐI"), help=N_("so | huyen | xa (lặp lại được)")
    ),
    agency: list[str] = typer.Option(
        [], "--agency", metavar=N_("MÃ"), help=N_("Mã cơ quan (lặp lại được)")
    ),
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
            said.append(t(N_("khối {cohort}"), cohort=c))
        for code in agency:
            rec = await u.agency_by_code(code)
            if rec is None:
                fail(N_("Không có cơ quan mã '{code}'. Xem: phieu agencies list"), code=code)
            await u.assign_reviewer(campaign, who.id, agency_id=rec.id)
            said.append(f"{rec.code} ({rec.name})")
        if not cohort and not agency:
            await u.assign_reviewer(campaign, who.id)
            said.append(t(N_("toàn bộ cơ quan của đợt")))
        return [f"{who.name}: {', '.join(said)}"]

    for line in in_unit(db, work):
        say(N_("Đã giao thẩm định — {line}"), line=line)


@review_app.command("list", help=N_("Ai thẩm định những gì trong một đợt."))
def review_list(campaign: int = CAMPAIGN_OPTION, db: Path | None = DB_OPTION) -> None:
    """Show who reviews what in a campaign."""

    async def work(u: Unit) -> list[str]:
        await _campaign_or_exit(u, campaign)
        rows = await u.reviewer_assignments(campaign)
        if not rows:
            return [t(N_("Chưa giao: mọi cán bộ thẩm định xem mọi cơ quan của đợt."))]
        out = []
        for r in rows:
            user = await u.user(r.user_id)
            agency = await u.agency(r.agency_id) if r.agency_id else None
            what = (
                f"{agency.code} ({agency.name})"
                if agency
                else t(N_("khối {cohort}"), cohort=r.cohort)
                if r.cohort
                else t(N_("toàn bộ đợt"))
            )
            out.append(f"{r.user_id} {user.name if user else '?'}: {what}")
        return out

    for line in in_unit(db, work):
        typer.echo(line)


@review_app.command("clear", help=N_("Bỏ mọi phân công của một cán bộ thẩm định trong một đợt."))
def review_clear(
    campaign: int = CAMPAIGN_OPTION, reviewer: str = REVIEWER_OPTION, db: Path | None = DB_OPTION
) -> None:
    """Remove every assignment of one reviewer in a campaign."""

    async def work(u: Unit) -> int:
        await _campaign_or_exit(u, campaign)
        who = await _reviewer(u, reviewer)
        return await u.clear_assignments(campaign, who.id)

    say(N_("Đã bỏ {count} phân công."), count=in_unit(db, work))
