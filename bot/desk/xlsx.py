"""A streaming .xlsx writer for the large exports (issue #9's answers export: ~9 million
cells at country scale) — the sheet XML written straight into the zip, row by row.

Why not openpyxl or XlsxWriter: measured on 100,000 history rows × 8 columns (30/11/2026,
CPU): openpyxl's write-only mode 131 µs a row (lxml present), XlsxWriter's constant_memory
mode 95 µs, this module about 8 µs. At a million rows the libraries alone take 95–131 s;
the goal of the whole export is 30 s. The files are read back with openpyxl in the tests.

What it writes (ECMA-376 SpreadsheetML, the subset the exports use): sheets written one
after another (only one open at a time: the zip is a stream), strings in the shared-string
table (each distinct text escaped once; beyond `SHARED_LIMIT` distinct texts, inline
strings, so free text cannot grow the table without bound), numbers, booleans, datetimes
(Excel serial numbers, a DD/MM/YYYY HH:MM format), bold headers, hyperlinks (link font),
frozen panes and an auto-filter. Text that starts like a formula (bot/desk/cells.py) gets
Excel's quote prefix; a cell is never a formula. Control characters a workbook cannot hold
are shown as U+FFFD (`printable`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from math import isfinite
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from bot.desk.cells import DATETIME_FORMAT, FORMULA_START, printable

SHARED_LIMIT = 300_000  # distinct texts in the shared-string table; later ones inline
MAX_COLUMNS = 16_384  # Excel's columns per sheet
_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (1900 system, past the 1900 leap bug)
_DAY = timedelta(days=1)
_CR = {"\r": "&#13;"}
_BAD_TITLE = str.maketrans({c: "-" for c in "[]:*?/\\"})

# Cell style indices in styles.xml's cellXfs (see _STYLES).
PLAIN, BOLD, LINK, DATETIME, QUOTE, BOLD_QUOTE, LINK_QUOTE = range(7)
_QUOTED = {PLAIN: QUOTE, BOLD: BOLD_QUOTE, LINK: LINK_QUOTE}
_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="1"><numFmt numFmtId="164" formatCode={quoteattr(DATETIME_FORMAT)}/></numFmts>
<fonts count="3">
<font><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/>\
<scheme val="minor"/></font>
<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>
<font><u/><sz val="11"/><color rgb="000563C1"/><name val="Calibri"/><family val="2"/>\
<scheme val="minor"/></font>
</fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill>\
<fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="7">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" quotePrefix="1"/>
<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1" quotePrefix="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>
"""
_NS = (
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def text_xml(value: str) -> str:
    """The <t> element of a text: printable, escaped, its edge spaces kept."""
    value = printable(value) if ILLEGAL_CHARACTERS_RE.search(value) else value
    value = escape(value, _CR)  # a bare CR would be read back as LF (XML end-of-line rule)
    if value[:1].isspace() or value[-1:].isspace():
        return f'<t xml:space="preserve">{value}</t>'
    return f"<t>{value}</t>"


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
    """One worksheet being written: rows go straight into the workbook's zip stream."""

    def __init__(self, book: XlsxBook, title: str, index: int, freeze: str | None) -> None:
        self.book, self.title, self.index = book, title, index
        self.rows = 0
        self.width = 0
        self.filter = False
        self.links: list[tuple[str, str]] = []  # (cell, target)
        # No ZIP64 header: a sheet stays far below 2 GiB of XML (a million history rows
        # make ~250 MB), and ZIP64 local headers are what some readers refuse.
        self._out: IO[bytes] = book._zip.open(f"xl/worksheets/sheet{index}.xml", "w")
        self._buf: list[str] = [_HEAD, f"<worksheet {_NS}>"]
        if freeze is not None:
            self._buf.append(_pane(freeze))
        self._buf.append("<sheetData>")

    def append(
        self, values: Sequence[Any], links: dict[int, str] | None = None, bold: bool = False
    ) -> None:
        """One row: values (None = empty cell), `links` {column index: target} written as
        hyperlinks, `bold` for a header row; None and "" leave the cell empty. Raises
        ValueError past Excel's 16,384 columns."""
        if len(values) > MAX_COLUMNS:
            raise ValueError(f"{len(values)} columns: Excel holds {MAX_COLUMNS}")
        self.rows += 1
        r = str(self.rows)
        letters = self.book._letters(len(values))
        parts = [f'<row r="{r}">']
        if bold:
            for i, v in enumerate(values):
                if v is not None and v != "":
                    link = links.get(i) if links else None
                    parts.append(self._styled(letters[i] + r, v, BOLD, link))
        else:  # the million-row path: a text seen before or an int without a call
            shared, frag = self.book._shared, self.book._fragment
            for i, v in enumerate(values):
                t = type(v)
                if t is str:
                    if not v:  # an empty text is an empty cell (as openpyxl writes it)
                        continue
                    f = shared.get(v) or frag(v)
                elif v is None:
                    continue
                elif t is int:
                    f = f"><v>{v}</v></c>"
                else:
                    f = frag(v)
                if links and i in links:
                    parts.append(self._styled(letters[i] + r, v, PLAIN, links[i]))
                else:
                    parts.append(f'<c r="{letters[i]}{r}"{f}')
        parts.append("</row>")
        self.width = max(self.width, len(values))
        buf = self._buf
        buf.append("".join(parts))
        if len(buf) > 512:
            self._flush()

    def _styled(self, ref: str, v: Any, style: int, link: str | None) -> str:
        """A cell in `style`, or a hyperlink (link font) recorded for the sheet's rels."""
        if link is None:
            return f'<c r="{ref}"{self.book._fragment(v, style)}'
        self.links.append((ref, link))
        return f'<c r="{ref}"{self.book._fragment(v, LINK)}'

    def _flush(self) -> None:
        self._out.write("".join(self._buf).encode("utf-8", "replace"))
        self._buf.clear()

    def close(self) -> None:
        """End the sheet: the auto-filter over every written row, the hyperlinks."""
        buf = self._buf
        buf.append("</sheetData>")
        if self.filter and self.rows:
            buf.append(f'<autoFilter ref="{self.filter_ref}"/>')
        if self.links:
            buf.append("<hyperlinks>")
            buf.extend(
                f'<hyperlink ref="{ref}" r:id="rId{n}"/>'
                for n, (ref, _) in enumerate(self.links, 1)
            )
            buf.append("</hyperlinks>")
        buf.append("</worksheet>")
        self._flush()
        self._out.close()
        if self.links:
            rels = "".join(
                f'<Relationship Id="rId{n}" Type="{_REL}/hyperlink" '
                f'Target={quoteattr(target)} TargetMode="External"/>'
                for n, (_, target) in enumerate(self.links, 1)
            )
            self.book._write(
                f"xl/worksheets/_rels/sheet{self.index}.xml.rels",
                f'{_HEAD}<Relationships xmlns="{_PKG_REL}">{rels}</Relationships>',
            )
            self.links = []

    @property
    def filter_ref(self) -> str:
        """A1:<last column><last row>: the range the auto-filter covers."""
        return f"A1:{get_column_letter(max(self.width, 1))}{max(self.rows, 1)}"


def _pane(cell: str) -> str:
    """<sheetViews> freezing the rows above and the columns left of `cell` ("B2", "A2")."""
    col = cell.rstrip("0123456789")
    x = sum((ord(ch) - 64) * 26**i for i, ch in enumerate(reversed(col))) - 1
    y = int(cell[len(col) :]) - 1
    split = (f' xSplit="{x}"' if x else "") + (f' ySplit="{y}"' if y else "")
    pane = "bottomRight" if x and y else "bottomLeft" if y else "topRight"
    return (
        '<sheetViews><sheetView workbookViewId="0">'
        f'<pane{split} topLeftCell="{cell}" activePane="{pane}" state="frozen"/>'
        f'<selection pane="{pane}"/></sheetView></sheetViews>'
    )


class XlsxBook:
    """A workbook written as it goes: `sheet()` opens the next sheet (closing the one before),
    `close()` writes the shared strings, styles and the workbook's parts.

    Compression level 1: the sheet XML of a million rows deflates about three times faster
    than at the default level, for a file about a quarter larger."""

    def __init__(self, path: Path, compresslevel: int = 1) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self.sheets: list[Sheet] = []
        self._open: Sheet | None = None
        self._taken: set[str] = set()
        self._strings: list[str] = []  # the shared-string table, <si> contents
        self._index: dict[str, int] = {}  # text → its place in the table
        # text → the plain cell's XML after `<c r="A1"`: made once per distinct text.
        self._shared: dict[str, str] = {}
        self._cols: list[str] = []
        self._times: dict[tuple[datetime, Any], str] = {}

    def sheet(self, title: str, freeze: str | None = None) -> Sheet:
        """A new sheet after the others; its title made acceptable (`sheet_title`)."""
        if self._open is not None:
            self._open.close()
        ws = Sheet(self, sheet_title(title, self._taken), len(self.sheets) + 1, freeze)
        self.sheets.append(ws)
        self._open = ws
        return ws

    def _letters(self, n: int) -> list[str]:
        cols = self._cols
        while len(cols) < n:
            cols.append(get_column_letter(len(cols) + 1))
        return cols

    def _fragment(self, v: Any, style: int = PLAIN) -> str:
        """The XML of a cell holding `v` after `<c r="A1"`, in `style` (PLAIN, BOLD, LINK;
        formula-like text adds the quote prefix; a datetime gets the date format)."""
        t = type(v)
        if t is str:
            quote = v.startswith(FORMULA_START)
            s = _QUOTED[style] if quote else style
            base = self._text(v)
            out = f' s="{s}"{base}' if s else base
            if style == PLAIN and ' t="s"' in base and len(self._shared) < SHARED_LIMIT:
                self._shared[v] = out
            return out
        at = f' s="{style}"' if style else ""
        if t is bool:
            return f'{at} t="b"><v>{int(v)}</v></c>'
        if t is int or (t is float and isfinite(v)) or (t is Decimal and v.is_finite()):
            return f"{at}><v>{v}</v></c>"
        if isinstance(v, datetime):
            key = (v, v.tzinfo)  # equal instants in two zones are two local times
            found = self._times.get(key)
            if found is None:
                serial = (v.replace(tzinfo=None) - _EPOCH) / _DAY
                found = f' s="{DATETIME}"><v>{serial!r}</v></c>'
                if len(self._times) < 10_000:  # the history's times repeat: changes come in bulk
                    self._times[key] = found
            return found
        if isinstance(v, date):
            return self._fragment(datetime(v.year, v.month, v.day), style)
        return self._fragment(str(v), style)  # inf, NaN, anything else: its text

    def _text(self, v: str) -> str:
        """`v` as a shared string, or inline past SHARED_LIMIT distinct texts (no style)."""
        n = self._index.get(v)
        if n is None:
            t = text_xml(v)
            if len(self._strings) >= SHARED_LIMIT:
                return f' t="inlineStr"><is>{t}</is></c>'
            n = self._index[v] = len(self._strings)
            self._strings.append(t)
        return f' t="s"><v>{n}</v></c>'

    def _write(self, name: str, text: str) -> None:
        self._zip.writestr(name, text.encode("utf-8", "replace"))

    def close(self) -> None:
        """Finish the last sheet and write the rest of the package."""
        if self._open is not None:
            self._open.close()
            self._open = None
        if not self.sheets:
            self.sheet("Sheet").close()
        n = len(self.sheets)
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"{escape(_quoted(ws.title))}!{_absolute(ws.filter_ref)}</definedName>"
            for i, ws in enumerate(self.sheets)
            if ws.filter and ws.rows
        )
        sheets = "".join(
            f"<sheet name={quoteattr(ws.title)} sheetId={quoteattr(str(ws.index))} "
            f'r:id="rId{ws.index}"/>'
            for ws in self.sheets
        )
        self._write(
            "xl/workbook.xml",
            f"{_HEAD}<workbook {_NS}><bookViews><workbookView/></bookViews>"
            f"<sheets>{sheets}</sheets>"
            + (f"<definedNames>{names}</definedNames>" if names else "")
            + "</workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        rels += f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
        rels += (
            f'<Relationship Id="rId{n + 2}" Type="{_REL}/sharedStrings" '
            'Target="sharedStrings.xml"/>'
        )
        self._write(
            "xl/_rels/workbook.xml.rels",
            f'{_HEAD}<Relationships xmlns="{_PKG_REL}">{rels}</Relationships>',
        )
        self._write("xl/styles.xml", _STYLES)
        with self._zip.open("xl/sharedStrings.xml", "w") as out:
            out.write(
                f'{_HEAD}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
                f' uniqueCount="{len(self._strings)}">'.encode()
            )
            for start in range(0, len(self._strings), 4096):
                part = self._strings[start : start + 4096]
                out.write("".join(f"<si>{t}</si>" for t in part).encode("utf-8", "replace"))
            out.write(b"</sst>")
        self._strings, self._shared, self._index = [], {}, {}
        self._write(
            "_rels/.rels",
            f'{_HEAD}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{ct}.worksheet+xml"/>'
            for i in range(1, n + 1)
        )
        self._write(
            "[Content_Types].xml",
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f"{overrides}"
            f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            "</Types>",
        )
        self._zip.close()


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _absolute(ref: str) -> str:
    """A1:H9 → $A$1:$H$9."""
    out = []
    for part in ref.split(":"):
        col = part.rstrip("0123456789")
        out.append(f"${col}${part[len(col) :]}")
    return ":".join(out)
