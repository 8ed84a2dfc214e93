"""Outbox rows get a kind (reply / notice); processes that send register a heartbeat.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

`outbox.kind` lets replies go first and skip the per-chat budget meant for unsolicited
notices; `send_workers` is where each sending process of a bot says it is alive, so the
bot's global rate (≈30/s) is split between the live ones (bot/outbox.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="reply"))
        batch.create_check_constraint("ck_outbox_kind", "kind IN ('reply', 'notice')")
    op.create_table(
        "send_workers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("bot", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_send_workers"),
    )
    op.create_index("ix_send_workers_bot", "send_workers", ["bot"])


def downgrade() -> None:
    op.drop_index("ix_send_workers_bot", "send_workers")
    op.drop_table("send_workers")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("ck_outbox_kind", type_="check")
        batch.drop_column("kind")
