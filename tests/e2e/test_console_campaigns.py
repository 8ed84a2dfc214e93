"""Two campaigns opened with `phieu campaign open`, then `phieu chat` as a real subprocess:
the official chooses a questionnaire, answers it, switches with /phieu, and a second sitting
goes on in the campaign and at the question where the first stopped (issue #9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.e2e.test_console_chat import all_replies, chat, reply_to

DUE = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() + timedelta(days=20)


def admin(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "phieu.db"
    admin(path, "agencies", "add", "--code", "STTTT", "--name", "Sở TTTT", "--cohort", "so")
    due, year = f"{DUE:%d/%m/%Y}", str(DUE.year)
    admin(path, "campaign", "open", "--form", "binh-dinh-2019-so", "--deadline", due,
          "--year", year, "--name", "Năm " + year)  # fmt: skip
    admin(path, "campaign", "open", "--form", "dien-bien-2014-website", "--deadline", due,
          "--year", year, "--agency", "STTTT", "--name", "Khảo sát website")  # fmt: skip
    return path


def test_the_official_chooses_switches_and_resumes_in_the_console(db: Path) -> None:
    first = chat(db, ["2", "/tiep", "https://sotttt.example.gov.vn", "/phieu", "1"], "--agency",
                 "STTTT")  # fmt: skip
    shown = all_replies(first)
    assert "Sở TTTT đang có 2 phiếu cần trả lời" in shown
    assert reply_to(first, "2").startswith("Phiếu: Khảo sát website")
    assert "✅ Đã lưu 1.1" in reply_to(first, "https://sotttt.example.gov.vn")
    assert "2. 📋 Khảo sát website" in reply_to(first, "/phieu")
    assert "(đang làm)" in reply_to(first, "/phieu")
    assert reply_to(first, "1").startswith("Phiếu: Năm ")

    # A second sitting: the chat is still in the yearly form; /phieu 2 goes back to the
    # survey at the question after the one answered.
    second = chat(db, ["/phieu", "2"], "--agency", "STTTT")
    back = reply_to(second, "2")
    assert back.startswith("Phiếu: Khảo sát website")
    assert "2.1" in back
