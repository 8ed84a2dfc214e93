"""`phieu remind plan | plan set | broadcast` on a SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from flows.machines import Status
from storage import Storage

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli_app, list(args), input=input, env={"COLUMNS": "200"})


async def _seed(db: Path, officials: int) -> int:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            camp = await u.add_campaign("binh-dinh-2019-so", 1, "CQĐT 2026", date(2026, 11, 26))
            for i in range(officials):
                a = await u.add_agency(f"S{i}", f"Sở {i}", "so")
                user = await u.add_user(f"Cán bộ {i}", a.id, "official")
                await u.bind_identity(user.id, "telegram", str(1000 + i), None)
                if i == 0:
                    sub = await u.submission(camp.id, a.id)
                    await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, None, NOW)
        return camp.id
    finally:
        await storage.close()


async def _outbox(db: Path) -> list[dict[str, Any]]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            return await u.keyed_rows("")
    finally:
        await storage.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "phieu.db"


def seed(db: Path, officials: int = 3) -> str:
    return str(asyncio.run(_seed(db, officials)))


def test_plan_dry_run_lists_what_would_go_and_queues_nothing(db: Path) -> None:
    cid = seed(db)
    out = run("remind", "plan", "--campaign", cid, "--now", "24/11/2026 09:00", "--db", str(db))
    assert out.exit_code == 0, out.output
    assert "mốc d-7: T5 19/11/2026 08:00" in out.output
    assert "mốc overdue: T6 27/11/2026 08:00" in out.output
    assert "24/11/2026 09:00 │ d-3" in out.output  # due now (d-3 has passed)
    assert "25/11/2026 08:00 │ d-1" in out.output
    assert "chưa nộp" in out.output and "sẽ gửi" in out.output
    assert "│ Sở 1 " in out.output and "Cán bộ 1 (cán bộ)" in out.output
    assert "Sở 0 " not in out.output  # submitted
    # Sở 0 submitted: 2 agencies × (d-3, d-1, d-0, overdue) + the reviewer digest (none here).
    assert "Tổng: 8 tin nhắc" in out.output
    assert asyncio.run(_outbox(db)) == []


def test_plan_set_changes_and_keeps_what_is_not_given(db: Path) -> None:
    cid = seed(db)
    out = run("remind", "plan", "set", "--campaign", cid, "--days", "10,3,1", "--at", "08:30",
              "--quiet", "22:00-06:00", "--no-weekends", "--db", str(db))  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "days=10,3,1 at=08:30 quiet=22:00-06:00 no_weekends=True" in out.output
    out = run("remind", "plan", "set", "--campaign", cid, "--days", "5", "--db", str(db))
    assert "days=5 at=08:30 quiet=22:00-06:00 no_weekends=True" in out.output
    show = run("remind", "plan", "--campaign", cid, "--now", "01/11/2026 09:00", "--db", str(db))
    assert "mốc d-5: T2 23/11/2026 08:30" in show.output  # 21/11 is a Saturday → Monday


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "7,x"], "Ví dụ: 7,3,1"),
        (["--at", "8h"], "Ví dụ: 08:00"),
        (["--quiet", "21:00"], "Ví dụ: 21:00-07:00"),
    ],
)
def test_plan_set_refuses_bad_values_with_an_example(
    db: Path, args: list[str], message: str
) -> None:
    cid = seed(db)
    out = run("remind", "plan", "set", "--campaign", cid, *args, "--db", str(db))
    assert out.exit_code == 2
    assert message in out.output


def test_unknown_campaign_and_bad_now_are_explained(db: Path) -> None:
    seed(db)
    out = run("remind", "plan", "--campaign", "99", "--db", str(db))
    assert out.exit_code == 1 and "Không có đợt #99" in out.output
    out = run("remind", "plan", "--campaign", "1", "--now", "hôm qua", "--db", str(db))
    assert out.exit_code == 2 and "23/11/2026 08:00" in out.output
    out = run("remind", "plan", "--db", str(db))
    assert out.exit_code == 2 and "Cần --campaign" in out.output


def test_broadcast_small_goes_without_asking_and_only_pending_filters(db: Path) -> None:
    cid = seed(db, 3)
    out = run("remind", "broadcast", "--campaign", cid, "--text", "Họp 9h", "--only", "pending",
              "--db", str(db))  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "Đã xếp hàng 2 tin tới 2 người" in out.output
    again = run("remind", "broadcast", "--campaign", cid, "--text", "Họp 9h", "--db", str(db))
    assert "Đã xếp hàng 1 tin tới 3 người" in again.output  # only the one not reached yet
    rows = asyncio.run(_outbox(db))
    assert sorted(r["chat_id"] for r in rows) == ["1000", "1001", "1002"]
    assert {r["kind"] for r in rows} == {"notice"}


def test_broadcast_to_more_than_20_asks_first(db: Path) -> None:
    cid = seed(db, 25)
    out = run("remind", "broadcast", "--campaign", cid, "--text", "Họp", "--db", str(db),
              input="n\n")  # fmt: skip
    assert "Gửi thông báo tới 25 người" in out.output and "Đã huỷ" in out.output
    assert out.exit_code == 1
    assert asyncio.run(_outbox(db)) == []
    out = run("remind", "broadcast", "--campaign", cid, "--text", "Họp", "--db", str(db),
              input="y\n")  # fmt: skip
    assert "Đã xếp hàng 25 tin" in out.output
    out = run("remind", "broadcast", "--campaign", cid, "--text", "Họp 2", "--yes", "--db", str(db))
    assert "Gửi thông báo tới" not in out.output and "Đã xếp hàng 25 tin" in out.output


def test_broadcast_refuses_bad_only_and_empty_text(db: Path) -> None:
    cid = seed(db)
    out = run(
        "remind", "broadcast", "--campaign", cid, "--text", "x", "--only", "all", "--db", str(db)
    )
    assert out.exit_code == 2 and "--only pending" in out.output
    out = run("remind", "broadcast", "--campaign", cid, "--text", "  ", "--db", str(db))
    assert out.exit_code == 2 and "Ví dụ" in out.output
