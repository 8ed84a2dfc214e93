"""Navigation fixes found by a newcomer (/work/wt/NEWCOMER.md items 2, 3, 10), on the real
form binh-dinh-2019-so: /sua takes the numbers the bot shows, a table is finished before
skipped questions come back, and commands keep the official's place."""

from __future__ import annotations

import re

import pytest

from flows.machines import Mode
from tests.engine_driver import Chat
from tests.unit.test_conversation_issue7 import SO

# Mục 3 from the menu up to table 3.8, skipping 3.2.b.3 on the way (NEWCOMER #2).
_TO_TABLE_3_8 = [
    *("4", "40", "100", "40", "10", "10", "/bo", "0", "1", "1", "2", "3", "3"),
    *("khong", "có", "2", "khong", "khong", "khong", "2", "có"),
]


def _started() -> Chat:
    chat = Chat(SO)
    chat.say("/start")
    return chat


# ---- #3: /sua accepts what /xem and the headers show ----------------------------------------
@pytest.mark.parametrize(
    ("typed", "item"),
    [
        ("4.2", "4.2.1.2018"),  # a table → its first cell
        ("5.4", "5.4.1.ten_phan_mem"),
        ("3.8.1", "3.8.1.co"),  # a row → its first cell
        ("4.2.3", "4.2.3.2018"),
        ("3.8.1 (Số lượng)", "3.8.1.so_luong"),  # a cell's label, as /xem shows it
        ("3.8.1 (so luong)", "3.8.1.so_luong"),  # accents and case do not matter
        ("3.8.1 (SỐ LƯỢNG)", "3.8.1.so_luong"),
        ("4.2.3 (2019)", "4.2.3.2019"),
        ("5.4.2 (Nhà cung cấp)", "5.4.2.nha_cung_cap"),
        ("3.8.1.so_luong", "3.8.1.so_luong"),  # the id itself still works
        ("3.2.b.3", "3.2.b.3"),
        ("4.1.5.", "4.1.5"),
    ],
)
def test_sua_takes_groups_tables_rows_and_cell_labels(typed: str, item: str) -> None:
    chat = _started()
    chat.say("/sua 3.8")
    chat.say("có")  # table 3.8 is asked only after “Có”
    chat.say("có")  # 3.8.1 (Có): its Số lượng only after “Có”
    chat.say("/menu")
    text = chat.say(f"/sua {typed}")
    assert "Không có mục" not in text
    assert chat.state.item == item
    assert chat.state.mode is Mode.ANSWERING


@pytest.mark.parametrize("typed", ["3.8.9", "3.8.1 (Giá)", "9.9", "4.2.1 (2020)", "abc"])
def test_sua_on_an_unknown_number_still_says_so_with_an_example(typed: str) -> None:
    chat = _started()
    text = chat.say(f"/sua {typed}")
    assert f"Không có mục “{typed}”" in text
    # the example is a number this form has: typing it opens that item
    example = re.search(r"ví dụ: /sua (.+)", text)
    assert example is not None, text
    assert "Không có mục" not in chat.say(f"/sua {example.group(1)}")
    assert chat.state.mode is Mode.ANSWERING


# ---- #2: a table is finished before skipped questions come back ------------------------------
def test_several_cells_of_a_row_continue_with_the_next_row_not_a_skipped_question() -> None:
    chat = _started()
    for typed in _TO_TABLE_3_8:
        chat.say(typed)
    assert chat.state.item == "3.8.1.co"
    assert chat.state.skipped == ["3.2.b.3"]
    chat.say("có; 2")
    assert chat.value("3.8.1.so_luong") == 2
    assert chat.state.item == "3.8.2.co"  # was: back to 3.2.b.3
    chat.say("có; 1")
    assert chat.value("3.8.2.so_luong") == 1
    assert chat.state.item == "3.8.3.co"
    chat.say("khong")
    assert chat.state.item not in ("3.2.b.3", "3.8.3.so_luong")
    assert chat.state.item.startswith("3.8.4")


def test_skipped_question_comes_back_only_after_the_forward_order() -> None:
    chat = _started()
    for typed in _TO_TABLE_3_8:
        chat.say(typed)
    asked: list[str] = []
    for _ in range(40):
        if chat.state.item in (None, "3.2.b.3"):
            break
        asked.append(str(chat.state.item))
        chat.say("/bo" if not chat.state.item.endswith(".co") else "khong")
    assert "3.2.b.3" not in asked
    assert any(item.startswith("3.8.5") for item in asked)  # the whole table went first


# ---- #10: commands keep the official's place ----------------------------------------------
def test_kad_on_a_group_comes_back_to_where_the_official_was() -> None:
    chat = _started()
    chat.say("/sua 5.1.2")
    chat.say("/kad 6.4")
    text = chat.say("Cơ quan chưa cung cấp dịch vụ công")
    assert chat.answers["6.4.a.1"].is_na and chat.answers["6.4.b.6"].is_na
    assert chat.state.item == "5.1.2"  # was: Mục 7 · 7.1
    assert "5.1.2" in text


@pytest.mark.parametrize("then", ["/bo", "25"])
def test_sua_elsewhere_then_skip_or_answer_returns_to_the_place(then: str) -> None:
    chat = _started()
    chat.say("/sua 4.1.5")
    chat.say("/sua 1.8")
    assert chat.state.item == "1.8"
    chat.say(then)
    if then != "/bo":
        assert chat.value("1.8") == 25
    assert chat.state.item == "4.1.5"  # was: 2.1


def test_sua_detour_finishes_the_row_it_opened_then_returns() -> None:
    chat = _started()
    chat.say("/sua 3.8")
    chat.say("có")
    chat.say("/sua 4.1.5")
    chat.say("/sua 3.8.1")
    chat.say("có")
    assert chat.state.item == "3.8.1.so_luong"
    chat.say("2")
    assert chat.state.item == "4.1.5"


def test_choosing_where_to_go_ends_the_detour() -> None:
    chat = _started()
    chat.say("/sua 4.1.5")
    chat.say("/sua 1.8")
    assert chat.state.back_to == "4.1.5"
    chat.say("/tiep")  # the official moved on by hand: no return later
    assert chat.state.back_to is None
    assert chat.state.item == "1.8"


def test_xem_then_continue_goes_back_to_where_the_official_was() -> None:
    chat = _started()
    for typed in ("4", "40", "100"):
        chat.say(typed)
    assert chat.state.item == "3.2.a"
    chat.say("/xem")
    chat.press("Trả lời tiếp")
    assert chat.state.item == "3.2.a"  # was: 1.1


def test_back_to_survives_a_restart() -> None:
    chat = _started()
    chat.say("/sua 4.1.5")
    chat.say("/sua 1.8")
    chat.state = type(chat.state).from_json(chat.state.to_json())
    chat.say("/bo")
    assert chat.state.item == "4.1.5"
