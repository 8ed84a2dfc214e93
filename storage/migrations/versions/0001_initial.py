"""Initial schema: agencies, people, campaigns, submissions, answers, chats, outbox, invites.

Revision ID: 0001
Revises:
Create Date: 2025-11-22

Written by hand to match storage/models.py (a test compares them). Column types are spelled
out here rather than imported from models.py, so later model changes cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "role IN ('official', 'reviewer', 'admin')"


def ts(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    """An aware UTC timestamp column (naive UTC text on SQLite)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def big_id() -> sa.Column[sa.BigInteger]:
    """BIGINT ids where rows pile up; SQLite auto-increments only INTEGER PRIMARY KEY."""
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cohort", sa.String(16), nullable=False),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint("code", name="uq_agencies_code"),
        sa.CheckConstraint("cohort IN ('so', 'huyen', 'xa')", name="ck_agencies_cohort"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False, server_default="vi"),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_users_agency_id_agencies"),
        sa.CheckConstraint(ROLES, name="ck_users_role"),
    )
    op.create_index("ix_users_agency_id", "users", ["agency_id"])
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_identities"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_identities_user_id_users"),
        sa.UniqueConstraint("channel", "external_id", name="uq_identities_channel_external_id"),
    )
    op.create_index("ix_identities_user_id", "identities", ["user_id"])
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(128), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Ho_Chi_Minh"),
        ts("opened_at"),
        ts("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
    )
    op.create_index("ix_campaigns_form_id", "campaigns", ["form_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        ts("submitted_at", nullable=True),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_submissions_campaign_id_campaigns"
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_submissions_agency_id_agencies"
        ),
        sa.UniqueConstraint(
            "campaign_id", "agency_id", name="uq_submissions_campaign_id_agency_id"
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'in_review', 'returned', 'resubmitted', "
            "'accepted', 'confirmed')",
            name="ck_submissions_status",
        ),
    )
    op.create_index("ix_submissions_agency_id", "submissions", ["agency_id"])
    op.create_table(
        "submission_events",
        big_id(),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        ts("at"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_submission_events"),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name="fk_submission_events_submission_id_submissions",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_submission_events_user_id_users"
        ),
    )
    op.create_index("ix_submission_events_submission_id", "submission_events", ["submission_id"])
    op.create_table(
        "answers",
        big_id(),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("na_reason", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_answers"),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name="fk_answers_submission_id_submissions"
        ),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name="fk_answers_updated_by_users"),
        sa.UniqueConstraint("submission_id", "item_id", name="uq_answers_submission_id_item_id"),
    )
    op.create_table(
        "answer_history",
        big_id(),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_answer_history"),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name="fk_answer_history_submission_id_submissions",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_answer_history_user_id_users"),
    )
    op.create_index(
        "ix_answer_history_submission_id_item_id", "answer_history", ["submission_id", "item_id"]
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_conversations_user_id_users"),
        sa.UniqueConstraint("channel", "chat_id", name="uq_conversations_channel_chat_id"),
    )
    op.create_table(
        "processed_updates",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_id", sa.String(128), nullable=False),
        ts("processed_at"),
        sa.PrimaryKeyConstraint("channel", "update_id", name="pk_processed_updates"),
    )
    op.create_index("ix_processed_updates_processed_at", "processed_updates", ["processed_at"])
    op.create_table(
        "outbox",
        big_id(),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        ts("not_before"),
        ts("claimed_until", nullable=True),
        ts("created_at"),
        ts("sent_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')", name="ck_outbox_status"
        ),
    )
    op.create_index("ix_outbox_status_not_before", "outbox", ["status", "not_before"])
    op.create_index("ix_outbox_channel_chat_id", "outbox", ["channel", "chat_id"])
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=True),
        ts("expires_at", nullable=True),
        ts("created_at"),
        ts("revoked_at", nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invites"),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_invites_agency_id_agencies"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_invites_created_by_users"),
        sa.UniqueConstraint("code_hash", name="uq_invites_code_hash"),
        sa.CheckConstraint(ROLES, name="ck_invites_role"),
    )
    op.create_table(
        "invite_failures",
        big_id(),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_invite_failures"),
    )
    op.create_index(
        "ix_invite_failures_channel_external_id_at",
        "invite_failures",
        ["channel", "external_id", "at"],
    )


def downgrade() -> None:
    for table in (
        "invite_failures",
        "invites",
        "outbox",
        "processed_updates",
        "conversations",
        "answer_history",
        "answers",
        "submission_events",
        "submissions",
        "campaigns",
        "identities",
        "users",
        "agencies",
    ):
        op.drop_table(table)
