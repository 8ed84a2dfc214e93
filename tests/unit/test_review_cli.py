"""`phieu review assign|list|clear`: who reviews which agencies of a campaign (issue #10)."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app as cli_app
from storage import Storage


async def _seed(db: Path) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
            await u.add_agency("HAN", "UBND huyện An Nhơn", "huyen")
            await u.add_user("Trần Văn Hoà", None, "reviewer")
            await u.add_user("Lê Mai", None, "reviewer")
            await u.add_user("Lê Mai", None, "reviewer")
            await u.add_campaign("binh-dinh-2019-so", 1, "Năm 2026", date(2026, 11, 26))
    finally:
        await storage.close()


def run(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["review", *args, "--db", str(db)])
    return result.exit_code, result.output


def test_assign_list_and_clear(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    asyncio.run(_seed(db))
    assert run(db, "list", "--campaign", "1") == (
        0,
        "Chưa giao: mọi cán bộ thẩm định xem mọi cơ quan của đợt.\n",
    )
    code, out = run(
        db, "assign", "--campaign", "1", "--reviewer", "1", "--cohort", "huyen", "--agency", "STTTT"
    )
    assert code == 0, out
    assert "Trần Văn Hoà: khối huyen, STTTT (Sở Thông tin và Truyền thông)" in out
    code, out = run(db, "assign", "--campaign", "1", "--reviewer", "2")
    assert code == 0 and "toàn bộ cơ quan của đợt" in out
    code, out = run(db, "list", "--campaign", "1")
    assert out.splitlines() == [
        "1 Trần Văn Hoà: khối huyen",
        "1 Trần Văn Hoà: STTTT (Sở Thông tin và Truyền thông)",
        "2 Lê Mai: toàn bộ đợt",
    ]
    assert run(db, "clear", "--campaign", "1", "--reviewer", "Trần Văn Hoà") == (
        0,
        "Đã bỏ 2 phân công.\n",
    )


def test_mistakes_are_said_with_what_exists(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    asyncio.run(_seed(db))
    code, out = run(db, "assign", "--campaign", "9", "--reviewer", "1")
    assert code == 2 and "Không có đợt số 9" in out
    code, out = run(db, "assign", "--campaign", "1", "--reviewer", "Nobody")
    assert code == 2 and "không có cán bộ thẩm định" in out and "1 (Trần Văn Hoà)" in out
    code, out = run(db, "assign", "--campaign", "1", "--reviewer", "Lê Mai")
    assert code == 2 and "trùng tên" in out
    code, out = run(db, "assign", "--campaign", "1", "--reviewer", "1", "--agency", "XYZ")
    assert code == 2 and "Không có cơ quan mã 'XYZ'" in out
    code, out = run(db, "assign", "--campaign", "1", "--reviewer", "1", "--cohort", "tinh")
    assert code == 2
    code, out = run(db, "list", "--campaign", "1")
    assert "Chưa giao" in out  # nothing half-assigned by the refused commands
