"""Cells written so Excel shows exactly the text given: never a formula, never a number
it guessed. Text beginning with = + - @ (or a tab / carriage return) is "formula-like": in a
workbook it is stored as a string with Excel's quote prefix (shown as typed, not
evaluated); in CSV it gets a leading apostrophe, the usual guard (OWASP "CSV injection")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LINK_FONT = Font(color="0563C1", underline="single")
BOLD = Font(bold=True)


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
    """
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    if isinstance(value, str):
        value = printable(value)
    c = WriteOnlyCell(ws, value)
    if isinstance(value, str):
        c.data_type = "s"  # openpyxl would store "=…" as a formula
        if formula_like(value):
            c.quotePrefix = True
    if link:
        c.hyperlink = link
        c.font = LINK_FONT
    elif bold:
        c.font = BOLD
    if number_format:
        c.number_format = number_format
    return c


def fast(ws: Worksheet, value: Any, link: str | None = None) -> Any:
    """What `ws.append` needs for `value`: the bare value when it needs nothing (a number, an
    ordinary text: openpyxl writes those several times faster), else a `cell`."""
    if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
        value = printable(value)
    if link or isinstance(value, datetime) or formula_like(value):
        fmt = "DD/MM/YYYY HH:MM" if isinstance(value, datetime) else None
        return cell(ws, value, link=link, number_format=fmt)
    return value
