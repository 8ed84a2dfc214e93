"""The questionnaire as a printable workbook (`phieu forms export ID --format xlsx`): the
form's outline in order — sections, headings, items with their printed numbers, units, what
kind of answer each takes and whether evidence is asked — with an empty answer column, set up
to print on A4 landscape, one page wide, the header row repeated."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

from bot.desk.cells import formula_like
from bot.desk.text import tr
from flows.i18n import N_
from flows.model import Evidence, Form, Heading, ItemType, Question

_KINDS: dict[ItemType, str] = {
    ItemType.INTEGER: N_("Số nguyên"),
    ItemType.DECIMAL: N_("Số"),
    ItemType.YES_NO: N_("Có / Không"),
    ItemType.CHOICE: N_("Chọn một"),
    ItemType.MULTI_CHOICE: N_("Chọn nhiều"),
    ItemType.STATUS: N_("Hoàn chỉnh / Đang thử nghiệm / Chưa có"),
    ItemType.TEXT: N_("Văn bản"),
    ItemType.DATE: N_("Ngày (dd/mm/yyyy)"),
    ItemType.YEAR: N_("Năm"),
    ItemType.URL: N_("Đường link"),
    ItemType.EMAIL: N_("Thư điện tử"),
    ItemType.PHONE: N_("Điện thoại"),
    ItemType.DOCUMENT: N_("Văn bản: số, ngày, trích yếu, link"),
    ItemType.PERSON: N_("Họ tên, chức vụ"),
    ItemType.LIST: N_("Danh sách"),
    ItemType.COMPUTED: N_("Tự tính"),
}
_EVIDENCE: dict[Evidence, str] = {
    Evidence.NONE: "",
    Evidence.LINK: N_("link"),
    Evidence.DOCUMENT: N_("văn bản + link"),
}
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_SECTION_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _as_text(ws: Worksheet) -> None:
    """Form text is verbatim from the source: a line beginning "- " or "=" stays text."""
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str):
                c.data_type = "s"
                if formula_like(c.value):
                    c.quotePrefix = True


def kind_text(q: Question, lang: str) -> str:
    kind = tr(_KINDS[q.type], None, lang)
    if q.options:
        kind += ": " + "; ".join(o.text.get(lang) for o in q.options)
    if q.columns:
        kind += ": " + "; ".join(c.text.get(lang) for c in q.columns)
    if q.formula:
        kind += f" (= {q.formula})"
    return kind


def write_form(form: Form, path: Path, lang: str = "vi") -> int:
    """Write the printable questionnaire; returns the number of item rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = tr(N_("Phiếu"), None, lang)[:31]
    ws.append([(form.title.get(lang))])
    ws["A1"].font = Font(bold=True, size=13)
    src = form.source
    ws.append(
        [f"{src.document} — {src.date} — {src.issuer}" + (f" — {src.annex}" if src.annex else "")]
    )
    ws.append([])
    headers = [N_("Số"), N_("Nội dung"), N_("Đơn vị"), N_("Cách trả lời"), N_("Bắt buộc"),
               N_("Minh chứng"), N_("Trả lời")]  # fmt: skip
    ws.append([tr(h, None, lang) for h in headers])
    header_row = ws.max_row
    for c in ws[header_row]:
        c.font = Font(bold=True)
        c.fill = _SECTION_FILL
        c.border = _BOX
        c.alignment = _WRAP
    items = 0
    yes = tr(N_("có"), None, lang)
    for section in form.sections:
        ws.append([section.id, (section.title.get(lang))])
        for c in ws[ws.max_row]:
            c.font = Font(bold=True)
            c.fill = _SECTION_FILL
        for node in section.outline:
            if isinstance(node, Heading):
                indent = "  " * node.depth
                ws.append([node.printed or node.id, indent + (node.text.get(lang))])
                ws.cell(row=ws.max_row, column=2).font = Font(bold=True)
                continue
            q = node
            text = q.text.get(lang)
            if q.help:
                text += f"\n({q.help.get(lang)})"
            ws.append(
                [
                    q.printed or q.id,
                    "  " * (len(q.context) + 1) + (text),
                    q.unit.get(lang) if q.unit else "",
                    (kind_text(q, lang)),
                    yes if q.required and q.answerable else "",
                    tr(_EVIDENCE[q.evidence], None, lang)
                    if q.evidence is not Evidence.NONE
                    else "",
                    "",
                ]
            )
            for c in ws[ws.max_row]:
                c.border = _BOX
                c.alignment = _WRAP
            items += 1
    for letter, width in zip("ABCDEFG", (10, 70, 10, 30, 9, 14, 30), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    _as_text(ws)
    wb.save(path)
    return items
