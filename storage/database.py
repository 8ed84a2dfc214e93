"""Engine construction: which database, and the SQLite settings that make it safe to share.

SQLite is the default (one process serves a province); PostgreSQL is chosen with
DATABASE_URL. Everything that differs between the two at connection level lives here.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from flows.i18n import N_, translate

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite+aiosqlite:///phieu.db"
# How long a SQLite writer waits for another writer's transaction before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
# A new SQLite file is private to its owner: it holds officials' answers and invite hashes.
# SQLite creates the -wal and -shm files with the database file's permissions.
SQLITE_FILE_MODE = 0o600
# PostgreSQL: connections older than this are replaced (a pooler or firewall may drop idle
# ones silently); a checkout of a connection idle for PING_IDLE_S or more is pinged first, so
# a connection cut while idle is replaced, not used (see _ping_when_idle).
POOL_RECYCLE_S = 1800
PING_IDLE_S = 5.0


class DatabaseSetupError(RuntimeError):
    """The database named at start-up cannot be used: a malformed or unsupported URL, no
    server, a wrong database, user or password, an unwritable file. The message is one
    sentence naming the setting (`DATABASE_URL` or `--db`), never a password.

    `msgid` is a catalog text (Vietnamese, flows/i18n) with `{fields}` from `params` (plain
    text: the setting, the URL masked, the driver's words), so a command says it in the
    language of its run (`said(lang)`, bot.config.ConfigError carries the same two);
    `str(e)` is the Vietnamese."""

    def __init__(self, msgid: str, /, **params: str) -> None:
        self.msgid = msgid
        self.params = params
        super().__init__(self.said("vi"))

    def said(self, lang: str) -> str:
        """The message in `lang` ("vi" or "en")."""
        return translate(lang, self.msgid, self.params)


def resolve_url(url: str | None = None, setting: str = "DATABASE_URL") -> URL:
    """The URL to use: explicit, else DATABASE_URL, else a SQLite file in the working dir.

    Hosting platforms hand out `postgres://` / `postgresql://` URLs; those name no async
    driver, so they are rewritten to asyncpg (any PostgreSQL driver name is: asyncpg is the
    one installed), and plain `sqlite://` to aiosqlite. Raises DatabaseSetupError for a URL
    that does not parse or names another database (`mysql://…`).
    """
    raw = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):
        raise DatabaseSetupError(
            N_(
                "{setting} không đúng định dạng URL. Ví dụ: "
                "postgresql://phieu:mật-khẩu@localhost:5432/phieu hoặc sqlite+aiosqlite:///phieu.db"
            ),
            setting=setting,
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    else:
        raise DatabaseSetupError(
            N_(
                "{setting} chỉ nhận PostgreSQL hoặc SQLite, không nhận {backend}. Ví dụ: "
                "postgresql://phieu:mật-khẩu@localhost:5432/phieu hoặc sqlite+aiosqlite:///phieu.db"
            ),
            setting=setting,
            backend=repr(backend),
        )
    return parsed


def describe_failure(
    error: BaseException, url: URL, setting: str = "DATABASE_URL"
) -> DatabaseSetupError:
    """The error to raise for one met while connecting to `url` at start-up: one sentence,
    password masked, said in the language of the run by whoever reports it.

    The driver's own words are kept (asyncpg says `database "x" does not exist`, `role "y"
    does not exist`, `password authentication failed`), they say what to fix.
    """
    reason = str(error.orig) if isinstance(error, DBAPIError) and error.orig else str(error)
    reason = reason.splitlines()[0] if reason else type(error).__name__
    where = safe_url(url)
    if url.get_backend_name() == "sqlite":
        return DatabaseSetupError(
            N_("{setting}: không mở được tệp SQLite {file} ({url}): {reason}."),
            setting=setting,
            file=repr(url.database),
            url=where,
            reason=reason,
        )
    if isinstance(error, OSError) and not isinstance(error, DBAPIError):
        return DatabaseSetupError(
            N_(
                "{setting}: không kết nối được máy chủ cơ sở dữ liệu {host}:{port} ({url}): "
                "{reason}. Kiểm tra máy chủ PostgreSQL đang chạy và địa chỉ, cổng đúng."
            ),
            setting=setting,
            host=url.host or "localhost",
            port=str(url.port or 5432),
            url=where,
            reason=reason,
        )
    return DatabaseSetupError(
        N_(
            "{setting}: máy chủ cơ sở dữ liệu từ chối kết nối ({url}): {reason}. Kiểm tra tên "
            "cơ sở dữ liệu, người dùng và mật khẩu."
        ),
        setting=setting,
        url=where,
        reason=reason,
    )


def safe_url(url: str | URL) -> str:
    """The URL with its password masked, for logs and error messages."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def make_engine(
    url: str | None = None, *, setting: str = "DATABASE_URL", **engine_kwargs: Any
) -> AsyncEngine:
    """An async engine for `url` (see resolve_url); extra kwargs go to create_async_engine.

    A new SQLite file is created owner-only (create_private_file). Raises
    DatabaseSetupError (naming `setting`) for a malformed or unsupported URL."""
    resolved = resolve_url(url, setting)
    if resolved.get_backend_name() == "sqlite":
        create_private_file(resolved)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **engine_kwargs.pop("connect_args", {})}
        engine = create_async_engine(resolved, connect_args=connect_args, **engine_kwargs)
        _configure_sqlite(engine, float(connect_args["timeout"]))
        _inline_statements(engine)
    else:
        engine_kwargs.setdefault("pool_recycle", POOL_RECYCLE_S)
        ping_idle = "pool_pre_ping" not in engine_kwargs
        engine = create_async_engine(resolved, **engine_kwargs)
        if ping_idle:
            _ping_when_idle(engine)
    log.info("database engine for %s", safe_url(resolved))
    return engine


def create_private_file(url: URL) -> None:
    """Create a SQLite database file that does not exist yet with mode 0600 (owner only).

    SQLite would create it with 0644 (less the umask); creating the empty file first is
    enough, since SQLite accepts an empty file as a new database and gives its -wal and
    -shm files the database file's permissions. An existing file is left as it is. A
    missing folder is left to SQLite to report (DatabaseSetupError at open).
    """
    name = url.database or ""
    if not name or name == ":memory:" or name.startswith("file:") or url.query.get("uri"):
        return
    path = Path(name)
    if path.exists() or not path.parent.is_dir():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except FileExistsError:  # created meanwhile by another process: keep theirs
        return
    os.close(fd)
    os.chmod(path, SQLITE_FILE_MODE)  # whatever the umask


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


# Statements that may wait: BEGIN (for another process's write lock, up to the busy timeout)
# and COMMIT (the WAL's fsync). They keep aiosqlite's thread; see InlineConnection.
# Longest wait for aiosqlite's thread to end after a failed open (it has only a stop queued).
JOIN_TIMEOUT_S = 5.0
_MAY_WAIT = ("BEGIN", "COMMIT", "END", "VACUUM", "PRAGMA WAL_CHECKPOINT")


class InlineConnection(aiosqlite.Connection):
    """aiosqlite without a thread hop for the statements that cannot wait.

    aiosqlite runs every call (execute, fetch, cursor close…) on its own thread and wakes the
    event loop with the result: about 4 hops per statement, which cost more CPU than the
    statement itself (the capacity bench: 40 hops and 9.7 ms CPU per update, 4.7 ms inline).
    Here a call runs at once on the loop's thread, except BEGIN, COMMIT (and VACUUM or a
    checkpoint), which keep the thread: BEGIN IMMEDIATE may wait for another process's
    write lock (the busy timeout, 30 s) and COMMIT may fsync, and the loop must not stall
    on either. Between BEGIN IMMEDIATE and COMMIT this connection holds the database's write
    lock and, in WAL mode, readers never wait, so an inline statement costs only its own CPU.
    Calls on one connection never overlap (SQLAlchemy awaits each one), so the sqlite3
    connection is used by one thread at a time (opened with check_same_thread=False).
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        conn = self._connection
        if conn is None or not self._running or _may_wait(conn, fn, args):
            return await super()._execute(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        """Open the sqlite3 connection on aiosqlite's thread; on failure, end that thread.

        aiosqlite's own failure path only queues the thread's stop, whose outcome the
        thread then posts to this event loop: when start-up fails (a missing folder) the
        loop may be closed by then (asyncio.run ends) and the thread dies printing "Event
        loop is closed" beside our one-line error. Joining it here, while the loop still
        runs, makes the failure clean; the stop is a queued no-op, so the join is short.
        """
        try:
            await super()._connect()
        except BaseException:
            if self._thread.is_alive():
                self._thread.join(JOIN_TIMEOUT_S)
            raise
        return self


def _may_wait(conn: sqlite3.Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    if fn == conn.commit:
        return True
    return bool(args) and isinstance(args[0], str) and _may_wait_sql(args[0])


def _may_wait_sql(operation: str) -> bool:
    return operation.lstrip().upper().startswith(_MAY_WAIT)


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor without its awaits for the statements that cannot wait.

    SQLAlchemy reaches aiosqlite through greenlet switches: opening, running and closing a
    cursor are three round trips to the event loop, each a coroutine and two switches,
    about half of a statement's CPU (issue #8: 100 µs per statement, 50 µs in sync
    SQLAlchemy, 4 µs in sqlite3). This cursor calls the sqlite3 cursor directly, on the
    loop's thread, as InlineConnection already does one level down; BEGIN and COMMIT (and
    a statement on a connection not open) take the awaited path to aiosqlite's thread.
    Errors are sqlite3's own, which are aiosqlite's (the dialect's DBAPI errors).
    """

    __slots__ = ()

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        connection = adapt_connection._connection
        raw = connection._connection
        if raw is None:  # closed or not open: the awaited path raises what aiosqlite says
            super().__init__(adapt_connection)
            return
        self._adapt_connection = adapt_connection
        self._connection = connection
        self._cursor = aiosqlite.Cursor(connection, raw.cursor())
        self._soft_closed_memoized = {}
        self._rows = deque()

    def _inline(self, operation: str) -> sqlite3.Cursor | None:
        """The sqlite3 cursor when `operation` may run here, else None (awaited path)."""
        connection = self._connection
        if not self._adapt_connection.inline:  # a caller that expects an await: give it one
            return None
        if connection._connection is None or not connection._running:
            return None
        return None if _may_wait_sql(operation) else self._cursor._cursor

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        raw = self._inline(operation)
        if raw is None:
            return super().execute(operation, parameters)
        raw.execute(operation, () if parameters is None else parameters)
        if raw.description:
            self._rows = deque(raw.fetchall())
        return self._cursor

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        raw = self._inline(operation)
        if raw is None:
            return super().executemany(operation, seq_of_parameters)
        raw.executemany(operation, seq_of_parameters)
        return self._cursor

    def close(self) -> None:
        self._rows.clear()
        if self._cursor is not None and not self._soft_closed_memoized:
            self._cursor._cursor.close()

    async def _async_soft_close(self) -> None:
        self._soft_closed_memoized = {"description": self._cursor.description}
        self._cursor._cursor.close()


class InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection whose cursors are InlineCursor.

    `inline` is set only while a Unit's `_exec` runs a statement: AsyncConnection.execute
    (and exec_driver_sql) insist that a statement awaited something, so the statements of
    other callers (ping, migrations, tests) keep the awaited path."""

    __slots__ = ("inline",)
    _cursor_cls = InlineCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.inline = False


def _inline_connect(database: str, **kwargs: Any) -> InlineConnection:
    kwargs["check_same_thread"] = False
    return InlineConnection(partial(sqlite3.connect, database, **kwargs), 64)


def _inline_statements(engine: AsyncEngine) -> None:
    """Open SQLite connections as InlineConnection under InlineAdaptedConnection (the URL
    and connect_args as parsed by SQLAlchemy's aiosqlite dialect, only the classes differ)."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        adapted = dialect.dbapi.connect(*cargs, async_creator_fn=_inline_connect, **cparams)
        return InlineAdaptedConnection(adapted.dbapi, adapted._connection)


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled PostgreSQL connection at checkout only if it sat idle PING_IDLE_S or more.

    SQLAlchemy's pool_pre_ping pings at every checkout; on asyncpg a ping is three round
    trips (BEGIN, ";", ROLLBACK), as many as a fifth of an update's. A connection in steady
    use was just seen working; one idle for a while is the one a restart, failover, pooler
    or firewall may have cut (a new connection is pinged too). A failed ping raises
    DisconnectionError: the pool drops that connection and checks out another
    (SQLAlchemy's documented pessimistic recipe). A cut met within PING_IDLE_S fails its
    unit, which storage/retry.py runs again on a fresh connection.
    """
    sync = engine.sync_engine

    @event.listens_for(sync, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info["phieu_idle_since"] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("phieu_idle_since")
        if since is not None and time.monotonic() - since < PING_IDLE_S:
            return
        try:
            sync.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"ping failed: {exc}") from exc
