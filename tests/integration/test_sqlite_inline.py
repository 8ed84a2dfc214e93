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
from sqlalchemy.exc import DBAPIError

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


# -- InlineCursor: a unit's statements skip SQLAlchemy's awaits too ---------------------------


async def test_unit_statements_do_not_go_through_aiosqlite_cursors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit's statements (one row, many rows, executemany) call sqlite3 directly; other
    callers of the same connection (AsyncConnection.execute, ping) keep the awaited path
    and do not fail for lack of an await."""
    store = await _open(tmp_path)
    awaited: list[str] = []
    for name in ("execute", "executemany"):
        base = getattr(aiosqlite.Cursor, name)

        async def spy(self, sql, *args, _base=base):  # type: ignore[no-untyped-def]
            awaited.append(sql)
            return await _base(self, sql, *args)

        monkeypatch.setattr(aiosqlite.Cursor, name, spy)
    try:
        async with store.unit() as unit:
            awaited.clear()
            agency = await unit.add_agency("A", "Cơ quan A", "so")
            await unit.add_agency("B", "Cơ quan B", "so")
            assert [a.code for a in await unit.list_agencies()] == ["A", "B"]
            await unit.enqueue_many("telegram", "1", [{"text": "a"}, {"text": "b"}])
            assert awaited == [], awaited
            got = (await unit._conn.execute(text("SELECT count(*) FROM agencies"))).scalar()
            assert got == 2 and len(awaited) == 1  # the awaited path, and it works
        assert await store.ping()
        async with store.unit() as unit:
            assert (await unit.agency(agency.id)).code == "A"  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_an_inline_error_is_the_units_error_and_the_next_statement_runs(
    tmp_path: Path,
) -> None:
    """A constraint broken inline is Conflict (the unit rolls back); a bad statement is
    SQLAlchemy's DBAPIError around sqlite3's, as on the awaited path; either way the
    connection's next caller gets the awaited path back."""
    from storage.records import Conflict

    store = await _open(tmp_path)
    try:
        async with store.unit() as unit:
            await unit.add_agency("A", "Cơ quan A", "so")
        for bad in ("conflict", "syntax", "missing table", "conflict in executemany"):
            with pytest.raises((Conflict, DBAPIError)):
                async with store.unit() as unit:
                    await unit.add_agency("B", "Cơ quan B", "so")
                    if bad == "conflict":
                        await unit.add_agency("A", "Cơ quan A lần hai", "so")
                    elif bad == "syntax":
                        await unit._exec(text("SELEC 1"))
                    elif bad == "missing table":
                        await unit._exec(text("SELECT * FROM no_such_table"))
                    else:
                        rows = [{"code": "C", "name": "C", "cohort": "so"}] * 2
                        await unit._exec(
                            text(
                                "INSERT INTO agencies (code, name, cohort, created_at) "
                                "VALUES (:code, :name, :cohort, '2026-01-01')"
                            ),
                            rows,
                        )
            assert unit._inline is not None and unit._inline.inline is False
            assert await store.ping()
        async with store.unit() as unit:
            assert [a.code for a in await unit.list_agencies()] == ["A"]
    finally:
        await store.close()
