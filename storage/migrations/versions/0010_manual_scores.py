"""Reviewer-scored criteria entered during review (issue #12).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

Additive: `manual_scores`, one appended row per entry of a reviewer-scored ("manual")
criterion's points for a submission (who, when, channel); the latest row per (submission,
criterion) stands, the older ones are the history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "manual_scores",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.String(64), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name="fk_manual_scores_submission_id_submissions"
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name="fk_manual_scores_reviewer_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_manual_scores"),
    )
    op.create_index(
        "ix_manual_scores_submission_id_criterion_id",
        "manual_scores",
        ["submission_id", "criterion_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_manual_scores_submission_id_criterion_id", "manual_scores")
    op.drop_table("manual_scores")
