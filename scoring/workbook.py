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

Every word the workbook adds is a catalog msgid (flows.i18n) said in the run's language
(`lang`: "vi", the default, or "en"); the scale's own names come in `lang` from its file
(`name_en`, `text_en`). Numbers in the words are written as before in both languages
(`{:g}`, no grouping), so the Vietnamese workbook is unchanged.
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

from flows.i18n import N_, translate
from scoring.model import AgencyScore, Criterion, Ranking
from scoring.texts import band_text, group_text, reason_text, scale_label, unranked_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_POINTS = "0.00"
_INDEX = "0.0000"
_BOLD = Font(bold=True)
_TOP = 2  # title rows above each sheet's header
# Full marks listed anyway, because the reader should see why they were given without the
# work: "không áp dụng" and a zero denominator/best. Other full marks are only in "Điểm tiêu
# chí" (listing them made this sheet most of the workbook: 5,000 agencies × 80 criteria).
_SAID = frozenset({"na", "zero_den_full", "zero_best_full"})

# Sheet names (at most 31 characters in every language) and the title of each sheet.
_RANKING = N_("Xếp hạng")
_POINTS_SHEET = N_("Điểm tiêu chí")
_REASONS = N_("Lý do")
_CHART = N_("Biểu đồ")
_AGENCY = N_("Cơ quan")
_CODE = N_("Mã")
_COHORT = N_("Khối")
_MAX = N_("Tối đa")
_ON_100 = N_("Điểm /100")
_UNRANKED = N_("Không xếp hạng: {reason}")


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


def _title(ws: WriteOnlyWorksheet, ranking: Ranking, what: str, lang: str) -> int:
    """Title rows (`what`: a msgid); returns how many were written."""
    scale = ranking.scale
    title = f"{translate(lang, what)} — {scale_label(scale, lang)}"
    ws.append([_cell(ws, title, bold=True)])
    note = translate(
        lang,
        N_("Phiếu: {form} · thang điểm v{version} · tối đa {max}"),
        {"form": scale.form, "version": str(scale.version), "max": f"{scale.maximum:g}"},
    )
    if scale.illustrative:
        note = translate(
            lang,
            N_("{note} · THANG ĐIỂM MINH HỌA (không phải thang điểm chính thức)"),
            {"note": note},
        )
    ws.append([_cell(ws, note)])
    return _TOP


def write_workbook(ranking: Ranking, path: str | Path, lang: str = "vi") -> Path:
    """Write the ranking to `path` (.xlsx) in `lang` ("vi" or "en": sheet names, headers,
    notes, reasons, band and scale names); returns the path. Raises OSError if it cannot be
    written."""
    scale = ranking.scale
    wb = Workbook(write_only=True)
    _ranking_sheet(wb, ranking, lang)
    _points_sheet(wb, ranking, lang)
    _reasons_sheet(wb, ranking, lang)
    _chart_sheet(wb, ranking, lang)
    out = Path(path)
    wb.properties.title = scale_label(scale, lang)
    wb.save(out)
    return out


def _all(ranking: Ranking, lang: str) -> Iterable[tuple[str, int | None, str, AgencyScore]]:
    """(group, rank, band, score) of every agency, ranked first, the group and band said
    in `lang`."""
    for rows in ranking.groups.values():
        for r in rows:
            yield group_text(r.score, lang), r.rank, band_text(r.band, lang), r.score
    for s in ranking.unranked:
        yield s.cohort, None, "", s


def _sheet(wb: Workbook, name: str, lang: str) -> WriteOnlyWorksheet:
    """A sheet named `name` (a msgid) in `lang`: Excel allows 31 characters."""
    return wb.create_sheet(translate(lang, name)[:31])


def _ranking_sheet(wb: Workbook, ranking: Ranking, lang: str) -> None:
    scale = ranking.scale
    ws = _sheet(wb, _RANKING, lang)
    sections = list(scale.sections)
    # Write-only sheets write panes and widths with the first row: set them first.
    ws.freeze_panes = f"E{_TOP + 2}"
    _widths(ws, [14, 7, 10, 40, *[12] * len(sections), 10, 10, 10, 12, 11, 12, 50])
    top = _title(ws, ranking, _RANKING, lang)
    section = N_("Mục {id} ({max})")
    header = [
        translate(lang, _COHORT),
        translate(lang, N_("Hạng")),
        translate(lang, _CODE),
        translate(lang, _AGENCY),
        *[translate(lang, section, {"id": s.id, "max": f"{s.max:g}"}) for s in sections],
        translate(lang, N_("Trừ điểm")),
        translate(lang, N_("Tổng")),
        translate(lang, _MAX),
        translate(lang, N_("Chỉ số (0–1)")),
        translate(lang, _ON_100),
        translate(lang, N_("Xếp loại")),
        translate(lang, N_("Ghi chú")),
    ]
    ws.append([_cell(ws, h, bold=True) for h in header])
    fmts = [None, None, None, None, *[_POINTS] * len(sections), _POINTS, _POINTS, _POINTS]
    fmts += [_INDEX, _POINTS, None, None]
    n = 0
    for group, rank, band, s in _all(ranking, lang):
        got = s.sections
        notes = []
        if s.variant is not None:
            notes.append(
                translate(
                    lang,
                    N_("Tính trên {max} điểm: {variant}"),
                    {"max": f"{s.maximum:g}", "variant": s.variant.name_in(lang)},
                )
            )
        if s.corrected:
            notes.append(
                translate(
                    lang,
                    N_("Số liệu đã điều chỉnh khi thẩm định: {items}"),
                    {"items": ", ".join(s.corrected)},
                )
            )
        if rank is None:
            notes.insert(0, translate(lang, _UNRANKED, {"reason": unranked_text(s, lang)}))
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


def _points_sheet(wb: Workbook, ranking: Ranking, lang: str) -> None:
    """Every criterion's points per agency: one row per agency, one column per criterion
    (wide, so 5,000 agencies × 80 criteria stay a few hundred thousand cells)."""
    scale = ranking.scale
    ids = [c.id for top in scale.criteria() for c in _leaves(top)]
    ws = _sheet(wb, _POINTS_SHEET, lang)
    ws.freeze_panes = f"D{_TOP + 2}"
    _widths(ws, [14, 10, 40, *[9] * len(ids)])
    top = _title(ws, ranking, N_("Điểm từng tiêu chí"), lang)
    maxima = {c.id: c.max for top_c in scale.criteria() for c in _leaves(top_c)}
    ws.append(
        [_cell(ws, translate(lang, h), bold=True) for h in (_COHORT, _CODE, _AGENCY)]
        + [_cell(ws, f"{i} ({maxima[i]:g})", bold=True) for i in ids]
    )
    n = 0
    for group, _, _, s in _all(ranking, lang):
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


def _reasons_sheet(wb: Workbook, ranking: Ranking, lang: str) -> None:
    """Why: each criterion an agency did not get in full (and each "không áp dụng", bonus,
    manual or reviewer-corrected one), with its reason; unranked agencies with theirs.
    Six columns (the criterion's wording is in the scale and the "Điểm tiêu chí" header):
    this sheet is most of the workbook's cells."""
    ws = _sheet(wb, _REASONS, lang)
    ws.freeze_panes = f"D{_TOP + 2}"
    _widths(ws, [10, 40, 12, 8, 8, 60])
    top = _title(ws, ranking, N_("Lý do từng tiêu chí"), lang)
    header = [_CODE, _AGENCY, N_("Tiêu chí"), N_("Điểm"), _MAX, _REASONS]
    ws.append([_cell(ws, translate(lang, h), bold=True) for h in header])
    n = 0
    said: dict[tuple[str, bool, bool], str] = {}  # reasons without parameters, worded once
    bonus = N_("điểm cộng: {reason}")
    append = ws.append
    for _, rank, _, s in _all(ranking, lang):
        code, name = _cell(ws, s.code), _cell(ws, s.agency)
        if rank is None:
            unranked = translate(lang, _UNRANKED, {"reason": unranked_text(s, lang)})
            append([code, name, None, None, None, unranked])
            n += 1
        for c in s.criteria:
            if c.points >= c.max and not c.corrected and c.reason not in _SAID:
                continue
            if c.params:
                why = reason_text(c, lang, ranking.scale)
                why = translate(lang, bonus, {"reason": why}) if c.bonus else why
            else:
                key = (c.reason, c.corrected, c.bonus)
                why = said.get(key)  # type: ignore[assignment]
                if why is None:
                    why = reason_text(c, lang, ranking.scale)
                    why = translate(lang, bonus, {"reason": why}) if c.bonus else why
                    said[key] = why
            append([code, name, c.id, c.points, c.max, why])
            n += 1
        for d, pts in s.deductions:
            deducted = translate(lang, N_("trừ điểm: {reason}"), {"reason": d.text_in(lang)})
            ws.append([code, name, d.id, -pts, None, deducted])
            n += 1
    ws.auto_filter.ref = f"A{top + 1}:F{top + 1 + n}"


def _chart_sheet(wb: Workbook, ranking: Ranking, lang: str) -> None:
    ws = _sheet(wb, _CHART, lang)
    _widths(ws, [40, 12])
    top = _title(ws, ranking, N_("Tổng điểm (trên 100) theo khối"), lang)
    on_100 = translate(lang, _ON_100)
    row = top + 1
    for rows in ranking.groups.values():
        group = group_text(rows[0].score, lang)
        ws.append([_cell(ws, translate(lang, N_("Khối: {cohort}"), {"cohort": group}), bold=True)])
        ws.append([_cell(ws, translate(lang, _AGENCY), bold=True), _cell(ws, on_100, bold=True)])
        first = row + 2
        for r in rows:
            ws.append([_cell(ws, r.score.agency), _cell(ws, r.score.score100, _POINTS)])
        last = first + len(rows) - 1
        chart = BarChart()
        chart.type = "bar"
        chart.title = translate(lang, N_("Tổng điểm — {cohort}"), {"cohort": group})
        chart.y_axis.title = on_100
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
