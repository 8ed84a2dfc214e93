"""The review loop over Telegram end to end (issue #10): the real adapter (long polling, the
outbox worker) against the fake Bot API. An official submits; the reviewer is notified with a
button, verifies, returns one item; the official fixes it by sending a document and
resubmits; the reviewer gets the document forwarded, sees old → new and accepts; the official
confirms the final data. An official pressing a forged review button is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.service import Phieu
from bot.telegram_app import make_bot, make_dispatcher
from flows.machines import Status
from flows.review import rpack
from flows.state import Answer
from storage.repository import Storage
from tests.e2e.telegram_support import (
    TOKEN,
    Polling,
    Rig,
    VirtualClock,
    deadline,
    settings_for,
    virtual_worker,
)
from tests.fakes import FakeTelegram
from tests.integration.conftest import storage as storage  # the fixture, re-exported
from tests.integration.test_review_loop import FORM, LINK_A, LINK_B

LAN, HOA = 1001, 2001
AGENCY = "Sở Thông tin và Truyền thông"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@contextlib.asynccontextmanager
async def review_rig(tg: FakeTelegram, storage: Storage) -> AsyncIterator[Rig]:
    bot = make_bot(settings_for(tg))
    clock = VirtualClock()
    try:
        phieu = Phieu(storage, {FORM.id: FORM})
        async with Polling(tg, make_dispatcher(phieu), bot) as polling:
            yield Rig(tg, storage, bot, clock, virtual_worker(storage, bot, clock), polling)
    finally:
        await bot.session.close()


async def _seed(storage: Storage) -> int:
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", AGENCY, "so")
        lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
        await u.bind_identity(lan.id, "telegram", str(LAN), "Lan")
        hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
        await u.bind_identity(hoa.id, "telegram", str(HOA), "Hoà")
        campaign = await u.add_campaign(FORM.id, FORM.version, "Năm 2026", deadline())
        sub = await u.submission(campaign.id, agency.id)
        changes = {"1.9": Answer(True, None, LINK_A), "1.10": Answer(True, None, LINK_B)}
        await u.apply_changes(sub.id, changes, lan.id, "telegram", datetime.now(UTC))
    return sub.id


async def _status(storage: Storage, sub_id: int) -> Status:
    async with storage.unit() as u:
        sub = await u.submission_by_id(sub_id)
    assert sub is not None
    return sub.status


async def test_the_review_loop_over_telegram(tg: FakeTelegram, storage: Storage) -> None:
    sub_id = await _seed(storage)
    async with review_rig(tg, storage) as rig:
        lan, hoa = rig.chat(LAN, "Lan"), rig.chat(HOA, "Hoà")

        # The official answers the last item and submits.
        await lan.say("/sua 1.8")
        await lan.say("30")
        await lan.say("/nop")
        shown = await lan.press("Nộp phiếu")
        assert any("📤 Đã nộp phiếu." in t for t in shown)

        # A forged review button from the official: refused, nothing moves.
        shown = await lan.act(await lan.user.send_text("/thamdinh"))
        assert "dành cho cán bộ thẩm định" in shown[-1]

        # The reviewer got the notice with its button.
        notice = hoa.last()
        assert notice["text"].startswith(f"📥 {AGENCY} đã nộp phiếu “Phiếu thử”. Mời thẩm định.")
        assert "Đã trả lời 3/3 mục; 2 mục có minh chứng cần xem." in notice["text"]
        assert hoa.buttons() == ["🔎 Bắt đầu thẩm định"]
        shown = await hoa.press("Bắt đầu thẩm định")
        assert "1.9. Cơ quan có mạng LAN" in shown[-1] and LINK_A in shown[-1]
        assert hoa.buttons()[:4] == ["✅ Đạt", "❌ Không đạt", "↩️ Trả lại", "✏️ Sửa"]
        shown = await hoa.press("✅ Đạt")
        assert "1.10. Có cổng thông tin điện tử" in shown[-1]
        await hoa.press("↩️ Trả lại")
        shown = await hoa.say("Link không mở được")
        assert "gửi phiếu về cơ quan để sửa?" in shown[-1]
        await hoa.press("Trả phiếu về cơ quan")
        assert await _status(storage, sub_id) is Status.RETURNED

        # The official: one message, just the returned item; fixes it with a document.
        returned = lan.last()
        assert returned["text"].startswith(f"↩️ Sở TTTT trả lại phiếu của {AGENCY}: cần sửa 1 mục.")
        assert "• 1.10: Link không mở được" in returned["text"]
        shown = await lan.press("Sửa các mục bị trả lại")
        assert "Nhận xét của Sở: Link không mở được" in shown[-1]
        doc = await lan.user.send_document(
            file_id="BQACAgIAAxkDOC001", file_name="gioi-thieu.pdf", content=b"%PDF-1.4 cong"
        )
        shown = await lan.act(doc)
        assert "Đã lưu 1.10: Có · gioi-thieu.pdf" in shown[0]
        await lan.press("Nộp lại")
        assert await _status(storage, sub_id) is Status.RESUBMITTED

        # The reviewer: old → new, the document forwarded, then accept.
        assert "đã nộp lại phiếu" in hoa.last()["text"]
        before = len(tg.sent(HOA))
        await hoa.press("Bắt đầu thẩm định")
        sent = tg.sent(HOA)[before:]
        card = next(m for m in sent if "1.10." in m["text"])
        assert "🔁 Đã sửa: Có → Có" in card["text"] and f"Minh chứng cũ: {LINK_B}" in card["text"]
        forwarded = [m for m in sent if "document" in m]
        assert [m["document"]["file_id"] for m in forwarded] == ["BQACAgIAAxkDOC001"]
        await hoa.press_on(card["message_id"], "✅ Đạt")
        shown = await hoa.press("Chấp nhận phiếu")
        assert any("✅ Đã chấp nhận phiếu" in t for t in shown)

        # The official confirms the final data.
        assert "Mời anh/chị xác nhận số liệu" in lan.last()["text"]
        shown = await lan.press("Xác nhận số liệu")
        assert "🔒 Đã xác nhận số liệu" in shown[-1]
        assert await _status(storage, sub_id) is Status.CONFIRMED
        # An old review button pressed now is refused, nothing moves.
        shown = await lan.act(await lan.user.press_on(returned["message_id"], "Sửa các mục"))
        assert await _status(storage, sub_id) is Status.CONFIRMED
        assert rpack(sub_id, "fix") != ""
        assert tg.violations == []
