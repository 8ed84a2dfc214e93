"""Cells written so Excel shows exactly the text given: never a formula, never a number
it guessed. Text beginning with = + - @ (or a tab / carriage return) is "formula-like": in a
workbook it is stored as a string with Excel's quote prefix (shown as typed, not
evaluated); in CSV it gets a leading apostrophe, the usual guard (OWASP "CSV injection").

openpyxl is imported where a cell is made, not here: the bot process imports the desk's
modules (progress, targets) but never writes a workbook, and openpyxl with what it loads
(numpy, lxml, PIL) is ~25 MB of its resident memory (bench/memory_bench.py)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles.cell_style import StyleArray
    from openpyxl.worksheet.worksheet import Worksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE, the characters a workbook refuses (a test keeps
# the two equal), without importing openpyxl for it.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def printable(text: str) -> str:
    """Control characters a workbook cannot hold (openpyxl refuses them: the whole export
    would fail on one pasted \x1f) shown as U+FFFD; tab, LF and CR are kept."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_safe(value: Any) -> str:
    """A CSV field's text: formula-like text gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if not isinstance(value, str):  # a number (-3) is a number, not formula-like text
        return str(value)
    return "'" + value if formula_like(value) else value


def cell(
    ws: Worksheet,
    value: Any,
    *,
    link: str | None = None,
    bold: bool = False,
    number_format: str | None = None,
) -> WriteOnlyCell:
    """A cell for `ws.append` (write-only or normal sheets): strings always as strings.

    Datetimes are written naive (Excel has no time zones): callers convert to local time.
    The cell's style is made once per workbook and kind (`_style`), not per cell.
    """
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    quote = False
    if isinstance(value, str):
        value = printable(value)
        quote = value.startswith(FORMULA_START)
    key = (bool(link), bold and not link, number_format, quote)
    from openpyxl.cell.cell import Cell

    c = Cell(ws, 1, 1, value, None if key == _PLAIN else _style(ws, key))
    if isinstance(value, str):
        c.data_type = "s"  # openpyxl would store "=…" as a formula
    if link:
        c.hyperlink = link
    return c


_PLAIN = (False, False, None, False)
# Per workbook, a cell style (an index array into its fonts, formats…) per kind of cell:
# setting a Font on each cell costs a hash of the font and a lookup, ~30 µs a cell.
_STYLES: WeakKeyDictionary[Any, dict[tuple[bool, bool, str | None, bool], StyleArray]] = (
    WeakKeyDictionary()
)


def _style(ws: Worksheet, key: tuple[bool, bool, str | None, bool]) -> StyleArray:
    """The style array of a kind of cell (link, bold, number format, quote prefix) in the
    workbook of `ws`, made the first time through openpyxl's own setters."""
    styles = _STYLES.setdefault(ws.parent, {})
    found = styles.get(key)
    if found is None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        link, bold, number_format, quote = key
        c = WriteOnlyCell(ws)
        if quote:
            c.quotePrefix = True
        if link:
            c.font = Font(color="0563C1", underline="single")
        elif bold:
            c.font = Font(bold=True)
        if number_format:
            c.number_format = number_format
        found = styles[key] = c._style
    return found


DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
