"""Review: reviewer assignments, item verdicts with history, the channel of each move.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Issue #10: reviewers are assigned agencies of a campaign (by cohort, by agency, or all of
it); every verdict on an item is a new `item_reviews` row (the latest one stands); a
submission's moves say which channel they were made on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("submission_events") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=True))
    op.create_table(
        "reviewer_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("cohort", sa.String(16), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cohort IS NULL OR cohort IN ('so', 'huyen', 'xa')",
            name="ck_reviewer_assignments_cohort",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_reviewer_assignments_campaign_id_campaigns",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_reviewer_assignments_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_reviewer_assignments_agency_id_agencies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reviewer_assignments"),
    )
    op.create_index(
        "ix_reviewer_assignments_campaign_id_user_id",
        "reviewer_assignments",
        ["campaign_id", "user_id"],
    )
    op.create_table(
        "item_reviews",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("corrected", sa.JSON(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "verdict IN ('dat', 'khong_dat', 'tra_lai', 'sua')", name="ck_item_reviews_verdict"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name="fk_item_reviews_submission_id_submissions"
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name="fk_item_reviews_reviewer_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_item_reviews"),
    )
    op.create_index(
        "ix_item_reviews_submission_id_item_id", "item_reviews", ["submission_id", "item_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_item_reviews_submission_id_item_id", "item_reviews")
    op.drop_table("item_reviews")
    op.drop_index("ix_reviewer_assignments_campaign_id_user_id", "reviewer_assignments")
    op.drop_table("reviewer_assignments")
    with op.batch_alter_table("submission_events") as batch:
        batch.drop_column("channel")
