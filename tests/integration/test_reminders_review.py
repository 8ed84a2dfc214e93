"""Reminders × review on SQLite and PostgreSQL (issues #11, #10): overdue digests go to the
reviewers the assignments name, the agency's head gets the overdue copy, a returned reminder
names the items returned and its button leads into the fix flow, an accepted one into the
confirmation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from bot.workers.reminders import ReminderPlanner
from flows.machines import Status
from flows.reminders import ReminderPlan, plan_to_row
from storage import Storage
from storage.models import User
from tests.integration.test_reminders_worker import FORMS, Clock, local, setup
from tests.integration.test_review_loop import FORM, World, make_world, submit


async def texts_by_chat(storage: Storage) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    async with storage.unit() as u:
        for row in await u.keyed_rows("remind:"):
            out.setdefault(row["chat_id"], []).append(row["payload"]["text"])
    return out


async def test_overdue_digest_goes_to_the_assigned_reviewers_only(storage: Storage) -> None:
    world = await setup(storage, n=3)  # S0–S2 late, reviewer chat 900 (no assignment yet)
    async with storage.unit() as u:
        by_agency = await u.add_user("Thẩm định S0", None, "reviewer")
        await u.bind_identity(by_agency.id, "telegram", "901", None)
        by_cohort = await u.add_user("Thẩm định huyện", None, "reviewer")
        await u.bind_identity(by_cohort.id, "telegram", "902", None)
        whole = await u.add_user("Thẩm định cả đợt", None, "reviewer")
        await u.bind_identity(whole.id, "telegram", "903", None)
        await u.assign_reviewer(world.campaign_id, by_agency.id, agency_id=world.agencies["S0"])
        await u.assign_reviewer(world.campaign_id, by_cohort.id, cohort="huyen")
        await u.assign_reviewer(world.campaign_id, whole.id)
    await ReminderPlanner(storage, FORMS, Clock(local(2026, 11, 27, 8))).run_once()
    texts = await texts_by_chat(storage)
    assert "900" not in texts  # a reviewer without a share of this campaign
    assert "902" not in texts  # the huyện cohort is not late in a Sở campaign
    (s0_only,) = texts["901"]
    assert s0_only.startswith("⏰ 1 cơ quan chưa nộp") and "• Sở số 0" in s0_only
    assert "Sở số 1" not in s0_only
    (everything,) = texts["903"]
    assert everything.startswith("⏰ 3 cơ quan chưa nộp")
    assert all(f"• Sở số {i}" in everything for i in range(3))


async def test_no_assignment_row_means_every_reviewer_gets_every_late_agency(
    storage: Storage,
) -> None:
    await setup(storage, n=2)
    await ReminderPlanner(storage, FORMS, Clock(local(2026, 11, 27, 8))).run_once()
    (digest,) = (await texts_by_chat(storage))["900"]
    assert digest.startswith("⏰ 2 cơ quan chưa nộp") and "• Sở số 1" in digest


async def test_the_head_by_name_or_position_gets_the_overdue_copy_only(storage: Storage) -> None:
    world = await setup(storage, n=2)
    async with storage.unit() as u:
        await u.update_agency(world.agencies["S0"], {"head": "Nguyễn Văn Hùng"})
        hung = await u.add_user("nguyễn văn  hùng", world.agencies["S0"], "official")
        await u.bind_identity(hung.id, "telegram", "800", None)
        boss = await u.add_user("Trần Thị Mai", world.agencies["S1"], "official")
        await u._exec(update(User).where(User.id == boss.id).values(position="Giám đốc"))
        await u.bind_identity(boss.id, "telegram", "801", None)
        deputy = await u.add_user("Lê Phó", world.agencies["S1"], "official")
        await u._exec(update(User).where(User.id == deputy.id).values(position="Phó Giám đốc"))
        await u.bind_identity(deputy.id, "telegram", "802", None)
    clock = Clock(local(2026, 11, 25, 8))
    planner = ReminderPlanner(storage, FORMS, clock)
    await planner.run_once()  # d-1: the officials, not the heads
    texts = await texts_by_chat(storage)
    assert "800" not in texts and "801" not in texts and "802" in texts
    clock.at = local(2026, 11, 27, 8)
    await planner.run_once()
    texts = await texts_by_chat(storage)
    (to_hung,) = texts["800"]
    assert to_hung.startswith("⏰ Sở số 0 chưa nộp phiếu “CQĐT 2026”: đã quá hạn 1 ngày")
    (to_mai,) = texts["801"]
    assert to_mai.startswith("⏰ Sở số 1 chưa nộp phiếu")
    assert len(texts["802"]) == 2  # the deputy is an official: d-1 and the overdue notice


async def test_no_head_copy_when_the_plan_says_so(storage: Storage) -> None:
    world = await setup(storage, n=1)
    async with storage.unit() as u:
        await u.update_agency(world.agencies["S0"], {"head": "Nguyễn Văn Hùng"})
        hung = await u.add_user("Nguyễn Văn Hùng", world.agencies["S0"], "official")
        await u.bind_identity(hung.id, "telegram", "800", None)
        row = plan_to_row(ReminderPlan(overdue_to_head=False))
        await u.set_reminder_plan(world.campaign_id, row, local(2026, 11, 1))
    await ReminderPlanner(storage, FORMS, Clock(local(2026, 11, 27, 8))).run_once()
    texts = await texts_by_chat(storage)
    assert "800" not in texts and "700" in texts


async def _remind(world: World, when: datetime) -> None:
    await ReminderPlanner(world.storage, {FORM.id: FORM}, Clock(when)).run_once()


async def test_returned_reminder_names_the_items_and_leads_into_the_fix(storage: Storage) -> None:
    world = await make_world(storage)
    lan = await submit(world)
    async with storage.unit() as u:
        sub = await u.submission(world.ids["campaign"], world.ids["agency"])
        for old, new in ((Status.SUBMITTED, Status.IN_REVIEW), (Status.IN_REVIEW, Status.RETURNED)):
            assert await u.move_submission(sub.id, old, new, world.ids["hoa"], local(2026, 11, 21))
        at = local(2026, 11, 21)
        await u.record_verdict(sub.id, "1.8", "dat", world.ids["hoa"], at)
        await u.record_verdict(
            sub.id, "1.9", "tra_lai", world.ids["hoa"], at, comment="Link không mở được"
        )
        await u.record_verdict(sub.id, "1.10", "tra_lai", world.ids["hoa"], at, comment="Cũ")
        # A later verdict stands: 1.10 is no longer returned.
        await u.record_verdict(sub.id, "1.10", "dat", world.ids["hoa"], local(2026, 11, 21, 9))
    await lan.read()
    await _remind(world, local(2026, 11, 25, 8))
    async with storage.unit() as u:
        (row,) = [r for r in await u.keyed_rows("remind:") if r["chat_id"] == "111"]
    text = row["payload"]["text"]
    assert "có 1 mục được trả lại (1.9), chưa nộp lại" in text
    assert "1.10" not in text
    lan.last = [row["payload"]]
    fix = await lan.press("Sửa các mục bị trả lại")
    assert "1.9" in fix and "Nhận xét của Sở: Link không mở được" in fix
    # Typed, on a channel without buttons: /tiep does the same.
    assert "Nhận xét của Sở: Link không mở được" in await lan.send("/tiep")


async def test_accepted_reminder_leads_to_the_confirmation(storage: Storage) -> None:
    world = await make_world(storage)
    lan = await submit(world)
    async with storage.unit() as u:
        sub = await u.submission(world.ids["campaign"], world.ids["agency"])
        for old, new in ((Status.SUBMITTED, Status.IN_REVIEW), (Status.IN_REVIEW, Status.ACCEPTED)):
            assert await u.move_submission(sub.id, old, new, world.ids["hoa"], local(2026, 11, 21))
    await lan.read()
    await _remind(world, local(2026, 11, 25, 8))
    async with storage.unit() as u:
        (row,) = [r for r in await u.keyed_rows("remind:") if r["chat_id"] == "111"]
    assert "chưa xác nhận số liệu" in row["payload"]["text"]
    lan.last = [row["payload"]]
    shown = await lan.press("Xem và xác nhận")
    assert "Mời anh/chị xác nhận số liệu" in shown
    assert "Đã xác nhận số liệu" in await lan.press("Xác nhận số liệu")
    assert (await world.sub()).status is Status.CONFIRMED
