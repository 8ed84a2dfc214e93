"""Every command that writes a file says so in words when the file's folder does not
exist — no openpyxl/zipfile traceback, no "Exception ignored" noise — in the run's
language, exit code 2, and writes nothing (found trying Phiếu as a newcomer:
`phieu progress --format xlsx --out /khong-co/tien-do.xlsx` printed a stack trace)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "p.db"
    runner = CliRunner()
    d = ["--db", str(path)]
    ran = runner.invoke(
        app, ["agencies", "add", "--code", "STTTT", "--name", "Sở TTTT", "--cohort", "so", *d]
    )
    assert ran.exit_code == 0, ran.output
    when = ["--deadline", "26/11/2099", "--year", "2099", "--no-notify"]
    ran = runner.invoke(app, ["campaign", "open", "--form", "binh-dinh-2019-so", *when, *d])
    assert ran.exit_code == 0, ran.output
    return path


def _commands(db: Path, out: Path) -> list[list[str]]:
    d = ["--db", str(db)]
    return [
        ["agencies", "template", str(out)],
        ["forms", "export", "binh-dinh-2019-so", "--format", "xlsx", "--out", str(out)],
        ["progress", "--campaign", "1", "--format", "xlsx", "--out", str(out), *d],
        ["export", "answers", "--campaign", "1", str(out), *d],
        ["invite", "bulk", "--campaign", "1", str(out), "--bot", "phieu_bot", *d],
        ["score", "--campaign", "1", "--out", str(out), *d],
    ]


@pytest.mark.parametrize("n", range(6))
@pytest.mark.parametrize(
    ("lang", "said"),
    [([], "không có thư mục"), (["--lang", "en"], "there is no folder")],
)
def test_a_missing_folder_is_said_not_traced(
    db: Path, tmp_path: Path, n: int, lang: list[str], said: str
) -> None:
    out = tmp_path / "khong-co" / "ket-qua.xlsx"
    args = [*lang, *_commands(db, out)[n]]
    ran = CliRunner().invoke(app, args)
    text = ran.output + (ran.stderr if ran.stderr_bytes is not None else "")
    assert ran.exit_code == 2, (args, text)
    assert said in text and str(out.parent) in text and "ket-qua.xlsx" in text
    assert "Traceback" not in text and "Error" not in text
    assert not isinstance(ran.exception, OSError | AssertionError)
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("tra-loi.txt", "xlsx"), ("tra-loi.csv", "xlsx"), ("tra-loi.xlsx", "csv"), ("tra-loi", "csv")],
)
def test_export_refuses_a_file_name_that_does_not_match_its_format(
    db: Path, tmp_path: Path, name: str, fmt: str
) -> None:
    """`export answers x.txt` wrote an Excel workbook named x.txt; now the name must end in
    the format's extension, said with an example, and nothing is written."""
    out = tmp_path / name
    ran = CliRunner().invoke(
        app, ["export", "answers", "--campaign", "1", str(out), "--format", fmt, "--db", str(db)]
    )
    assert ran.exit_code == 2, ran.output
    assert f"Tên tệp phải có đuôi .{fmt}" in ran.output and f"tra-loi.{fmt}" in ran.output
    assert not out.exists()
    good = tmp_path / f"tra-loi.{fmt}"
    ran = CliRunner().invoke(
        app, ["export", "answers", "--campaign", "1", str(good), "--format", fmt, "--db", str(db)]
    )
    assert ran.exit_code == 0, ran.output
    assert good.exists()


@pytest.mark.parametrize("n", range(6))
@pytest.mark.parametrize(
    ("lang", "said"),
    [([], "đó là một thư mục"), (["--lang", "en"], "that is a folder")],
)
def test_a_folder_given_as_the_file_is_said_not_traced(
    db: Path, tmp_path: Path, n: int, lang: list[str], said: str
) -> None:
    """`--out out/dir.xlsx` where out/dir.xlsx is a folder printed IsADirectoryError's
    traceback; now one sentence with an example of a file inside it, exit 2."""
    out = tmp_path / "out" / "dir.xlsx"
    out.mkdir(parents=True)
    args = [*lang, *_commands(db, out)[n]]
    ran = CliRunner().invoke(app, args)
    text = ran.output + (ran.stderr if ran.stderr_bytes is not None else "")
    assert ran.exit_code == 2, (args, text)
    assert said in text and str(out / "ket-qua.xlsx") in text
    assert "Traceback" not in text and "Error" not in text
    assert not isinstance(ran.exception, OSError | AssertionError)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("n", range(6))
@pytest.mark.parametrize(
    ("lang", "said"),
    [([], "không ghi được vào /proc"), (["--lang", "en"], "cannot write in /proc")],
)
def test_a_folder_that_takes_no_file_is_said_not_traced(
    db: Path, n: int, lang: list[str], said: str
) -> None:
    """/proc exists and (for root) looks writable, but takes no new file: tried for real
    before anything is read or written, said with an example in the current folder."""
    out = Path("/proc/ket-qua.xlsx")
    args = [*lang, *_commands(db, out)[n]]
    ran = CliRunner().invoke(app, args)
    text = ran.output + (ran.stderr if ran.stderr_bytes is not None else "")
    assert ran.exit_code == 2, (args, text)
    assert said in text and "ket-qua.xlsx" in text
    assert "Traceback" not in text and "Error" not in text
    assert not isinstance(ran.exception, OSError | AssertionError)
