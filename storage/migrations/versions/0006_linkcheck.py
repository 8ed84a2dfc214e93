"""Evidence link checks: the latest result per URL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

`link_checks` keeps what opening each evidence link found (status, final URL, title, type,
size, time, error) so reviewers see it beside the evidence and the worker knows which links
were never checked or are stale (bot/workers/linkcheck.py, issue #10).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_checks",
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(255), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url", name="pk_link_checks"),
    )
    op.create_index("ix_link_checks_checked_at", "link_checks", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_link_checks_checked_at", "link_checks")
    op.drop_table("link_checks")
