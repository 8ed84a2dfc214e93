"""Excel and CSV cells never evaluate what an official typed (issue #9, COMMON security)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from bot.desk.cells import FORMULA_START, cell, csv_safe, fast, formula_like, printable

texts = st.text(max_size=40) | st.sampled_from(FORMULA_START).flatmap(
    lambda c: st.text(max_size=20).map(lambda t: c + t)
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
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append([cell(ws, v) for v in values])
    ws.append([fast(ws, v) for v in values])
    wb.save(path)
    back = load_workbook(path)["s"]
    for row in back.iter_rows():
        for c, v in zip(row, values, strict=False):
            assert c.data_type != "f"
            if v:  # openpyxl reads "" back as None
                assert c.value == printable(v)
            if formula_like(v):
                assert c.quotePrefix


def test_control_characters_do_not_break_the_export(tmp_path: Path) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append([cell(ws, "a\x1fb"), fast(ws, "=x\x00"), fast(ws, "tab\tok")])
    wb.save(tmp_path / "c.xlsx")
    row = next(load_workbook(tmp_path / "c.xlsx")["s"].iter_rows(values_only=True))
    assert row == ("a\ufffdb", "=x\ufffd", "tab\tok")


def test_the_illegal_characters_are_openpyxls() -> None:
    """cells.py keeps its own copy so the bot need not import openpyxl for it."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as theirs

    from bot.desk.cells import ILLEGAL_CHARACTERS_RE as ours

    assert ours.pattern == theirs.pattern
    for code in range(0x110):
        char = chr(code)
        assert bool(ours.search(char)) == bool(theirs.search(char)), hex(code)
