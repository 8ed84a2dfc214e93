"""The command groups added after the CLI language mechanism follow it (issue #9: "One
language per run … help texts complete in both; flags shown without `<bool>` noise …
database errors never leak"): review, remind, score, progress, export, invite bulk, run
zalo, serve, worker — help and real output lines in English with `--lang en`, Vietnamese
by default."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from bot.cli import app as cli_app
from storage import Storage

VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)
GROUPS = [
    ("review",),
    ("review", "assign"),
    ("review", "list"),
    ("review", "clear"),
    ("remind",),
    ("remind", "plan"),
    ("remind", "plan", "set"),
    ("remind", "broadcast"),
    ("score",),
    ("progress",),
    ("export",),
    ("export", "answers"),
    ("invite", "bulk"),
    ("run", "zalo"),
    ("serve",),
    ("worker",),
]


def run(*args: str, input: str | None = None) -> Any:
    env: dict[str, str | None] = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8"}
    result = CliRunner().invoke(cli_app, list(args), input=input, env={**env, "COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def english(text: str) -> bool:
    return not VIETNAMESE.search(text.replace("Phiếu", ""))


@pytest.mark.parametrize("group", GROUPS, ids=" ".join)
def test_help_in_english_has_no_vietnamese_and_no_type_noise(group: tuple[str, ...]) -> None:
    r = run("--lang", "en", *group, "--help")
    assert r.exit_code == 0, r.output
    assert english(r.output), r.output
    for noise in ("<bool>", "<int>", "<str>", "<float>"):
        assert noise not in r.output
    vi = run(*group, "--help")
    assert vi.exit_code == 0 and VIETNAMESE.search(vi.output)  # Vietnamese by default


def test_value_placeholders_follow_the_language() -> None:
    assert re.search(r"--campaign\s+NUMBER", run("--lang", "en", "score", "--help").output)
    assert re.search(r"--campaign\s+SỐ", run("score", "--help").output)
    assert re.search(r"--rate\s+NUMBER", run("--lang", "en", "worker", "--help").output)
    assert re.search(r"--text\s+NỘI_DUNG", run("remind", "broadcast", "--help").output)
    assert re.search(r"--now\s+TIME", run("--lang", "en", "remind", "plan", "--help").output)


async def _seed(db: Path) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
            await u.add_user("Trần Văn Hoà", None, "reviewer")
            await u.add_campaign("binh-dinh-2019-so", 1, "Năm 2026", date(2026, 11, 26))
    finally:
        await storage.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "phieu.db"
    asyncio.run(_seed(path))
    return str(path)


def test_review_says_its_lines_in_the_runs_language(db: str) -> None:
    r = run("--lang", "en", "review", "list", "--campaign", "1", "--db", db)
    assert r.output == "No assignments: every reviewer reviews every agency of the campaign.\n"
    r = run("--lang", "en", "review", "assign", "--campaign", "1", "--reviewer", "1", "--db", db)
    assert r.exit_code == 0
    assert r.output == "Review assigned — Trần Văn Hoà: every agency of the campaign\n"
    r = run("--lang", "en", "review", "list", "--campaign", "1", "--db", db)
    assert r.output == "1 Trần Văn Hoà: the whole campaign\n"
    r = run("--lang", "en", "review", "assign", "--campaign", "1", "--reviewer", "Ai", "--db", db)
    assert r.exit_code == 2
    assert r.output == "'Ai': no such reviewer. Reviewers: 1 (Trần Văn Hoà)\n"
    r = run("--lang", "en", "review", "clear", "--campaign", "1", "--reviewer", "1", "--db", db)
    assert r.output == "Removed 1 assignments.\n"
    # The next run, without --lang, is Vietnamese again: one language per run.
    r = run("review", "list", "--campaign", "1", "--db", db)
    assert r.output == "Chưa giao: mọi cán bộ thẩm định xem mọi cơ quan của đợt.\n"
    r = run("--lang", "en", "review", "list", "--campaign", "9", "--db", db)
    assert r.exit_code == 2 and r.output == "No campaign number 9. See: phieu campaign list\n"


def test_remind_says_its_lines_in_the_runs_language(db: str) -> None:
    r = run("--lang", "en", "remind", "plan", "--campaign", "1", "--now", "20/11/2026", "--db", db)
    assert r.exit_code == 0, r.output
    assert "Campaign #1 “Năm 2026”, deadline 26/11/2026 — plan:" in r.output
    assert "Would send (dry run, nothing sent)" in r.output and "Recipient" in r.output
    assert re.search(r"slot d-3: Mon 23/11/2026 08:00", r.output)
    assert "Trần Văn Hoà (reviewer)" in r.output and "not submitted" in r.output
    assert english(r.output.replace("Năm 2026", "").replace("Trần Văn Hoà", ""))
    r = run("--lang", "en", "remind", "plan", "set", "--campaign", "1", "--days", "0", "--db", db)
    assert r.exit_code == 2
    assert r.output.startswith("Days before the deadline are not valid: '0'.")
    r = run("--lang", "en", "remind", "plan", "set", "--campaign", "1", "--at", "8h", "--db", db)
    assert r.output.strip() == "Sending time is not valid: '8h'. Example: 08:00"
    r = run("remind", "plan", "set", "--campaign", "1", "--at", "8h", "--db", db)
    assert r.output.strip() == "Giờ gửi không hợp lệ: '8h'. Ví dụ: 08:00"
    r = run("--lang", "en", "remind", "plan", "set", "--campaign", "1", "--days", "5", "--db", db)
    assert r.exit_code == 0 and r.output.startswith(
        "Saved the reminder plan of campaign #1: days=5"
    )
    r = run("--lang", "en", "remind", "broadcast", "--campaign", "1", "--text", " ", "--db", db)
    assert r.exit_code == 2 and r.output.startswith("The announcement is empty.")
    r = run("--lang", "en", "remind", "broadcast", "--campaign", "1", "--text", "Hi", "--db", db)
    assert r.exit_code == 0
    assert r.output.startswith("Queued 0 messages to 0 people; `phieu worker` sends them")
    r = run("--lang", "en", "remind", "plan", "--campaign", "7", "--db", db)
    assert r.exit_code == 1 and r.output.startswith("No campaign #7. See the campaigns")


def test_score_progress_export_and_invite_bulk_speak_english(db: str, tmp_path: Path) -> None:
    r = run("--lang", "en", "score", "--campaign", "1", "--db", db)
    assert r.exit_code == 0, r.output
    assert "Illustrative scale: not the official scoring scale yet." in r.output
    assert "Not ranked" in r.output and "Reason" in r.output and "form not sent" in r.output
    assert "Không xếp hạng" not in r.output and "Lý do" not in r.output
    vi = run("score", "--campaign", "1", "--db", db)
    assert "Không xếp hạng" in vi.output and "Lý do" in vi.output
    r = run("--lang", "en", "score", "--campaign", "9", "--db", db)
    assert r.exit_code == 2 and r.output == "No campaign #9. See: phieu campaign list\n"
    manual = tmp_path / "diem.yaml"
    manual.write_text("- 1\n", encoding="utf-8")
    r = run("--lang", "en", "score", "--campaign", "1", "--manual", str(manual), "--db", db)
    assert r.exit_code == 2 and "the file must be a mapping {agency code:" in r.output
    assert "Example:\nSO-TTTT:" in r.output
    r = run("--lang", "en", "progress", "--campaign", "9", "--db", db)
    assert r.exit_code == 2 and english(r.output) and "No campaign #9" in r.output
    r = run("--lang", "en", "export", "answers", "x.xlsx", "--campaign", "1", "--format", "pdf")
    assert r.exit_code == 2 and english(r.output) and "--format" in r.output
    r = run("--lang", "en", "invite", "bulk", "moi.txt", "--campaign", "1", "--db", db)
    assert r.exit_code == 2 and english(r.output) and ".xlsx" in r.output


def test_a_database_error_mid_command_is_said_in_words(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """remind and export open the database themselves: a refusal or a lost connection is a
    sentence in the run's language, the database's own text only in the log."""

    async def broken(*_: Any, **__: Any) -> Any:
        raise OperationalError("SELECT secret FROM campaigns", {}, Exception("disk I/O error"))

    monkeypatch.setattr("storage.repository.Unit.campaign", broken)
    for args in (
        ("remind", "plan", "--campaign", "1"),
        ("remind", "broadcast", "--campaign", "1", "--text", "Hi"),
        ("export", "answers", "x.xlsx", "--campaign", "1"),
        ("review", "list", "--campaign", "1"),
        ("score", "--campaign", "1"),
    ):
        r = run("--lang", "en", *args, "--db", db)
        assert r.exit_code == 1, (args, r.output)
        assert r.output.startswith("The database is busy or not answering"), r.output
        assert "disk I/O" not in r.output and "SELECT" not in r.output
        vi = run(*args, "--db", db)
        assert vi.output.startswith("Cơ sở dữ liệu đang bận hoặc không trả lời"), vi.output
