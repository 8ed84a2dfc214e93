"""Engine construction: which database, and the SQLite settings that make it safe to share.

SQLite is the default (one process serves a province); PostgreSQL is chosen with
DATABASE_URL. Everything that differs between the two at connection level lives here.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite+aiosqlite:///phieu.db"
# How long a SQLite writer waits for another writer's transaction before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
# PostgreSQL: connections older than this are replaced (a pooler or firewall may drop idle
# ones silently); every checkout is pre-pinged, so a cut connection is replaced, not used.
POOL_RECYCLE_S = 1800


def resolve_url(url: str | None = None) -> URL:
    """The URL to use: explicit, else DATABASE_URL, else a SQLite file in the working dir.

    Hosting platforms hand out `postgres://` / `postgresql://` URLs; those name no async
    driver, so they are rewritten to asyncpg.
    """
    raw = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    parsed = make_url(raw)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with its password masked, for logs and error messages."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str | None = None, **engine_kwargs: Any) -> AsyncEngine:
    """An async engine for `url` (see resolve_url); extra kwargs go to create_async_engine."""
    resolved = resolve_url(url)
    if resolved.get_backend_name() == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **engine_kwargs.pop("connect_args", {})}
        engine = create_async_engine(resolved, connect_args=connect_args, **engine_kwargs)
        _configure_sqlite(engine, float(connect_args["timeout"]))
    else:
        engine_kwargs.setdefault("pool_pre_ping", True)
        engine_kwargs.setdefault("pool_recycle", POOL_RECYCLE_S)
        engine = create_async_engine(resolved, **engine_kwargs)
    log.info("database engine for %s", safe_url(resolved))
    return engine


def _configure_sqlite(engine: AsyncEngine, busy_timeout: float = SQLITE_BUSY_TIMEOUT_S) -> None:
    """WAL, foreign keys, busy timeout, and BEGIN IMMEDIATE for every transaction.

    This is SQLAlchemy's documented aiosqlite recipe: the driver's own transaction handling
    is switched off (isolation_level=None) and SQLAlchemy emits BEGIN itself. IMMEDIATE takes
    the write lock up front, so two concurrent writers queue on the busy timeout instead of
    one failing when it upgrades a read lock to a write lock (SQLITE_BUSY, no retry).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
