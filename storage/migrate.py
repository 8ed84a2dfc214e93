"""Schema migrations, run from code: no alembic.ini, the app upgrades itself on start.

`python -m storage.migrate` upgrades the database named by DATABASE_URL; authors add a
revision with `python -m storage.migrate revision -m "..."` (autogenerate is a starting
point only: revisions are reviewed and hand-edited, and a test compares them to models.py).

Alembic (with mako and pygments, ~10 MB resident) is imported only when there is work for
it: a database already at the head revision, as at every start but the first after an
upgrade, is recognised by reading the revision ids of the version files (no import of
them) and the `alembic_version` table.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import make_engine, safe_url

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant: the PostgreSQL advisory lock that keeps two starting workers from migrating
# the same database at once.
_MIGRATION_LOCK_KEY = 0x50_68_69_65_75  # "Phieu"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; `connection` is handed to env.py."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def script_heads(versions: Path = MIGRATIONS_DIR / "versions") -> frozenset[str]:
    """The head revisions of `versions` (storage/migrations/versions): revisions no other revision
    names as its down_revision. Read from the files' `revision` / `down_revision`
    assignments (literals), without importing them or alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            name = target.id if isinstance(target, ast.Name) else ""
            if name == "revision":
                revisions.add(ast.literal_eval(value))
            elif name == "down_revision" and (parent := ast.literal_eval(value)):
                parents.update([parent] if isinstance(parent, str) else parent)
    return frozenset(revisions - parents)


def at_head(connection: Connection) -> bool:
    """True if the database's `alembic_version` names exactly the scripts' heads."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return frozenset(current) == script_heads()


def _upgrade(connection: Connection, revision: str) -> None:
    if revision == "head" and at_head(connection):
        return  # nothing to do: alembic stays unimported (memory of a running bot)
    from alembic import command

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
        from alembic import command

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
