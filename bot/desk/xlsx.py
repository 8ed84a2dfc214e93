"""The answers workbook through openpyxl's write-only mode (lxml underneath): a thin adapter
giving bot/desk/answers.py a book that makes sheets, `Sheet.append(values, links=…,
bold=…)`, frozen panes and an auto-filter.

openpyxl by the project's rule (a well-kept library beats our own SpreadsheetML, even a
slower one): it writes every part of the package; this module only decides, per value, what
to hand it. Plain values (a number, an ordinary text) are appended bare — openpyxl's fastest
path. Cells that need more are `bot.desk.cells.cell`s, their style made once per workbook:
a hyperlink (link font), a bold header, a date (DD/MM/YYYY HH:MM), and text openpyxl would
not keep as typed — formula-like text (quote prefix, data type "s": never a formula) and
Excel's error words such as "#N/A" (data type "s", else openpyxl writes an error cell).
Control characters a workbook cannot hold are shown as U+FFFD (`printable`); a number Excel
cannot hold (inf, NaN) is written as its text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from math import isfinite
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.utils import get_column_letter

from bot.desk.cells import DATETIME_FORMAT, cell, formula_like, printable
from bot.desk.files import partial_path, put_in_place

MAX_COLUMNS = 16_384  # Excel's columns per sheet
# Excel's hyperlinks per worksheet (its specifications: 65,530 unique links): past them a
# sheet's links stay as their text (the evidence cell shows the address anyway).
MAX_LINKS = 65_530
KNOWN = 100_000  # distinct texts and times whose appended form a book remembers
_BAD_TITLE = str.maketrans({c: "-" for c in "[]:*?/\\"})
_MISSING = object()


def sheet_title(title: str, taken: set[str]) -> str:
    """A title Excel accepts: none of []:*?/\\ (shown as -), at most 31 characters, unique
    without case (a second "Sở" becomes "Sở (2)")."""
    base = title.translate(_BAD_TITLE).strip("'")[:31] or "Sheet"
    out, n = base, 1
    while out.lower() in taken:
        n += 1
        suffix = f" ({n})"
        out = base[: 31 - len(suffix)] + suffix
    taken.add(out.lower())
    return out


class Sheet:
    """One write-only worksheet; `filter` True puts an auto-filter over its written rows."""

    def __init__(self, book: XlsxBook, ws: Any) -> None:
        self.book, self.ws = book, ws
        self.title: str = ws.title
        self.rows = 0
        self.width = 0
        self.filter = False
        self.links = 0

    def append(
        self, values: Sequence[Any], links: dict[int, str] | None = None, bold: bool = False
    ) -> None:
        """One row: values (None and "" leave the cell empty), `links` {column index:
        target} written as hyperlinks (the sheet's first MAX_LINKS; after them the value
        alone), `bold` for a header row. Raises ValueError past Excel's 16,384 columns."""
        if len(values) > MAX_COLUMNS:
            raise ValueError(f"{len(values)} columns: Excel holds {MAX_COLUMNS}")
        if links:
            room = MAX_LINKS - self.links
            if len(links) > room:
                links = dict(list(links.items())[: max(room, 0)])
            self.links += len(links)
        if bold:
            row = [self.book.styled(v, (links or {}).get(i), True) for i, v in enumerate(values)]
        else:  # the million-row path: a number or a text seen before without a call
            known, put = self.book._known, self.book.plain
            row = []
            for v in values:
                t = type(v)
                if t is int or v is None:
                    row.append(v)
                    continue
                out = known.get(v, _MISSING) if t is str else _MISSING
                row.append(put(v) if out is _MISSING else out)
            if links:
                styled = self.book.styled
                for i, link in links.items():
                    row[i] = styled(values[i], link)
        self.ws.append(row)
        self.rows += 1
        self.width = max(self.width, len(values))

    @property
    def filter_ref(self) -> str:
        """A1:<last column><last row>: the range the auto-filter covers."""
        return f"A1:{get_column_letter(max(self.width, 1))}{max(self.rows, 1)}"


class XlsxBook:
    """An openpyxl write-only workbook for `path`; `sheet()` adds a sheet (its title made
    acceptable, `sheet_title`). `close()` saves it; or in two steps, `finish()` saves it
    beside `path` under a temporary name and `commit()` puts it in place — so a failed
    export never leaves a half-written workbook, nor replaces a good one (`discard()`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = partial_path(path)
        self.wb = Workbook(write_only=True)
        self.sheets: list[Sheet] = []
        self._taken: set[str] = set()
        # text → what to append for it (the bare text or its cell); datetime → its cell.
        # A styled cell can be appended again: openpyxl sets its place just before writing
        # it and never reuses a styled cell (an unstyled one, "#N/A", it takes as its
        # scratch cell and overwrites: those are not kept).
        self._known: dict[Any, Any] = {}

    def sheet(self, title: str, freeze: str | None = None) -> Sheet:
        """A new sheet after the others, its panes frozen above and left of `freeze`."""
        ws = self.wb.create_sheet(sheet_title(title, self._taken))
        if freeze is not None:
            ws.freeze_panes = freeze  # before the first row: openpyxl writes it first
        out = Sheet(self, ws)
        self.sheets.append(out)
        return out

    def plain(self, v: Any) -> Any:
        """What to append for `v` in an unstyled cell, remembered for texts and times."""
        key = (v, v.tzinfo) if isinstance(v, datetime) else v  # one instant, two zones
        found = self._known.get(key, _MISSING)
        if found is _MISSING:
            found = self.styled(v)
            unstyled = isinstance(found, Cell) and not found.has_style
            if type(v) in (str, datetime) and not unstyled and len(self._known) < KNOWN:
                self._known[key] = found
        return found

    def styled(self, v: Any, link: str | None = None, bold: bool = False) -> Any:
        """`v` as openpyxl should get it: bare when it needs nothing, else a cell."""
        if type(v) is str:
            if not v:
                return None  # an empty text is an empty cell
            if ILLEGAL_CHARACTERS_RE.search(v):
                v = printable(v)
            if not (link or bold or formula_like(v) or v in ERROR_CODES):
                return v
            return cell(self._ws, v, link=link, bold=bold)
        if isinstance(v, float | Decimal) and not isfinite(v):
            return self.styled(str(v), link, bold)  # Excel holds no inf or NaN: their text
        if isinstance(v, date) and not isinstance(v, datetime):
            v = datetime(v.year, v.month, v.day)
        elif v is not None and not isinstance(v, int | float | Decimal | datetime):
            return self.styled(str(v), link, bold)  # anything else: its text, checked as one
        if isinstance(v, datetime):
            return cell(self._ws, v, link=link, bold=bold, number_format=DATETIME_FORMAT)
        if link or bold:
            return cell(self._ws, v, link=link, bold=bold)
        return v

    @property
    def _ws(self) -> Any:
        return self.sheets[-1].ws

    def finish(self) -> None:
        """Set each filtered sheet's range and save the workbook under its temporary name
        (an empty book gets one empty sheet: a package without sheets does not open).
        Raises OSError when it cannot be written (the temporary file is then removed)."""
        if not self.sheets:
            self.sheet("Sheet")
        for s in self.sheets:
            if s.filter and s.rows:
                s.ws.auto_filter.ref = s.filter_ref
        try:
            self.wb.save(self.part)
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        """The saved workbook put in place of `path` (one rename: never half a file).
        Raises OSError naming `path` when it cannot be (the temporary file is removed)."""
        put_in_place(self.part, self.path)

    def close(self) -> None:
        """`finish()` then `commit()`."""
        self.finish()
        self.commit()

    def discard(self) -> None:
        """Give up the workbook: its temporary file removed, the sheets' writers stopped
        quietly (left to the garbage collector, openpyxl's half-written sheets print
        "Exception ignored" tracebacks at exit)."""
        for s in self.sheets:
            for gen in (getattr(s.ws, "_rows", None), getattr(s.ws, "_writer", None)):
                gen = getattr(gen, "xf", gen)  # a sheet's writer holds its XML generator
                close = getattr(gen, "close", None)
                if close is not None:  # lxml objects to the early exit: expected, not told
                    with contextlib.suppress(Exception):
                        close()
        self.part.unlink(missing_ok=True)
