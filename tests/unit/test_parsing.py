"""Answer parsers: forgiving about typing, strict about meaning, never raising."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.i18n import format_number
from flows.model import Column, ItemType, Option, Question, Text
from flows.parsing import (
    Confirm,
    Ok,
    Problem,
    example_for,
    format_answer,
    parse_answer,
    parse_document,
    parse_list_row,
    parse_number,
    parse_text,
    parse_yes_no,
    status_label,
)

TODAY = date(2026, 5, 20)
OPTIONS = (
    Option("cao", Text("Cao", "High")),
    Option("trung_binh", Text("Trung bình", "Medium")),
    Option("thap", Text("Thấp", "Low")),
    Option("email", Text("Thư điện tử, tin nhắn", "E-mail, messages")),
)
COLUMNS = (
    Column("ten", Text("Tên ứng dụng"), ItemType.TEXT, required=True),
    Column("nam", Text("Năm triển khai"), ItemType.YEAR),
    Column("co", Text("Dùng chung"), ItemType.YES_NO),
)


def q(kind: ItemType, **kw: Any) -> Question:
    return Question(id="t", section="1", text=Text("x"), type=kind, **kw)


INTEGER = q(ItemType.INTEGER, unit=Text("người"))
COUNT = q(ItemType.INTEGER)
DECIMAL = q(ItemType.DECIMAL)
MACHINES = q(ItemType.INTEGER, unit=Text("máy"))
PERCENT = q(ItemType.INTEGER, unit=Text("%"), max=100)
MBPS = q(ItemType.DECIMAL, unit=Text("Mbps"))
MONEY = q(ItemType.DECIMAL, unit=Text("Tr.đ", "million VND"))
BOUNDED = q(ItemType.INTEGER, min=1, max=50)
NEWS = q(ItemType.INTEGER, unit=Text("tin, bài, văn bản"))
SIGNED = q(ItemType.DECIMAL, min=-10)
CHOICE = q(ItemType.CHOICE, options=OPTIONS)
MULTI = q(ItemType.MULTI_CHOICE, options=OPTIONS)
LIST = q(ItemType.LIST, columns=COLUMNS)
ALL_COLUMNS = tuple(
    Column(
        f"c{i}",
        Text(f"Cột {i}"),
        kind,
        unit=Text("người") if kind is ItemType.INTEGER else None,
        options=OPTIONS if kind in (ItemType.CHOICE, ItemType.MULTI_CHOICE) else (),
    )
    for i, kind in enumerate(ItemType)
    if kind not in (ItemType.LIST, ItemType.COMPUTED)
)
SAMPLES: dict[ItemType, Question] = {
    ItemType.INTEGER: INTEGER,
    ItemType.DECIMAL: MBPS,
    ItemType.YES_NO: q(ItemType.YES_NO),
    ItemType.CHOICE: CHOICE,
    ItemType.MULTI_CHOICE: MULTI,
    ItemType.STATUS: q(ItemType.STATUS),
    ItemType.TEXT: q(ItemType.TEXT),
    ItemType.DATE: q(ItemType.DATE),
    ItemType.YEAR: q(ItemType.YEAR),
    ItemType.URL: q(ItemType.URL),
    ItemType.EMAIL: q(ItemType.EMAIL),
    ItemType.PHONE: q(ItemType.PHONE),
    ItemType.DOCUMENT: q(ItemType.DOCUMENT),
    ItemType.PERSON: q(ItemType.PERSON),
    ItemType.LIST: LIST,
}
EXTRA = [MACHINES, PERCENT, MONEY, BOUNDED, SIGNED, q(ItemType.LIST, columns=ALL_COLUMNS)]
ANSWERABLE = [*SAMPLES.values(), *EXTRA]


def parse(question: Question, text: str) -> Any:
    return parse_answer(question, text, TODAY)


def assert_ok(result: Any, value: Any) -> None:
    assert isinstance(result, Ok), result
    assert result.value == value
    assert type(result.value) is type(value)


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "text", "value"),
    [
        (INTEGER, "12", 12),
        (INTEGER, "  12  ", 12),
        (INTEGER, "1.234", 1234),
        (INTEGER, "1 234", 1234),
        (INTEGER, "1\u00a0234", 1234),
        (COUNT, "1.234.567", 1234567),
        (COUNT, "1 234 567", 1234567),
        (INTEGER, "12 người", 12),
        (INTEGER, "12 Người.", 12),
        (INTEGER, "12 nguoi", 12),
        (INTEGER, "12 người ạ", 12),
        (INTEGER, "１２", 12),
        (INTEGER, "0", 0),
        (INTEGER, "007", 7),
        (INTEGER, "1,0", 1),
        (MACHINES, "3 máy", 3),
        (MACHINES, "3 máy tính", 3),
        (MBPS, "15 Mbps", 15.0),
        (MBPS, "15Mbps", 15.0),
        (MBPS, "15 mbps", 15.0),
        (MBPS, "2,5", 2.5),
        (MBPS, "1.234,5", 1234.5),
        (MBPS, "1 234,5", 1234.5),
        (MBPS, "1.000", 1000.0),
        (MBPS, "0,125", 0.125),
        (MONEY, "5 Tr.đ", 5.0),
        (MONEY, "5 tr.đ", 5.0),
        (MONEY, "5 trđ", 5.0),
        (MONEY, "5 triệu", 5.0),
        (MONEY, "5 triệu đồng", 5.0),
        (MONEY, "5tr", 5.0),
        (PERCENT, "85%", 85),
        (PERCENT, "85 %", 85),
        (PERCENT, "85 phần trăm", 85),
        (NEWS, "12 tin", 12),
        (NEWS, "12 bài", 12),
        (NEWS, "12 bài viết", 12),
        (NEWS, "12 văn bản", 12),
        (q(ItemType.INTEGER, unit=Text("phòng, ban")), "3 phòng", 3),
        (q(ItemType.INTEGER, unit=Text("thiết bị")), "3 thiết bị", 3),
        (q(ItemType.INTEGER), "3 người", 3),
        (BOUNDED, "1", 1),
        (BOUNDED, "50", 50),
        (SIGNED, "-2,5", -2.5),
        (SIGNED, "−3", -3.0),
    ],
)
def test_number_accepts(question: Question, text: str, value: int | float) -> None:
    assert_ok(parse(question, text), value)


@pytest.mark.parametrize(
    ("question", "text", "value"),
    [
        (MBPS, "1.5", 1.5),
        (MBPS, "0.5", 0.5),
        (MBPS, "12.50", 12.5),
        (MBPS, "1.2345", 1.2345),
        (MBPS, "1,234.5", 1234.5),
        (MBPS, "1,234,567", 1234567.0),
        (INTEGER, "1,234", 1234),
        (INTEGER, "12,000 người", 12000),
        (COUNT, "1,234,567", 1234567),
        (INTEGER, "không", 0),
        (INTEGER, "chưa có", 0),
    ],
)
def test_number_ambiguous_asks_to_confirm(question: Question, text: str, value: Any) -> None:
    result = parse(question, text)
    assert isinstance(result, Confirm), result
    assert result.value == value
    assert type(result.value) is type(value)
    assert result.msgid.format_map(result.params)
    assert result.params["shown"] == Decimal(repr(value))


@pytest.mark.parametrize(
    ("question", "text", "fragment"),
    [
        (INTEGER, "1,5", "số nguyên"),
        (INTEGER, "1.5", "số nguyên"),
        (INTEGER, "2,5 người", "số nguyên"),
        (INTEGER, "-3", "số âm"),
        (MBPS, "-1", "số âm"),
        (INTEGER, "12 người và 3 máy", "con số"),
        (INTEGER, "khoảng 12", "con số"),
        (INTEGER, "mười hai", "con số"),
        (INTEGER, "5-10", "con số"),
        (INTEGER, "12 máy", "đơn vị"),
        (MBPS, "1 người", "đơn vị"),
        (MONEY, "5 máy", "đơn vị"),
        (PERCENT, "85 người", "đơn vị"),
        (NEWS, "12 người", "đơn vị"),
        (q(ItemType.INTEGER), "3 Mbps", "con số"),
        (INTEGER, "85%", "đơn vị"),
        (INTEGER, "1.2.3", "hàng nghìn"),
        (INTEGER, "12 34", "hàng nghìn"),
        (INTEGER, "1.23.456", "hàng nghìn"),
        (INTEGER, "0905 123 456", "hàng nghìn"),
        (INTEGER, "9" * 31, "dài quá"),
        (INTEGER, "9" * 5000, "dài quá"),
        (INTEGER, "1" + ".000" * 2000, "dài quá"),
        (BOUNDED, "0", "từ"),
        (BOUNDED, "51", "không lớn hơn"),
        (SIGNED, "-11", "từ"),
        (PERCENT, "101", "không lớn hơn"),
        (BOUNDED, "không", "con số"),
        (INTEGER, "", "chưa nhập"),
        (INTEGER, "   ", "chưa nhập"),
    ],
)
def test_number_refuses(question: Question, text: str, fragment: str) -> None:
    result = parse(question, text)
    assert isinstance(result, Problem), result
    assert fragment in result.msgid
    assert result.example == example_for(question)


def test_bounds_are_named() -> None:
    result = parse(BOUNDED, "51")
    assert isinstance(result, Problem)
    assert result.params == {"max": 50}
    assert "{max}" in result.msgid


@pytest.mark.parametrize("bound", [float("nan"), float("inf"), float("-inf"), 1e300, -1e300])
def test_odd_bounds_never_raise(bound: float) -> None:
    for kind in (ItemType.INTEGER, ItemType.DECIMAL, ItemType.YEAR):
        for question in (q(kind, min=bound), q(kind, max=bound), q(kind, min=bound, max=bound)):
            for text in ("12", "-3", "2019", "1,5", example_for(question)):
                check_result(question, parse(question, text), example_parses=False)


def test_parse_number_standalone() -> None:
    assert parse_number("1.234", integer=True) == Ok(1234)
    assert parse_number("2,5", integer=False) == Ok(2.5)
    assert isinstance(parse_number("1.5", integer=False), Confirm)


# --- yes / no ---------------------------------------------------------------------------------

YES = [
    "có",
    "Có",
    "CÓ",
    "co",
    "c",
    "x",
    "X",
    "yes",
    "Yes",
    "y",
    "ok",
    "OK",
    "đúng",
    "rồi",
    "đã có",
    "có ạ",
    "Có ạ.",
    "dạ có",
    "có rồi",
    "vâng",
    "1",
    "👍",
    "co\u0301",
]
NO = [
    "không",
    "Không",
    "khong",
    "k",
    "K",
    "ko",
    "no",
    "n",
    "chưa",
    "chưa có",
    "chua co",
    "không có",
    "không ạ",
    "dạ không",
    "0",
    "kh\u00f4ng".upper(),
]


@pytest.mark.parametrize("text", YES)
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True
    assert_ok(parse(SAMPLES[ItemType.YES_NO], text), True)


@pytest.mark.parametrize("text", NO)
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False
    assert_ok(parse(SAMPLES[ItemType.YES_NO], text), False)


@pytest.mark.parametrize("text", ["2", "có lẽ", "không biết", "maybe", "có không", "", "?"])
def test_yes_no_refuses(text: str) -> None:
    result = parse(SAMPLES[ItemType.YES_NO], text)
    assert isinstance(result, Problem)
    assert result.example == "có"


def test_nfd_and_nfc_alike() -> None:
    nfd = unicodedata.normalize("NFD", "chưa có")
    assert parse_yes_no(nfd) is False
    assert_ok(parse(INTEGER, unicodedata.normalize("NFD", "12 người")), 12)


# --- choices and status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", "trung_binh"),
        ("2.", "trung_binh"),
        ("2)", "trung_binh"),
        ("số 2", "trung_binh"),
        ("Số 2", "trung_binh"),
        ("2. Trung bình", "trung_binh"),
        ("trung bình", "trung_binh"),
        ("TRUNG BINH", "trung_binh"),
        ("trung", "trung_binh"),
        ("cao", "cao"),
        ("thấp", "thap"),
        ("thap", "thap"),
        ("Low", "thap"),
        ("trung_binh", "trung_binh"),
        ("Thư điện tử, tin nhắn", "email"),
        ("4", "email"),
    ],
)
def test_choice_accepts(text: str, value: str) -> None:
    assert_ok(parse(CHOICE, text), value)


@pytest.mark.parametrize("text", ["0", "5", "99", "t", "2. Cao", "xyz", "", "1, 2"])
def test_choice_refuses(text: str) -> None:
    result = parse(CHOICE, text)
    assert isinstance(result, Problem), result
    if text:
        assert result.params == {"numbers": "1, 2, 3, 4"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1, 3", ["cao", "thap"]),
        ("1 3", ["cao", "thap"]),
        ("1 và 3", ["cao", "thap"]),
        ("1;3", ["cao", "thap"]),
        ("3,1,3", ["cao", "thap"]),
        ("1\n3", ["cao", "thap"]),
        ("2", ["trung_binh"]),
        ("cao, thấp", ["cao", "thap"]),
        ("Cao và Trung bình", ["cao", "trung_binh"]),
        ("Thư điện tử, tin nhắn", ["email"]),
        ("0", []),
        ("không", []),
        ("Không có", []),
    ],
)
def test_multi_choice_accepts(text: str, value: list[str]) -> None:
    assert_ok(parse(MULTI, text), value)


@pytest.mark.parametrize("text", ["1, 5", "0, 1", "1.3", "cao, rất cao", "1-3", ""])
def test_multi_choice_refuses(text: str) -> None:
    result = parse(MULTI, text)
    assert isinstance(result, Problem), result
    if text:
        assert result.params == {"numbers": "1, 2, 3, 4"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", "hoan_chinh"),
        ("2", "thu_nghiem"),
        ("3", "chua_co"),
        ("3.", "chua_co"),
        ("hoàn chỉnh", "hoan_chinh"),
        ("Hoan chinh", "hoan_chinh"),
        ("hc", "hoan_chinh"),
        ("xong", "hoan_chinh"),
        ("đang thử nghiệm", "thu_nghiem"),
        ("thử nghiệm", "thu_nghiem"),
        ("tn", "thu_nghiem"),
        ("dang thu nghiem", "thu_nghiem"),
        ("chưa có", "chua_co"),
        ("chua co", "chua_co"),
        ("chưa", "chua_co"),
        ("không", "chua_co"),
    ],
)
def test_status_accepts(text: str, value: str) -> None:
    assert_ok(parse(SAMPLES[ItemType.STATUS], text), value)


@pytest.mark.parametrize("text", ["4", "0", "có", "tốt", ""])
def test_status_refuses(text: str) -> None:
    assert isinstance(parse(SAMPLES[ItemType.STATUS], text), Problem)


# --- dates and years --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("26/11/2026", "2026-11-26"),
        ("26-11-2026", "2026-11-26"),
        ("26.11.2026", "2026-11-26"),
        ("2026-11-26", "2026-11-26"),
        ("26/11/26", "2026-11-26"),
        ("26/11", "2026-11-26"),
        ("1/2/2019", "2019-02-01"),
        ("26 / 11 / 2026", "2026-11-26"),
        ("ngày 26/11/2026", "2026-11-26"),
        ("ngày 26 tháng 11 năm 2026", "2026-11-26"),
        ("29/02/2024", "2024-02-29"),
        ("２６/１１/２０２６", "2026-11-26"),
    ],
)
def test_date_accepts(text: str, value: str) -> None:
    assert_ok(parse(SAMPLES[ItemType.DATE], text), value)


@pytest.mark.parametrize(
    ("text", "impossible"),
    [
        ("31/02/2026", True),
        ("00/01/2026", True),
        ("29/02/2025", True),
        ("12/13/2026", True),
        ("26/11/1800", False),
        ("hôm qua", False),
        ("2026", False),
        ("26112026", False),
        ("", False),
    ],
)
def test_date_refuses(text: str, impossible: bool) -> None:
    result = parse(SAMPLES[ItemType.DATE], text)
    assert isinstance(result, Problem), result
    assert result.example == "26/11/2026"
    assert ("{raw}" in result.msgid) is impossible


@pytest.mark.parametrize(
    ("text", "value"), [("2019", 2019), ("năm 2019", 2019), ("Năm 2019.", 2019), ("1990", 1990)]
)
def test_year_accepts(text: str, value: int) -> None:
    assert_ok(parse(SAMPLES[ItemType.YEAR], text), value)


@pytest.mark.parametrize("text", ["19", "1989", "2101", "2.019", "20190", "năm ngoái", ""])
def test_year_refuses(text: str) -> None:
    result = parse(SAMPLES[ItemType.YEAR], text)
    assert isinstance(result, Problem)
    if text:
        assert result.params == {"min": "1990", "max": "2100"}


# --- links, e-mail, phone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("sotttt.binhdinh.gov.vn/abc", "https://sotttt.binhdinh.gov.vn/abc"),
        ("https://sotttt.binhdinh.gov.vn/abc", "https://sotttt.binhdinh.gov.vn/abc"),
        (
            "http://SoTTTT.BinhDinh.gov.vn/Abc?x=1&y=B#p",
            "http://sotttt.binhdinh.gov.vn/Abc?x=1&y=B#p",
        ),
        ("HTTPS://www.binhdinh.gov.vn", "https://www.binhdinh.gov.vn"),
        ("www.binhdinh.gov.vn/van-ban.", "https://www.binhdinh.gov.vn/van-ban"),
        ("binhdinh.gov.vn:8080/a", "https://binhdinh.gov.vn:8080/a"),
        ("https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", None),
        ("https://vi.wikipedia.org/wiki/Bình_Định", None),
    ],
)
def test_url_accepts(text: str, value: str | None) -> None:
    assert_ok(parse(SAMPLES[ItemType.URL], text), value or text)


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "JavaScript://x.vn/%0aalert(1)",
        "file:///etc/passwd",
        "ftp://binhdinh.gov.vn/a",
        "mailto:a@b.vn",
        "http://localhost/abc",
        "localhost:8080/abc",
        "http://127.0.0.1/abc",
        "http://intranet/abc",
        "http://server.local/abc",
        "https://user:pass@binhdinh.gov.vn/",
        "binhdinh gov vn",
        "https://binhdinh.gov.vn/ke hoach",
        "https://binhdinh.x1/",
        "http://",
        "khong co",
        "https://[::1/",
        "https://binhdinh.gov.vn:99999/",
        "",
    ],
)
def test_url_refuses(text: str) -> None:
    result = parse(SAMPLES[ItemType.URL], text)
    assert isinstance(result, Problem), result
    assert result.example == "https://sotttt.binhdinh.gov.vn/ke-hoach-2019"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("VanThu@BinhDinh.gov.vn", "vanthu@binhdinh.gov.vn"),
        (" mailto:a.b+c@sotttt.binhdinh.gov.vn ", "a.b+c@sotttt.binhdinh.gov.vn"),
    ],
)
def test_email_accepts(text: str, value: str) -> None:
    assert_ok(parse(SAMPLES[ItemType.EMAIL], text), value)


@pytest.mark.parametrize("text", ["vanthu", "a@b", "a@@b.vn", "a b@c.vn", ".a@b.vn", "a@-b.vn"])
def test_email_refuses(text: str) -> None:
    assert isinstance(parse(SAMPLES[ItemType.EMAIL], text), Problem)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("(0256) 3 822 345", "02563822345"),
        ("0905.123.456", "0905123456"),
        ("0905-123-456", "0905123456"),
        ("+84 905 123 456", "+84905123456"),
    ],
)
def test_phone_accepts(text: str, value: str) -> None:
    assert_ok(parse(SAMPLES[ItemType.PHONE], text), value)


@pytest.mark.parametrize("text", ["1234567", "1" * 16, "0905 abc", "09+05123456", "không có"])
def test_phone_refuses(text: str) -> None:
    assert isinstance(parse(SAMPLES[ItemType.PHONE], text), Problem)


# --- text, documents, people ------------------------------------------------------------------


def test_text() -> None:
    question = SAMPLES[ItemType.TEXT]
    assert_ok(parse(question, "  Phần mềm   quản lý\u200b  "), "Phần mềm quản lý")
    assert_ok(parse(question, "dòng 1\r\ndòng 2"), "dòng 1\ndòng 2")
    assert_ok(parse(question, unicodedata.normalize("NFD", "Bình Định")), "Bình Định")
    assert_ok(parse(question, "a\x00b"), "ab")
    assert_ok(parse(question, "x" * 2000), "x" * 2000)
    too_long = parse(question, "x" * 2001)
    assert isinstance(too_long, Problem)
    assert too_long.params == {"max": 2000}
    assert isinstance(parse(question, " \n "), Problem)


EXAMPLE_LINK = "https://sotttt.binhdinh.gov.vn/ke-hoach-2019"
FULL_DOCUMENT = {
    "number": "12/KH-UBND",
    "date": "2019-01-15",
    "title": "Kế hoạch ứng dụng CNTT năm 2019",
    "link": EXAMPLE_LINK,
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (f"Số 12/KH-UBND; 15/01/2019; Kế hoạch ứng dụng CNTT năm 2019; {EXAMPLE_LINK}", None),
        (f"12/KH-UBND; 15/01/2019; Kế hoạch ứng dụng CNTT năm 2019; {EXAMPLE_LINK}", None),
        (f"{EXAMPLE_LINK}\nKế hoạch ứng dụng CNTT năm 2019\n15/01/2019\nsố 12/kh-ubnd", None),
        (
            f"Kế hoạch ứng dụng CNTT năm 2019; 15-01-2019; Số: 12/KH-UBND; {EXAMPLE_LINK[8:]}",
            None,
        ),
        (
            f"Kế hoạch số 12/KH-UBND ngày 15/01/2019 ứng dụng CNTT năm 2019 {EXAMPLE_LINK}",
            {**FULL_DOCUMENT, "title": "Kế hoạch ứng dụng CNTT năm 2019"},
        ),
        ("Số 12/KH-UBND", {**FULL_DOCUMENT, "date": None, "title": None, "link": None}),
        (
            "01/2019/NQ-HĐND; ngày 15/01/2019",
            {"number": "01/2019/NQ-HĐND", "date": "2019-01-15", "title": None, "link": None},
        ),
        (
            "3871/QĐ-UBND | 25/10/2019",
            {"number": "3871/QĐ-UBND", "date": "2019-10-25", "title": None, "link": None},
        ),
    ],
)
def test_document_accepts(text: str, value: dict[str, Any] | None) -> None:
    assert_ok(parse(SAMPLES[ItemType.DOCUMENT], text), value or FULL_DOCUMENT)


@pytest.mark.parametrize(
    "text",
    [
        "Kế hoạch ứng dụng CNTT",
        "15/01/2019; Kế hoạch",
        "12; 15/01/2019",
        "Số 12/KH-UBND; 31/02/2019",
        "Số 12/KH-UBND; javascript:alert(1)",
        "Số 12/KH-UBND; http://localhost/a",
        "",
    ],
)
def test_document_refuses(text: str) -> None:
    result = parse(SAMPLES[ItemType.DOCUMENT], text)
    assert isinstance(result, Problem), result
    assert result.example == example_for(SAMPLES[ItemType.DOCUMENT])


def test_document_link_required_on_request() -> None:
    assert isinstance(parse_document("Số 12/KH-UBND", TODAY), Ok)
    missing = parse_document("Số 12/KH-UBND", TODAY, require_link=True)
    assert isinstance(missing, Problem)
    assert "link" in missing.msgid
    assert isinstance(parse_document(f"12/KH-UBND; {EXAMPLE_LINK}", TODAY, require_link=True), Ok)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Nguyễn Văn A; Trưởng phòng", {"name": "Nguyễn Văn A", "position": "Trưởng phòng"}),
        ("Nguyễn Văn A, Trưởng phòng", {"name": "Nguyễn Văn A", "position": "Trưởng phòng"}),
        ("Nguyễn Văn A\nTrưởng phòng", {"name": "Nguyễn Văn A", "position": "Trưởng phòng"}),
        ("Nguyễn Văn A - Trưởng phòng", {"name": "Nguyễn Văn A", "position": "Trưởng phòng"}),
        ("Nguyễn  Văn A", {"name": "Nguyễn Văn A", "position": None}),
        (
            "Trần Thị B; Phó Giám đốc, Sở TTTT",
            {"name": "Trần Thị B", "position": "Phó Giám đốc, Sở TTTT"},
        ),
    ],
)
def test_person_accepts(text: str, value: dict[str, Any]) -> None:
    assert_ok(parse(SAMPLES[ItemType.PERSON], text), value)


@pytest.mark.parametrize("text", ["; Trưởng phòng", "0905123456", "", "Nguyễn Văn 2; x"])
def test_person_refuses(text: str) -> None:
    assert isinstance(parse(SAMPLES[ItemType.PERSON], text), Problem)


def test_computed_is_never_typed() -> None:
    result = parse(q(ItemType.COMPUTED, formula="[a] + [b]"), "12")
    assert isinstance(result, Problem)
    assert result.example


# --- open lists -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Quản lý văn bản; 2019; có", {"ten": "Quản lý văn bản", "nam": 2019, "co": True}),
        ("Quản lý văn bản | 2019 | không", {"ten": "Quản lý văn bản", "nam": 2019, "co": False}),
        ("Quản lý văn bản\n2019\nco", {"ten": "Quản lý văn bản", "nam": 2019, "co": True}),
        ("Quản lý văn bản", {"ten": "Quản lý văn bản", "nam": None, "co": None}),
        ("Quản lý văn bản;; có", {"ten": "Quản lý văn bản", "nam": None, "co": True}),
        ("Quản lý văn bản; 2019;", {"ten": "Quản lý văn bản", "nam": 2019, "co": None}),
    ],
)
def test_list_row_accepts(text: str, value: dict[str, Any]) -> None:
    assert_ok(parse_list_row(COLUMNS, text, TODAY), value)
    assert_ok(parse(LIST, text), value)


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("; 2019; có", {"column": "Tên ứng dụng"}),
        ("A; 19; có", {"position": 2, "column": "Năm triển khai", "cell_example": "2019"}),
        ("A; 2019; có; thêm", {"given": 4, "count": 3}),
        ("", {}),
    ],
)
def test_list_row_refuses(text: str, params: dict[str, Any]) -> None:
    result = parse(LIST, text)
    assert isinstance(result, Problem), result
    assert params.items() <= result.params.items()
    assert result.example == example_for(LIST)
    assert result.msgid.format_map(result.params)


def test_list_row_confirm_carries_the_row() -> None:
    columns = (
        Column("ten", Text("Tên"), ItemType.TEXT),
        Column("bw", Text("Băng thông"), ItemType.DECIMAL, unit=Text("Mbps")),
    )
    result = parse_list_row(columns, "FTTH; 1.5", TODAY)
    assert isinstance(result, Confirm)
    assert result.value == {"ten": "FTTH", "bw": 1.5}


# --- examples and formatting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "example"),
    [
        (MBPS, "15"),
        (INTEGER, "12"),
        (MACHINES, "25"),
        (PERCENT, "85"),
        (q(ItemType.DECIMAL), "2,5"),
        (BOUNDED, "12"),
        (q(ItemType.INTEGER, min=100), "100"),
        (q(ItemType.INTEGER, max=5), "5"),
        (q(ItemType.INTEGER, example="7 người"), "7 người"),
        (q(ItemType.YES_NO), "có"),
        (q(ItemType.DATE), "26/11/2026"),
        (q(ItemType.URL), "https://sotttt.binhdinh.gov.vn/ke-hoach-2019"),
        (LIST, "Tên ứng dụng; 2019; có"),
    ],
)
def test_example_for(question: Question, example: str) -> None:
    assert example_for(question) == example


@pytest.mark.parametrize("question", ANSWERABLE, ids=lambda x: f"{x.type}-{x.unit}")
def test_every_example_parses_ok(question: Question) -> None:
    assert isinstance(parse(question, example_for(question)), Ok)


@pytest.mark.parametrize(
    ("question", "value", "vi", "en"),
    [
        (MBPS, 1234.5, "1.234,5 Mbps", "1,234.5 Mbps"),
        (MBPS, 15.0, "15 Mbps", "15 Mbps"),
        (MBPS, 1.2345, "1,2345 Mbps", "1.2345 Mbps"),
        (MBPS, 0.1 + 0.2, "0,30000000000000004 Mbps", "0.30000000000000004 Mbps"),
        (INTEGER, 1234, "1.234 người", "1,234 người"),
        (MONEY, 5.0, "5 Tr.đ", "5 million VND"),
        (PERCENT, 85, "85%", "85%"),
        (q(ItemType.YES_NO), True, "Có", "Yes"),
        (q(ItemType.YES_NO), False, "Không", "No"),
        (q(ItemType.STATUS), "hoan_chinh", "Hoàn chỉnh", "Complete"),
        (q(ItemType.STATUS), "thu_nghiem", "Đang thử nghiệm", "Being tested"),
        (q(ItemType.STATUS), "chua_co", "Chưa có", "Not yet"),
        (CHOICE, "trung_binh", "Trung bình", "Medium"),
        (CHOICE, "gone", "gone", "gone"),
        (MULTI, ["cao", "thap"], "Cao, Thấp", "High, Low"),
        (MULTI, [], "Không chọn mục nào", "None chosen"),
        (q(ItemType.DATE), "2026-11-26", "26/11/2026", "26 Nov 2026"),
        (q(ItemType.DATE), "hôm qua", "hôm qua", "hôm qua"),
        (q(ItemType.YEAR), 2019, "2019", "2019"),
        (
            q(ItemType.DOCUMENT),
            FULL_DOCUMENT,
            f"Số 12/KH-UBND, 15/01/2019, Kế hoạch ứng dụng CNTT năm 2019, {EXAMPLE_LINK}",
            f"No. 12/KH-UBND, 15 Jan 2019, Kế hoạch ứng dụng CNTT năm 2019, {EXAMPLE_LINK}",
        ),
        (
            q(ItemType.PERSON),
            {"name": "Nguyễn Văn A", "position": "Trưởng phòng"},
            "Nguyễn Văn A, Trưởng phòng",
            "Nguyễn Văn A, Trưởng phòng",
        ),
        (
            LIST,
            [{"ten": "A", "nam": 2019, "co": True}, {"ten": "B", "nam": None, "co": False}],
            "A; 2019; Có\nB; Không",
            "A; 2019; Yes\nB; No",
        ),
        (INTEGER, None, "—", "—"),
        (INTEGER, "abc", "abc", "abc"),
    ],
)
def test_format_answer(question: Question, value: Any, vi: str, en: str) -> None:
    assert format_answer(question, value, "vi") == vi
    assert format_answer(question, value, "en") == en


def test_status_label() -> None:
    assert status_label("hoan_chinh", "vi") == "Hoàn chỉnh"
    assert status_label("chua_co", "en") == "Not yet"
    assert status_label("odd", "vi") == "odd"


# --- properties -------------------------------------------------------------------------------


def check_result(question: Question, result: Any, *, example_parses: bool = True) -> None:
    assert isinstance(result, Ok | Problem | Confirm)
    if isinstance(result, Problem | Confirm):
        assert result.msgid
        assert "anh/chị" in result.msgid.lower()
        assert result.msgid.format_map(result.params)
    if isinstance(result, Problem):
        assert result.example
        if example_parses:
            assert isinstance(parse(question, result.example), Ok)


texts = st.text() | st.text(alphabet="0123456789.,; -/:%ạcóknhưgư\n", max_size=40)


@pytest.mark.parametrize("question", ANSWERABLE, ids=lambda x: f"{x.type}-{x.unit}")
@settings(deadline=None, max_examples=150)
@given(text=texts)
def test_never_raises(question: Question, text: str) -> None:
    check_result(question, parse(question, text))


@settings(deadline=None)
@given(text=texts, column=st.sampled_from(ALL_COLUMNS))
def test_list_row_never_raises(text: str, column: Column) -> None:
    check_result(q(ItemType.LIST, columns=(column,)), parse_list_row((column,), text, TODAY))


@given(n=st.integers(min_value=0, max_value=10**15))
def test_round_trip_integers(n: int) -> None:
    assert_ok(parse(COUNT, f"{n:,}".replace(",", ".")), n)
    assert_ok(parse(COUNT, f"{n:,}".replace(",", " ")), n)


@given(n=st.integers(min_value=0, max_value=10**30))
def test_people_are_plausible_or_asked_about_or_refused(n: int) -> None:
    """Bounds of the unit table: ≤ 10.000 people saved, up to 10 million asked, beyond refused;
    never a value other than the one typed."""
    result = parse(INTEGER, f"{n:,}".replace(",", "."))
    if n <= 10_000:
        assert_ok(result, n)
    elif n <= 10_000_000:
        assert isinstance(result, Confirm) and result.value == n, result
        assert "bất thường" in result.msgid
    else:
        assert isinstance(result, Problem), result


@given(n=st.integers(min_value=0, max_value=10**4), frac=st.integers(min_value=1, max_value=999))
def test_round_trip_decimal_comma(n: int, frac: int) -> None:
    value = Decimal(n) + Decimal(frac) / 1000
    expected = float(value)
    assert_ok(parse(MBPS, str(value).replace(".", ",")), expected)
    assert_ok(parse(MBPS, format_number("vi", value)), expected)


@given(x=st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_round_trip_floats(x: float) -> None:
    """A decimal of up to 15 significant digits is stored as exactly that decimal; more
    digits are refused rather than rounded."""
    text = repr(x)
    if "e" in text:
        return
    result = parse(DECIMAL, text.replace(".", ","))
    if len(Decimal(text).normalize().as_tuple().digits) <= 15:
        assert_ok(result, x)
        assert Decimal(repr(result.value)) == Decimal(text)
    else:
        assert isinstance(result, Problem), result


@given(day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_round_trip_dates(day: date) -> None:
    assert_ok(parse(SAMPLES[ItemType.DATE], day.strftime("%d/%m/%Y")), day.isoformat())
    assert_ok(parse(SAMPLES[ItemType.DATE], day.isoformat()), day.isoformat())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@pytest.mark.parametrize(
    "question", [*ANSWERABLE, q(ItemType.COMPUTED)], ids=lambda x: f"{x.type}-{x.unit}"
)
@settings(deadline=None, max_examples=60)
@given(value=json_values, lang=st.sampled_from(["vi", "en", "fr", ""]))
def test_format_answer_never_raises(question: Question, value: Any, lang: str) -> None:
    assert isinstance(format_answer(question, value, lang), str)


def test_format_answer_odd_values() -> None:
    for value in (10**5000, float("nan"), float("inf"), {"number": 1}, [{"ten": None}], object()):
        for question in ANSWERABLE:
            assert isinstance(format_answer(question, value, "vi"), str)


@pytest.mark.parametrize(
    ("typed", "number", "link"),
    [
        (
            "link: sotttt.binhdinh.gov.vn/pc, số 05/KH-UBND ngày 25 tháng 10 năm 2021",
            "05/KH-UBND",
            "https://sotttt.binhdinh.gov.vn/pc",
        ),
        (
            "Kế hoạch 12/KH-UBND đăng tại binhdinh.gov.vn/kh12.",
            "12/KH-UBND",
            "https://binhdinh.gov.vn/kh12",
        ),
    ],
)
def test_a_document_finds_a_link_without_scheme_inside_a_sentence(
    typed: str, number: str, link: str
) -> None:
    read = parse_document(typed, TODAY, require_link=True)
    assert isinstance(read, Ok)
    assert (read.value["number"], read.value["link"]) == (number, link)


def test_a_document_without_a_link_is_kept_when_no_link_is_required() -> None:
    read = parse_document("số 12/QĐ-STTTT ngày 15/01/99", TODAY)
    assert isinstance(read, Ok)
    assert read.value == {
        "number": "12/QĐ-STTTT",
        "date": "1999-01-15",
        "title": None,
        "link": None,
    }


@pytest.mark.parametrize("typed", [";", "...", "-", "?!", " … "])
def test_text_of_punctuation_alone_is_no_answer(typed: str) -> None:
    assert isinstance(parse_text(typed), Problem)
    assert isinstance(parse_text(f"A{typed}"), Ok)  # with a letter it is text like any other


def test_a_bare_amount_in_dong_for_a_million_dong_item_is_asked_politely() -> None:
    """Hypothesis found it: 10000000 typed for a Tr.đ item is offered back as 10 Tr.đ, and
    the question was the one message without "anh/chị"."""
    question = next(
        q for q in ANSWERABLE if q.type is ItemType.DECIMAL and q.unit and q.unit.vi == "Tr.đ"
    )
    result = parse(question, "10000000")
    assert isinstance(result, Confirm) and result.value == 10
    check_result(question, result)
