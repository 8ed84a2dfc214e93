"""Several table cells in one message: a row ("150; 200"), or a one-cell-per-row column."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.cells import table_block
from flows.loader import builtin_forms
from flows.state import Answer
from tests.engine_driver import Chat, inline_form

FORM = inline_form("""
sections:
  - id: "4"
    title: ĐẦU TƯ
    items:
      - id: "4.2"
        type: table
        text: Kinh phí chi cho ứng dụng CNTT
        columns:
          - {id: "2018", text: Năm 2018, type: decimal, unit: Tr.đ}
          - {id: "2019", text: Năm 2019, type: decimal, unit: Tr.đ}
        rows:
          - {id: "1", text: Tổng kinh phí}
          - {id: "2", text: Kinh phí phần mềm}
      - {id: "4.3", type: integer, text: Số dự án, unit: dự án}
  - id: "3"
    title: THIẾT BỊ
    items:
      - id: "3.8"
        type: table
        text: Thiết bị lưu trữ
        columns:
          - {id: co, text: Có, type: yes_no}
          - {id: so_luong, text: Số lượng, type: integer, unit: thiết bị, when: "[@co] == true"}
        rows:
          - {id: "1", text: Băng từ}
          - {id: "2", text: Tủ đĩa}
  - id: "7"
    title: DỊCH VỤ
    items:
      - id: "7"
        type: table
        text: Các chức năng
        columns:
          - {id: co, text: Có, type: yes_no}
        rows:
          - {id: "1", text: Hỏi đáp}
          - {id: "2", text: Tra cứu}
          - {id: "3", text: Thanh toán}
checks:
  - id: part-le-total
    rule: "[4.2.2.2018] <= [4.2.1.2018]"
    message: Kinh phí phần mềm không thể lớn hơn tổng kinh phí.
""")


def at(item: str) -> Chat:
    c = Chat(FORM)
    c.say(f"/sua {item}")
    return c


def test_the_first_cell_of_a_row_offers_the_row_in_one_message_with_an_example() -> None:
    text = at("4.2.1.2018").last.replies[-1].text
    assert "Có thể trả lời cả 2 ô (4.2.1 (Năm 2018) → 4.2.1 (Năm 2019)) trong một tin nhắn" in text
    assert "Ví dụ: 150; 150" in text


def test_a_row_typed_at_once_is_saved_as_one_answer_per_cell() -> None:
    c = at("4.2.1.2018")
    replies = c.send("1.500; 1.800,5")
    assert len(replies) == 1
    assert "✅ Đã lưu 2 ô:" in replies[0].text
    assert c.answers["4.2.1.2018"] == Answer(1500) and c.answers["4.2.1.2019"] == Answer(1800.5)
    assert c.state.item == "4.2.2.2018"


def test_one_bad_cell_refuses_the_whole_message_and_names_the_cell() -> None:
    c = at("4.2.1.2018")
    replies = c.send("1500; hai trăm")
    assert len(replies) == 1 and replies[0].kind == "error"
    assert "Ô 4.2.1 (Năm 2019) (“hai trăm”) chưa đúng" in replies[0].text
    assert "Chưa lưu ô nào" in replies[0].text
    assert c.answers == {} and c.state.item == "4.2.1.2018"


def test_more_values_than_cells_is_refused() -> None:
    c = at("4.2.1.2018")
    text = c.say("1; 2; 3")
    assert "Có 1 giá trị thừa" in text and c.answers == {}


def test_fewer_values_fill_the_first_cells_and_the_rest_is_asked() -> None:
    c = at("4.2.1.2018")
    c.say("1500;")
    assert c.answers == {"4.2.1.2018": Answer(1500)}
    assert c.state.item == "4.2.1.2019"


def test_a_single_value_is_an_ordinary_answer() -> None:
    c = at("4.2.1.2018")
    assert "✅ Đã lưu 4.2.1 (Năm 2018): 1.500 Tr.đ" in c.say("1500")


def test_cells_typed_at_once_are_cross_checked() -> None:
    c = at("4.2.1.2018")
    c.say("100; 100")
    replies = c.send("200; 50")
    assert any(r.kind == "check" for r in replies)
    assert "Kinh phí phần mềm không thể lớn hơn tổng kinh phí" in replies[-1].text
    assert c.answers["4.2.2.2018"] == Answer(200)


def test_a_hidden_cell_is_passed_over() -> None:
    c = at("3.8.1.co")
    assert "Ví dụ: có; 25" in c.last.replies[-1].text
    c.say("không")  # a row of one visible cell: "không" needs no count
    assert c.answers == {"3.8.1.co": Answer(False)}
    c.say("có; 5")
    assert c.answers["3.8.2.co"] == Answer(True) and c.answers["3.8.2.so_luong"] == Answer(5)


def test_a_one_cell_per_row_table_is_answered_as_a_column() -> None:
    c = at("7.1")
    assert "Có thể trả lời cả 3 ô (7.1 → 7.3)" in c.last.replies[-1].text
    c.say("có; không; có")
    assert [c.answers[f"7.{i}"].value for i in (1, 2, 3)] == [True, False, True]


def test_binh_dinh_blocks() -> None:
    form = builtin_forms()["binh-dinh-2019-so"]
    qs = list(form.section("6").questions)
    column = table_block(qs, form.question("6.1.a.1"))
    assert [q.id for q in column][:3] == ["6.1.a.1", "6.1.a.2.a", "6.1.a.2.b"]
    assert column[-1].id == "6.1.a.7" and len(column) == 11
    row = table_block(list(form.section("5").questions), form.question("5.4.2.nha_cung_cap"))
    assert [q.column for q in row] == ["ten_phan_mem", "nha_cung_cap", "so_don_vi", "tinh_nang"]
    assert table_block(qs, form.question("6.3.a")) == []


@settings(max_examples=40)
# Up to 999.999 Tr.đ: a bare number of a million or more at a Tr.đ item is read as đồng and
# offered back converted (flows.units), so it is not stored as typed.
@given(st.lists(st.integers(min_value=0, max_value=999_999), min_size=2, max_size=2))
def test_any_row_of_numbers_is_stored_exactly(values: list[int]) -> None:
    c = at("4.2.1.2018")
    c.say("; ".join(str(v) for v in values))
    assert [c.answers[f"4.2.1.{y}"].value for y in (2018, 2019)] == values


@pytest.mark.parametrize(
    ("typed", "cell"),
    [
        ("1,5 tỷ; 1.250.000.000 đồng", "4.2.1 (Năm 2018)"),
        ("1500; 2 tỷ", "4.2.1 (Năm 2019)"),
    ],
)
def test_a_cell_to_confirm_is_named_by_its_label_never_its_internal_id(
    typed: str, cell: str
) -> None:
    c = at("4.2.1.2018")
    text = c.say(typed)
    assert f"Ô {cell}: “" in text and "cần xác nhận" in text
    assert "4.2.1.2018" not in text and "4.2.1.2019" not in text
    assert c.answers == {}


def test_too_many_values_name_the_cell_by_its_label() -> None:
    text = at("4.2.1.2018").say("1; 2; 3")
    assert "từ 4.2.1 (Năm 2018) chỉ còn 2 ô" in text and "4.2.1.2018" not in text


@pytest.mark.parametrize("typed", [";", " ; ;", ";;;"])
def test_only_separators_is_an_empty_answer_not_a_crash(typed: str) -> None:
    c = at("4.2.1.2018")
    replies = c.send(typed)
    assert c.answers == {} and c.state.item == "4.2.1.2018"
    assert replies and replies[0].kind == "error"
