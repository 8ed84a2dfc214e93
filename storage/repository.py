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
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from storage._chat import ChatUnit
from storage._people import PeopleUnit
from storage._submissions import SubmissionsUnit
from storage.database import make_engine, safe_url
from storage.migrate import upgrade

log = logging.getLogger(__name__)

# The PostgreSQL notification channel a unit that queued outbox rows notifies on commit.
OUTBOX_CHANNEL = "phieu_outbox"


class Unit(PeopleUnit, SubmissionsUnit, ChatUnit):
    """The operations available inside one transaction (see the mixins for each group)."""


class Storage:
    """One database: an engine, migrated on open, handing out units of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite has one writer at a time and every unit takes the write lock (BEGIN
        # IMMEDIATE). Units of this process queue here, FIFO, and start the instant the
        # previous one ends; left to SQLite's busy handler they would sleep-poll (up to
        # 100 ms a try), which was most of a reply's latency when the reply sender's claim
        # met the next update's unit.
        self._writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        # Names this process in its NOTIFYs, so its own listener can ignore them: its reply
        # sender already has what it committed (bot/wakeup.py).
        self.notify_tag = uuid.uuid4().hex

    @classmethod
    async def open(
        cls, url: str | None = None, *, migrate: bool = True, **engine_kwargs: Any
    ) -> Storage:
        """Connect (see database.make_engine for the URL rules) and upgrade the schema."""
        engine = make_engine(url, **engine_kwargs)
        try:
            if migrate:
                await upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
        log.info("storage open on %s", safe_url(engine.url))
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Do no network I/O inside (send after commit, via the outbox): on SQLite a unit
        holds the database's write lock, on PostgreSQL it may hold a chat's row lock.
        """
        async with self._writer or contextlib.nullcontext(), self.engine.begin() as conn:
            unit = Unit(conn)
            try:
                yield unit
                if unit.queued and conn.dialect.name == "postgresql":
                    # Delivered by PostgreSQL only when this transaction commits: wakes the
                    # workers of other processes (bot/wakeup.py) without a poll delay.
                    await conn.exec_driver_sql(f"NOTIFY {OUTBOX_CHANNEL}, '{self.notify_tag}'")
            finally:
                unit._closed = True
