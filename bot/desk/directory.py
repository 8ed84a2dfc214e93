"""Agencies and their people from the administrator's workbook (`phieu agencies template`
writes it, `phieu agencies import` reads it back).

Reading is in two stages: `read_directory` takes the rows out of the workbook and checks
every one (nothing is written), giving either the clean rows or every problem by sheet,
row and column; only a workbook without problems is stored, in one transaction
(storage DeskUnit.import_directory). Source: issue #9 "Agencies and people from Excel".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.desk.text import tr
from flows.i18n import N_
from flows.parsing import Ok, Problem, Result, parse_email, parse_phone, parse_url
from storage._desk import code_key, name_key

AGENCY_SHEET = "Cơ quan"
PEOPLE_SHEET = "Cán bộ"
HELP_SHEET = "Hướng dẫn"


@dataclass(frozen=True, slots=True)
class Col:
    key: str
    header: str
    width: int
    required: bool = False
    max_len: int = 255
    aliases: tuple[str, ...] = ()


AGENCY_COLUMNS: tuple[Col, ...] = (
    Col("code", "Mã cơ quan", 14, True, 64, ("mã", "ma", "code")),
    Col("name", "Tên cơ quan", 40, True, 255, ("tên", "ten", "name")),
    Col("cohort", "Nhóm", 10, True, 32, ("khối", "cấp", "cohort")),
    Col("address", "Địa chỉ", 36, False, 255, ("address",)),
    Col("website", "Trang thông tin điện tử", 30, False, 255, ("website", "trang web")),
    Col("phone", "Điện thoại", 16, False, 64, ("phone", "số điện thoại", "điện thoại, fax")),
    Col("email", "Thư điện tử", 28, False, 255, ("email", "e-mail", "thư điện tử")),
    Col("head", "Thủ trưởng", 26, False, 255, ("head", "thủ trưởng cơ quan", "lãnh đạo")),
)
PEOPLE_COLUMNS: tuple[Col, ...] = (
    Col("agency_code", "Mã cơ quan", 14, True, 64, ("mã", "agency", "agency code")),
    Col("name", "Họ và tên", 28, True, 255, ("họ tên", "tên", "name")),
    Col("position", "Chức vụ", 24, False, 255, ("position",)),
    Col("phone", "Điện thoại", 16, False, 64, ("phone", "số điện thoại", "di động")),
    Col("email", "Thư điện tử", 28, False, 255, ("email", "e-mail")),
    Col("role", "Vai trò", 14, True, 32, ("role",)),
)

COHORT_LABELS = {"so": "Sở", "huyen": "Huyện", "xa": "Xã"}
ROLE_LABELS = {"official": "Đầu mối", "reviewer": "Thẩm định"}


def _plain(text: str) -> str:
    """Lower case, no accents (đ → d), punctuation as spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[,;/\\\-–()._]+", " ", bare).split())


_COHORT_WORDS: dict[str, str] = {
    **dict.fromkeys(("so", "so ban nganh", "ban nganh", "so nganh", "tinh"), "so"),
    **dict.fromkeys(
        ("huyen", "quan", "thi xa", "thanh pho", "huyen thi xa thanh pho", "quan huyen"),
        "huyen",
    ),
    **dict.fromkeys(("xa", "phuong", "thi tran", "xa phuong thi tran", "xa phuong"), "xa"),
}
_COHORT_PREFIXES = ("uy ban nhan dan ", "ubnd ", "co quan ", "khoi ", "cap ", "nhom ")

_ROLE_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("official", "dau moi", "can bo dau moi", "nguoi tra loi", "can bo"), "official"
    ),
    **dict.fromkeys(("reviewer", "tham dinh", "can bo tham dinh", "nguoi tham dinh"), "reviewer"),
}


def read_cohort(text: str) -> str | None:
    """ "Huyện", "huyện", "Cấp huyện", "UBND xã", "Sở, ban, ngành", "so" → the cohort code;
    None for anything else."""
    plain = _plain(text)
    for _ in range(3):  # "UBND cấp xã": prefixes may stack
        for prefix in _COHORT_PREFIXES:
            if plain.startswith(prefix):
                plain = plain[len(prefix) :]
    return _COHORT_WORDS.get(plain)


def read_role(text: str) -> str | None:
    """ "Đầu mối", "cán bộ đầu mối", "official" → official; "Thẩm định", "reviewer" → reviewer."""
    return _ROLE_WORDS.get(_plain(text))


@dataclass(frozen=True, slots=True)
class RowProblem:
    """What is wrong in one cell (or one row, `column` None; or a sheet, `row` None)."""

    sheet: str
    row: int | None
    column: str | None  # "C (Nhóm)"
    message: str

    def __str__(self) -> str:
        where = [self.sheet]
        if self.row is not None:
            where.append(tr(N_("dòng {row}"), {"row": str(self.row)}))
        if self.column is not None:
            where.append(tr(N_("cột {column}"), {"column": self.column}))
        return f"{', '.join(where)}: {self.message}"


@dataclass(slots=True)
class Directory:
    """A workbook's clean rows (dicts ready for import_directory), or its problems."""

    agencies: list[dict[str, Any]] = field(default_factory=list)
    people: list[dict[str, Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


# -- the template -----------------------------------------------------------------------------

_HEADER_FILL = "DDEBF7"  # openpyxl is imported when a workbook is written (bot/desk/cells.py)

_INSTRUCTIONS: tuple[str, ...] = (
    "HƯỚNG DẪN ĐIỀN DANH SÁCH CƠ QUAN VÀ CÁN BỘ",
    "",
    "1. Trang «Cơ quan»: mỗi dòng một cơ quan, đơn vị.",
    "   • Mã cơ quan (bắt buộc): mã ngắn, không dấu cách, không trùng, ví dụ STTTT, UBND-AN-NHON."
    " Chữ hoa hay thường đều là một mã.",
    "   • Tên cơ quan (bắt buộc).",
    "   • Nhóm (bắt buộc): Sở (sở, ban, ngành), Huyện (huyện, thị xã, thành phố) hoặc Xã"
    " (xã, phường, thị trấn). Chọn trong danh sách.",
    "   • Địa chỉ, Trang thông tin điện tử, Điện thoại, Thư điện tử, Thủ trưởng: không bắt buộc;"
    " có thì cán bộ được gợi ý sẵn khi trả lời phiếu.",
    "2. Trang «Cán bộ»: mỗi dòng một người.",
    "   • Mã cơ quan (bắt buộc): mã ở trang «Cơ quan» hoặc mã đã có trong Phiếu.",
    "   • Họ và tên (bắt buộc); Chức vụ, Điện thoại, Thư điện tử: không bắt buộc.",
    "   • Vai trò (bắt buộc): Đầu mối (người trả lời phiếu) hoặc Thẩm định.",
    "3. Nhập lại tệp bao nhiêu lần cũng được: cơ quan trùng mã và người trùng họ tên trong cùng"
    " cơ quan được cập nhật, không tạo bản ghi mới.",
    "4. Nếu có dòng sai, Phiếu báo từng lỗi (trang, dòng, cột) và không nhập gì cả;"
    " sửa rồi nhập lại.",
    "5. Dòng ví dụ (dòng 2 mỗi trang) có thể xoá hoặc sửa thành dữ liệu thật.",
)


def write_template(path: Path) -> None:
    """The empty workbook: instructions, the two sheets with headers, an example row each,
    drop-down lists for the cohort and the role, text format for phone numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    help_ws = wb.active
    help_ws.title = HELP_SHEET
    for line in _INSTRUCTIONS:
        help_ws.append([line])
    help_ws["A1"].font = Font(bold=True, size=13)
    help_ws.column_dimensions["A"].width = 110
    examples = {
        AGENCY_SHEET: [
            "STTTT",
            "Sở Thông tin và Truyền thông",
            "Sở",
            "02 Hai Bà Trưng, TP. Quy Nhơn",
            "https://stttt.binhdinh.gov.vn",
            "0256 3822 345",
            "stttt@binhdinh.gov.vn",
            "Nguyễn Văn A",
        ],
        PEOPLE_SHEET: [
            "STTTT",
            "Trần Thị B",
            "Chuyên viên",
            "0905 123 456",
            "ttb@binhdinh.gov.vn",
            "Đầu mối",
        ],
    }
    for title, columns in ((AGENCY_SHEET, AGENCY_COLUMNS), (PEOPLE_SHEET, PEOPLE_COLUMNS)):
        ws = wb.create_sheet(title)
        ws.append([c.header + (" *" if c.required else "") for c in columns])
        ws.append(examples[title])
        for i, col in enumerate(columns, start=1):
            letter = get_column_letter(i)
            head = ws.cell(row=1, column=i)
            head.font = Font(bold=True)
            head.fill = PatternFill("solid", fgColor=_HEADER_FILL)
            head.alignment = Alignment(wrap_text=True, vertical="top")
            ws.column_dimensions[letter].width = col.width
            if col.key == "phone":  # text, so Excel keeps the leading 0 of 0905…
                ws.column_dimensions[letter].number_format = "@"
                ws.cell(row=2, column=i).number_format = "@"
            values = {"cohort": COHORT_LABELS, "role": ROLE_LABELS}.get(col.key)
            if values is not None:
                dv = DataValidation(
                    type="list",
                    formula1='"' + ",".join(values.values()) + '"',
                    allow_blank=True,
                    showErrorMessage=True,
                    errorTitle="Giá trị không hợp lệ",
                    error="Chọn một giá trị trong danh sách: " + ", ".join(values.values()),
                )
                dv.add(f"{letter}2:{letter}5000")
                ws.add_data_validation(dv)
        ws.freeze_panes = "A2"
    wb.save(path)


# -- reading ----------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    return _plain(text.replace("*", ""))


def _columns_of(header: tuple[Any, ...], columns: tuple[Col, ...]) -> dict[str, int]:
    """Column key → 0-based index, by the header text (columns may be in any order)."""
    names: dict[str, str] = {}
    for col in columns:
        for name in (col.header, *col.aliases):
            names.setdefault(_header_key(name), col.key)
    found: dict[str, int] = {}
    for i, value in enumerate(header):
        if value is None:
            continue
        key = names.get(_header_key(str(value)))
        if key is not None and key not in found:
            found[key] = i
    return found


def _text(value: Any, key: str) -> str | None:
    """A cell as text: numbers typed in a phone column get their lost leading 0 back."""
    if value is None:
        return None
    if key == "phone" and (digits := numeric_phone(value)) is not None:
        return digits
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text or None


def numeric_phone(value: Any) -> str | None:
    """A phone cell Excel stored as a NUMBER, as the digits people wrote: 905111222 →
    "0905111222", 2563822999 → "02563822999" (Excel drops the leading 0 of Vietnamese
    numbers written locally, so 9 or 10 digits get it back). None when the cell is not a
    number (text is read by parse_phone as typed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not value.is_integer() or value < 0:
            return str(value)  # a fraction is no phone number: left for the check to refuse
        value = int(value)
    digits = str(value)
    return "0" + digits if len(digits) in (9, 10) else digits


def plausible_phone(digits: str) -> bool:
    """Whether a number read from a numeric cell looks Vietnamese: a mobile has 10 digits
    starting with 0, a landline 11 starting with 02 (since 2017)."""
    if not digits.isdigit():
        return False
    return (len(digits) == 10 and digits[0] == "0") or (len(digits) == 11 and digits[:2] == "02")


_CHECKS: dict[str, Callable[[str], Result]] = {
    "website": parse_url,
    "phone": parse_phone,
    "email": parse_email,
}


def _parser_problem(read: Result) -> str:
    if isinstance(read, Problem):
        message = tr(read.msgid, read.params)
        return f"{message} " + tr(N_("Ví dụ: {example}"), {"example": read.example})
    return tr(read.msgid, read.params)  # a Confirm: not certain enough to store


class _Sheet:
    def __init__(self, title: str, columns: tuple[Col, ...], out: list[RowProblem]) -> None:
        self.title, self.columns, self.out = title, columns, out
        self.index: dict[str, int] = {}
        # (row, key) of phone cells stored as numbers that do not read as a Vietnamese
        # number even with the 0 back: the text parser would take "12345678" as it is.
        self.numeric_doubtful: set[tuple[int, str]] = set()

    def label(self, key: str) -> str:
        from openpyxl.utils import get_column_letter  # loaded by read_directory already

        col = next(c for c in self.columns if c.key == key)
        letter = get_column_letter(self.index[key] + 1) if key in self.index else "?"
        return f"{letter} ({col.header})"

    def problem(self, row: int | None, key: str | None, msgid: str, **params: Any) -> None:
        column = self.label(key) if key is not None else None
        self.out.append(RowProblem(self.title, row, column, tr(msgid, params)))

    def rows(self, ws: Any) -> list[tuple[int, dict[str, str | None]]]:
        """(row number, {key: text}) for every non-empty row after the header."""
        it = ws.iter_rows(values_only=True)
        header = next(it, None)
        if header is None:
            self.problem(None, None, N_("trang trống, không có dòng tiêu đề."))
            return []
        self.index = _columns_of(header, self.columns)
        missing = [c.header for c in self.columns if c.required and c.key not in self.index]
        if missing:
            self.problem(
                1, None, N_("thiếu cột {columns} ở dòng tiêu đề."), columns=", ".join(missing)
            )
            return []
        out = []
        for number, values in enumerate(it, start=2):
            row = {
                c.key: _text(values[self.index[c.key]], c.key)
                if c.key in self.index and self.index[c.key] < len(values)
                else None
                for c in self.columns
            }
            at = self.index.get("phone")
            phone = row.get("phone")
            if (
                at is not None
                and at < len(values)
                and phone is not None
                and numeric_phone(values[at]) is not None
                and not plausible_phone(phone)
            ):
                self.numeric_doubtful.add((number, "phone"))
            if any(v is not None for v in row.values()):
                out.append((number, row))
        return out

    def common(self, number: int, row: dict[str, str | None]) -> bool:
        """Required cells filled, lengths kept, contact fields read by the answer parsers;
        values normalised in place. False if the row has a problem."""
        ok = True
        for col in self.columns:
            value = row[col.key]
            if value is None:
                if col.required:
                    self.problem(number, col.key, N_("ô này bắt buộc, đang để trống."))
                    ok = False
                continue
            if len(value) > col.max_len:
                self.problem(number, col.key, N_("dài quá {max} ký tự."), max=str(col.max_len))
                ok = False
                continue
            if (number, col.key) in self.numeric_doubtful:
                self.problem(
                    number,
                    col.key,
                    N_(
                        "Excel lưu số điện thoại {value} dạng số (mất số 0 ở đầu) và số này "
                        "không giống số Việt Nam: di động 10 chữ số bắt đầu bằng 0, cố định 11 "
                        "chữ số bắt đầu bằng 02. Định dạng ô là Văn bản (Text) rồi gõ lại số, "
                        "ví dụ 0905 123 456."
                    ),
                    value=value,
                )
                ok = False
                continue
            check = _CHECKS.get(col.key)
            if check is not None:
                read = check(value)
                if isinstance(read, Ok):
                    row[col.key] = str(read.value)
                else:
                    self.out.append(
                        RowProblem(self.title, number, self.label(col.key), _parser_problem(read))
                    )
                    ok = False
        return ok


_CODE_SHAPE = re.compile(r"^[^\s]+$")
# What openpyxl opens: workbooks, with or without macros, and their templates.
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")


def _whole_file(path: Path, text: str) -> RowProblem:
    """A problem of the whole file (no sheet row or column to name)."""
    return RowProblem(path.name, None, None, text)


def read_directory(path: Path, known_codes: Collection[str] = ()) -> Directory:
    """Read and check the workbook at `path`; `known_codes` are the agency codes already
    stored (code_key form), which people may name without the agency being in the file.

    Never raises for a bad workbook: an unreadable file is one problem like any other.
    """
    from openpyxl import load_workbook

    out = Directory()
    if path.suffix.lower() not in _WORKBOOK_SUFFIXES:
        # openpyxl's InvalidFileException for an .xls or a .csv says nothing an admin can use.
        out.problems.append(
            _whole_file(
                path,
                tr(
                    N_(
                        "Phiếu chỉ đọc tệp Excel .xlsx, tệp này là {suffix}. Mở tệp bằng "
                        "Excel, chọn Lưu như (Save As) → Sổ làm việc Excel (Excel Workbook, "
                        "*.xlsx), rồi nhập tệp .xlsx đó."
                    ),
                    {"suffix": path.suffix or tr(N_("tệp không có đuôi"))},
                ),
            )
        )
        return out
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        out.problems.append(
            _whole_file(
                path,
                tr(N_("không đọc được tệp Excel ({error})."), {"error": type(exc).__name__}),
            )
        )
        return out
    try:
        titles = {_plain(t): t for t in wb.sheetnames}
        agencies = _Sheet(AGENCY_SHEET, AGENCY_COLUMNS, out.problems)
        people = _Sheet(PEOPLE_SHEET, PEOPLE_COLUMNS, out.problems)
        if _plain(AGENCY_SHEET) not in titles and _plain(PEOPLE_SHEET) not in titles:
            out.problems.append(
                _whole_file(
                    path,
                    tr(
                        N_("không có trang «{agencies}» hay «{people}» (xem lệnh template)."),
                        {"agencies": AGENCY_SHEET, "people": PEOPLE_SHEET},
                    ),
                )
            )
            return out
        seen: dict[str, int] = {}
        if (title := titles.get(_plain(AGENCY_SHEET))) is not None:
            for number, row in agencies.rows(wb[title]):
                ok = agencies.common(number, row)
                code = row["code"]
                if code is not None:
                    if not _CODE_SHAPE.match(code):
                        agencies.problem(
                            number, "code", N_("mã cơ quan không có dấu cách, ví dụ STTTT.")
                        )
                        ok = False
                    elif code_key(code) in seen:
                        agencies.problem(
                            number,
                            "code",
                            N_("mã {code} trùng với dòng {first} (chữ hoa hay thường là một mã)."),
                            code=code,
                            first=str(seen[code_key(code)]),
                        )
                        ok = False
                    else:
                        seen[code_key(code)] = number
                if row["cohort"] is not None:
                    cohort = read_cohort(row["cohort"])
                    if cohort is None:
                        agencies.problem(
                            number,
                            "cohort",
                            N_("nhóm «{value}» không có; ghi Sở, Huyện hoặc Xã."),
                            value=row["cohort"],
                        )
                        ok = False
                    row["cohort"] = cohort
                if ok:
                    out.agencies.append(row)
        codes = set(seen) | {code_key(c) for c in known_codes}
        people_seen: dict[tuple[str, str], int] = {}
        if (title := titles.get(_plain(PEOPLE_SHEET))) is not None:
            for number, row in people.rows(wb[title]):
                ok = people.common(number, row)
                code = row["agency_code"]
                if code is not None and code_key(code) not in codes:
                    people.problem(
                        number,
                        "agency_code",
                        N_("không có cơ quan mã {code} (ở trang «{sheet}» hay trong Phiếu)."),
                        code=code,
                        sheet=AGENCY_SHEET,
                    )
                    ok = False
                if row["role"] is not None:
                    role = read_role(row["role"])
                    if role is None:
                        people.problem(
                            number,
                            "role",
                            N_("vai trò «{value}» không có; ghi Đầu mối hoặc Thẩm định."),
                            value=row["role"],
                        )
                        ok = False
                    row["role"] = role
                if code is not None and row["name"] is not None:
                    who = (code_key(code), name_key(row["name"]))
                    if who in people_seen:
                        people.problem(
                            number,
                            "name",
                            N_("{name} của cơ quan {code} đã có ở dòng {first}."),
                            name=row["name"],
                            code=code,
                            first=str(people_seen[who]),
                        )
                        ok = False
                    else:
                        people_seen[who] = number
                if ok:
                    out.people.append(row)
    finally:
        wb.close()
    return out
