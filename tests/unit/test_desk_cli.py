"""`phieu progress`, `phieu export answers`, `phieu forms export --format xlsx` as an
administrator runs them (SQLite file, the built-in Sở form)."""

from __future__ import annotations

import asyncio
import errno
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.desk.cells import formula_like
from flows.loader import builtin_forms
from flows.machines import Status
from flows.state import Answer
from storage import Storage

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


async def _seed(db: Path) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            a = await u.add_agency("STTTT", "Sở TTTT", "so")
            await u.add_agency("SYT", "Sở Y tế", "so")
            await u.add_agency("H1", "Huyện Một", "huyen")  # not asked by the Sở form
            c = await u.add_campaign(
                "binh-dinh-2019-so", 1, "Sở 2019", datetime(2026, 11, 26).date()
            )
            sub = await u.submission(c.id, a.id)
            await u.apply_changes(
                sub.id,
                {"1.7": Answer(25), "1.2": Answer("+84 đường dây nóng")},
                None,
                "telegram",
                NOW,
            )
            await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, None, NOW)
    finally:
        await storage.close()


def test_progress_table_and_workbook(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    result = run("progress", "--campaign", "1", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "STTTT" in result.output and "SYT" in result.output
    assert "H1" not in result.output  # a huyện is not a target of the Sở form
    assert "đã nộp" in result.output and "chưa bắt đầu" in result.output
    assert "đúng hạn" in result.output
    out = tmp_path / "p.xlsx"
    result = run(
        "progress", "--campaign", "1", "--format", "xlsx", "--out", str(out), "--db", str(db)
    )
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).worksheets[0]
    assert [r[0].value for r in ws.iter_rows(min_row=2)] == ["STTTT", "SYT"]
    missing = run("progress", "--campaign", "7", "--db", str(db))
    assert missing.exit_code == 2 and "Không có đợt #7" in missing.output
    bad = run("progress", "--campaign", "1", "--format", "xlsx", "--db", str(db))
    assert bad.exit_code == 2 and "--out" in bad.output


def test_export_answers_command(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    out = tmp_path / "a.xlsx"
    result = run("export", "answers", str(out), "--campaign", "1", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "2 cơ quan, 1 phiếu, 2 thay đổi" in result.output
    # One line, no empty first line left by the progress bar (newcomer report).
    assert result.output.startswith("Đã xuất đợt #1: ") and result.output.count("\n") == 1
    wb = load_workbook(out)
    assert wb.sheetnames == ["Sở", "Lịch sử"]
    ws = wb["Sở"]
    header = [c.value for c in ws[1]]
    form = builtin_forms()["binh-dinh-2019-so"]
    assert len(header) >= 5 + len(form.questions)
    col = header.index(next(h for h in header if h and h.startswith("1.7 ")))
    rows = {r[1].value: r for r in ws.iter_rows(min_row=2)}
    assert rows["STTTT"][col].value == 25
    hotline = rows["STTTT"][header.index(next(h for h in header if h and h.startswith("1.2 ")))]
    assert hotline.value == "+84 đường dây nóng" and hotline.data_type == "s"
    csv_out = tmp_path / "a.csv"
    result = run(
        "export", "answers", str(csv_out), "--campaign", "1", "--format", "csv", "--db", str(db)
    )
    assert result.exit_code == 0, result.output
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "'+84 đường dây nóng" in csv_out.read_text(encoding="utf-8-sig")


def test_export_answers_history_where(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    out = tmp_path / "a.xlsx"
    result = run(
        "export", "answers", str(out), "--campaign", "1", "--history", "csv", "--db", str(db)
    )
    assert result.exit_code == 0, result.output
    apart = tmp_path / "a-lich-su.csv"
    assert f"{out}, {apart}" in result.output
    assert apart.read_text(encoding="utf-8-sig").count("\n") == 1 + 2
    assert "a-lich-su.csv" in load_workbook(out)["Lịch sử"]["A1"].value
    quiet = run("export", "answers", str(out), "--campaign", "1", "--no-history", "--db", str(db))
    assert quiet.exit_code == 0 and "không kèm lịch sử" in quiet.output  # not "0 thay đổi"
    both = run(
        "export",
        "answers",
        str(out),
        "--campaign",
        "1",
        "--no-history",
        "--history",
        "csv",
        "--db",
        str(db),
    )
    assert both.exit_code == 2 and "trái nhau" in both.output
    assert load_workbook(out)["Lịch sử"].max_row == 1
    for lang, said in (("vi", "ví dụ: --history csv"), ("en", "for example: --history csv")):
        bad = run(
            "--lang",
            lang,
            "export",
            "answers",
            str(out),
            "--campaign",
            "1",
            "--history",
            "sheets",
            "--db",
            str(db),
        )
        assert bad.exit_code == 2 and said in bad.output
        assert "Traceback" not in bad.output


def test_export_answers_to_a_folder_or_blocked_history_says_why_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    (tmp_path / "thu-muc.xlsx").mkdir()
    folder = run(
        "export", "answers", str(tmp_path / "thu-muc.xlsx"), "--campaign", "1", "--db", str(db)
    )
    assert folder.exit_code in (1, 2) and "thư mục" in folder.output
    assert "Traceback" not in folder.output and "Exception ignored" not in folder.output
    (tmp_path / "b-lich-su.csv").mkdir()  # in the way of the history file
    blocked = run(
        "export",
        "answers",
        str(tmp_path / "b.xlsx"),
        "--campaign",
        "1",
        "--history",
        "csv",
        "--db",
        str(db),
    )
    assert blocked.exit_code == 1 and "b-lich-su.csv: đó là một thư mục" in blocked.output
    assert not (tmp_path / "b.xlsx").exists()  # nothing half-written left behind
    assert not list(tmp_path.glob(".*.part"))
    english = run(
        "--lang",
        "en",
        "export",
        "answers",
        str(tmp_path / "b.xlsx"),
        "--campaign",
        "1",
        "--history",
        "csv",
        "--db",
        str(db),
    )
    assert english.exit_code == 1 and "is a folder" in english.output


def test_forms_export_xlsx_is_the_questionnaire_in_order(tmp_path: Path) -> None:
    out = tmp_path / "so.xlsx"
    result = run("forms", "export", "binh-dinh-2019-so", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    form = builtin_forms()["binh-dinh-2019-so"]
    assert f"{len(form.questions)} mục" in result.output
    ws = load_workbook(out).active
    assert ws["A1"].value == form.title.vi
    numbers = [r[0].value for r in ws.iter_rows(min_row=5) if r[3].value]
    assert numbers == [q.printed or q.id for q in form.questions]
    assert ws.print_title_rows == "$4:$4"
    assert ws.page_setup.orientation == "landscape"
    for row in ws.iter_rows():
        for c in row:
            if formula_like(c.value):
                assert c.data_type == "s" and c.quotePrefix
    assert run("forms", "export", "binh-dinh-2019-so", "--format", "pdf").exit_code == 2


def test_desk_output_follows_the_runs_language(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    vi = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8"}
    result = CliRunner().invoke(
        cli_app, ["--lang", "en", "progress", "--campaign", "1", "--db", str(db)], env=vi
    )
    assert result.exit_code == 0, result.output
    assert "not started" in result.output and "submitted" in result.output
    assert "chưa bắt đầu" not in result.output
    bad = CliRunner().invoke(
        cli_app, ["agencies", "import", str(tmp_path / "none.xlsx"), "--db", str(db)],
        env={**vi, "LANG": "en_US.UTF-8"},  # the locale chooses English too
    )  # fmt: skip
    assert bad.exit_code == 2 and "There is no file" in bad.output
    same = CliRunner().invoke(
        cli_app, ["progress", "--campaign", "1", "--db", str(db)], env=vi
    )  # next run, no --lang: Vietnamese again
    assert "chưa bắt đầu" in same.output and "not started" not in same.output


def test_a_failed_write_is_one_sentence_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails after the path looked fine (a full disk here) is said in the run's
    language with an example, exit 1 — for the progress workbook and the form's workbook."""
    import bot.cli.progress
    import bot.desk.formbook

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "x.xlsx")

    monkeypatch.setattr(bot.cli.progress, "write_progress", full)
    monkeypatch.setattr(bot.desk.formbook, "write_form", full)
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    out = str(tmp_path / "x.xlsx")
    for lang, said in (("vi", "ổ đĩa đã đầy"), ("en", "the disk is full")):
        for args in (
            ["progress", "--campaign", "1", "--out", out, "--db", str(db)],
            ["forms", "export", "binh-dinh-2019-so", "--out", out],
        ):
            ran = run("--lang", lang, *args)
            assert ran.exit_code == 1, ran.output
            assert said in ran.output and "--out x.xlsx" in ran.output
            assert "Traceback" not in ran.output and ran.exception is not None
            assert not isinstance(ran.exception, OSError)


def test_the_out_files_extension_chooses_the_format(tmp_path: Path) -> None:
    """`--out` alone was ignored (progress printed its table, forms export its JSON): now the
    file's extension says what to write."""
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    book = tmp_path / "td.xlsx"
    ran = run("progress", "--campaign", "1", "--out", str(book), "--db", str(db))
    assert ran.exit_code == 0 and "Đã ghi" in ran.output, ran.output
    assert load_workbook(book).worksheets[0]["A2"].value == "STTTT"
    form = builtin_forms()["binh-dinh-2019-so"]
    data = tmp_path / "so.json"
    ran = run("forms", "export", "binh-dinh-2019-so", "--out", str(data))
    assert ran.exit_code == 0 and f"{len(form.questions)} mục" in ran.output, ran.output
    assert json.loads(data.read_text(encoding="utf-8"))["id"] == form.id
    sheet = tmp_path / "so.xlsx"
    ran = run("forms", "export", "binh-dinh-2019-so", "--out", str(sheet))
    assert ran.exit_code == 0, ran.output
    assert load_workbook(sheet).active["A1"].value == form.title.vi
    printed = run("forms", "export", "binh-dinh-2019-so")  # no --out: JSON on the screen
    assert json.loads(printed.output)["id"] == form.id


def test_a_file_name_saying_another_format_is_refused(tmp_path: Path) -> None:
    """`--format xlsx --out td.csv` wrote a workbook named .csv; now refused with an
    example, nothing written, in the run's language."""
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    d = ["--db", str(db)]
    csv = str(tmp_path / "td.csv")
    xlsx = str(tmp_path / "td.xlsx")
    cases = [
        (["progress", "--campaign", "1", "--format", "xlsx", "--out", csv, *d],
         "Tên tệp phải có đuôi .xlsx", "must end in .xlsx", "--out tien-do.xlsx"),
        (["progress", "--campaign", "1", "--out", csv, *d],
         "đuôi tệp phải là .xlsx", "must end in .xlsx", "--out tien-do.xlsx"),
        (["progress", "--campaign", "1", "--format", "table", "--out", xlsx, *d],
         "--format table không ghi ra tệp", "--format table writes no file",
         "--format xlsx --out tien-do.xlsx"),
        (["forms", "export", "binh-dinh-2019-so", "--format", "xlsx", "--out", csv],
         "Tên tệp phải có đuôi .xlsx", "must end in .xlsx", "--out binh-dinh-2019-so.xlsx"),
        (["forms", "export", "binh-dinh-2019-so", "--format", "json", "--out", xlsx],
         "Tên tệp phải có đuôi .json", "must end in .json", "--out binh-dinh-2019-so.json"),
        (["forms", "export", "binh-dinh-2019-so", "--out", csv],
         "đuôi tệp phải là .json, .xlsx", "must end in .json, .xlsx",
         "--out binh-dinh-2019-so.json"),
    ]  # fmt: skip
    for args, vi, en, example in cases:
        for lang, said in (("vi", vi), ("en", en)):
            ran = run("--lang", lang, *args)
            assert ran.exit_code == 2, (args, ran.output)
            assert said in ran.output and example in ran.output, (args, ran.output)
    assert not (tmp_path / "td.csv").exists() and not (tmp_path / "td.xlsx").exists()


def test_the_progress_workbook_has_the_terminals_columns(tmp_path: Path) -> None:
    """The totals sheet said "đã nộp" (a stage) and "Đã nộp" (all submitted) — two headers
    differing only by case — and had no "Hoạt động cuối"; the agencies sheet had no
    "Chi tiết". Now both sheets carry the terminal tables' columns, in their order."""
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    for lang in ("vi", "en"):
        shown = (
            CliRunner()
            .invoke(
                cli_app,
                ["--lang", lang, "progress", "--campaign", "1", "--db", str(db)],
                env={"COLUMNS": "300"},  # wide enough that no header is wrapped
            )
            .output
        )
        out = tmp_path / f"p-{lang}.xlsx"
        ran = run("--lang", lang, "progress", "--campaign", "1", "--out", str(out), "--db", str(db))
        assert ran.exit_code == 0, ran.output
        agencies, totals = load_workbook(out).worksheets
        head = [c.value for c in totals[1]]
        assert len({h.casefold() for h in head}) == len(head), head
        words = {"vi": ["Tổng đã nộp", "Muộn", "Hoạt động cuối"],
                 "en": ["Total submitted", "Late", "Last activity"]}  # fmt: skip
        assert head[-3:] == words[lang]
        for h in head:  # every header of the sheet is a header of the terminal's table
            assert h in shown, (lang, h)
        so = [c.value for c in totals[2]]
        assert so[1] == 2 and so[-3] == 1 and isinstance(so[-1], datetime)  # 2 sở, 1 nộp
        columns = [c.value for c in agencies[1]]
        terminal = ["Mã", "Cơ quan", "Nhóm", "Tình trạng", "Chi tiết", "Hoạt động cuối"]
        if lang == "en":
            terminal = ["Code", "Agency", "Cohort", "Status", "Details", "Last activity"]
        assert [h for h in columns if h in terminal] == terminal
        assert columns[4] == terminal[4] and columns[-1] == terminal[-1]
        row = {c.value for c in agencies[2]}
        assert any(isinstance(v, str) and v.endswith(("đúng hạn", "on time")) for v in row)
