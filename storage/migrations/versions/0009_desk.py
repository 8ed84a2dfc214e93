"""People fields for the administrator's desk: who the officials are, how to reach them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Additive: `users.position/phone/email` and `agencies.head/archived_at` (nullable, filled by
`phieu agencies import`), and `invites.user_id`: an invitation made for an imported person
(`phieu invite bulk`) binds the chat account to that person instead of creating a new user.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USER_COLUMNS = (("position", 255), ("phone", 64), ("email", 255))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name, length in _USER_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length), nullable=True))
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("head", sa.String(255), nullable=True))
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_invites_user_id_users", "users", ["user_id"], ["id"])
        batch.create_index("ix_invites_user_id", ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.drop_index("ix_invites_user_id")
        batch.drop_constraint("fk_invites_user_id_users", type_="foreignkey")
        batch.drop_column("user_id")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("archived_at")
        batch.drop_column("head")
    with op.batch_alter_table("users") as batch:
        for name, _ in reversed(_USER_COLUMNS):
            batch.drop_column(name)
