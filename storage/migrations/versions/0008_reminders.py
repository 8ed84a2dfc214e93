"""Reminders: outbox rows with a dedupe key (queued once, ever), reminder plans and mutes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

`outbox.dedupe_key` (nullable, unique; NULLs never collide) lets the reminder planner and
broadcasts insert with ON CONFLICT DO NOTHING, so a reminder is queued once however many
planners run. `reminder_plans` holds a campaign's settings (none = the defaults of
flows/reminders.py); `reminder_mutes` records /tatnhac and /batnhac, appended, latest stands.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(200), nullable=True))
        batch.create_unique_constraint("uq_outbox_dedupe_key", ["dedupe_key"])
    op.create_table(
        "reminder_plans",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("days_before", sa.JSON(), nullable=False),
        sa.Column("at", sa.String(5), nullable=False),
        sa.Column("on_deadline", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=False),
        sa.Column("quiet_end", sa.String(5), nullable=False),
        sa.Column("no_weekends", sa.Boolean(), nullable=False),
        sa.Column("overdue_to_head", sa.Boolean(), nullable=False),
        sa.Column("overdue_to_reviewer", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_reminder_plans_campaign_id_campaigns"
        ),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_reminder_plans"),
    )
    op.create_table(
        "reminder_mutes",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_reminder_mutes_campaign_id_campaigns"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_reminder_mutes_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_mutes"),
    )
    op.create_index(
        "ix_reminder_mutes_campaign_id_user_id", "reminder_mutes", ["campaign_id", "user_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_reminder_mutes_campaign_id_user_id", "reminder_mutes")
    op.drop_table("reminder_mutes")
    op.drop_table("reminder_plans")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_dedupe_key", type_="unique")
        batch.drop_column("dedupe_key")
