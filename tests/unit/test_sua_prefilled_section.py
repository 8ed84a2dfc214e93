"""/sua goes to the item it names, even inside a prefilled section (NEWCOMER: `/sua 1.1` under
"Mục 1: Phiếu đã điền sẵn" showed the section card again instead of the question 1.1).

Everywhere — under the card, at the menu, after a summary, under another question — `/sua`
asks the item itself with its offered or current value and its keep button; answering it
goes on as any /sua detour (back to where the official was, else the next open item).
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from flows.machines import Mode
from flows.payload import Act, pack
from flows.state import Answer
from tests.engine_driver import Chat, inline_form

FORM = inline_form("""
sections:
  - id: "1"
    title: THÔNG TIN CHUNG
    items:
      - {id: "1.1", type: year, text: Năm báo cáo, prefill: campaign.year}
      - {id: "1.2", type: text, text: Tên cơ quan, prefill: agency.name}
      - {id: "1.4", type: phone, text: Điện thoại, prefill: agency.phone}
      - {id: "1.8", type: integer, text: Tổng số CBCC, unit: người}
  - id: "3"
    title: HẠ TẦNG
    items:
      - {id: "3.1", type: integer, text: Số CBCC có máy tính, unit: người}
      - {id: "3.2", type: integer, text: Số máy có Internet, unit: máy}
      - id: "3.8"
        type: table
        text: Giải pháp an toàn thông tin
        columns:
          - {id: co, text: Có, type: yes_no}
          - {id: so_luong, text: Số lượng, type: integer, unit: bộ}
        rows:
          - {id: "1", text: Tường lửa}
          - {id: "2", text: Phòng chống virus}
      - id: "3.9"
        type: list
        text: Phần mềm khác
        required: false
        columns:
          - {id: ten, text: Tên phần mềm, type: text, required: true}
          - {id: sl, text: Số đơn vị, type: integer}
  - id: "5"
    title: ỨNG DỤNG
    items:
      - id: "5.1"
        type: list
        text: Phần mềm dùng chung
        columns:
          - {id: ten, text: Tên phần mềm, type: text, required: true}
      - {id: "5.2", type: integer, text: Số cơ sở dữ liệu, unit: CSDL}
""")
KNOWN = {
    "campaign.year": 2027,
    "agency.name": "Sở Thông tin và Truyền thông",
    "agency.phone": "0256 3822 345",
}
LAST_YEAR = {
    "1.8": Answer(45),
    "3.1": Answer(40),
    "3.2": Answer(38),
    "3.8.1.co": Answer(True),
    "3.8.1.so_luong": Answer(2),
    "3.8.2.co": Answer(False),
    "3.9": Answer([{"ten": "Phần mềm quản lý văn bản", "sl": 12}]),
    "5.1": Answer([{"ten": "Một cửa điện tử"}]),
    "5.2": Answer(3),
}


def chat(lang: str = "vi") -> Chat:
    c = Chat(FORM)
    c.ctx = replace(c.ctx, known=KNOWN, previous=LAST_YEAR)
    if lang != "vi":
        c.say(f"/lang {lang}")
    return c


def at_card(c: Chat, section: str) -> None:
    """Open `section` from the menu: its card is shown (the state the newcomer was in)."""
    c.say("/menu")
    text = c.press(f"Mục {section}") if c.state.lang == "vi" else c.press(f"Section {section}")
    assert "Giữ nguyên cả" in text or "Keep all" in text, text


def asked(c: Chat) -> str:
    """The question Phiếu ended on: its text, and that it is a question, not the card."""
    assert c.last is not None
    last = c.last.replies[-1]
    assert last.kind == "question", last
    return last.text


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        ("1.1", "Phiếu đã điền sẵn: 2027"),
        ("1.2", "Phiếu đã điền sẵn: Sở Thông tin và Truyền thông"),
        ("1.8", "Năm trước: 45 người"),
    ],
)
def test_sua_under_the_section_card_asks_that_item_with_its_offer(item: str, shown: str) -> None:
    c = chat()
    at_card(c, "1")
    c.say(f"/sua {item}")
    text = asked(c)
    assert "Phiếu đã điền sẵn\n" not in text and "Giữ nguyên cả" not in text
    assert c.state.item == item and c.state.mode is Mode.ANSWERING
    assert shown in text
    assert c.last.replies[-1].choices[-1].label in ("✅ Đúng", "♻️ Giữ nguyên")


def test_sua_of_the_cards_own_first_item_then_the_next_item_one_by_one() -> None:
    c = chat()
    at_card(c, "1")
    c.say("/sua 1.1")
    assert "Năm báo cáo" in asked(c) and "Phiếu đã điền sẵn: 2027" in asked(c)
    assert "✅ Đã lưu 1.1: 2028" in c.say("2028")
    # the official chose to answer one by one: the next item, not the card again
    assert c.state.item == "1.2" and "Phiếu đã điền sẵn: Sở Thông tin" in asked(c)


def test_sua_of_another_item_under_the_card_comes_back_to_the_cards_item() -> None:
    c = chat()
    at_card(c, "1")
    c.say("/sua 1.4")
    assert "Phiếu đã điền sẵn: 0256 3822 345" in asked(c)
    assert "✅ Đã lưu 1.4" in c.say("0256 3999 999")
    assert c.state.item == "1.1"  # back where the official was


def test_sua_of_another_sections_item_under_the_card_returns_to_the_card() -> None:
    c = chat()
    at_card(c, "1")
    c.say("/sua 3.2")
    assert "Năm trước: 38 máy" in asked(c) and c.state.item == "3.2"
    text = c.say("39")
    assert "✅ Đã lưu 3.2: 39 máy" in text
    assert c.state.item == "1.1" and "Giữ nguyên cả" in text  # Mục 1's card, left unanswered


def test_sua_from_the_menu_of_an_unopened_prefilled_section_asks_the_item() -> None:
    c = chat()
    c.say("/menu")
    c.say("/sua 1.1")
    assert "Phiếu đã điền sẵn: 2027" in asked(c) and c.state.item == "1.1"
    c = chat()
    c.say("/menu")
    c.say("/sua 3.1")
    assert "Năm trước: 40 người" in asked(c) and "giống năm trước" not in asked(c)
    assert "✅ Đã lưu 3.1: 40 người" in c.say("giữ nguyên")
    assert c.state.item == "3.2"  # then the next open item of the section


@pytest.mark.parametrize(
    ("typed", "item"),
    [
        ("3.8", "3.8.1.co"),  # a table → its first cell, the first open item of Mục 3
        ("3.8.1 (Có)", "3.8.1.co"),
        ("3.8.1 (Số lượng)", "3.8.1.so_luong"),
        ("3.9", "3.9"),
        ("5.1", "5.1"),  # a list, the first item of Mục 5
    ],
)
def test_sua_of_table_cells_and_lists_asks_them_not_their_sections_card(
    typed: str, item: str
) -> None:
    c = chat()
    c.answers.update({"3.1": Answer(40), "3.2": Answer(38)})
    c.say("/menu")
    c.say(f"/sua {typed}")
    text = asked(c)
    assert c.state.item == item and "giống năm trước" not in text
    assert c.state.mode is Mode.ANSWERING


def test_sua_of_a_list_then_answering_goes_on_in_its_section() -> None:
    c = chat()
    c.say("/menu")
    c.say("/sua 5.1")
    assert "Một cửa điện tử" in asked(c)
    assert "✅ Đã lưu 5.1" in c.press("Giữ nguyên")  # last year's row, kept
    assert c.state.item == "5.2" and "Năm trước: 3 CSDL" in asked(c)


def test_sua_during_the_summary_fix_ups_asks_the_item() -> None:
    c = chat()
    c.say("/xem")
    assert c.state.mode is Mode.REVIEWING
    c.say("/sua 1.1")
    assert "Phiếu đã điền sẵn: 2027" in asked(c) and c.state.item == "1.1"


@pytest.mark.parametrize("typed", ["9.9", "1.9", "abc"])
def test_an_unknown_number_under_the_card_says_so_and_keeps_the_card(typed: str) -> None:
    c = chat()
    at_card(c, "1")
    text = c.say(f"/sua {typed}")
    assert f"Không có mục “{typed}”. Gõ số mục như trên phiếu, ví dụ: /sua 1.1" in text
    assert "Giữ nguyên cả 4 câu" in text  # the card again, still answerable
    assert "Đã giữ nguyên 4 câu của Mục 1." in c.say("1")


def test_sua_alone_says_how_to_use_it() -> None:
    c = chat()
    at_card(c, "1")
    text = c.say("/sua")
    assert "Gõ /sua và số mục muốn sửa, ví dụ: /sua 1.1" in text
    assert "Không có mục “”" not in text


def test_help_under_the_card_leaves_the_card_to_answer() -> None:
    c = chat()
    at_card(c, "1")
    c.say("/help")
    assert "Đã giữ nguyên 4 câu của Mục 1." in c.say("1")


def test_english_edit_under_the_card_asks_the_item() -> None:
    c = chat("en")
    at_card(c, "1")
    c.say("/edit 1.1")
    text = asked(c)
    assert c.state.item == "1.1" and "Keep all" not in text
    assert "2027" in text and c.last.replies[-1].choices[-1].label == "✅ Correct"
    text = c.say("/edit 9.9")
    assert "There is no item “9.9”" in text and "for example: /edit 1.1" in text
    assert re.search(r"[À-ỹ]", text.split("\n")[0]) is None, text  # no Vietnamese left
    assert "Type /edit and the number of the item" in c.say("/edit")


def test_an_edit_button_goes_to_the_item_too() -> None:
    """ "✏️ Sửa 1.1" (a check's fix button, the summary's) is /sua pressed: no card first."""
    c = chat()
    c.say("/menu")
    c.send(payload=pack(Act.EDIT, "1.1"))
    assert "Phiếu đã điền sẵn: 2027" in asked(c) and c.state.item == "1.1"
