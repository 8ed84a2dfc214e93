"""Review and reminders reach a Zalo-only person (issue #13, Done when), through the real
Zalo channel, outbox worker and transport against FakeZalo: the reviewer's submission
notice (bot/review/desk.py notify_submitted) and the planner's reminder
(bot/workers/reminders.py) arrive as plain numbered text — Zalo has no buttons — and the
reviewer works by typing numbers: "1" opens the submission, "1" on an item card is its
first choice (Đạt), a typed number picks "Trả lại" and the decision.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.service import Phieu
from bot.workers.reminders import ReminderPlanner
from flows.loader import builtin_forms
from flows.machines import Status
from flows.state import Answer
from storage.repository import Storage
from tests.e2e.telegram_support import deadline
from tests.e2e.zalo_support import number_of, zalo_rig
from tests.fakes.zalo_api import FakeZalo
from tests.integration.conftest import storage as storage  # the fixture, re-exported
from tests.integration.test_review_loop import FORM, LINK_A, LINK_B

LAN = "a0b1c2d3e4f5a6b7c8d9"
HOA = "f9e8d7c6b5a4f3e2d1c0"
AGENCY = "Sở Thông tin và Truyền thông"
VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


def plain(zalo: FakeZalo, user: str) -> None:
    """Everything sent to `user` was a plain text message (no markup of any kind)."""
    sent = [s for s in zalo.sent if s.chat_id == user]
    assert sent and all(s.text for s in sent)
    assert not any("reply_markup" in body for m, body in zalo.calls if m == "sendMessage")


async def test_a_zalo_only_reviewer_is_notified_and_reviews_by_typing_numbers(
    zalo: FakeZalo, storage: Storage, tmp_path: Path
) -> None:
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", AGENCY, "so")
        lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
        await u.bind_identity(lan.id, "zalo", LAN, "Lan")
        hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
        await u.bind_identity(hoa.id, "zalo", HOA, "Hoà")  # Zalo only
        campaign = await u.add_campaign(FORM.id, FORM.version, "Năm 2026", deadline())
        sub = await u.submission(campaign.id, agency.id)
        changes = {"1.9": Answer(True, None, LINK_A), "1.10": Answer(True, None, LINK_B)}
        await u.apply_changes(sub.id, changes, lan.id, "zalo", datetime.now(UTC))

    async with zalo_rig(zalo, storage, tmp_path, Phieu(storage, {FORM.id: FORM})) as rig:
        on_lan, on_hoa = rig.chat(LAN, "Lan"), rig.chat(HOA, "Hoà")
        await on_lan.say("/sua 1.8")
        await on_lan.say("30")
        shown = await on_lan.say("/nop")
        shown = await on_lan.say(number_of(shown[-1], "Nộp phiếu"))
        assert any("📤 Đã nộp phiếu." in t for t in shown), shown

        # the notice reached the Zalo-only reviewer, its button as a numbered choice
        [notice] = zalo.texts_to(HOA)
        assert notice.startswith(f"📥 {AGENCY} đã nộp phiếu “Phiếu thử”. Mời thẩm định.")
        assert "1. 🔎 Bắt đầu thẩm định" in notice

        shown = await on_hoa.say("1")  # opens the submission
        card = shown[-1]
        assert "1.9. Cơ quan có mạng LAN" in card and LINK_A in card
        assert number_of(card, "Đạt") == "1"  # the first choice, and a typed 1 picks it
        shown = await on_hoa.say("1")
        assert "1.10. Có cổng thông tin điện tử" in shown[-1]
        async with storage.unit() as u:
            verdicts = await u.item_verdicts(sub.id)
        assert verdicts["1.9"].verdict == "dat" and verdicts["1.9"].reviewer_id == hoa.id

        await on_hoa.say(number_of(shown[-1], "Trả lại"))
        shown = await on_hoa.say("Link không mở được")
        assert "gửi phiếu về cơ quan để sửa?" in shown[-1]
        await on_hoa.say(number_of(shown[-1], "Trả phiếu về cơ quan"))
        async with storage.unit() as u:
            again = await u.submission_by_id(sub.id)
        assert again is not None and again.status is Status.RETURNED

        # the official hears it on Zalo too, one message with the item
        returned = [t for t in zalo.texts_to(LAN) if t.startswith("↩️ Sở TTTT trả lại phiếu")]
        assert len(returned) == 1 and "• 1.10: Link không mở được" in returned[0]
        # a number out of range is not taken as a choice: nothing moves, a polite answer
        shown = await on_hoa.say("99")
        assert shown and all("Traceback" not in t for t in shown)

    plain(zalo, HOA)
    assert zalo.violations == []


async def test_a_zalo_only_official_gets_the_reminder_as_text(
    zalo: FakeZalo, storage: Storage, tmp_path: Path
) -> None:
    form = builtin_forms()["binh-dinh-2019-so"]
    async with storage.unit() as u:
        camp = await u.add_campaign(form.id, form.version, "CQĐT 2026", date(2026, 11, 26))
        agency = await u.add_agency("S0", "Sở số 0", "so")
        lan = await u.add_user("Cán bộ Zalo", agency.id, "official")
        await u.bind_identity(lan.id, "zalo", LAN, "Lan")  # Zalo only
    at = datetime(2026, 11, 19, 8, 0, tzinfo=VN).astimezone(UTC)  # d-7, 08:00
    planner = ReminderPlanner(storage, builtin_forms(), lambda: at)
    assert await planner.run_once() == 1
    async with zalo_rig(zalo, storage, tmp_path) as rig:
        await rig.drain()
    [text] = zalo.texts_to(LAN)
    assert "Sở số 0" in text or "CQĐT 2026" in text, text
    assert "26/11/2026" in text, text
    assert camp.id and "[" not in text.splitlines()[0]
    plain(zalo, LAN)
    assert zalo.violations == []
