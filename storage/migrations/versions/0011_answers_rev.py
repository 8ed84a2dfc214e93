"""A token per submission that changes with every write of its answers.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

Additive: `submissions.answers_rev` (nullable BIGINT). `apply_changes` sets it to a new
random value in the statement that touches the submission, so a process may keep the
answers it read or wrote under one token (storage/answer_cache.py) and use them again while
the row still carries that token, instead of reading every answer at every update (issue #8).
NULL (rows before this revision, submissions never answered) is never cached.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("answers_rev", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("answers_rev")
