"""What every part of a Unit shares: its one connection, dialect choices, error translation."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util.concurrency import greenlet_spawn

from storage.answer_cache import AnswerCache
from storage.database import InlineAdaptedConnection
from storage.prepared import prepared_for
from storage.records import Conflict

log = logging.getLogger("storage")


class UnitBase:
    """Holds the unit's connection; every statement goes through `_exec`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"
        self._closed = False
        # SQLite: the driver connection whose cursors may skip their awaits while `_exec`
        # runs a statement (storage/database.py InlineCursor); None on PostgreSQL.
        driver = None if self._postgres else conn.sync_connection.connection.dbapi_connection
        self._inline = driver if isinstance(driver, InlineAdaptedConnection) else None
        # Submissions whose row this unit holds locked (PostgreSQL; on SQLite the whole
        # database is held from BEGIN IMMEDIATE), and the answers read under that lock, kept
        # current by apply_changes: what is stored, without reading it again.
        self._locked_submissions: set[int] = set()
        self._known_answers: dict[int, dict[str, Any]] = {}
        # Each submission's answers token (submissions.answers_rev) as read under this unit's
        # lock or as written by it; with the process's AnswerCache (set by Storage.unit),
        # answers kept under the same token are used without reading them.
        self._answer_tokens: dict[int, int | None] = {}
        self.answer_cache: AnswerCache | None = None

    def committed_answers(self) -> None:
        """After this unit committed: keep the answers it knows exactly, under their token,
        in the process's AnswerCache (Storage.unit calls it; never before the commit)."""
        if self.answer_cache is None:
            return
        for submission_id, answers in self._known_answers.items():
            self.answer_cache.put(submission_id, self._answer_tokens.get(submission_id), answers)

    @property
    def dialect(self) -> str:
        return self._conn.dialect.name

    async def _exec(
        self, statement: Executable, params: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> CursorResult[Any]:
        if self._closed:
            raise RuntimeError("this unit has ended; open a new one with Storage.unit()")
        try:
            inline = self._inline
            if inline is None:
                return await self._conn.execute(statement, params)
            # SQLite: a statement marked `hot` runs on sqlite3 directly (storage/prepared.py);
            # the others on the loop's thread without an await (InlineCursor),
            # so AsyncConnection.execute's check that it awaited is skipped; streaming
            # results are never used here.
            sync = self._conn.sync_connection
            fast = prepared_for(statement, sync.dialect)
            if fast is not None:
                raw = inline._connection._connection
                if raw is not None and sync.in_transaction() and not sync.invalidated:
                    result = fast.run(sync, raw, params)
                    if result is not None:
                        return result  # type: ignore[return-value]
            inline.inline = True
            try:
                return await greenlet_spawn(self._conn.sync_connection.execute, statement, params)
            finally:
                inline.inline = False
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from exc

    def _insert(self, model: type[DeclarativeBase]) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that knows ON CONFLICT: the dialect's own construct."""
        if self._postgres:
            return postgresql.insert(model)
        return sqlite.insert(model)


def fields(row: Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)
