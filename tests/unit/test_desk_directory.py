"""Agencies and people from Excel (issue #9): the template, every kind of bad row reported
by sheet, row and column with nothing written, re-import updating instead of duplicating."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.desk.directory import (
    AGENCY_COLUMNS,
    AGENCY_SHEET,
    PEOPLE_COLUMNS,
    PEOPLE_SHEET,
    read_cohort,
    read_directory,
    read_role,
    write_template,
)
from storage import Storage
from storage.records import AgencyRec, UserRec


def book(path: Path, agencies: list[list[Any]], people: list[list[Any]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = AGENCY_SHEET
    ws.append([c.header for c in AGENCY_COLUMNS])
    for row in agencies:
        ws.append(row)
    ws = wb.create_sheet(PEOPLE_SHEET)
    ws.append([c.header for c in PEOPLE_COLUMNS])
    for row in people:
        ws.append(row)
    wb.save(path)
    return path


def run(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli_app, [*args, "--db", str(db)])


async def _read(db: Path) -> tuple[list[AgencyRec], list[UserRec]]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as unit:
            agencies = await unit.list_agencies()
            people = await unit.people_of([a.id for a in agencies])
            return agencies, people
    finally:
        await storage.close()


def stored(db: Path) -> tuple[list[AgencyRec], list[UserRec]]:
    return asyncio.run(_read(db))


@pytest.mark.parametrize(
    ("text", "cohort"),
    [
        ("Huyện", "huyen"),
        ("huyện", "huyen"),
        ("HUYỆN", "huyen"),
        ("Cấp huyện", "huyen"),
        ("UBND huyện", "huyen"),
        ("thị xã", "huyen"),
        ("Sở", "so"),
        ("sở, ban, ngành", "so"),
        ("so", "so"),
        ("xã", "xa"),
        ("UBND xã", "xa"),
        ("UBND cấp xã", "xa"),
        ("Phường", "xa"),
        ("xa", "xa"),
        ("tỉnh lẻ", None),
        ("", None),
        ("huyen xa", None),
    ],
)
def test_cohorts_read_in_their_vietnamese_spellings(text: str, cohort: str | None) -> None:
    assert read_cohort(text) == cohort


@given(st.text(max_size=30))
def test_read_cohort_and_role_never_raise(text: str) -> None:
    assert read_cohort(text) in (None, "so", "huyen", "xa")
    assert read_role(text) in (None, "official", "reviewer")


def test_template_has_instructions_example_rows_and_drop_down_lists(tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    write_template(path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Hướng dẫn", AGENCY_SHEET, PEOPLE_SHEET]
    assert "HƯỚNG DẪN" in wb["Hướng dẫn"]["A1"].value
    agencies = wb[AGENCY_SHEET]
    assert agencies["A1"].value == "Mã cơ quan *"
    assert [c.value for c in agencies[2]][:3] == ["STTTT", "Sở Thông tin và Truyền thông", "Sở"]
    lists = [dv.formula1 for dv in agencies.data_validations.dataValidation]
    assert lists == ['"Sở,Huyện,Xã"']
    assert [dv.formula1 for dv in wb[PEOPLE_SHEET].data_validations.dataValidation] == [
        '"Đầu mối,Thẩm định"'
    ]
    # The template itself imports: its example rows are valid.
    found = read_directory(path)
    assert found.problems == []
    assert [a["code"] for a in found.agencies] == ["STTTT"]
    assert found.people[0]["role"] == "official"
    assert found.people[0]["phone"] == "0905123456"


def test_every_kind_of_bad_row_is_reported_and_nothing_is_written(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    path = book(
        tmp_path / "bad.xlsx",
        agencies=[
            ["STTTT", "Sở TTTT", "Sở"],  # row 2: fine
            ["sttttt", "Sở khác", "sở"],  # row 3: fine (another code)
            ["stttt", "Trùng mã", "Huyện"],  # row 4: duplicate of row 2, other case
            ["H1", "Huyện Một", "Cấp huyện", None, "không phải link", "12", "vanthu.gov.vn"],
            ["X1", "Xã Một", "tỉnh lẻ"],  # row 6: no such cohort
            [None, "Không mã", "xã"],  # row 7: no code
            ["X 2", "Mã có dấu cách", "xã"],  # row 8
            ["X3", None, "xã"],  # row 9: no name
        ],
        people=[
            ["NOPE", "Ai Đó", None, None, None, "Đầu mối"],  # row 2: unknown agency
            ["STTTT", "Lê Văn C", None, None, "lec@", "Đầu mối"],  # row 3: bad e-mail
            ["STTTT", "Trần B", None, None, None, "sếp"],  # row 4: no such role
            ["STTTT", "Trần  b", None, None, None, "Thẩm định"],  # row 5: same person as 4
            ["STTTT", None, None, None, None, "Đầu mối"],  # row 6: no name
        ],
    )
    result = run(db, "agencies", "import", str(path))
    assert result.exit_code == 1, result.output
    out = result.output
    expected = [
        "Cơ quan, dòng 4, cột A (Mã cơ quan): mã stttt trùng với dòng 2",
        "Cơ quan, dòng 5, cột E (Trang thông tin điện tử)",
        "Cơ quan, dòng 5, cột F (Điện thoại)",
        "Cơ quan, dòng 5, cột G (Thư điện tử)",
        "Cơ quan, dòng 6, cột C (Nhóm): nhóm «tỉnh lẻ» không có",
        "Cơ quan, dòng 7, cột A (Mã cơ quan): ô này bắt buộc",
        "Cơ quan, dòng 8, cột A (Mã cơ quan): mã cơ quan không có dấu cách",
        "Cơ quan, dòng 9, cột B (Tên cơ quan): ô này bắt buộc",
        "Cán bộ, dòng 2, cột A (Mã cơ quan): không có cơ quan mã NOPE",
        "Cán bộ, dòng 3, cột E (Thư điện tử)",
        "Cán bộ, dòng 4, cột F (Vai trò): vai trò «sếp» không có",
        "Cán bộ, dòng 5, cột B (Họ và tên): Trần b của cơ quan STTTT đã có ở dòng 4",
        "Cán bộ, dòng 6, cột B (Họ và tên): ô này bắt buộc",
    ]
    for line in expected:
        assert line in out, line
    assert "tệp có 13 lỗi" in out
    assert stored(db) == ([], [])  # the good rows (STTTT, sttttt) were not written either


def test_a_missing_required_column_is_named(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = AGENCY_SHEET
    ws.append(["Mã cơ quan", "Tên cơ quan"])
    ws.append(["A", "B"])
    wb.save(tmp_path / "x.xlsx")
    found = read_directory(tmp_path / "x.xlsx")
    assert [str(p) for p in found.problems] == ["Cơ quan, dòng 1: thiếu cột Nhóm ở dòng tiêu đề."]


def test_a_file_that_is_not_a_workbook_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("không phải Excel", encoding="utf-8")
    found = read_directory(path)
    assert len(found.problems) == 1
    assert "không đọc được tệp Excel" in found.problems[0].message


def test_columns_in_another_order_with_numbers_for_phones(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = AGENCY_SHEET
    ws.append(["Nhóm", "Tên cơ quan", "Điện thoại", "Mã cơ quan"])
    ws.append(["UBND xã", "Xã Nhơn Lý", 2563822345, "nhonly"])
    wb.save(tmp_path / "x.xlsx")
    found = read_directory(tmp_path / "x.xlsx")
    assert found.problems == []
    assert found.agencies == [
        {
            "code": "nhonly",
            "name": "Xã Nhơn Lý",
            "cohort": "xa",
            "address": None,
            "website": None,
            "phone": "02563822345",
            "email": None,
            "head": None,
        }
    ]


def test_reimport_updates_and_never_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    first = book(
        tmp_path / "a.xlsx",
        agencies=[
            ["STTTT", "Sở TTTT", "Sở", None, None, None, None, "Nguyễn A"],
            ["H1", "Huyện Một", "huyện"],
        ],
        people=[
            ["STTTT", "Trần Thị B", "Chuyên viên", "0905 123 456", None, "Đầu mối"],
            ["h1", "Lê C", None, None, None, "Thẩm định"],
        ],
    )
    assert run(db, "agencies", "import", str(first)).exit_code == 0
    second = book(
        tmp_path / "b.xlsx",
        agencies=[
            ["stttt", "Sở Thông tin và Truyền thông", "Sở", "02 Hai Bà Trưng"],
            ["X1", "Xã Một", "xã"],
        ],
        people=[
            ["STTTT", "trần thị  b", "Phó phòng", None, "ttb@binhdinh.gov.vn", "Đầu mối"],
            ["H1", "Lê D", None, None, None, "Đầu mối"],
        ],
    )
    result = run(db, "agencies", "import", str(second))
    assert result.exit_code == 0, result.output
    assert (
        "1 cơ quan mới, 1 cơ quan cập nhật, 0 cơ quan không đổi; "
        "1 người mới, 1 người cập nhật, 0 người không đổi."
    ) in result.output
    agencies, people = stored(db)
    by_code = {a.code: a for a in agencies}
    assert sorted(by_code) == ["H1", "STTTT", "X1"]  # the stored spelling of a code is kept
    assert by_code["STTTT"].name == "Sở Thông tin và Truyền thông"
    assert by_code["STTTT"].address == "02 Hai Bà Trưng"
    assert by_code["STTTT"].head is None  # the new workbook's empty cell clears it
    assert len(people) == 3
    tran = next(p for p in people if p.name == "Trần Thị B")
    assert (tran.position, tran.email, tran.phone) == (
        "Phó phòng",
        "ttb@binhdinh.gov.vn",
        None,
    )
    # Running the same workbook again changes nothing, and says so (not "2 cập nhật").
    again = run(db, "agencies", "import", str(second))
    assert (
        "0 cơ quan mới, 0 cơ quan cập nhật, 2 cơ quan không đổi; "
        "0 người mới, 0 người cập nhật, 2 người không đổi."
    ) in again.output
    assert stored(db) == (agencies, people)


def test_people_may_name_an_agency_already_stored(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    assert (
        run(db, "agencies", "add", "--code", "STTTT", "--name", "Sở", "--cohort", "so").exit_code
        == 0
    )
    path = book(
        tmp_path / "p.xlsx", agencies=[], people=[["stttt", "Ai", None, None, None, "official"]]
    )
    result = run(db, "agencies", "import", str(path))
    assert result.exit_code == 0, result.output
    _, people = stored(db)
    assert [(p.name, p.role) for p in people] == [("Ai", "official")]


def test_edit_and_remove(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    path = book(tmp_path / "a.xlsx", agencies=[["H1", "Huyện Một", "huyện"]], people=[])
    assert run(db, "agencies", "import", str(path)).exit_code == 0
    result = run(db, "agencies", "edit", "h1", "--cohort", "Cấp xã", "--head", "Phạm E",
                 "--phone", "0256 3822 345")  # fmt: skip
    assert result.exit_code == 0, result.output
    (rec,), _ = stored(db)
    assert (rec.cohort, rec.head, rec.phone) == ("xa", "Phạm E", "02563822345")
    bad = run(db, "agencies", "edit", "H1", "--email", "không@")
    assert bad.exit_code == 2 and "--email" in bad.output
    assert run(db, "agencies", "edit", "NOPE", "--name", "x").exit_code == 2
    assert run(db, "agencies", "edit", "H1", "--head", "").exit_code == 0
    (rec,), _ = stored(db)
    assert rec.head is None
    assert run(db, "agencies", "remove", "h1", "--archive").exit_code == 0
    listed = run(db, "agencies", "list")
    assert "H1\txa\tHuyện Một\t(đã lưu trữ)" in listed.output
    assert run(db, "agencies", "import", str(path)).exit_code == 0  # re-imported: back
    assert "(đã lưu trữ)" not in run(db, "agencies", "list").output
    removed = run(db, "agencies", "remove", "h1")
    assert removed.exit_code == 0, removed.output
    assert stored(db) == ([], [])
    assert "Chưa có cơ quan nào" in run(db, "agencies", "list").output


@pytest.mark.parametrize(
    ("lang", "said"),
    [([], "Tệp {file} đã có, nên không ghi đè"), (["--lang", "en"], "{file} already exists")],
)
def test_template_never_overwrites_a_filled_workbook_unless_forced(
    tmp_path: Path, lang: list[str], said: str
) -> None:
    """`agencies template filled.xlsx` replaced the workbook an administrator had filled in."""
    filled = book(tmp_path / "filled.xlsx", [["STTTT", "Sở TTTT", "so"]], [])
    before = filled.read_bytes()
    ran = CliRunner().invoke(cli_app, [*lang, "agencies", "template", str(filled)])
    assert ran.exit_code == 1, ran.output
    assert said.format(file=filled) in ran.output
    assert f"phieu agencies template {filled} --force" in ran.output
    assert f"phieu agencies template {tmp_path / 'filled-2.xlsx'}" in ran.output
    assert filled.read_bytes() == before
    forced = CliRunner().invoke(cli_app, [*lang, "agencies", "template", str(filled), "--force"])
    assert forced.exit_code == 0, forced.output
    assert filled.read_bytes() != before
    assert load_workbook(filled).sheetnames[0] == "Hướng dẫn"
