"""Schema migrations, run from code: no alembic.ini, the app upgrades itself on start.

`python -m storage.migrate` upgrades the database named by DATABASE_URL; authors add a
revision with `python -m storage.migrate revision -m "..."` (autogenerate is a starting
point only: revisions are reviewed and hand-edited, and a test compares them to models.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import make_engine, safe_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant: the PostgreSQL advisory lock that keeps two starting workers from migrating
# the same database at once.
_MIGRATION_LOCK_KEY = 0x50_68_69_65_75  # "Phieu"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; `connection` is handed to env.py."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    command.upgrade(alembic_config(connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision`, in one transaction (transactional DDL on both DBs)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)
    log.info("schema at %s on %s", revision, safe_url(engine.url))


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m storage.migrate")
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or ./phieu.db)")
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("upgrade", help="upgrade to head (the default)")
    rev = sub.add_parser("revision", help="write a new revision file")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.cmd == "revision":
        command.revision(alembic_config(), message=args.message)
        return

    async def run() -> None:
        engine = make_engine(args.url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


if __name__ == "__main__":
    _main()
