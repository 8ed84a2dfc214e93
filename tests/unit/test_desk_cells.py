"""Excel and CSV cells never evaluate what an official typed (issue #9, COMMON security)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ERROR_CODES

from bot.desk.cells import FORMULA_START, cell, csv_safe, formula_like, printable
from bot.desk.xlsx import XlsxBook

texts = (
    st.text(max_size=40)
    | st.sampled_from(FORMULA_START).flatmap(lambda c: st.text(max_size=20).map(lambda t: c + t))
    | st.sampled_from(sorted(ERROR_CODES))  # "#N/A": openpyxl's guess is an error cell
)


@given(texts)
def test_csv_text_never_starts_like_a_formula(text: str) -> None:
    out = csv_safe(text)
    assert not out.startswith(FORMULA_START)
    assert out in (text, "'" + text)


@given(st.integers() | st.floats(allow_nan=False) | st.none())
def test_numbers_are_not_neutralised(value: int | float | None) -> None:
    assert csv_safe(value) == ("" if value is None else str(value))


@settings(max_examples=50, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8))
def test_workbook_cells_are_text_never_formulas(
    tmp_path_factory: object, values: list[str]
) -> None:
    path = Path(tmp_path_factory.mktemp("x")) / "c.xlsx"  # type: ignore[attr-defined]
    wb = Workbook(write_only=True)  # openpyxl's path (progress workbooks)…
    ws = wb.create_sheet("s")
    ws.append([cell(ws, v) for v in values])
    wb.save(path)
    book = XlsxBook(path.with_name("d.xlsx"))  # …and the answers' adapter over it
    sheet = book.sheet("s")
    sheet.append(values)
    sheet.append(values, bold=True)
    sheet.append(values, links=dict.fromkeys(range(len(values)), "https://a.vn"))
    book.close()
    rows = [*load_workbook(path)["s"].iter_rows(), *load_workbook(book.path)["s"].iter_rows()]
    for row in rows:
        for c, v in zip(row, values, strict=False):
            assert c.data_type != "f"
            if v:  # openpyxl reads "" back as None
                assert c.value == printable(v) and c.data_type == "s"
            if formula_like(v):
                assert c.quotePrefix


def test_control_characters_do_not_break_the_export(tmp_path: Path) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append([cell(ws, "a\x1fb"), cell(ws, "=x\x00"), cell(ws, "tab\tok")])
    wb.save(tmp_path / "c.xlsx")
    book = XlsxBook(tmp_path / "d.xlsx")
    book.sheet("s").append(["a\x1fb", "=x\x00", "tab\tok", "\x0bv", " \x1f "])
    book.close()
    row = next(load_workbook(tmp_path / "c.xlsx")["s"].iter_rows(values_only=True))
    assert row == ("a\ufffdb", "=x\ufffd", "tab\tok")
    row = next(load_workbook(tmp_path / "d.xlsx")["s"].iter_rows(values_only=True))
    assert row == ("a\ufffdb", "=x\ufffd", "tab\tok", "\ufffdv", " \ufffd ")


def test_the_illegal_characters_are_openpyxls() -> None:
    """cells.py keeps its own copy so the bot need not import openpyxl for it."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as theirs

    from bot.desk.cells import ILLEGAL_CHARACTERS_RE as ours

    assert ours.pattern == theirs.pattern
    for code in range(0x110):
        char = chr(code)
        assert bool(ours.search(char)) == bool(theirs.search(char)), hex(code)
