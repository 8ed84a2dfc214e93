"""/diem in chat (issue #12) on SQLite and PostgreSQL: an agency's official reads the
provisional score, the sections and the five places where most points are lost; reviewer
verdicts recorded in storage count; the command changes no answer and no position."""

from __future__ import annotations

from typing import Any

import yaml

from bot.service import Phieu
from flows.state import Answer
from scoring.scales import parse_scale
from storage import Storage
from tests.engine_driver import inline_form
from tests.integration.test_service import NOW, make_world

FORM = inline_form("""
sections:
  - id: "1"
    title: Hạ tầng
    items:
      - {id: "1.1", type: integer, text: Số cán bộ, unit: người}
      - {id: "1.2", type: integer, text: Số máy tính, unit: máy}
      - {id: "1.3", type: yes_no, text: Có mạng LAN}
  - id: "2"
    title: Website
    items:
      - {id: "2.1", type: integer, text: Tin bài trong năm, evidence: link}
      - {id: "2.2", type: yes_no, text: Có kế hoạch, evidence: document}
""")

SCALE = parse_scale(
    yaml.safe_load("""
format: 1
form: t
version: 1
name: Thang thử
illustrative: true
maximum: 100
sections:
  - id: "1"
    title: Hạ tầng
    max: 50
    criteria:
      - {id: "1.2", text: Máy tính/cán bộ, rule: ratio, max: 40, items: ["1.2"], per: ["1.1"],
         zero: zero}
      - {id: "1.3", text: Mạng LAN, rule: yes_no, max: 10, item: "1.3"}
  - id: "2"
    title: Website
    max: 50
    criteria:
      - {id: "2.1", text: Tin bài, rule: bands, max: 30, items: ["2.1"], posts: true,
         steps: [{min: 10, points: 30}, {min: 1, points: 10}]}
      - {id: "2.2", text: Kế hoạch, rule: yes_no, max: 20, item: "2.2"}
"""),
    "thu.yaml",
    FORM,
)


async def world_with_scale(storage: Storage) -> Any:
    world = await make_world(storage, {"t": FORM})
    world.phieu = Phieu(storage, {"t": FORM}, clock=lambda: NOW, scales={"t": SCALE})
    return world


async def test_diem_shows_provisional_score_sections_and_losses(storage: Storage) -> None:
    world = await world_with_scale(storage)
    lan = world.chat("telegram", "111")
    await lan.send("/sua 1.1")
    await lan.send("40")
    await lan.send("30")  # 1.2, asked next
    await lan.send("có")  # 1.3
    assert "minh chứng" in await lan.send("12")  # 2.1: a link is asked
    await lan.send("/bo")
    before = await lan.state()
    answers = await world.answers()
    text = await lan.send("/diem")
    assert "📊 Điểm tạm tính của Sở Thông tin và Truyền thông" in text
    assert "Thang điểm: Thang thử (minh họa)" in text
    assert "Tổng: 40/100 điểm (chỉ số 0,4)" in text
    assert "• Mục 1. Hạ tầng: 40/50" in text and "• Mục 2. Website: 0/50" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("Mục ")]
    assert lines == [
        "Mục 2.1: 0/30 — chưa có link",
        "Mục 2.2: 0/20 — để trống",
        "Mục 1.2: 30/40 — tỉ lệ 30/40",
    ]
    assert await world.answers() == answers  # /diem changes nothing
    after = await lan.state()
    assert (after.mode, after.item) == (before.mode, before.item)


async def test_diem_counts_the_reviewers_verdicts(storage: Storage) -> None:
    world = await world_with_scale(storage)
    lan = world.chat("telegram", "111")
    await lan.send("/sua 2.2")
    await lan.send("có")
    await lan.send("số 12/KH-UBND ngày 15/01/2026, https://stttt.binhdinh.gov.vn/kh.pdf")
    await lan.send("/sua 1.1")
    await lan.send("40")
    await lan.send("40")
    assert "Mục 2.2" not in await lan.send("/diem")  # full marks: not a loss
    sub = await world.submission()
    async with storage.unit() as u:
        reviewer = await u.add_user("Thẩm Định", None, "reviewer")
        await u.record_verdict(sub.id, "2.2", "khong_dat", reviewer.id, NOW, comment="link hỏng")
        await u.record_verdict(
            sub.id, "1.2", "sua", reviewer.id, NOW, comment="đếm lại", corrected=Answer(20)
        )
    text = await lan.send("/diem")
    assert "Mục 2.2: 0/20 — thẩm định: minh chứng không đạt (link hỏng)" in text
    assert "Mục 1.2: 20/40 — tỉ lệ 20/40; số liệu đã được thẩm định điều chỉnh" in text
    english = await lan.send("/lang en") + await lan.send("/score")
    assert "Provisional score of" in english
    assert "Item 2.2: 0/20 — reviewer: evidence not accepted (link hỏng)" in english


async def test_diem_without_a_scale_says_so(storage: Storage) -> None:
    world = await make_world(storage, {"t": FORM})
    world.phieu = Phieu(storage, {"t": FORM}, clock=lambda: NOW, scales={})
    text = await world.chat("telegram", "111").send("/diem")
    assert "Phiếu này chưa có thang điểm" in text


async def test_diem_on_the_binh_dinh_form_uses_its_illustrative_scale(storage: Storage) -> None:
    world = await make_world(storage)
    text = await world.chat("telegram", "111").send("/diem")
    assert "Thang điểm ứng dụng CNTT sở, ban, ngành — Bình Định 2019 (minh họa)" in text
    assert "Tổng: 0/1.000 điểm" in text
    assert len([ln for ln in text.splitlines() if ln.startswith("Mục ")]) == 5


BEST_SCALE = parse_scale(
    yaml.safe_load("""
format: 1
form: t
version: 1
name: Thang so sánh
maximum: 10
sections:
  - id: "1"
    title: Hạ tầng
    max: 10
    criteria:
      - {id: "1.2", text: Máy tính so với đơn vị cao nhất, rule: ratio_to_best, max: 10,
         items: ["1.2"], zero: zero}
"""),
    "so_sanh.yaml",
    FORM,
)


async def test_diem_compares_with_the_best_other_agency_of_the_cohort(storage: Storage) -> None:
    """The bug: /diem measured a ratio_to_best criterion against the agency itself (always
    full marks). It is measured against the other agencies' current answers, in the same
    cohort only (one query), and says the figure is provisional."""
    world = await make_world(storage, {"t": FORM})
    world.phieu = Phieu(storage, {"t": FORM}, clock=lambda: NOW, scales={"t": BEST_SCALE})
    async with storage.unit() as u:
        for code, name, cohort, chat in (
            ("SNV", "Sở Nội vụ", "so", "222"),
            ("UBND-AN", "UBND huyện An Lão", "huyen", "333"),
        ):
            other = await u.add_agency(code, name, cohort)
            user = await u.add_user(f"Cán bộ {code}", other.id, "official")
            await u.bind_identity(user.id, "telegram", chat, "X")
    lan, noi_vu, huyen = (world.chat("telegram", c) for c in ("111", "222", "333"))
    for chat, pcs in ((lan, "30"), (huyen, "200")):
        await chat.send("/sua 1.2")
        await chat.send(pcs)
    alone = await lan.send("/diem")  # the other agency of the cohort has not answered
    assert "Tổng: 10/10 điểm" in alone
    assert "Lưu ý: mục 1.2 chưa có đơn vị nào khác trong khối trả lời" in alone
    await noi_vu.send("/sua 1.2")
    await noi_vu.send("60")  # a draft: current answers count
    text = await lan.send("/diem")
    assert "Tổng: 5/10 điểm" in text  # 30 against 60, not against 200 (another cohort)
    assert "Mục 1.2: 5/10 — tạm tính: 30 so với cao nhất khối hiện nay 60" in text
    assert "Lưu ý: mục 1.2 so với đơn vị cao nhất khối" in text
