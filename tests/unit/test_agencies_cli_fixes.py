"""`phieu agencies add/remove/import` as a newcomer administrator met them: a code taken in
another case, Vietnamese cohort spellings, removing an agency a campaign names, workbooks
that are not .xlsx files."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.desk.directory import (
    AGENCY_COLUMNS,
    AGENCY_SHEET,
    PEOPLE_COLUMNS,
    PEOPLE_SHEET,
    read_directory,
)
from storage import Storage


def run(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


async def _codes(db: Path) -> list[tuple[str, str]]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            return [(a.code, a.cohort) for a in await u.list_agencies()]
    finally:
        await storage.close()


def test_add_refuses_a_code_taken_in_another_case(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    first = run("agencies", "add", "--code", "STTTT", "--name", "Sở TTTT", "--cohort", "so",
                "--db", db)  # fmt: skip
    assert first.exit_code == 0, first.output
    again = run("agencies", "add", "--code", "stttt", "--name", "Sở khác", "--cohort", "so",
                "--db", db)  # fmt: skip
    assert again.exit_code == 1
    assert "mã stttt đã có cơ quan STTTT — Sở TTTT" in again.output
    assert "phieu agencies edit STTTT" in again.output
    en = run("--lang", "en", "agencies", "add", "--code", "Stttt", "--name", "X", "--cohort",
             "so", "--db", db)  # fmt: skip
    assert en.exit_code == 1
    assert "code Stttt is already agency STTTT — Sở TTTT" in en.output
    assert "phieu agencies edit STTTT" in en.output
    assert asyncio.run(_codes(tmp_path / "p.db")) == [("STTTT", "so")]


def test_add_reads_the_cohort_as_import_and_edit_do(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    for code, cohort in (("STTTT", "Sở"), ("QN", "Huyện"), ("NL", "UBND xã"), ("SYT", "so")):
        result = run("agencies", "add", "--code", code, "--name", code, "--cohort", cohort,
                     "--db", db)  # fmt: skip
        assert result.exit_code == 0, result.output
    assert sorted(asyncio.run(_codes(tmp_path / "p.db"))) == [
        ("NL", "xa"), ("QN", "huyen"), ("STTTT", "so"), ("SYT", "so")
    ]  # fmt: skip
    bad = run("agencies", "add", "--code", "X", "--name", "X", "--cohort", "tỉnh ủy", "--db", db)
    assert bad.exit_code == 2 and "ghi Sở, Huyện hoặc Xã" in bad.output


async def _seed_named(db: Path) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            syt = await u.add_agency("SYT", "Sở Y tế", "so")
            sgd = await u.add_agency("SGD", "Sở Giáo dục", "so")
            survey = await u.add_campaign(
                "binh-dinh-2019-so", 1, "Khảo sát website", date(2026, 12, 20),
                cohorts=[], agency_ids=[syt.id, sgd.id],
            )  # fmt: skip
            hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
            await u.assign_reviewer(survey.id, hoa.id, agency_id=sgd.id)
            await u.assign_reviewer(survey.id, hoa.id, agency_id=syt.id)
    finally:
        await storage.close()


def test_remove_an_agency_a_campaign_names_says_which_lists_lost_it(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed_named(db))
    result = run("agencies", "remove", "sgd", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "Đã xoá sgd." in result.output
    assert "Đã bỏ sgd khỏi danh sách cơ quan của đợt: 1 «Khảo sát website»." in result.output
    assert "Đã bỏ phân công thẩm định sgd của Trần Văn Hoà ở đợt 1." in result.output
    assert "không còn phân công" not in result.output  # Hoà still reviews SYT there
    assert "tham chiếu" not in result.output
    assert asyncio.run(_codes(db)) == [("SYT", "so")]
    en = run("--lang", "en", "agencies", "remove", "SYT", "--db", str(db))
    assert en.exit_code == 0, en.output
    assert "Took SYT out of the agency list of campaign(s): 1 «Khảo sát website»." in en.output
    assert "Campaign 1 has no reviewer assignment left" in en.output


def _phones_book(path: Path, agency_phone: Any, person_phone: Any) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = AGENCY_SHEET
    ws.append([c.header for c in AGENCY_COLUMNS])
    ws.append(["STTTT", "Sở TTTT", "Sở", None, None, agency_phone])
    ws = wb.create_sheet(PEOPLE_SHEET)
    ws.append([c.header for c in PEOPLE_COLUMNS])
    ws.append(["STTTT", "Trần Thị B", None, person_phone, None, "Đầu mối"])
    wb.save(path)
    return path


def test_numeric_phone_cells_get_their_leading_zero_back(tmp_path: Path) -> None:
    found = read_directory(_phones_book(tmp_path / "a.xlsx", 2563822999, 905111222.0))
    assert found.problems == []
    assert found.agencies[0]["phone"] == "02563822999"
    assert found.people[0]["phone"] == "0905111222"


def test_a_numeric_phone_cell_still_not_vietnamese_is_a_problem(tmp_path: Path) -> None:
    # 8 digits, and 10 digits not starting with 2 (0 + them would be an 11-digit mobile):
    # the text parser would have taken both as they are.
    found = read_directory(_phones_book(tmp_path / "a.xlsx", 38221234, 9051112223))
    assert [(p.sheet, p.row, p.column) for p in found.problems] == [
        (AGENCY_SHEET, 2, "F (Điện thoại)"),
        (PEOPLE_SHEET, 2, "D (Điện thoại)"),
    ]
    assert "Excel lưu số điện thoại 38221234 dạng số" in found.problems[0].message
    assert "09051112223" in found.problems[1].message
    assert found.agencies == [] and found.people == []


def test_import_of_an_xls_a_csv_or_a_folder_says_what_to_do(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    for name in ("co-quan.xls", "co-quan.csv"):
        (tmp_path / name).write_bytes(b"Ma,Ten\nSTTTT,So\n")
        result = run("agencies", "import", str(tmp_path / name), "--db", db)
        assert result.exit_code == 1
        assert "InvalidFileException" not in result.output
        assert f"chỉ đọc tệp Excel .xlsx, tệp này là {name[-4:]}" in result.output
        assert "Lưu như (Save As) → Sổ làm việc Excel (Excel Workbook, *.xlsx)" in result.output
    en = run("--lang", "en", "agencies", "import", str(tmp_path / "co-quan.csv"), "--db", db)
    assert "reads only Excel .xlsx files; this file is .csv" in en.output
    folder = tmp_path / "danh-sach"
    folder.mkdir()
    result = run("agencies", "import", str(folder), "--db", db)
    assert result.exit_code == 2
    assert f"{folder} là một thư mục, không phải tệp." in result.output
    assert f"phieu agencies import {folder / 'co-quan.xlsx'}" in result.output
    en = run("--lang", "en", "agencies", "import", str(folder), "--db", db)
    assert f"{folder} is a folder, not a file." in en.output
