"""Fixtures for storage tests on real databases: a SQLite file and a PostgreSQL schema.

Every PostgreSQL test gets a fresh schema (search_path) in database `test`, dropped after
the test. PostgreSQL missing means a skip with the reason, unless PHIEU_REQUIRE_POSTGRES=1
(CI), where it is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateSchema, DropSchema

from storage import Storage
from storage.database import make_engine

PG_URL = os.environ.get(
    "PHIEU_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _pg_where() -> str:
    url = make_url(PG_URL)
    return f"{url.host or '127.0.0.1'}:{url.port or 5432}"


async def _create_schema() -> str:
    """A new empty schema, or a skip (a failure in CI) when PostgreSQL cannot be reached."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with admin.connect() as conn:
            await conn.execute(CreateSchema(schema))
    except (OSError, TimeoutError, DBAPIError) as exc:
        message = f"PostgreSQL unreachable at {_pg_where()}: {exc!r}"
        if os.environ.get("PHIEU_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{message} (PHIEU_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    finally:
        await admin.dispose()
    return schema


async def _drop_schema(schema: str) -> None:
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(DropSchema(schema, cascade=True))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """A migrated, empty Storage on each database."""
    if request.param == "sqlite":
        store = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'phieu.db'}")
        try:
            yield store
        finally:
            await store.close()
        return

    schema = await _create_schema()
    try:
        store = await Storage.open(
            PG_URL, connect_args={"server_settings": {"search_path": schema}}
        )
        try:
            yield store
        finally:
            await store.close()
    finally:
        await _drop_schema(schema)
