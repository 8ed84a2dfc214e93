"""SQLite statements run on the event loop's thread; BEGIN and COMMIT keep aiosqlite's thread.

Why (storage/database.py InlineConnection): a thread hop per call cost more CPU than the
statement. What must still hold: a unit waiting for another process's write lock does not
stall the loop, the statements of a unit are the same and still atomic.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text

from storage import Storage


async def _open(tmp_path: Path) -> Storage:
    return await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'phieu.db'}")


async def test_statements_run_on_the_loop_thread_begin_and_commit_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _open(tmp_path)
    hopped: list[str] = []
    base = aiosqlite.Connection._execute

    async def spy(self: aiosqlite.Connection, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        hopped.append(args[0] if args and isinstance(args[0], str) else getattr(fn, "__name__", ""))
        return await base(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", spy)
    try:
        async with store.unit() as unit:
            hopped.clear()
            conn = await unit._conn.get_raw_connection()
            raw = conn.driver_connection._conn  # type: ignore[union-attr]
            seen: list[int] = []
            raw.create_function("whose_thread", 0, lambda: seen.append(threading.get_ident()))
            await unit._conn.execute(text("SELECT whose_thread()"))
            assert seen == [threading.get_ident()], "a statement left the loop's thread"
            await unit.add_agency("A", "Cơ quan A", "so")
            assert hopped == [], f"statements hopped to the thread: {hopped}"
        assert hopped == ["commit"], hopped
        hopped.clear()
        async with store.unit() as unit:
            assert hopped == ["BEGIN IMMEDIATE"], hopped
            assert [a.code for a in await unit.list_agencies()] == ["A"]
    finally:
        await store.close()


async def test_a_unit_waiting_for_another_process_lock_does_not_stall_the_loop(
    tmp_path: Path,
) -> None:
    store = await _open(tmp_path)
    other = sqlite3.connect(tmp_path / "phieu.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def write() -> None:
            async with store.unit() as unit:
                await unit.add_agency("B", "Cơ quan B", "so")

        beat = asyncio.create_task(ticker())
        writer = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writer.done(), "the unit did not wait for the write lock"
        assert ticks >= 10, f"the loop stalled while the unit waited ({ticks} ticks in 0.3 s)"
        other.execute("COMMIT")
        await asyncio.wait_for(writer, 10)
        beat.cancel()
        async with store.unit() as unit:
            assert [a.code for a in await unit.list_agencies()] == ["B"]
    finally:
        other.close()
        await store.close()


async def test_a_failing_statement_rolls_the_unit_back(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        with pytest.raises(Exception, match="no such table"):
            async with store.unit() as unit:
                await unit.add_agency("C", "Cơ quan C", "so")
                await unit._conn.execute(text("SELECT * FROM no_such_table"))
        async with store.unit() as unit:
            assert await unit.list_agencies() == []
            await unit.add_agency("D", "Cơ quan D", "so")
        async with store.unit() as unit:
            assert [a.code for a in await unit.list_agencies()] == ["D"]
    finally:
        await store.close()


async def test_a_failed_open_ends_the_connection_thread_before_returning(tmp_path: Path) -> None:
    """A file in a missing folder: the open fails and aiosqlite's thread is already gone, so
    no late report to a closed event loop ("Event loop is closed") follows the error."""
    from storage.database import _inline_connect

    conn = _inline_connect(str(tmp_path / "khong-co" / "phieu.db"))
    with pytest.raises(sqlite3.OperationalError):
        await conn
    assert not conn._thread.is_alive()
