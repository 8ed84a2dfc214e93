"""Reviewer-scored criteria entered during review (issue #12), through Phieu.handle on SQLite
and PostgreSQL: asked after the items when the form is to be accepted, typed forgivingly,
refused politely, entered again from the decision, required before accepting; stored with
who, when and the channel; used by scoring (load_facts, as `phieu score`) and /diem."""

from __future__ import annotations

import yaml

from bot.cli.score import load_facts
from bot.service import Phieu
from flows.machines import Status
from flows.review import rpack
from scoring.scales import parse_scale
from scoring.score import score_submission
from storage import Storage
from tests.integration.conftest import storage as storage  # the fixture, re-exported
from tests.integration.test_review_loop import FORM, START, Chat, Clock, World, make_world, submit

SCALE = parse_scale(
    yaml.safe_load("""
format: 1
form: t
version: 1
name: Thang thử
maximum: 40
sections:
  - id: "1"
    title: Chung
    max: 40
    criteria:
      - {id: "1.9", text: Mạng LAN, rule: yes_no, max: 10, item: "1.9"}
      - {id: "1.10", text: Cổng thông tin, rule: yes_no, max: 10, item: "1.10"}
      - {id: "HQ", text: Hiệu quả đầu tư CNTT, rule: manual, max: 20}
"""),
    "thu.yaml",
    FORM,
)
ASKED = "🧮 Chấm điểm tiêu chí HQ: Hiệu quả đầu tư CNTT (0–20 điểm)."


async def scored_world(storage: Storage) -> tuple[World, Chat]:
    """The review loop's world with a scale for its form; submitted, and opened by Hoà."""
    world = await make_world(storage)
    world.phieu = Phieu(storage, {FORM.id: FORM}, clock=Clock(START), scales={FORM.id: SCALE})
    await submit(world)
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.read()
    await hoa.send(payload=rpack(world.ids["sub"], "open"))
    return world, hoa


async def test_points_are_asked_after_the_items_and_stored_with_history(
    storage: Storage,
) -> None:
    world, hoa = await scored_world(storage)
    assert "1.10" in await hoa.press("Đạt")
    text = await hoa.press("Đạt")
    assert ASKED in text and "Gõ số điểm, ví dụ: 15" in text
    assert "Chấp nhận phiếu?" not in text
    # Words and points out of range: refused with an example, still asked.
    assert "Điểm phải là một số từ 0 đến 20.\nVí dụ: 15" in await hoa.send("mười lăm")
    assert "25 điểm vượt mức tối đa 20 của tiêu chí." in await hoa.send("25")
    text = await hoa.send("7,5")
    assert "Đã ghi điểm tiêu chí HQ: 7.5/20." in text
    assert "🧮 Tiêu chí HQ (thẩm định chấm): 7.5/20 điểm." in text and "Chấp nhận phiếu?" in text
    # Entered again from the decision: the standing points are shown.
    text = await hoa.press("Chấm lại HQ")
    assert ASKED in text and "Điểm đang ghi: 7.5." in text
    assert "Đã ghi điểm tiêu chí HQ: 15/20." in await hoa.send("15 điểm")
    assert "✅ Đã chấp nhận phiếu" in await hoa.press("Chấp nhận phiếu")
    assert (await world.sub()).status is Status.ACCEPTED
    async with storage.unit() as u:
        history = await u.manual_score_history(world.ids["sub"], "HQ")
        assert await u.manual_scores(world.ids["sub"]) == {"HQ": 15.0}
        _, facts = await load_facts(u, world.ids["campaign"])
    assert [(h.points, h.reviewer_id, h.channel) for h in history] == [
        (7.5, world.ids["hoa"], "telegram"),
        (15.0, world.ids["hoa"], "telegram"),
    ]
    assert history[0].at < history[1].at
    sttt = next(f for f in facts if f.code == "STTTT")
    points = {c.id: c.points for c in score_submission(SCALE, FORM, sttt).criteria}
    assert points == {"1.9": 10, "1.10": 10, "HQ": 15}
    # The official's /diem counts them too.
    said = await Chat(world.phieu, "telegram", "111").send("/diem")
    assert "Tổng: 35/40 điểm" in said and "Mục HQ: 15/20 — thẩm định chấm" in said


async def test_accepting_without_the_points_asks_for_them(storage: Storage) -> None:
    world, hoa = await scored_world(storage)
    await hoa.press("Đạt")
    await hoa.press("Đạt")
    text = await hoa.send(payload=rpack(world.ids["sub"], "accept"))  # an old "accept" button
    assert "Còn tiêu chí chưa chấm điểm: HQ; chấm rồi mới chấp nhận được." in text
    assert ASKED in text
    assert (await world.sub()).status is Status.IN_REVIEW


async def test_a_form_to_return_is_not_asked_for_points(storage: Storage) -> None:
    _, hoa = await scored_world(storage)
    await hoa.press("Đạt")
    await hoa.press("Trả lại")
    text = await hoa.send("Link không mở được")
    assert "gửi phiếu về cơ quan để sửa?" in text and ASKED not in text
    assert "🧮 Tiêu chí HQ (thẩm định chấm): —/20 điểm." in text


async def test_paused_on_the_points_question_resumes_there(storage: Storage) -> None:
    world, hoa = await scored_world(storage)
    await hoa.press("Đạt")
    assert ASKED in await hoa.press("Đạt")
    assert "⏸ Đã lưu chỗ đang thẩm định" in await hoa.press("Tạm dừng")
    assert "Đang thẩm định" in await hoa.send("/thamdinh")
    assert ASKED in await hoa.press("▶️ Sở Thông tin")
    assert "Đã ghi điểm tiêu chí HQ: 20/20." in await hoa.send("20/20")
    async with storage.unit() as u:
        assert await u.manual_scores(world.ids["sub"]) == {"HQ": 20.0}
