"""A reviewer's correction ("✏️ Sửa") of a table cell, an open list, a date, through
Phieu.handle on SQLite and PostgreSQL (issue #10): the value is read by the item's own parser
(its example on a mistake), shown old → new, stored as the verdict's corrected Answer (the
official's answer kept), and read back as the item's type."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.service import Phieu
from flows.review import rpack
from flows.state import Answer
from storage import Storage
from tests.engine_driver import inline_form
from tests.integration.conftest import storage as storage  # the fixture, re-exported
from tests.integration.test_review_loop import START, Chat, Clock

FORM = inline_form("""
sections:
  - id: "4"
    title: Đầu tư
    items:
      - id: "4.2"
        type: table
        text: Kinh phí chi cho CNTT
        columns:
          - {id: "y2018", text: "Năm 2018", type: decimal, unit: "Tr.đ"}
          - {id: "co", text: "Có", type: yes_no}
        rows:
          - {id: "1", text: Hạ tầng}
          - {id: "2", text: Phần mềm}
      - id: "5.4"
        type: list
        text: Phần mềm dùng chung
        columns:
          - {id: ten, text: Tên phần mềm, type: text}
          - {id: so, text: Số máy cài, type: integer, unit: máy}
      - {id: "4.3", type: date, text: Ngày ban hành kế hoạch}
""")
ANSWERS = {
    "4.2.1.y2018": Answer(120),
    "4.2.1.co": Answer(True),
    "4.2.2.y2018": Answer(80),
    "4.2.2.co": Answer(False),
    "5.4": Answer([{"ten": "Một cửa điện tử", "so": 10}]),
    "4.3": Answer("2019-01-15"),
}


async def opened(storage: Storage) -> tuple[Chat, int]:
    """Submitted by its official, opened by a reviewer: (the reviewer's chat, submission)."""
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
        lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
        await u.bind_identity(lan.id, "telegram", "111", "Lan")
        hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
        await u.bind_identity(hoa.id, "telegram", "501", "Hoà")
        campaign = await u.add_campaign(FORM.id, FORM.version, "Năm 2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
        await u.apply_changes(sub.id, ANSWERS, lan.id, "telegram", START)
    phieu = Phieu(storage, {FORM.id: FORM}, clock=Clock(START), scales={})
    official = Chat(phieu, "telegram", "111")
    await official.send("/nop")
    assert "📤 Đã nộp phiếu." in await official.press("Nộp phiếu")
    reviewer = Chat(phieu, "telegram", "501")
    await reviewer.send(payload=rpack(sub.id, "open"))
    return reviewer, sub.id


async def correct(reviewer: Chat, item: str, *typed: str) -> list[str]:
    """Open `item`, press Sửa, type each of `typed` (values, then the reason): the replies."""
    await reviewer.send(item)
    said = [await reviewer.press("Sửa")]
    for text in typed:
        said.append(await reviewer.send(text))
    return said


async def standing(storage: Storage, sub_id: int) -> tuple[dict[str, Any], dict[str, Answer]]:
    async with storage.unit() as u:
        verdicts = await u.item_verdicts(sub_id)
        answers = await u.load_answers(sub_id)
    return {i: v.corrected for i, v in verdicts.items()}, answers


async def test_a_table_cell_is_corrected_by_its_own_parser(storage: Storage) -> None:
    reviewer, sub_id = await opened(storage)
    asked, wrong, shown, done = await correct(
        reviewer, "4.2.1.y2018", "một trăm", "150,5", "Theo quyết toán 2018"
    )
    assert "✏️ Gõ giá trị đúng cho mục" in asked and "Ví dụ" in asked
    assert "Ví dụ" in wrong
    assert "Giá trị sửa: 120 Tr.đ → 150,5 Tr.đ" in shown
    assert "Đã ghi:" in done and "✏️ Sửa" in done
    # A yes/no cell of the same table: "không" read as False.
    *_, shown, _ = await correct(reviewer, "4.2.1.co", "không", "Chưa có hạ tầng riêng")
    assert "Giá trị sửa: Có → Không" in shown
    corrected, answers = await standing(storage, sub_id)
    assert corrected["4.2.1.y2018"] == Answer(150.5)
    assert corrected["4.2.1.co"] == Answer(False)
    assert answers["4.2.1.y2018"] == Answer(120)  # the official's value kept


async def test_an_open_list_is_corrected_as_rows(storage: Storage) -> None:
    reviewer, sub_id = await opened(storage)
    asked, wrong = await correct(reviewer, "5.4", "Quản lý văn bản; ba mươi")
    assert "mỗi dòng một hàng" in asked
    assert "Ví dụ" in wrong  # the row's count is read as an integer
    shown = await reviewer.send("Một cửa điện tử; 12\nQuản lý văn bản; 30")
    assert "Giá trị sửa:" in shown and "Quản lý văn bản" in shown and "30" in shown
    await reviewer.send("Theo biên bản kiểm tra")
    corrected, answers = await standing(storage, sub_id)
    assert corrected["5.4"] == Answer(
        [{"ten": "Một cửa điện tử", "so": 12}, {"ten": "Quản lý văn bản", "so": 30}]
    )
    assert answers["5.4"] == ANSWERS["5.4"]


async def test_an_open_list_corrected_to_none(storage: Storage) -> None:
    reviewer, sub_id = await opened(storage)
    *_, shown, _ = await correct(reviewer, "5.4", "không có", "Phần mềm chưa triển khai")
    assert "Giá trị sửa:" in shown
    corrected, _ = await standing(storage, sub_id)
    assert corrected["5.4"] == Answer([])


async def test_a_date_is_corrected_and_read_back_as_a_date(storage: Storage) -> None:
    reviewer, sub_id = await opened(storage)
    *_, shown, _ = await correct(reviewer, "4.3", "20/02/2019", "Theo văn bản gốc")
    assert "Giá trị sửa: 15/01/2019 → 20/02/2019" in shown
    corrected, _ = await standing(storage, sub_id)
    assert corrected["4.3"] == Answer("2019-02-20")


async def test_an_official_fixes_a_returned_list_as_rows(storage: Storage) -> None:
    reviewer, sub_id = await opened(storage)
    await reviewer.send("5.4")
    await reviewer.press("Trả lại")
    await reviewer.send("Thiếu phần mềm quản lý văn bản")
    await reviewer.send(payload=rpack(sub_id, "return"))
    official = Chat(reviewer.phieu, "telegram", "111")
    await official.read()
    asked = await official.press("Sửa các mục bị trả lại")
    assert "Nhận xét của Sở: Thiếu phần mềm quản lý văn bản" in asked
    assert "Ví dụ" in await official.send("Quản lý văn bản; ba mươi")
    said = await official.send("Một cửa điện tử; 10\nQuản lý văn bản; 30")
    assert "Đã lưu" in said
    _, answers = await standing(storage, sub_id)
    assert answers["5.4"] == Answer(
        [{"ten": "Một cửa điện tử", "so": 10}, {"ten": "Quản lý văn bản", "so": 30}]
    )
