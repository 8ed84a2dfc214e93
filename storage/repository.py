"""The repository bot/ uses: Storage opens the database, a Unit is one transaction.

    storage = await Storage.open()          # DATABASE_URL or ./phieu.db, migrated
    async with storage.unit() as unit:      # BEGIN (IMMEDIATE on SQLite)
        conv_id, state, user_id = await unit.lock_conversation("telegram", chat_id)
        ...                                 # COMMIT on leaving, ROLLBACK on an exception
    await storage.close()

Everything an incoming update changes (answers + history, conversation state, processed
update id, outbox rows) goes through one unit, so it is all kept or all dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage._campaigns import CampaignsUnit
from storage._chat import OUTBOX_CHANNEL, OUTBOX_CHANNEL_SQL, ChatUnit  # noqa: F401
from storage._desk import DeskUnit
from storage._links import LinksUnit
from storage._order import OrderUnit
from storage._people import PeopleUnit
from storage._reminders import RemindersUnit
from storage._review import ReviewUnit
from storage._submissions import SubmissionsUnit
from storage.answer_cache import AnswerCache
from storage.database import describe_failure, make_engine, safe_url
from storage.migrate import upgrade

log = logging.getLogger(__name__)
# The outbox wake-up, on this connection schema's channel (see OUTBOX_CHANNEL_SQL).
_NOTIFY = text(f"SELECT pg_notify({OUTBOX_CHANNEL_SQL}, :tag)")


class Unit(
    PeopleUnit,
    CampaignsUnit,
    SubmissionsUnit,
    ChatUnit,
    OrderUnit,
    LinksUnit,
    ReviewUnit,
    RemindersUnit,
    DeskUnit,
):
    """The operations available inside one transaction (see the mixins for each group)."""


@dataclass(frozen=True)
class Reopen:
    """How another process opens the same database as this Storage (the answers export's
    second process): the URL with its password and the engine's options. Its repr hides
    the password, so it never reaches a log."""

    url: str
    engine_kwargs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Reopen({safe_url(self.url)!r})"

    async def open(self) -> Storage:
        """The database, without migrating (the first process did)."""
        return await Storage.open(self.url, migrate=False, **self.engine_kwargs)


def _in_memory(engine: AsyncEngine) -> bool:
    """An in-memory SQLite database: no other process can open it."""
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


class Storage:
    """One database: an engine, migrated on open, handing out units of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite has one writer at a time and every unit is a writer (BEGIN IMMEDIATE). Units
        # of this process queue here, in order, instead of each taking a connection and
        # polling the file lock in SQLite's busy handler, whose sleeps (up to 100 ms each)
        # are most of the time an update takes when many chats write at once. Other
        # processes on the same file still wait on the busy timeout, as before.
        self._writer: asyncio.Lock | None = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else None
        )
        # Names this process in its NOTIFYs, so its own listener can ignore them: its reply
        # sender already has what it committed (bot/workers/wakeup.py).
        self.notify_tag = uuid.uuid4().hex
        # Answers this process read or wrote, by submission and token (issue #8).
        self.answers = AnswerCache()
        # How a second process opens this database (`open` sets it; None: it cannot).
        self.reopen: Reopen | None = None

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        migrate: bool = True,
        setting: str = "DATABASE_URL",
        **engine_kwargs: Any,
    ) -> Storage:
        """Connect (see database.make_engine for the URL rules) and upgrade the schema.

        Raises DatabaseSetupError, whose message names `setting`, when the URL is malformed
        or unsupported or the database cannot be reached or opened (the first connection is
        made here, by the migration, so a bad setting stops start-up at once).
        """
        options = dict(engine_kwargs)  # make_engine takes connect_args out of its own dict
        engine = make_engine(url, setting=setting, **engine_kwargs)
        try:
            if migrate:
                await upgrade(engine)
        except (SQLAlchemyError, OSError) as e:
            await engine.dispose()
            raise describe_failure(e, engine.url, setting) from e
        except BaseException:
            await engine.dispose()
            raise
        log.info("storage open on %s", safe_url(engine.url))
        store = cls(engine)
        if not _in_memory(engine):
            store.reopen = Reopen(engine.url.render_as_string(hide_password=False), options)
        return store

    async def ping(self, timeout: float = 3.0) -> bool:
        """True if the database answers `SELECT 1` within `timeout` seconds (for /healthz).

        Never raises: an unreachable, refusing or hanging database is False.
        """
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.info("database ping failed: %s", exc)
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Do no network I/O inside (send after commit, via the outbox): on SQLite a unit
        holds the database's write lock, on PostgreSQL it may hold a chat's row lock.
        """
        turn: AbstractAsyncContextManager[object] = self._writer or nullcontext()
        async with turn, self.engine.begin() as conn:
            unit = Unit(conn)
            unit.notify_tag = self.notify_tag
            unit.answer_cache = self.answers
            try:
                yield unit
                if unit.queued and not unit.notified and conn.dialect.name == "postgresql":
                    # Delivered by PostgreSQL only when this transaction commits: wakes the
                    # workers of other processes (bot/workers/wakeup.py) without a poll delay.
                    await conn.execute(_NOTIFY, {"tag": self.notify_tag})
            finally:
                unit._closed = True
        unit.committed_answers()  # reached only once the commit succeeded
