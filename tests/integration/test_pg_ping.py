"""PostgreSQL: a pooled connection is pinged at checkout only after sitting idle (issue #8:
a ping is three round trips on asyncpg), and a connection cut while idle is still replaced
before use, so the unit runs without an error (storage/database.py _ping_when_idle)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

import storage.database as database
from storage import Storage
from storage.database import make_engine
from tests.integration.conftest import PG_URL


def _count_pings(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    dialect = storage.engine.sync_engine.dialect
    original = dialect.do_ping
    pings: list[int] = []

    def counted(conn: Any) -> bool:
        pings.append(1)
        return original(conn)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def test_connections_in_steady_use_are_not_pinged(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    if storage.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connection to ping")
    async with storage.unit() as unit:
        await unit.outbox_counts()
    pings = _count_pings(storage, monkeypatch)
    for _ in range(20):
        async with storage.unit() as unit:
            await unit.outbox_counts()
    assert pings == []


async def test_a_connection_cut_while_idle_is_replaced_before_use(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    if storage.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connection to cut")
    monkeypatch.setattr(database, "PING_IDLE_S", 0.2)
    async with storage.unit() as unit:
        await unit.add_agency("A", "Cơ quan A", "so")
        pid = (await unit._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    pings = _count_pings(storage, monkeypatch)
    killer = make_engine(PG_URL)  # another client cuts the pooled connection
    try:
        async with killer.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()
    await asyncio.sleep(0.3)  # idle long enough to be pinged at its next checkout
    async with storage.unit() as unit:  # no retry around it: an error would fail the test
        assert [a.code for a in await unit.list_agencies()] == ["A"]
        new_pid = (await unit._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    assert new_pid != pid
    assert pings, "the idle connection was not pinged"
