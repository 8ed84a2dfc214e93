"""The ranking as an Excel workbook (openpyxl, write-only so 5,000 agencies stay fast).

Sheets:
- "Xếp hạng": per group (cohort), rank, agency, each section's points, deductions, total,
  maximum, index (0–1), score on 100, band, notes (variant, corrected items); unranked
  agencies below with the reason. The scale's name, with "minh họa" when illustrative.
- "Điểm tiêu chí": every criterion's points per agency (a row per agency);
- "Lý do": the reason for each criterion not scored in full (blank, N/A, rejected evidence,
  no post in the year…) and for each agency not ranked (late, missing).
- "Biểu đồ": a bar chart of totals (on 100) per cohort.
Headers frozen, filters on, number formats set. Text that Excel would read as a formula
(starting with = + - @, tab or CR) is written as text (data type string, quote prefix).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from scoring.model import AgencyScore, Criterion, Ranking
from scoring.texts import reason_text, scale_label, unranked_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_POINTS = "0.00"
_INDEX = "0.0000"
_BOLD = Font(bold=True)
_TOP = 2  # title rows above each sheet's header
# Full marks listed anyway, because the reader should see why they were given without the
# work: "không áp dụng" and a zero denominator/best. Other full marks are only in "Điểm tiêu
# chí" (listing them made this sheet most of the workbook: 5,000 agencies × 80 criteria).
_SAID = frozenset({"na", "zero_den_full", "zero_best_full"})


def _cell(ws: WriteOnlyWorksheet, value: Any, fmt: str | None = None, bold: bool = False) -> Any:
    """A cell; text that could be read as a formula is forced to be text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        c = WriteOnlyCell(ws, value=value)
        c.data_type = "s"
        c.quotePrefix = True
        return c
    if fmt is None and not bold:
        return value
    c = WriteOnlyCell(ws, value=value)
    if fmt:
        c.number_format = fmt
    if bold:
        c.font = _BOLD
    return c


def _row(ws: WriteOnlyWorksheet, values: Sequence[Any], formats: Sequence[str | None] = ()) -> None:
    fmts = list(formats) + [None] * (len(values) - len(formats))
    ws.append([_cell(ws, v, f) for v, f in zip(values, fmts, strict=True)])


def _title(ws: WriteOnlyWorksheet, ranking: Ranking, what: str) -> int:
    """Title rows; returns how many were written."""
    scale = ranking.scale
    ws.append([_cell(ws, f"{what} — {scale_label(scale)}", bold=True)])
    note = f"Phiếu: {scale.form} · thang điểm v{scale.version} · tối đa {scale.maximum:g}"
    if scale.illustrative:
        note += " · THANG ĐIỂM MINH HỌA (không phải thang điểm chính thức)"
    ws.append([_cell(ws, note)])
    return _TOP


def write_workbook(ranking: Ranking, path: str | Path) -> Path:
    """Write the ranking to `path` (.xlsx); returns the path. Raises OSError if it cannot
    be written."""
    scale = ranking.scale
    wb = Workbook(write_only=True)
    _ranking_sheet(wb, ranking)
    _points_sheet(wb, ranking)
    _reasons_sheet(wb, ranking)
    _chart_sheet(wb, ranking)
    out = Path(path)
    wb.properties.title = scale_label(scale)
    wb.save(out)
    return out


def _all(ranking: Ranking) -> Iterable[tuple[str, int | None, str, AgencyScore]]:
    for group, rows in ranking.groups.items():
        for r in rows:
            yield group, r.rank, r.band, r.score
    for s in ranking.unranked:
        yield s.cohort, None, "", s


def _ranking_sheet(wb: Workbook, ranking: Ranking) -> None:
    scale = ranking.scale
    ws = wb.create_sheet("Xếp hạng")
    sections = list(scale.sections)
    # Write-only sheets write panes and widths with the first row: set them first.
    ws.freeze_panes = f"E{_TOP + 2}"
    _widths(ws, [14, 7, 10, 40, *[12] * len(sections), 10, 10, 10, 12, 11, 12, 50])
    top = _title(ws, ranking, "Xếp hạng")
    header = [
        "Khối",
        "Hạng",
        "Mã",
        "Cơ quan",
        *[f"Mục {s.id} ({s.max:g})" for s in sections],
        "Trừ điểm",
        "Tổng",
        "Tối đa",
        "Chỉ số (0–1)",
        "Điểm /100",
        "Xếp loại",
        "Ghi chú",
    ]
    ws.append([_cell(ws, h, bold=True) for h in header])
    fmts = [None, None, None, None, *[_POINTS] * len(sections), _POINTS, _POINTS, _POINTS]
    fmts += [_INDEX, _POINTS, None, None]
    n = 0
    for group, rank, band, s in _all(ranking):
        got = s.sections
        notes = []
        if s.variant is not None:
            notes.append(f"Tính trên {s.maximum:g} điểm: {s.variant.name}")
        if s.corrected:
            notes.append("Số liệu đã điều chỉnh khi thẩm định: " + ", ".join(s.corrected))
        if rank is None:
            notes.insert(0, "Không xếp hạng: " + unranked_text(s))
        _row(
            ws,
            [
                group,
                rank,
                s.code,
                s.agency,
                *[round(got.get(sec.id, 0.0), 4) for sec in sections],
                sum(p for _, p in s.deductions),
                s.total,
                s.maximum,
                s.index,
                s.score100,
                band,
                "; ".join(notes),
            ],
            fmts,
        )
        n += 1
    last = _column(len(header))
    ws.auto_filter.ref = f"A{top + 1}:{last}{top + 1 + n}"


def _points_sheet(wb: Workbook, ranking: Ranking) -> None:
    """Every criterion's points per agency: one row per agency, one column per criterion
    (wide, so 5,000 agencies × 80 criteria stay a few hundred thousand cells)."""
    scale = ranking.scale
    ids = [c.id for top in scale.criteria() for c in _leaves(top)]
    ws = wb.create_sheet("Điểm tiêu chí")
    ws.freeze_panes = f"D{_TOP + 2}"
    _widths(ws, [14, 10, 40, *[9] * len(ids)])
    top = _title(ws, ranking, "Điểm từng tiêu chí")
    maxima = {c.id: c.max for top_c in scale.criteria() for c in _leaves(top_c)}
    ws.append(
        [_cell(ws, h, bold=True) for h in ("Khối", "Mã", "Cơ quan")]
        + [_cell(ws, f"{i} ({maxima[i]:g})", bold=True) for i in ids]
    )
    n = 0
    for group, _, _, s in _all(ranking):
        if len(s.criteria) == len(ids):  # every criterion listed, in the scale's order
            points = [c.points for c in s.criteria]
        else:  # a variant dropped some: blank cells there
            got = {c.id: c.points for c in s.criteria}
            points = [got.get(i) for i in ids]
        ws.append([_cell(ws, group), _cell(ws, s.code), _cell(ws, s.agency), *points])
        n += 1
    ws.auto_filter.ref = f"A{top + 1}:{_column(3 + len(ids))}{top + 1 + n}"


def _leaves(c: Criterion) -> list[Criterion]:
    """The criteria a score lists: a `sum` is listed by its parts, anything else whole."""
    if c.rule == "sum":
        return [leaf for p in c.parts for leaf in _leaves(p)]
    return [c]


def _reasons_sheet(wb: Workbook, ranking: Ranking) -> None:
    """Why: each criterion an agency did not get in full (and each "không áp dụng", bonus,
    manual or reviewer-corrected one), with its reason; unranked agencies with theirs.
    Six columns (the criterion's wording is in the scale and the "Điểm tiêu chí" header):
    this sheet is most of the workbook's cells."""
    ws = wb.create_sheet("Lý do")
    ws.freeze_panes = f"D{_TOP + 2}"
    _widths(ws, [10, 40, 12, 8, 8, 60])
    top = _title(ws, ranking, "Lý do từng tiêu chí")
    header = ["Mã", "Cơ quan", "Tiêu chí", "Điểm", "Tối đa", "Lý do"]
    ws.append([_cell(ws, h, bold=True) for h in header])
    n = 0
    said: dict[tuple[str, bool, bool], str] = {}  # reasons without parameters, worded once
    append = ws.append
    for _, rank, _, s in _all(ranking):
        code, name = _cell(ws, s.code), _cell(ws, s.agency)
        if rank is None:
            append([code, name, None, None, None, "Không xếp hạng: " + unranked_text(s)])
            n += 1
        for c in s.criteria:
            if c.points >= c.max and not c.corrected and c.reason not in _SAID:
                continue
            if c.params:
                why = reason_text(c)
                why = f"điểm cộng: {why}" if c.bonus else why
            else:
                key = (c.reason, c.corrected, c.bonus)
                why = said.get(key)  # type: ignore[assignment]
                if why is None:
                    why = reason_text(c)
                    why = said[key] = f"điểm cộng: {why}" if c.bonus else why
            append([code, name, c.id, c.points, c.max, why])
            n += 1
        for d, pts in s.deductions:
            ws.append([code, name, d.id, -pts, None, f"trừ điểm: {d.text}"])
            n += 1
    ws.auto_filter.ref = f"A{top + 1}:F{top + 1 + n}"


def _chart_sheet(wb: Workbook, ranking: Ranking) -> None:
    ws = wb.create_sheet("Biểu đồ")
    _widths(ws, [40, 12])
    top = _title(ws, ranking, "Tổng điểm (trên 100) theo khối")
    row = top + 1
    for group, rows in ranking.groups.items():
        ws.append([_cell(ws, f"Khối: {group}", bold=True)])
        ws.append([_cell(ws, "Cơ quan", bold=True), _cell(ws, "Điểm /100", bold=True)])
        first = row + 2
        for r in rows:
            ws.append([_cell(ws, r.score.agency), _cell(ws, r.score.score100, _POINTS)])
        last = first + len(rows) - 1
        chart = BarChart()
        chart.type = "bar"
        chart.title = f"Tổng điểm — {group}"
        chart.y_axis.title = "Điểm /100"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        data = Reference(ws, min_col=2, min_row=first - 1, max_row=last)
        cats = Reference(ws, min_col=1, min_row=first, max_row=last)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        chart.height = max(7.5, 0.5 * len(rows) + 3)
        chart.width = 18
        ws.add_chart(chart, f"D{row}")
        ws.append([])
        row = last + 2


def _column(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(n)


def _widths(ws: WriteOnlyWorksheet, widths: Sequence[float]) -> None:
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[_column(i)].width = w
