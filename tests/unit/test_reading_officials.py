"""Issue #7, "Reading what officials type": every example of the issue, on the real forms, holds
the right value; invented inputs of each kind beside them; the engine stores what was meant.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.i18n import format_number
from flows.loader import FormError, builtin_forms, get_form
from flows.model import Question
from flows.parsing import (
    NO_ROWS,
    Confirm,
    Ok,
    Problem,
    example_for,
    format_answer,
    full_year,
    parse_answer,
    parse_date,
    parse_phone,
    parse_with_evidence,
    untelex,
)
from flows.state import Answer, Context
from tests.engine_driver import Chat, inline_form

SO = get_form("binh-dinh-2019-so")
HUYEN = get_form("binh-dinh-2019-huyen")
TODAY = date(2026, 5, 20)
YEAR = 2019
LINK = "https://sotttt.binhdinh.gov.vn/ke-hoach-2019"


def item(item_id: str, form: Any = SO) -> Question:
    q = form.question(item_id)
    assert q is not None, item_id
    return q


def read(item_id: str, text: str) -> Any:
    return parse_answer(item(item_id), text, TODAY, reporting_year=YEAR)


def holds(result: Any, kind: type, value: Any) -> None:
    assert isinstance(result, kind), result
    if kind is not Problem:
        assert result.value == value, result
        assert type(result.value) is type(value), result


# (item, typed, result kind, value): the issue's own examples, in its order.
ISSUE_EXAMPLES: list[tuple[str, str, type, Any]] = [
    ("3.4", "3 máy chủ", Ok, 3),
    ("3.2.a", "40 máy tính", Ok, 40),
    ("3.2.a", "45 computers", Ok, 45),
    ("3.4", "4 servers", Ok, 4),
    ("4.2.1.2019", "1.250.000.000", Confirm, 1250.0),
    ("4.2.1.2019", "1.250.000.000 đồng", Confirm, 1250.0),
    ("4.2.1.2019", "1,5 tỷ", Confirm, 1500.0),
    ("3.2.b.1", "1 Gbps", Confirm, 1000.0),
    ("3.1.a", "99999999999999999999999999", Problem, None),
    ("3.1.a", "9223372036854775808", Problem, None),
    (
        "6.3.a",
        f"Kế hoạch số 05/KH-UBND ngày 25 tháng 10 năm 2019 {LINK}",
        Ok,
        {"number": "05/KH-UBND", "date": "2019-10-25", "title": "Kế hoạch", "link": LINK},
    ),
    (
        "6.3.a",
        f"05/KH-UBND; 01/4/2029; {LINK}",
        Confirm,
        {"number": "05/KH-UBND", "date": "2029-04-01", "title": None, "link": LINK},
    ),
    ("1.4", "(+84) 256 3822 345", Ok, "+842563822345"),
    ("1.4", "+84 (0) 256 3822 345", Ok, "+842563822345"),
    ("2.4.b", "0905.123.45", Problem, None),
    ("1.4", "ĐT: 0256.3812345 - Fax: 0256.3812346", Ok, "02563812345; Fax: 02563812346"),
    ("1.5", "https://mò.gov.vn/van-ban", Confirm, "https://mof.gov.vn/van-ban"),
    ("5.1", "tất cả", Ok, "tat_ca"),
    ("5.2.1", "cả hai", Ok, ["chuyen_dung", "cong_cong"]),
    ("5.4.6", "không có", Ok, NO_ROWS),
    (
        "8.5",
        f"Quyết định 12/QĐ-UBND ngày 15/01/2019 {LINK}",
        Ok,
        {"so_hieu": "Quyết định 12/QĐ-UBND ngày 15/01/2019", "link": LINK},
    ),
]


@pytest.mark.parametrize(("item_id", "text", "kind", "value"), ISSUE_EXAMPLES)
def test_issue_examples(item_id: str, text: str, kind: type, value: Any) -> None:
    holds(read(item_id, text), kind, value)


# Inputs of the same kinds, invented.
SAME_KINDS: list[tuple[str, str, type, Any]] = [
    # units named by words, per unit (flows/units.py) or per item (unit_words, unit_en)
    ("3.4", "3 Máy Chủ ạ", Ok, 3),
    ("3.4", "12 server", Ok, 12),
    ("3.3", "7 chiếc", Ok, 7),
    ("3.3", "7 computers", Ok, 7),
    ("3.1.a", "12 cán bộ", Ok, 12),
    ("3.1.a", "12 people", Ok, 12),
    ("3.4", "3 người", Problem, None),
    ("3.4", "3 tháng", Problem, None),
    ("3.1.a", "40 máy tính", Problem, None),
    # money and bandwidth in another unit: converted, confirmed
    ("4.2.1.2019", "500 triệu", Ok, 500.0),
    ("4.2.1.2019", "2 tỷ", Confirm, 2000.0),
    ("4.2.1.2019", "800.000.000 đ", Confirm, 800.0),
    ("4.2.1.2019", "800.000.000", Confirm, 800.0),
    ("4.2.1.2019", "1.250", Ok, 1250.0),
    ("3.2.b.2", "500 Kbps", Confirm, 0.5),
    ("3.2.b.2", "2,5 Gbps", Confirm, 2500.0),
    ("3.2.b.2", "2,5 Gb/s", Confirm, 2500.0),
    # plausible: unusual asked, impossible refused, per unit
    ("3.1.a", "20.000", Confirm, 20000),
    ("3.1.a", "10.000", Ok, 10000),
    ("3.1.a", "50.000.000", Problem, None),
    ("3.2.a", "123456789012345678901234", Problem, None),
    ("3.2.b.1", "999.999.999", Problem, None),
    # written dates in a line, two-digit years
    ("6.3.a", f"Số 12/QĐ-UBND ngày 5 tháng 3 năm 2019; {LINK}", Ok, None),
    ("6.3.a", f"12/KH-UBND; 15/01/99; {LINK}", Ok, None),
    ("6.3.a", f"12/KH-UBND ngày 31/12/2019 {LINK}", Ok, None),
    ("6.3.a", f"12/KH-UBND ngày 02 tháng 01 năm 2020 {LINK}", Confirm, None),
    # phones
    ("1.4", "(+84)905 123 456", Ok, "+84905123456"),
    ("1.4", "0256 3812345, fax 0256 3812346", Ok, "02563812345; Fax: 02563812346"),
    ("2.4.b", "0905 123 4567", Problem, None),
    ("2.4.b", "+84 905 123 45", Problem, None),
    ("1.4", "0256 381 234", Problem, None),
    # links with Vietnamese letters in the host
    ("1.5", "sởtttt.binhdinh.gov.vn", Confirm, "https://sowrtttt.binhdinh.gov.vn"),
    ("1.5", "https://binhdinh.gov.vn/vi/tin-tức", Ok, "https://binhdinh.gov.vn/vi/tin-tức"),
    # choices by the words of their labels
    ("5.1", "Tất Cả", Ok, "tat_ca"),
    ("5.1", "một số", Ok, "mot_so"),
    ("5.1", "triển khai", Problem, None),
    ("5.2.1", "Cả 2", Ok, ["chuyen_dung", "cong_cong"]),
    ("5.2.1", "both", Ok, ["chuyen_dung", "cong_cong"]),
    ("5.2.1", "công cộng", Ok, ["cong_cong"]),
    # no such row
    ("5.4.6", "Chưa có ạ", Ok, NO_ROWS),
    ("8.5", "không", Ok, NO_ROWS),
    ("8.5", f"12/QĐ-UBND {LINK}", Ok, {"so_hieu": "12/QĐ-UBND", "link": LINK}),
]


@pytest.mark.parametrize(("item_id", "text", "kind", "value"), SAME_KINDS)
def test_same_kinds(item_id: str, text: str, kind: type, value: Any) -> None:
    result = read(item_id, text)
    if value is None:
        assert isinstance(result, kind), result
    else:
        holds(result, kind, value)


@pytest.mark.parametrize(
    ("text", "value"), [("5 máy scan", 5), ("5 máy quét", 5), ("5 scanners", 5), ("5 máy", 5)]
)
def test_scanners_in_the_huyen_form(text: str, value: int) -> None:
    holds(parse_answer(item("3.5", HUYEN), text, TODAY), Ok, value)


def test_converted_values_say_what_they_convert() -> None:
    result = read("4.2.1.2019", "1,5 tỷ")
    assert isinstance(result, Confirm)
    assert result.params["unit"] == "Tr.đ" and result.params["value"] == 1500.0
    bare = read("4.2.1.2019", "1.250.000.000")
    assert isinstance(bare, Confirm) and bare.params["from"] == "đồng"


def test_refusals_name_the_bound() -> None:
    result = read("3.1.a", "99999999999999999999999999")
    assert isinstance(result, Problem)
    assert result.params["unit"] == "người" and result.params["max"] == 10_000_000


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("15/01/99", "1999-01-15"),
        ("5/3/19", "2019-03-05"),
        ("31/12/36", "2036-12-31"),
        ("1/1/37", "1937-01-01"),
        ("Quy Nhơn, ngày 05 tháng 3 năm 2019", "2019-03-05"),
        ("TP. Quy Nhơn, ngày 15 tháng 01 năm 2019.", "2019-01-15"),
        ("Kế hoạch số 05/KH-UBND ngày 25 tháng 10 năm 2019", "2019-10-25"),
    ],
)
def test_dates(text: str, iso: str) -> None:
    holds(parse_date(text, TODAY), Ok, iso)


@given(yy=st.integers(0, 99), year=st.integers(1950, 2090))
def test_two_digit_year_rule(yy: int, year: int) -> None:
    today = date(year, 6, 1)
    full = full_year(yy, today)
    assert full % 100 == yy
    assert today.year - 89 <= full <= today.year + 10


def test_dates_are_shown_in_full() -> None:
    q = item("6.3.a")
    result = parse_answer(q, f"12/KH-UBND; 15/01/99; {LINK}", TODAY)
    assert isinstance(result, Ok)
    assert "15/01/1999" in format_answer(q, result.value, "vi")


def test_phones_are_shown_grouped_and_examples_match_the_item() -> None:
    shown = format_answer(item("1.4"), "+842563822345", "vi")
    assert shown == "+84 256 3822 345"
    pair = format_answer(item("1.4"), "02563812345; Fax: 02563812346", "vi")
    assert pair == "0256 3812 345; Fax: 0256 3812 346"
    for form in (SO, HUYEN):
        mobile = item("2.4.b", form)
        assert example_for(mobile) == "0905 123 456"
        assert isinstance(parse_answer(mobile, example_for(mobile), TODAY), Ok)
        phone_fax = item("1.4", form)
        assert isinstance(parse_answer(phone_fax, example_for(phone_fax), TODAY), Ok)
    refused = read("2.4.b", "0905.123.45")
    assert isinstance(refused, Problem) and refused.example == "0905 123 456"
    assert "10 chữ số" in refused.msgid


@pytest.mark.parametrize(
    ("typed", "keys"), [("mò", "mof"), ("đ", "dd"), ("ô", "oo"), ("ư", "uw"), ("ẫ", "aax")]
)
def test_untelex(typed: str, keys: str) -> None:
    assert untelex(typed) == keys


@pytest.mark.parametrize(
    ("item_id", "text", "value", "evidence"),
    [
        ("8.1", f"Có, {LINK}", True, {"number": None, "date": None, "title": None, "link": LINK}),
        (
            "8.1",
            f"có - link: {LINK}",
            True,
            {"number": None, "date": None, "title": None, "link": LINK},
        ),
        (
            "8.1",
            f"Có, 12/KH-UBND ngày 15/01/2019 {LINK}",
            True,
            {"number": "12/KH-UBND", "date": "2019-01-15", "title": None, "link": LINK},
        ),
        ("6.1.a.1", f"25, link: {LINK}", 25, LINK),
        ("6.1.a.1", f"25 {LINK}", 25, LINK),
        ("6.1.a.1", f"1.234 tin, xem tại {LINK}", 1234, LINK),
    ],
)
def test_answer_and_evidence_together(item_id: str, text: str, value: Any, evidence: Any) -> None:
    both = parse_with_evidence(item(item_id), text, TODAY, reporting_year=YEAR)
    assert both is not None
    answer, proof = both
    holds(answer, Ok, value)
    holds(proof, Ok, evidence)


@pytest.mark.parametrize(
    ("item_id", "text"),
    [("8.1", "có"), ("1.5", LINK), ("6.1.a.1", "25"), ("3.1.a", "25")],
)
def test_not_answer_and_evidence(item_id: str, text: str) -> None:
    assert parse_with_evidence(item(item_id), text, TODAY) is None


@pytest.mark.parametrize(
    ("item_id", "text", "value"),
    [
        ("3.6", f"Có, {LINK}", True),
        ("3.1.a", f"25, {LINK}", 25),
        ("3.6", "không - a.gov.vn/x", False),
    ],
)
def test_a_link_after_an_answer_asking_no_evidence_is_split_off(
    item_id: str, text: str, value: Any
) -> None:
    both = parse_with_evidence(item(item_id), text, TODAY)
    assert both is not None
    holds(both[0], Ok, value)


@pytest.mark.parametrize(
    ("item_id", "text", "words"),
    [
        ("3.2.a", "3 máy chủ", "máy chủ"),
        ("3.2.a", "5 máy in", "máy in"),
        ("1.8", "4 người dân tộc", "người dân tộc"),
    ],
)
def test_a_number_with_another_thing_says_the_unit_does_not_match(
    item_id: str, text: str, words: str
) -> None:
    result = read(item_id, text)
    holds(result, Problem, None)
    assert result.params == {"words": words, "unit": item(item_id).unit.vi}
    assert "không khớp với đơn vị" in result.msgid and "không kèm chữ" not in result.msgid
    assert result.example


@pytest.mark.parametrize(
    ("item_id", "text", "value"),
    [("3.2.a", "40 may", 40), ("3.2.a", "40 máy", 40), ("1.8", "12 người", 12)],
)
def test_a_number_with_the_item_unit_is_still_read(item_id: str, text: str, value: int) -> None:
    holds(read(item_id, text), Ok, value)


# --- nothing raises, on every item of the real forms ------------------------------------------

ALL_QUESTIONS = [q for form in builtin_forms().values() for q in form.questions]
odd_text = (
    st.text()
    | st.text(alphabet="0123456789.,; -/:%+()đĐạcóknhưgưtyỷGMbps", max_size=60)
    | st.integers(4290, 6000).map(lambda n: "9" * n)
    | st.integers(4290, 6000).map(lambda n: "1" + ".000" * (n // 3))
    | st.sampled_from(["không có", "cả hai", "tất cả", f"Có, {LINK}", "https://mò.gov.vn"])
)


@settings(max_examples=400, deadline=None)
@given(question=st.sampled_from(ALL_QUESTIONS), text=odd_text)
def test_no_input_raises_on_any_item(question: Question, text: str) -> None:
    result = parse_answer(question, text, TODAY, reporting_year=YEAR)
    assert isinstance(result, Ok | Problem | Confirm)
    if isinstance(result, Problem):
        assert result.msgid.format_map(result.params)
    parse_with_evidence(question, text, TODAY, reporting_year=YEAR)


# --- the engine stores what was meant ------------------------------------------------------


def chat_at(item_id: str, form: Any = SO, given: dict[str, Any] | None = None) -> Chat:
    chat = Chat(
        form,
        ctx=Context(
            now=datetime(2019, 11, 20, 9, 0),
            agency_name="Sở Thông tin và Truyền thông",
            deadline=date(2019, 11, 26),
            reporting_year=YEAR,
        ),
    )
    chat.answers.update({k: Answer(v) for k, v in (given or {}).items()})
    chat.say(f"/sua {item_id}")
    assert chat.state.item == item_id
    return chat


@pytest.mark.parametrize("item_id", ["5.1", "5.2.1", "3.1.a", "3.2.b.1", "1.4", "8.1", "8.5"])
def test_thousands_of_digits_never_raise(item_id: str) -> None:
    chat = chat_at(item_id, given={"5.2": True})
    out = chat.say("9" * 4301)
    assert "❗" in out
    assert chat.state.item == item_id


def test_answer_and_link_in_one_message_are_stored_together() -> None:
    chat = chat_at("8.1")
    out = chat.say(f"Có, 12/KH-UBND ngày 15/01/2019 {LINK}")
    saved = chat.answers["8.1"]
    assert saved.value is True
    assert saved.evidence == {
        "number": "12/KH-UBND",
        "date": "2019-01-15",
        "title": None,
        "link": LINK,
    }
    assert "minh chứng" not in out  # not asked again
    assert chat.state.item != "8.1"


def test_number_and_link_to_confirm_are_stored_together() -> None:
    chat = chat_at("6.1.a.1")
    out = chat.say("25, link: https://mò.gov.vn/tin-tuc")  # the link is asked about, once
    assert "https://mof.gov.vn/tin-tuc" in out
    assert "6.1.a.1" not in chat.answers
    chat.say("đúng")
    assert chat.answers["6.1.a.1"].value == 25
    assert chat.answers["6.1.a.1"].evidence == "https://mof.gov.vn/tin-tuc"
    assert chat.state.item != "6.1.a.1"


def test_conversion_is_confirmed_then_stored() -> None:
    chat = chat_at("4.2.1.2019")
    out = chat.say("1,5 tỷ")
    assert "1.500 Tr.đ" in out
    assert "4.2.1.2019" not in chat.answers
    out = chat.press("Đúng")
    assert chat.value("4.2.1.2019") == 1500.0
    assert "1.500 Tr.đ" in out


def test_conversion_refused_asks_again() -> None:
    chat = chat_at("3.2.b.1")
    chat.say("1 Gbps")
    chat.press("Nhập lại")
    assert "3.2.b.1" not in chat.answers
    chat.say("1.000")
    assert chat.value("3.2.b.1") == 1000.0


def test_evidence_dated_after_the_reporting_year_is_questioned() -> None:
    chat = chat_at("8.1")
    chat.say("có")
    assert chat.state.mode.value == "awaiting_evidence"
    out = chat.say(f"12/KH-UBND; 01/4/2029; {LINK}")
    assert "01/04/2029" in out and "2019" in out
    assert chat.answers["8.1"].evidence is None
    chat.press("Nhập lại")
    assert chat.answers["8.1"].evidence is None
    chat.say(f"12/KH-UBND; 01/4/2029; {LINK}")
    chat.say("đúng")
    assert chat.answers["8.1"].evidence["date"] == "2029-04-01"


def test_telex_link_at_the_evidence_prompt_is_asked() -> None:
    chat = chat_at("6.1.a.1")
    chat.say("25")
    out = chat.say("https://mò.gov.vn/van-ban")
    assert "https://mof.gov.vn/van-ban" in out
    chat.say("1")  # the first button: ✅ Đúng
    assert chat.answers["6.1.a.1"].evidence == "https://mof.gov.vn/van-ban"


def test_no_such_list_row() -> None:
    chat = chat_at("5.4.6")
    chat.say("không có ạ")
    assert chat.value("5.4.6") == []
    chat = chat_at("8.5")
    chat.say(f"12/QĐ-UBND; {LINK}")
    chat.say("không có")  # at "Thêm dòng?": done, the row kept
    assert chat.value("8.5") == [{"so_hieu": "12/QĐ-UBND", "link": LINK}]


def test_no_such_table_row() -> None:
    chat = chat_at("5.4.1.ten_phan_mem")
    out = chat.say("không có")
    assert chat.value("5.4.1.ten_phan_mem") == ""
    assert chat.value("5.4.1.so_don_vi") == 0
    assert "Quản lý nhân sự" in out
    assert chat.state.item is not None and not chat.state.item.startswith("5.4.1.")


def test_choice_by_words_through_the_engine() -> None:
    chat = chat_at("5.1")
    chat.say("tất cả")
    assert chat.value("5.1") == "tat_ca"


@given(
    whole=st.integers(0, 10**4),
    frac=st.integers(0, 10**10),
    places=st.integers(0, 10),
    item_id=st.sampled_from(["3.2.b.1", "4.2.1.2019"]),
)
def test_what_is_shown_is_what_is_stored(whole: int, frac: int, places: int, item_id: str) -> None:
    """A decimal typed Vietnamese-style is saved as exactly that decimal, and the text shown
    for it reads back to the same value."""
    typed = f"{whole:,}".replace(",", ".") + (f",{frac % 10**places:0{places}d}" if places else "")
    q = item(item_id)
    result = parse_answer(q, typed, TODAY)
    assert isinstance(result, Ok | Confirm), result
    shown = format_answer(q, result.value, "vi")
    assert shown.endswith(f" {q.unit.vi}") if q.unit else True
    again = parse_answer(q, shown.rsplit(" ", 1)[0], TODAY)
    assert again.value == result.value and type(again.value) is type(result.value)
    expected = Decimal(typed.replace(".", "").replace(",", "."))
    assert Decimal(repr(result.value)) == expected


def test_many_decimals_are_shown_whole() -> None:
    chat = chat_at("3.2.b.1")
    out = chat.say("1,2345")
    assert chat.value("3.2.b.1") == 1.2345
    assert "1,2345 Mbps" in out


@given(
    prefix=st.sampled_from(["3", "5", "7", "8", "9"]),
    rest=st.text(alphabet="0123456789", min_size=8, max_size=8),
    style=st.sampled_from(
        ["0{} {} {}", "0{}.{}.{}", "+84 {} {} {}", "(+84) {}-{}-{}", "+84 (0) {} {} {}"]
    ),
)
def test_any_mobile_written_any_way(prefix: str, rest: str, style: str) -> None:
    national = prefix + rest
    typed = style.format(national[:3], national[3:6], national[6:])
    result = parse_answer(item("2.4.b"), typed, TODAY)
    assert isinstance(result, Ok), (typed, result)
    assert result.value.lstrip("+").removeprefix("84").lstrip("0") == national
    shown = format_answer(item("2.4.b"), result.value, "vi")
    assert parse_answer(item("2.4.b"), shown, TODAY) == result
    short = parse_answer(item("2.4.b"), typed[:-1], TODAY)
    assert isinstance(short, Problem)


@given(
    amount=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(999), places=3),
    word=st.sampled_from(["tỷ", "tỉ", "tỷ đồng", "ty"]),
)
def test_any_amount_in_ty_is_offered_in_tr_d(amount: Decimal, word: str) -> None:
    typed = format_number("vi", amount) + " " + word
    result = read("4.2.1.2019", typed)
    assert isinstance(result, Confirm), (typed, result)
    assert Decimal(repr(result.value)) == amount * 1000


@given(text=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-/", max_size=30))
def test_untelex_leaves_plain_text(text: str) -> None:
    assert untelex(text) == text


VISIBLE_FIRST = [q.id for q in SO.questions if q.when is None and q.answerable]


@settings(max_examples=150, deadline=None)
@given(item_id=st.sampled_from(VISIBLE_FIRST), text=odd_text, then=odd_text)
def test_the_engine_never_fails_on_odd_text(item_id: str, text: str, then: str) -> None:
    chat = chat_at(item_id)
    for typed in (text, then):
        chat.send(typed)
        assert "engine_recovered" not in chat.events
        assert chat.last is not None and chat.last.replies


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("unit_words: 3", "unit_words"),
        ("unit_words: ['']", "unit_words"),
        ("confirm_above: nhiều", "confirm_above"),
    ],
)
def test_form_data_is_checked(body: str, error: str) -> None:
    form = (
        "sections:\n  - id: '1'\n    title: A\n    items:\n"
        f"      - {{id: '1.1', type: integer, text: Số máy, unit: máy, {body}}}\n"
    )
    with pytest.raises(FormError) as raised:
        inline_form(form)
    assert error in str(raised.value)


def test_form_data_reaches_the_question() -> None:
    form = inline_form(
        "reporting_year: 2018\nsections:\n  - id: '1'\n    title: A\n    items:\n"
        "      - {id: '1.1', type: integer, text: Số máy, unit: máy, unit_words: [máy in],"
        " confirm_above: 50}\n"
    )
    q = form.question("1.1")
    assert q is not None and q.unit_words == ("máy in",) and q.confirm_above == 50
    assert form.reporting_year == 2018
    holds(parse_answer(q, "3 máy in", TODAY), Ok, 3)
    holds(parse_answer(q, "51", TODAY), Confirm, 51)
    assert SO.reporting_year == 2019  # from the source decision's date, 25/10/2019


# ---- further inputs of the same kinds, beyond the issue's examples (review pass) -------------
_SO = builtin_forms()["binh-dinh-2019-so"]


@pytest.mark.parametrize(
    ("item", "typed", "kind", "value"),
    [
        ("3.4", "5 servers", Ok, 5),  # the thing counted, in English
        ("3.1.a", "35 CBCC", Ok, 35),  # the people counted, by their abbreviation
        ("4.2.1.2018", "750 triệu", Ok, 750),  # triệu đồng is the unit itself
        ("4.2.1.2018", "2 tỷ", Confirm, 2000),
        ("4.2.1.2018", "1,2 tỉ", Confirm, 1200),  # the other spelling of tỷ
        ("4.2.1.2018", "800.000.000 đ", Confirm, 800),  # đồng abbreviated
        ("3.2.b.1", "512 Kbps", Confirm, 0.512),
        ("3.2.b.1", "2 Gbps", Confirm, 2000),
    ],
)
def test_more_units_of_the_same_kinds(item: str, typed: str, kind: type, value: Any) -> None:
    q = _SO.question(item)
    assert q is not None
    read = parse_answer(q, typed, date(2026, 11, 30), reporting_year=2026)
    assert isinstance(read, kind) and read.value == value


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+84 905 123 456", "+84905123456"),
        ("0905-123-456", "0905123456"),
        ("(0256) 3.822.345", "02563822345"),
    ],
)
def test_more_phones_written_the_ways_people_write_them(typed: str, stored: str) -> None:
    read = parse_phone(typed)
    assert isinstance(read, Ok) and read.value == stored
