"""Start-up without alembic: a database already at the head revision is recognised from the
version files and `alembic_version`; anything else still goes through alembic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.migrate import at_head, script_heads, upgrade
from tests.integration import test_campaigns_storage

ROOT = Path(__file__).resolve().parents[2]
bare = test_campaigns_storage.bare  # an empty database, SQLite and PostgreSQL (a fixture)


def _version(path: Path, revision: str, down: str) -> None:
    path.write_text(
        textwrap.dedent(f'''\
            """A revision."""
            from alembic import op
            revision: str = "{revision}"
            down_revision = {down}
            branch_labels = None
            def upgrade() -> None:
                op.execute("SELECT 1")
            ''')
    )


def test_the_heads_read_from_the_files_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    assert script_heads() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


@pytest.mark.parametrize(
    ("versions", "heads"),
    [
        ({"a": "None", "b": '"a"', "c": '"b"'}, {"c"}),  # a chain: its last
        ({"a": "None", "b": '"a"', "c": '"a"'}, {"b", "c"}),  # two helpers' branches: both
        ({"a": "None", "b": '"a"', "c": '"a"', "m": '("b", "c")'}, {"m"}),  # merged
        ({"a": "None"}, {"a"}),  # the first revision alone
    ],
)
def test_heads_are_revisions_no_other_revision_follows(
    tmp_path: Path, versions: dict[str, str], heads: set[str]
) -> None:
    for revision, down in versions.items():
        _version(tmp_path / f"{revision}.py", revision, down)
    assert script_heads(tmp_path) == heads


async def _at_head(engine: Any) -> bool:
    async with engine.connect() as conn:
        return await conn.run_sync(at_head)


async def test_only_a_database_at_the_head_is_taken_as_migrated(bare: Any) -> None:
    assert not await _at_head(bare)  # empty: no alembic_version
    await upgrade(bare, "0008")
    assert not await _at_head(bare)  # behind
    await upgrade(bare)
    assert await _at_head(bare)
    async with bare.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'zzzz'"))
    assert not await _at_head(bare)  # ahead or unknown: alembic decides (and refuses)
    with pytest.raises(Exception, match="zzzz"):
        await upgrade(bare)


def test_opening_a_migrated_database_imports_no_alembic(tmp_path: Path) -> None:
    """The memory of `phieu run telegram`: alembic, mako and pygments stay out of it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'phieu.db'}"
    probe = textwrap.dedent(f"""\
        import asyncio, sys
        from storage.repository import Storage

        async def main():
            await (await Storage.open({url!r})).close()

        asyncio.run(main())
        print(sorted(m for m in ("alembic", "mako", "pygments") if m in sys.modules))
        """)
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs[0] != "[]"  # the first open migrated: alembic was needed
    assert runs[1] == "[]"
