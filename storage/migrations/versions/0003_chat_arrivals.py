"""Chat arrivals: updates received and not yet applied, so one chat's updates apply in order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_arrivals",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_id", sa.String(128), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_id", name="pk_chat_arrivals"),
    )
    op.create_index(
        "ix_chat_arrivals_channel_chat_id_seq", "chat_arrivals", ["channel", "chat_id", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_chat_arrivals_channel_chat_id_seq", table_name="chat_arrivals")
    op.drop_table("chat_arrivals")
