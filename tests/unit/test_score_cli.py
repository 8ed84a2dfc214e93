"""`phieu score --manual FILE`: reviewer-scored points read politely (issue #12)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.cli.score import read_manual
from scoring.scales import builtin_scales
from storage import Storage

SCALE = builtin_scales()["binh-dinh-2019-so"]


def test_manual_points_are_read_by_agency_code_and_criterion(tmp_path: Path) -> None:
    path = tmp_path / "diem.yaml"
    path.write_text("SO-TTTT:\n  '4.3': 15\nSO-YT:\n  '4.3': 0\n", encoding="utf-8")
    assert read_manual(path, SCALE) == {"SO-TTTT": {"4.3": 15.0}, "SO-YT": {"4.3": 0.0}}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("SO-TTTT:\n  '3.1': 5\n", "SO-TTTT, tiêu chí 3.1: không phải tiêu chí do thẩm định chấm"),
        ("SO-TTTT:\n  '4.3': nhiều\n", "SO-TTTT, tiêu chí 4.3: điểm phải là số"),
        ("SO-TTTT:\n  '4.3': 25\n", "SO-TTTT, tiêu chí 4.3: 25 ngoài khoảng 0–20"),
        ("SO-TTTT: 15\n", "SO-TTTT: cần {mã tiêu chí: điểm}"),
        ("- 1\n", "tệp phải là bảng"),
        ("SO: [\n", "Không đọc được"),
    ],
)
def test_bad_manual_file_says_what_and_gives_an_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    path = tmp_path / "diem.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(typer.Exit) as e:
        read_manual(path, SCALE)
    assert e.value.exit_code == 2
    err = capsys.readouterr().err
    assert said in err and "Ví dụ:" in err and "Traceback" not in err


async def _campaigns(db: Path) -> tuple[int, int]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    try:
        async with storage.unit() as u:
            await u.add_agency("SO-TTTT", "Sở TTTT", "so")
            due = await u.add_campaign("binh-dinh-2019-so", 1, "Còn hạn", today + timedelta(7))
            today_due = await u.add_campaign("binh-dinh-2019-so", 1, "Hạn hôm nay", today)
            past = await u.add_campaign("binh-dinh-2019-so", 1, "Quá hạn", today - timedelta(1))
            assert today_due.id
            return due.id, past.id
    finally:
        await storage.close()


def _score(db: Path, campaign: int) -> str:
    result = CliRunner().invoke(cli_app, ["score", "--campaign", str(campaign), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


def test_an_agency_not_yet_submitted_before_the_deadline_is_not_yet_missing(
    tmp_path: Path,
) -> None:
    """`phieu score` said "không gửi phiếu" days before the deadline (newcomer report)."""
    db = tmp_path / "s.db"
    due, past = asyncio.run(_campaigns(db))
    before = _score(db, due)
    assert "chưa nộp" in before and "không gửi phiếu" not in before
    on_the_day = _score(db, due + 1)
    assert "chưa nộp" in on_the_day and "không gửi phiếu" not in on_the_day
    after = _score(db, past)
    assert "không gửi phiếu" in after and "chưa nộp" not in after
    en = CliRunner().invoke(
        cli_app, ["--lang", "en", "score", "--campaign", str(due), "--db", str(db)]
    )
    assert "not submitted" in en.output and "form not sent" not in en.output
