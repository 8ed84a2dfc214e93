"""The answers workbook's adapter over openpyxl (bot/desk/xlsx.py) read back with openpyxl:
values and their types, styles, links, panes, filters, sheet titles, texts that must stay
text, remembered cells that must not change."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.desk import xlsx
from bot.desk.xlsx import XlsxBook, sheet_title


def _book(tmp_path: Path) -> XlsxBook:
    return XlsxBook(tmp_path / "b.xlsx")


def test_values_keep_their_types(tmp_path: Path) -> None:
    book = _book(tmp_path)
    at = datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    values = [1, -3, 2.5, Decimal("1.50"), True, False, "a & <b>", at, date(2026, 1, 2), None, ""]
    book.sheet("s").append([*values, 10**20, float("inf"), Decimal("NaN"), " x "])
    book.close()
    ws = load_workbook(book.path)["s"]
    row = [c.value for c in ws[1]]
    assert row[:9] == [1, -3, 2.5, 1.5, True, False, "a & <b>", datetime(2026, 11, 20, 9, 30),
                       datetime(2026, 1, 2)]  # fmt: skip
    assert row[9:11] == [None, None]  # None and "" are empty cells
    assert row[11:] == [10**20, "inf", "NaN", " x "]  # no number Excel cannot hold
    assert ws["H1"].number_format == "DD/MM/YYYY HH:MM"
    assert [c.data_type for c in ws[1]][:7] == ["n", "n", "n", "n", "b", "b", "s"]


def test_styles_links_panes_and_filters(tmp_path: Path) -> None:
    book = _book(tmp_path)
    first = book.sheet("Sở", freeze="B2")
    first.filter = True
    first.append(["Cơ quan", "Trang"], bold=True)
    first.append(["A", "https://a.vn", "=1+1"], links={1: "https://a.vn"})
    first.append(["B", "@x"], links={1: "https://b.vn/?a=1&b=2"})
    history = book.sheet("Lịch sử", freeze="A2")
    history.filter = True
    history.append(["Mã"], bold=True)
    book.sheet("Trống")  # no rows: no filter
    book.close()
    wb = load_workbook(book.path)
    ws = wb["Sở"]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref == "A1:C3"
    assert ws["A1"].font.b and not ws["A2"].font.b
    assert ws["B2"].hyperlink.target == "https://a.vn" and ws["B2"].font.u == "single"
    assert ws["B3"].hyperlink.target == "https://b.vn/?a=1&b=2"
    assert ws["B3"].quotePrefix and ws["C2"].quotePrefix and ws["C2"].data_type == "s"
    assert ws["A2"].hyperlink is None
    assert wb["Lịch sử"].freeze_panes == "A2" and wb["Lịch sử"].auto_filter.ref == "A1:A1"
    assert wb["Trống"].max_row == 1 and wb["Trống"].auto_filter.ref is None
    assert wb.sheetnames == ["Sở", "Lịch sử", "Trống"]


@pytest.mark.parametrize("error", ["#N/A", "#REF!", "#DIV/0!", "#NULL!", "#VALUE!"])
def test_excel_error_words_stay_text(tmp_path: Path, error: str) -> None:
    # openpyxl would write a bare "#N/A" as an error cell, not the text typed
    book = _book(tmp_path)
    ws = book.sheet("s")
    for _ in range(3):  # a remembered cell must not be overwritten by the next value
        ws.append([error, "a", 7, error, "=b"])
    ws.append([error], bold=True)
    book.close()
    back = load_workbook(book.path)["s"]
    for row in back.iter_rows(max_row=3):
        assert [c.value for c in row] == [error, "a", 7, error, "=b"]
        assert [c.data_type for c in row] == ["s", "s", "n", "s", "s"]
    assert back["A4"].value == error and back["A4"].data_type == "s" and back["A4"].font.b


def test_repeated_texts_and_times_come_back_unchanged(tmp_path: Path) -> None:
    book = _book(tmp_path)
    ws = book.sheet("s")
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    times = [datetime(2026, 11, 20, h, tzinfo=tz) for h in (9, 10, 9)]
    rows = [["=a", "x\x1f", at, "-1", at, "@b"] for at in times]
    for r in rows:
        ws.append(r)
    book.close()
    back = load_workbook(book.path)["s"]
    for got, at in zip(back.iter_rows(values_only=True), times, strict=True):
        naive = at.replace(tzinfo=None)
        assert list(got) == ["=a", "x\ufffd", naive, "-1", naive, "@b"]
    assert all(back.cell(r, 1).quotePrefix and back.cell(r, 3).is_date for r in (1, 2, 3))


def test_one_instant_in_two_zones_is_two_local_times(tmp_path: Path) -> None:
    book = _book(tmp_path)
    at = datetime(2026, 11, 20, 2, tzinfo=ZoneInfo("UTC"))
    book.sheet("s").append([at, at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))])
    book.close()
    row = next(load_workbook(book.path)["s"].iter_rows(values_only=True))
    assert row == (datetime(2026, 11, 20, 2), datetime(2026, 11, 20, 9))


@pytest.mark.parametrize(
    ("title", "want"),
    [
        ("Sở", "Sở"),
        ("a/b:c", "a-b-c"),
        ("[x]*?\\", "-x----"),
        ("'q'", "q"),
        ("x" * 40, "x" * 31),
        ("", "Sheet"),
    ],
)
def test_sheet_titles_are_ones_excel_accepts(title: str, want: str) -> None:
    assert sheet_title(title, set()) == want


def test_a_taken_title_gets_a_number(tmp_path: Path) -> None:
    taken: set[str] = set()
    assert [sheet_title(t, taken) for t in ("Sở", "sở", "Sở", "y" * 31, "y" * 31)] == [
        "Sở",
        "sở (2)",
        "Sở (3)",
        "y" * 31,
        "y" * 27 + " (2)",
    ]
    book = _book(tmp_path)
    for t in ("Huyện", "huyện", "a'b"):
        book.sheet(t).append([t])
    book.close()
    assert load_workbook(book.path).sheetnames == ["Huyện", "huyện (2)", "a'b"]


def test_an_empty_book_still_opens_and_too_many_columns_are_refused(tmp_path: Path) -> None:
    book = _book(tmp_path)
    with pytest.raises(ValueError, match="16384"):
        book.sheet("s").append([1] * (xlsx.MAX_COLUMNS + 1))
    book.close()
    assert load_workbook(book.path).sheetnames == ["s"]
    empty = XlsxBook(tmp_path / "e.xlsx")
    empty.close()
    assert load_workbook(tmp_path / "e.xlsx").sheetnames == ["Sheet"]


class _Shown:
    """A value of no Excel type: written as its text, checked like any text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def test_other_values_are_written_as_checked_text(tmp_path: Path) -> None:
    book = _book(tmp_path)
    book.sheet("s").append([_Shown("=1+1"), _Shown("a\x1f"), _Shown("#N/A"), _Shown("ok")])
    book.close()
    row = load_workbook(book.path)["s"][1]
    assert [c.value for c in row] == ["=1+1", "a\ufffd", "#N/A", "ok"]
    assert [c.data_type for c in row] == ["s"] * 4 and row[0].quotePrefix
