"""`phieu people list`: the ids `chat --user` and `invite create --person` need."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from bot.cli import app as cli_app
from storage import Storage


def run(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


async def _seed(db: Path) -> dict[str, int]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            a = await u.add_agency("STTTT", "Sở TTTT", "so")
            await u.add_agency("SYT", "Sở Y tế", "so")
            lan = await u.add_user("Nguyễn Thị Lan", a.id, "official")
            await u.bind_identity(lan.id, "telegram", "111", "Lan")
            await u.bind_identity(lan.id, "zalo", "z111", "Lan")
            hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
            minh = await u.add_user("Phạm Minh", a.id, "official")
    finally:
        await storage.close()
    with sqlite3.connect(db) as con:  # the position comes from the directory import
        con.execute("UPDATE users SET position = 'Chuyên viên' WHERE id = ?", (lan.id,))
    return {"lan": lan.id, "hoa": hoa.id, "minh": minh.id}


def test_people_list_shows_ids_agencies_roles_and_chat_apps(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    ids = asyncio.run(_seed(db))
    out = run("people", "list", "--db", str(db))
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines == [
        f"{ids['lan']} · STTTT · Nguyễn Thị Lan · cán bộ cơ quan · Chuyên viên · telegram, zalo",
        f"{ids['hoa']} · — · Trần Văn Hoà · cán bộ thẩm định · — · chưa tham gia ứng dụng chat nào",
        f"{ids['minh']} · STTTT · Phạm Minh · cán bộ cơ quan · — · chưa tham gia ứng dụng chat nào",
    ]
    only = run("people", "list", "--role", "reviewer", "--db", str(db))
    assert only.output.splitlines() == [lines[1]]
    mine = run("people", "list", "--agency", "stttt", "--db", str(db))
    assert mine.output.splitlines() == [lines[0], lines[2]]
    assert run("people", "list", "--agency", "SYT", "--db", str(db)).output == (
        "Chưa có người dùng nào khớp.\n"
    )
    en = run("--lang", "en", "people", "list", "--role", "official", "--db", str(db))
    assert "official" in en.output.splitlines()[0] and "Chuyên viên" in en.output


def test_people_list_refuses_an_unknown_agency_or_role(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    bad = run("people", "list", "--agency", "XYZ", "--db", str(db))
    assert bad.exit_code == 2 and "Không có cơ quan mã XYZ" in bad.output
    bad = run("people", "list", "--role", "boss", "--db", str(db))
    assert bad.exit_code == 2 and "--role phải là một trong: official, reviewer, admin" in (
        bad.output
    )
