"""The review loop through Phieu.handle on SQLite and PostgreSQL (issue #10): submit, notify,
verify, return one item, fix, resubmit, accept, confirm; refusals; a race of two reviewers.

Replies and notices are read from the outbox, as a channel's worker would after the commit;
buttons are pressed by sending the payload the outbox row carries.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.service import Phieu, Sender
from flows.machines import Status
from flows.review import LinkView, rpack
from flows.state import Answer, Incoming
from storage import Storage, Unit
from tests.engine_driver import inline_form

FORM = inline_form("""
sections:
  - id: "1"
    title: THÔNG TIN CHUNG
    items:
      - {id: "1.8", type: integer, text: Tổng số CBCC của khối Văn phòng, unit: người}
      - {id: "1.9", type: yes_no, text: Cơ quan có mạng LAN, evidence: link}
      - {id: "1.10", type: yes_no, text: Có cổng thông tin điện tử, evidence: link}
""")
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 09:00 in Quy Nhơn, before 26/11
LINK_A = "https://lan.binhdinh.gov.vn/qd-12"
LINK_B = "https://cong.binhdinh.gov.vn/old"
LINK_B2 = "https://cong.binhdinh.gov.vn/gioi-thieu"


_UPDATES = itertools.count(1)  # update ids, unique across the chats of a test


class Clock:
    """Each reading a second later: verdicts, returns and fixes are ordered in time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Chat:
    phieu: Phieu
    channel: str
    chat_id: str
    seen: set[int] = field(default_factory=set)
    last: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, text: str | None = None, payload: str | None = None) -> str:
        await self.phieu.handle(
            self.channel,
            self.chat_id,
            f"{self.chat_id}-{next(_UPDATES)}",
            Incoming(text=text, payload=payload),
            Sender(self.chat_id, "x", "vi"),
        )
        return await self.read()

    async def read(self) -> str:
        async with self.phieu.storage.unit() as unit:
            rows = await unit.pending_for_chat(self.channel, self.chat_id)
        fresh = [r for r in rows if r.id not in self.seen]
        self.seen.update(r.id for r in fresh)
        if fresh:
            self.last = [r.payload for r in fresh]
        return "\n".join(str(r.payload.get("text", "")) for r in fresh)

    def button(self, label: str) -> str:
        for payload in reversed(self.last):
            for lab, data in [*payload.get("choices", []), *payload.get("actions", [])]:
                if label in lab:
                    return str(data)
        have = [c[0] for p in self.last for c in [*p.get("choices", []), *p.get("actions", [])]]
        raise AssertionError(f"no button {label!r}; have {have}")

    async def press(self, label: str) -> str:
        return await self.send(payload=self.button(label))


@dataclass
class World:
    storage: Storage
    phieu: Phieu
    ids: dict[str, int]

    async def sub(self) -> Any:
        async with self.storage.unit() as u:
            return await u.submission(self.ids["campaign"], self.ids["agency"])


async def make_world(storage: Storage) -> World:
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
        other = await u.add_agency("SYT", "Sở Y tế", "so")
        lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
        await u.bind_identity(lan.id, "telegram", "111", "Lan")
        minh = await u.add_user("Phạm Minh", agency.id, "official")
        await u.bind_identity(minh.id, "telegram", "222", "Minh")
        hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
        await u.bind_identity(hoa.id, "telegram", "501", "Hoà")
        await u.bind_identity(hoa.id, "console", "console:hoa", "console")
        nam = await u.add_user("Lê Nam", None, "reviewer")
        await u.bind_identity(nam.id, "telegram", "502", "Nam")
        boss = await u.add_user("Quản trị", None, "admin")
        await u.bind_identity(boss.id, "telegram", "900", "Admin")
        campaign = await u.add_campaign(FORM.id, FORM.version, "Năm 2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
        await u.apply_changes(
            sub.id,
            {
                "1.8": Answer(30),
                "1.9": Answer(True, None, LINK_A),
                "1.10": Answer(True, None, LINK_B),
            },
            lan.id,
            "telegram",
            START,
        )
    ids = {
        "agency": agency.id,
        "other": other.id,
        "lan": lan.id,
        "hoa": hoa.id,
        "nam": nam.id,
        "campaign": campaign.id,
        "sub": sub.id,
    }
    return World(storage, Phieu(storage, {FORM.id: FORM}, clock=Clock(START)), ids)


async def submit(world: World) -> Chat:
    lan = Chat(world.phieu, "telegram", "111")
    assert "Nộp phiếu của Sở Thông tin và Truyền thông?" in await lan.send("/nop")
    assert "📤 Đã nộp phiếu." in await lan.press("Nộp phiếu")
    return lan


def good_links(monkeypatch: pytest.MonkeyPatch, *urls: str) -> None:
    """The link checker's stored results (bot/review/links.py), as it would record them."""

    async def stored(unit: Unit, wanted: Any) -> dict[str, LinkView]:
        return {u: LinkView(u, 200, u, "Quyết định 12", "text/html", 2048, 120) for u in urls}

    monkeypatch.setattr("bot.review.desk.stored_checks", stored)


async def test_the_whole_loop(storage: Storage) -> None:
    world = await make_world(storage)
    lan = await submit(world)

    # Notified: both reviewers (no assignment = all), each chat, with the facts and a button.
    hoa = Chat(world.phieu, "telegram", "501")
    notice = await hoa.read()
    assert "📥 Sở Thông tin và Truyền thông đã nộp phiếu “Phiếu thử”. Mời thẩm định." in notice
    assert "Đúng hạn." in notice
    assert "Đã trả lời 3/3 mục; 2 mục có minh chứng cần xem." in notice
    assert (
        "Sở Thông tin và Truyền thông" in await Chat(world.phieu, "console", "console:hoa").read()
    )
    assert "Mời thẩm định" in await Chat(world.phieu, "telegram", "502").read()

    # The queue, then open: in review; items with evidence first.
    assert "1. Sở Thông tin và Truyền thông" in await hoa.send("/thamdinh")
    text = await hoa.press("🔎 Sở Thông tin")
    assert "🔎 Thẩm định phiếu của Sở Thông tin và Truyền thông (Năm 2026): 2 mục cần xem." in text
    assert "1.9. Cơ quan có mạng LAN" in text and LINK_A in text
    assert "🔗 Link: đang kiểm tra…" in text
    assert (await world.sub()).status is Status.IN_REVIEW

    text = await hoa.press("Đạt")
    assert "Đã ghi: 1.9 — ✅ Đạt." in text and "1.10. Có cổng thông tin điện tử" in text
    assert "Nhập nhận xét cho mục 1.10" in await hoa.press("Trả lại")
    assert "ít nhất 3 ký tự" in await hoa.send("ok")
    text = await hoa.send("Link không mở được")
    assert "Đã ghi: 1.10 — ↩️ Trả lại." in text and "gửi phiếu về cơ quan để sửa?" in text

    text = await hoa.press("Trả phiếu về cơ quan")
    assert "↩️ Đã trả phiếu của Sở Thông tin và Truyền thông với 1 mục cần sửa" in text
    assert (await world.sub()).status is Status.RETURNED

    # ONE message to each official, listing only the returned item with the comment.
    returned = await lan.read()
    assert returned.count("↩️ Sở TTTT trả lại phiếu") == 1
    assert "• 1.10: Link không mở được" in returned and "1.9" not in returned
    minh = Chat(world.phieu, "telegram", "222")
    assert "• 1.10: Link không mở được" in await minh.read()

    # The bot asks just that item; the rest is read-only.
    text = await lan.press("Sửa các mục bị trả lại")
    assert (
        "1.10. Có cổng thông tin điện tử" in text and "Nhận xét của Sở: Link không mở được" in text
    )
    assert "Chỉ sửa được các mục bị trả lại: 1.10" in await lan.send("/sua 1.8")
    text = await lan.send(f"Có, {LINK_B2}")
    assert "Đã lưu 1.10: Có" in text and "Nộp lại phiếu cho Sở TTTT?" in text
    assert "📤 Đã nộp lại phiếu" in await lan.press("Nộp lại")
    assert (await world.sub()).status is Status.RESUBMITTED

    # The reviewer hears of it and sees old → new first.
    notice = await hoa.read()
    assert "🔁 Sở Thông tin và Truyền thông đã nộp lại phiếu" in notice
    assert "Đã sửa 1 mục bị trả lại." in notice
    text = await hoa.press("Bắt đầu thẩm định")
    assert "1 mục cần xem" in text
    assert "🔁 Đã sửa: Có → Có" in text and LINK_B2 in text and f"Minh chứng cũ: {LINK_B}" in text
    text = await hoa.press("Đạt")
    assert "Chấp nhận phiếu?" in text

    # Any item on request: a correction with a reason; the official value stays.
    text = await hoa.send("1.8")
    assert "1.8. Tổng số CBCC" in text and "Trả lời: 30 người" in text
    assert "Gõ giá trị đúng cho mục 1.8" in await hoa.press("Sửa")
    assert "Ví dụ" in await hoa.send("ba mươi hai")
    assert "Giá trị sửa: 30 người → 32 người" in await hoa.send("32")
    assert "Đã ghi: 1.8 — ✏️ Sửa." in await hoa.send("Theo báo cáo biên chế 2026")
    assert "✅ Đã chấp nhận phiếu" in await hoa.press("Chấp nhận phiếu")
    assert (await world.sub()).status is Status.ACCEPTED

    # The officials are asked to confirm, with the corrected values.
    asked = await lan.read()
    assert "Mời anh/chị xác nhận số liệu" in asked
    assert "• 1.8: 30 người → 32 người (Theo báo cáo biên chế 2026)" in asked
    assert "🔒 Đã xác nhận số liệu" in await lan.press("Xác nhận số liệu")
    sub = await world.sub()
    assert sub.status is Status.CONFIRMED
    async with storage.unit() as u:
        events = await u.submission_events(sub.id)
        verdicts = await u.item_verdicts(sub.id)
        history = await u.item_reviews(sub.id, "1.10")
        answers = await u.load_answers(sub.id)
    assert [(e.to_status.value, e.channel) for e in events] == [
        ("submitted", "telegram"),
        ("in_review", "telegram"),
        ("returned", "telegram"),
        ("resubmitted", "telegram"),
        ("in_review", "telegram"),
        ("accepted", "telegram"),
        ("confirmed", "telegram"),
    ]
    assert [e.user_id for e in events] == [
        world.ids[k] for k in ("lan", "hoa", "hoa", "lan", "hoa", "hoa", "lan")
    ]
    assert {k: v.verdict for k, v in verdicts.items()} == {
        "1.9": "dat",
        "1.10": "dat",
        "1.8": "sua",
    }
    assert verdicts["1.8"].corrected == Answer(32) and verdicts["1.8"].comment
    assert [h.verdict for h in history] == ["tra_lai", "dat"]
    assert answers["1.8"] == Answer(30)  # the official's value is kept beside the correction
    assert answers["1.10"] == Answer(True, None, LINK_B2)


async def decided(world: World, accept: bool) -> Chat:
    """Submitted by Lan; Hoà (Telegram) passes 1.9, then passes 1.10 and accepts the form,
    or returns 1.10 ("Link không mở được") and the form. Returns Lan's Telegram chat."""
    lan = await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.read()
    await hoa.send(payload=rpack(world.ids["sub"], "open"))
    await hoa.press("Đạt")
    if accept:
        await hoa.press("Đạt")
        await hoa.press("Chấp nhận phiếu")
    else:
        await hoa.press("Trả lại")
        await hoa.send("Link không mở được")
        await hoa.press("Trả phiếu về cơ quan")
    return lan


async def _in_review(world: World) -> tuple[Chat, Chat]:
    """Submitted and opened by Hoà, every item to verify settled: ready to accept."""
    lan = await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.read()
    await hoa.send(payload=rpack(world.ids["sub"], "open"))
    await hoa.press("Đạt")
    assert "Chấp nhận phiếu?" in await hoa.press("Đạt")
    return lan, hoa


async def test_officials_cannot_use_reviewer_commands(storage: Storage) -> None:
    world = await make_world(storage)
    lan = Chat(world.phieu, "telegram", "111")
    for command in ("/thamdinh", "/progress", "/tiendo"):
        assert "Lệnh này dành cho cán bộ thẩm định" in await lan.send(command)
    await submit(world)
    # A forged button (accept, a verdict) from an official: refused, nothing moves.
    for action in ("open", "accept", "v:dat:1.9", "bulk_ok"):
        text = await lan.send(payload=rpack(world.ids["sub"], action))
        assert "Nút này đã cũ" in text or "dành cho cán bộ thẩm định" in text
    assert "dành cho cán bộ thẩm định" in await lan.send(
        payload=rpack(world.ids["sub"] + 7, "open")
    )
    assert (await world.sub()).status is Status.SUBMITTED
    async with storage.unit() as u:
        assert await u.item_verdicts(world.ids["sub"]) == {}


async def test_a_reviewer_cannot_act_on_agencies_not_assigned(storage: Storage) -> None:
    world = await make_world(storage)
    async with storage.unit() as u:
        await u.assign_reviewer(
            world.ids["campaign"], world.ids["hoa"], agency_id=world.ids["agency"]
        )
        await u.assign_reviewer(
            world.ids["campaign"], world.ids["nam"], agency_id=world.ids["other"]
        )
    await submit(world)
    nam = Chat(world.phieu, "telegram", "502")
    assert await nam.read() == ""  # not notified: not his agency
    assert "Không có phiếu nào chờ thẩm định." in await nam.send("/review")
    # A stale or forged button naming the submission: refused, nothing revealed or moved.
    for action in ("open", "accept", "v:dat:1.9", "next"):
        text = await nam.send(payload=rpack(world.ids["sub"], action))
        assert "Anh/chị không được giao thẩm định phiếu này." in text
        assert "Cơ quan có mạng LAN" not in text
    assert (await world.sub()).status is Status.SUBMITTED
    # The admin may act on every agency.
    admin = Chat(world.phieu, "telegram", "900")
    assert "1.9. Cơ quan có mạng LAN" in await admin.send(payload=rpack(world.ids["sub"], "open"))
    assert (await world.sub()).status is Status.IN_REVIEW
    # Nam's progress lists only his agency.
    text = await nam.send("/progress")
    assert "Sở Y tế: chưa bắt đầu" in text and "Sở Thông tin và Truyền thông" not in text


async def test_pause_and_resume_where_the_reviewer_stopped(storage: Storage) -> None:
    world = await make_world(storage)
    await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.read()
    await hoa.send(payload=rpack(world.ids["sub"], "open"))
    await hoa.press("Đạt")  # 1.9
    assert "Đã lưu chỗ" in await hoa.press("Tạm dừng")
    text = await hoa.send("/thamdinh")
    assert "Đang thẩm định (chọn để tiếp tục):" in text
    text = await hoa.send("1")  # typed, as on the console: the first button
    assert "1.10. Có cổng thông tin điện tử" in text and "Còn 1 mục cần xem." in text


async def test_a_reviewer_typing_an_officials_command_is_told_so(storage: Storage) -> None:
    """/diem by a reviewer answered "Không có phiếu nào chờ thẩm định." (the queue, silently):
    an official's command is named as not for reviewers, with their commands, then the
    queue; in the middle of a review too, where nothing is recorded."""
    world = await make_world(storage)
    hoa = Chat(world.phieu, "telegram", "501")
    for typed in ("/diem", "/nop", "/tatnhac", "/xem 3"):
        text = await hoa.send(typed)
        name = typed.split()[0]
        assert f"Lệnh {name} không dùng cho cán bộ thẩm định." in text
        assert "/thamdinh (/review)" in text and "Không có phiếu nào chờ thẩm định." in text
    await submit(world)
    await hoa.read()
    await hoa.send(payload=rpack(world.ids["sub"], "open"))
    text = await hoa.send("/score")
    assert "Lệnh /score không dùng cho cán bộ thẩm định." in text
    async with storage.unit() as u:
        assert await u.item_verdicts(world.ids["sub"]) == {}
    assert "Chưa hiểu" in await hoa.send("xyz")  # a review still open: text is not a command
    for typed in ("/thamdinh", "/start", "/help", "/progress"):
        assert "không dùng cho cán bộ thẩm định" not in await hoa.send(typed)


async def test_accept_every_item_whose_link_answered(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_links(monkeypatch, LINK_A)  # LINK_B was never checked
    world = await make_world(storage)
    await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.read()
    text = await hoa.send(payload=rpack(world.ids["sub"], "open"))
    assert "🔗 ✅ Link: 200 · “Quyết định 12” · text/html · 2 KB · 120 ms" in text
    text = await hoa.press("Đạt hàng loạt")
    assert "Các mục có link mở được và đúng trang (1):" in text
    assert f"• 1.9: {LINK_A} — Quyết định 12" in text and "1.10" not in text.split("\n")[1]
    text = await hoa.press("Đạt tất cả các mục này")
    assert "Đã ghi Đạt cho 1 mục." in text and "1.10. Có cổng thông tin điện tử" in text
    async with storage.unit() as u:
        assert {k: v.verdict for k, v in (await u.item_verdicts(world.ids["sub"])).items()} == {
            "1.9": "dat"
        }


def test_a_redirect_to_another_site_does_not_match() -> None:
    moved = LinkView(LINK_A, 200, "https://login.example.com/", "Đăng nhập")
    assert moved.answered and not moved.matches
    assert LinkView(LINK_A, 200, LINK_A.replace("https://", "https://www.")).matches
    assert not LinkView(LINK_A, 404, LINK_A).answered
    assert not LinkView(LINK_A, None, None, error="timeout").matches


async def test_a_dispute_goes_back_to_the_reviewer(storage: Storage) -> None:
    world = await make_world(storage)
    lan, hoa = await _in_review(world)
    await hoa.press("Chấp nhận phiếu")
    await lan.read()
    assert "Sở không sửa giá trị nào." in lan.last[-1]["text"]
    assert "vì sao?" in await lan.press("Không đồng ý")
    assert "ít nhất 5 ký tự" in await lan.send("sai")
    assert "Đã gửi ý kiến" in await lan.send("Mục 1.8 là 32 người theo biên chế")
    sub = await world.sub()
    assert sub.status is Status.IN_REVIEW
    text = await hoa.read()
    assert "❗ Sở Thông tin và Truyền thông không đồng ý với số liệu đã chấp nhận" in text
    assert "Mục 1.8 là 32 người theo biên chế" in text
    async with storage.unit() as u:
        last = (await u.submission_events(sub.id))[-1]
    assert (last.from_status, last.to_status, last.note) == (
        Status.ACCEPTED,
        Status.IN_REVIEW,
        "Mục 1.8 là 32 người theo biên chế",
    )


async def test_impossible_moves_are_refused_clearly(storage: Storage) -> None:
    world = await make_world(storage)
    lan, hoa = await _in_review(world)
    assert "✅ Đã chấp nhận" in await hoa.press("Chấp nhận phiếu")
    # Pressed again (an old message): the submission is accepted; no second move.
    text = await hoa.send(payload=rpack(world.ids["sub"], "accept"))
    assert "đang ở trạng thái: đã được chấp nhận; không thẩm định được nữa" in text
    assert "🔒" in await lan.send("/xacnhan")
    text = await lan.send(payload=rpack(world.ids["sub"], "confirm"))
    assert "Nút này đã cũ" in text
    async with storage.unit() as u:
        events = await u.submission_events(world.ids["sub"])
    assert [e.to_status for e in events].count(Status.ACCEPTED) == 1
    assert [e.to_status for e in events].count(Status.CONFIRMED) == 1


async def test_two_reviewers_accepting_at_once_move_it_once(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read the submission in review before either moves it (PostgreSQL: a barrier
    inside both transactions); one compare-and-set wins, the other update runs again and
    is told the submission is accepted already."""
    world = await make_world(storage)
    await _in_review(world)
    nam = Chat(world.phieu, "telegram", "502")
    hoa = Chat(world.phieu, "telegram", "501")
    await nam.read()
    await hoa.read()
    if storage.engine.dialect.name == "postgresql":
        from bot.review.desk import ReviewDesk

        barrier = asyncio.Barrier(2)
        original = ReviewDesk._view
        calls: list[int] = []

        async def meeting(self: ReviewDesk, *args: Any) -> Any:
            view = await original(self, *args)
            calls.append(1)
            if len(calls) <= 2:  # the first reading of each: both hold IN_REVIEW
                await asyncio.wait_for(barrier.wait(), 10)
            return view

        monkeypatch.setattr(ReviewDesk, "_view", meeting)
    texts = await asyncio.gather(
        hoa.send(payload=rpack(world.ids["sub"], "accept")),
        nam.send(payload=rpack(world.ids["sub"], "accept")),
    )
    assert sum("✅ Đã chấp nhận phiếu" in t for t in texts) == 1
    assert sum("không thẩm định được nữa" in t for t in texts) == 1
    async with storage.unit() as u:
        events = await u.submission_events(world.ids["sub"])
    assert [e.to_status for e in events].count(Status.ACCEPTED) == 1
    # The officials were asked to confirm once, not twice.
    assert (await Chat(world.phieu, "telegram", "111").read()).count("Mời anh/chị xác nhận") == 1


async def test_late_submissions_are_marked(storage: Storage) -> None:
    world = await make_world(storage)
    world.phieu.clock = Clock(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))  # 3 days late
    await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    assert "⏰ Trễ hạn 3 ngày." in await hoa.read()
    assert "1. Sở Thông tin và Truyền thông ⏰ trễ 3 ngày" in await hoa.send("/thamdinh")
    text = await hoa.send("/progress")
    assert "Sở Thông tin và Truyền thông: đã nộp (trễ 3 ngày)" in text
    assert "Sở Y tế: chưa bắt đầu" in text
    assert "Tổng 2 cơ quan: chưa bắt đầu 1 · đã nộp 1" in text


async def test_progress_per_agency_and_per_cohort(storage: Storage) -> None:
    world = await make_world(storage)
    async with storage.unit() as u:
        huyen = await u.add_agency("HAN", "UBND huyện An Nhơn", "huyen")
        other = await u.submission(world.ids["campaign"], world.ids["other"])
        await u.apply_changes(other.id, {"1.8": Answer(12)}, None, "telegram", START)
        await u.submission(world.ids["campaign"], huyen.id)  # opened, nothing answered
    lan, hoa = await _in_review(world)
    del lan
    admin = Chat(world.phieu, "telegram", "900")
    text = await admin.send("/tiendo")
    assert "📊 Tiến độ “Năm 2026”" in text
    assert "Sở, ban, ngành: đang trả lời 1 · đang thẩm định 1" in text
    assert "• Sở Y tế: đang trả lời (33%)" in text
    assert "• Sở Thông tin và Truyền thông: đang thẩm định" in text
    assert "Huyện: chưa bắt đầu 1" in text and "• UBND huyện An Nhơn: chưa bắt đầu" in text
    assert "Tổng 3 cơ quan: chưa bắt đầu 1 · đang trả lời 1 · đang thẩm định 1" in text
    assert text == await hoa.send("/progress")  # no assignment: the reviewer sees all
    # An English reviewer reads it in English.
    async with storage.unit() as u:
        await u.set_user_lang(world.ids["nam"], "en")
    nam = Chat(world.phieu, "telegram", "502")
    await nam.read()
    text = await nam.send("/progress")
    assert "📊 Progress of “Năm 2026”" in text and "Sở Y tế: answering (33%)" in text


async def test_opening_an_item_rechecks_its_link_after_the_commit(storage: Storage) -> None:
    world = await make_world(storage)
    await submit(world)
    checked: list[str] = []
    done = asyncio.Event()

    async def check(url: str) -> None:
        async with storage.unit() as u:  # the reviewer's unit has committed: no deadlock
            assert (await u.submission_by_id(world.ids["sub"])) is not None
        checked.append(url)
        done.set()

    world.phieu.check_link = check
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.send(payload=rpack(world.ids["sub"], "open"))
    await asyncio.wait_for(done.wait(), 5)
    assert checked == [LINK_A]


async def test_a_long_queue_is_numbered_past_the_buttons(storage: Storage) -> None:
    """A reviewer with many agencies: 20 buttons, but every entry can be typed."""
    world = await make_world(storage)
    async with storage.unit() as u:
        subs = []
        for n in range(23):
            agency = await u.add_agency(f"X{n:02d}", f"UBND xã số {n:02d}", "xa")
            sub = await u.submission(world.ids["campaign"], agency.id)
            moved = START + timedelta(minutes=n)
            assert await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, None, moved)
            subs.append(sub.id)
    hoa = Chat(world.phieu, "telegram", "501")
    text = await hoa.send("/thamdinh")
    assert "1. UBND xã số 00" in text and "23. UBND xã số 22" in text  # oldest first
    assert len(hoa.last[-1]["choices"]) == 20
    await hoa.send("23")
    async with storage.unit() as u:
        assert (await u.submission_by_id(subs[22])).status is Status.IN_REVIEW
        assert (await u.submission_by_id(subs[0])).status is Status.SUBMITTED


async def test_a_redelivered_verdict_is_recorded_once(storage: Storage) -> None:
    world = await make_world(storage)
    await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.send(payload=rpack(world.ids["sub"], "open"))
    press = Incoming(payload=rpack(world.ids["sub"], "v:dat:1.9"))
    first = await world.phieu.handle("telegram", "501", "again-1", press, Sender("501"))
    second = await world.phieu.handle("telegram", "501", "again-1", press, Sender("501"))
    assert not first.duplicate and second.duplicate
    async with storage.unit() as u:
        assert len(await u.item_reviews(world.ids["sub"], "1.9")) == 1


async def test_items_missing_their_evidence_are_counted_and_walked_through(
    storage: Storage,
) -> None:
    """An item that needs a link but has none is neither silent in the notice nor skipped in
    the walk-through (newcomer report: reviewers never saw it)."""
    world = await make_world(storage)
    async with storage.unit() as u:
        await u.apply_changes(
            world.ids["sub"], {"1.10": Answer(True)}, world.ids["lan"], "telegram", START
        )
    await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    notice = await hoa.read()
    assert "1 mục có minh chứng cần xem." in notice
    assert "⚠️ 1 mục thiếu minh chứng (cần link/tài liệu nhưng chưa có)." in notice
    text = await hoa.press("Bắt đầu thẩm định")
    assert "2 mục cần xem." in text and "1.9. Cơ quan có mạng LAN" in text
    text = await hoa.press("Đạt")
    assert "1.10. Có cổng thông tin điện tử" in text
    assert "⚠️ Thiếu minh chứng: mục này cần link/tài liệu nhưng chưa có." in text


async def test_a_reviewer_changes_language_with_lang(storage: Storage) -> None:
    """/lang en by a reviewer went to the queue (newcomer report): it switches the chat and
    the person's language; a bad code gets the usage; /help lists it."""
    world = await make_world(storage)
    hoa = Chat(world.phieu, "telegram", "501")
    assert "/lang en (/lang vi)" in await hoa.send("/help")
    text = await hoa.send("/lang fr")
    assert "Ngôn ngữ hỗ trợ: vi, en. Ví dụ: /lang en" in text
    assert "không dùng cho cán bộ thẩm định" not in text
    text = await hoa.send("/lang en")
    assert "Switched to English." in text and "Không có phiếu" not in text
    async with storage.unit() as u:
        hoa_rec = await u.user(world.ids["hoa"])
        assert hoa_rec is not None and hoa_rec.lang == "en"
    assert "No form is waiting for review." in await hoa.send("/thamdinh")
    assert "Đã chuyển sang tiếng Việt." in await hoa.send("/ngonngu vi")
