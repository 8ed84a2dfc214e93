"""Agency contact fields Phiếu prefills: address, website, phone, e-mail (all optional).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Additive: four nullable columns on `agencies`, filled by `phieu agencies add --address …`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("address", 255), ("website", 255), ("phone", 64), ("email", 255))


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        for name, length in _COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
