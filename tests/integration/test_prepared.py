"""SQLite: statements marked `hot` run on sqlite3 directly (storage/prepared.py).

What must hold: the same rows, stored values, events and errors as SQLAlchemy's path;
statements it cannot run exactly take SQLAlchemy's path; a statement gone is forgotten.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import OperationalError

from flows.state import ConversationState
from storage import Storage, prepared
from storage.models import Conversation, Outbox, ProcessedUpdate
from storage.prepared import Prepared, hot, prepared_for
from storage.records import Conflict

_WHEN = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


async def _open(tmp_path: Path) -> Storage:
    return await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'phieu.db'}")


def _off(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy's path for every statement (what the hot path must equal)."""
    monkeypatch.setattr("storage._base.prepared_for", lambda *_: None)


async def _stored(store: Storage) -> list[tuple[Any, ...]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, state, updated_at, user_id FROM conversations"))
        return [tuple(r) for r in rows]


async def _conversation_round(store: Storage, chat: str, state: ConversationState) -> Any:
    async with store.unit() as unit:
        assert await unit.mark_processed("telegram", f"u-{chat}")
        assert not await unit.mark_processed("telegram", f"u-{chat}")
        conversation, _, _ = await unit.lock_conversation("telegram", chat)
        await unit._exec(
            _SAVE_AT, {"conversation": conversation, "new_state": state.to_json(), "now": _WHEN}
        )
    async with store.unit() as unit:
        return await unit.lock_conversation("telegram", chat)


_SAVE_AT = hot(
    update(Conversation)
    .where(Conversation.id == bindparam("conversation"))
    .values(
        state=bindparam("new_state", type_=Conversation.__table__.c.state.type),
        updated_at=bindparam("now", type_=Conversation.__table__.c.updated_at.type),
    )
)


@pytest.mark.parametrize(
    "data",
    [
        {"answers": {"q1": "Sở Tài chính — tỉnh Bình Định"}},
        {"n": 12345678901234, "x": 1.5, "none": None},
        {"nested": {"list": [1, "hai", {"ba": True}]}},
        {},
    ],
)
async def test_hot_statements_store_and_read_what_sqlalchemy_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: dict[str, Any]
) -> None:
    """JSON with Vietnamese text, big numbers, nesting, emptiness; a datetime with micro-
    seconds: stored bytes and values read back are the same on both paths."""
    state = ConversationState(pending=data or None, item="q1")
    results = []
    for path in ("hot", "sqlalchemy"):
        store = await _open(tmp_path / path)
        try:
            if path == "sqlalchemy":
                _off(monkeypatch)
            read = await _conversation_round(store, "c1", state)
            results.append((read[0], read[1].to_json(), read[2], await _stored(store)))
        finally:
            await store.close()
    assert results[0] == results[1]
    assert results[0][1] == state.to_json()


@pytest.fixture(autouse=True)
def _folders(tmp_path: Path) -> None:
    (tmp_path / "hot").mkdir()
    (tmp_path / "sqlalchemy").mkdir()


async def test_hot_statements_skip_sqlalchemys_execution_but_fire_its_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _open(tmp_path)
    ran: list[str] = []
    base = Prepared.run

    def spy(self: Prepared, *args: Any) -> Any:
        ran.append(self.sql.split()[0])
        return base(self, *args)

    monkeypatch.setattr(Prepared, "run", spy)
    seen: list[str] = []

    @event.listens_for(store.engine.sync_engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0])

    try:
        await _conversation_round(store, "c2", ConversationState())
        assert ran.count("INSERT") == 2  # mark_processed twice
        assert ran.count("UPDATE") == 1
        assert ran.count("SELECT") >= 2
        assert all(s in seen for s in ran), (ran, seen)
    finally:
        await store.close()


async def test_a_constraint_violation_is_a_conflict_and_the_unit_rolls_back(
    tmp_path: Path,
) -> None:
    store = await _open(tmp_path)
    twice = hot(
        insert(ProcessedUpdate).values(
            channel=bindparam("c"), update_id=bindparam("u"), processed_at=bindparam("t")
        )
    )
    try:
        with pytest.raises(Conflict):
            async with store.unit() as unit:
                await unit._exec(twice, {"c": "telegram", "u": "9", "t": _WHEN})
                await unit._exec(twice, {"c": "telegram", "u": "9", "t": _WHEN})
        async with store.unit() as unit:  # rolled back: the first row is gone too
            assert await unit.mark_processed("telegram", "9")
    finally:
        await store.close()


async def test_a_failing_hot_statement_raises_sqlalchemys_error_and_the_next_runs(
    tmp_path: Path,
) -> None:
    store = await _open(tmp_path)
    missing = hot(text("SELECT no_such_column FROM conversations"))
    try:
        with pytest.raises(OperationalError):
            async with store.unit() as unit:
                await unit._exec(missing)
        async with store.unit() as unit:
            assert await unit.mark_processed("telegram", "10")
    finally:
        await store.close()


def test_statements_it_cannot_run_exactly_are_refused() -> None:
    dialect = sqlite.dialect(paramstyle="qmark")
    per_call_in_list = hot(select(Outbox.id).where(Outbox.id.in_(bindparam("ids", expanding=True))))
    column_default = hot(insert(ProcessedUpdate).values(channel="t", update_id="1"))
    not_hot = select(Outbox.id).where(Outbox.id == bindparam("id"))
    fixed_in_list = hot(select(Outbox.id).where(Outbox.kind.in_(["notice", "reply"])))
    assert prepared_for(per_call_in_list, dialect) is None
    assert prepared_for(column_default, dialect) is None
    assert prepared_for(not_hot, dialect) is None
    fixed = prepared_for(fixed_in_list, dialect)
    assert fixed is not None and fixed.sql.count("?") == 2
    assert fixed._positional({}) == ("notice", "reply")


async def test_returning_over_several_rows_takes_sqlalchemys_path(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    many = hot(
        insert(ProcessedUpdate)
        .values(channel=bindparam("c"), update_id=bindparam("u"), processed_at=bindparam("t"))
        .returning(ProcessedUpdate.update_id)
    )
    try:
        async with store.unit() as unit:
            rows = [{"c": "telegram", "u": str(i), "t": _WHEN} for i in range(3)]
            result = await unit._exec(many, rows)
            assert sorted(result.scalars()) == ["0", "1", "2"]
    finally:
        await store.close()


def test_a_statement_gone_is_forgotten() -> None:
    statement = hot(select(Outbox.id).where(Outbox.id == bindparam("id")))
    key = id(statement)
    assert key in prepared._HOT
    del statement
    gc.collect()
    assert key not in prepared._HOT
