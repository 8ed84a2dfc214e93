"""Campaigns: reporting year, status, open date, targets; positions per person per campaign.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Issue #9. `campaigns` gains `reporting_year` (the year reported on, not the deadline's),
`status` (draft | open | closed), `opens_on` and `cohorts` (JSON list of cohort codes);
`campaign_agencies` lists agencies targeted by name; `positions` keeps where a person is in
one campaign (so two campaigns keep two places, and Telegram ↔ Zalo share one).

Existing rows are migrated as they behaved: status from closed_at, reporting year from the
deadline's year (what 1.1 was prefilled with), cohorts from the form's cohorts (every cohort
for a form for all, or one this code does not know), and each chat's place is copied to the
position of its user in the campaign the chat was answering (the newest open campaign of a
form for the agency's cohort).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ALL_COHORTS = ["so", "huyen", "xa"]


def _form_cohorts() -> dict[str, list[str]]:
    """Form id → its cohorts, from the forms shipped with this code (empty on any failure:
    then every campaign targets every cohort, which is how an unknown form behaved)."""
    try:
        from flows.loader import builtin_forms

        return {f.id: list(f.cohorts) for f in builtin_forms().values()}
    except Exception:  # a broken form file must not stop the schema upgrade
        return {}


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or [])


def upgrade() -> None:
    # Columns are only added (never a table rebuilt): on SQLite a batch rebuild of
    # `campaigns` would DROP it, which its submissions' foreign keys refuse.
    op.add_column(
        "campaigns", sa.Column("reporting_year", sa.Integer(), nullable=False, server_default="0")
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes a CHECK only as part of the column it adds.
        op.execute(
            "ALTER TABLE campaigns ADD COLUMN status VARCHAR(16) DEFAULT 'open' NOT NULL "
            "CONSTRAINT ck_campaigns_status CHECK (status IN ('draft', 'open', 'closed'))"
        )
    else:
        op.add_column(
            "campaigns",
            sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        )
        op.create_check_constraint(
            "ck_campaigns_status", "campaigns", "status IN ('draft', 'open', 'closed')"
        )
    op.add_column("campaigns", sa.Column("opens_on", sa.Date(), nullable=True))
    op.add_column("campaigns", sa.Column("cohorts", sa.JSON(), nullable=True))
    op.create_table(
        "campaign_agencies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name="fk_campaign_agencies_campaign_id_campaigns",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_campaign_agencies_agency_id_agencies"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "agency_id", name="pk_campaign_agencies"),
    )
    op.create_index("ix_campaign_agencies_agency_id", "campaign_agencies", ["agency_id"])
    op.create_table(
        "positions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_positions_user_id_users"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_positions_campaign_id_campaigns"
        ),
        sa.PrimaryKeyConstraint("user_id", "campaign_id", name="pk_positions"),
    )
    _migrate_rows()


def _migrate_rows() -> None:
    bind = op.get_bind()
    campaigns = sa.table(
        "campaigns",
        sa.column("id", sa.Integer),
        sa.column("form_id", sa.String),
        sa.column("deadline", sa.Date),
        sa.column("opened_at", sa.DateTime(timezone=True)),
        sa.column("closed_at", sa.DateTime(timezone=True)),
        sa.column("reporting_year", sa.Integer),
        sa.column("status", sa.String),
        sa.column("cohorts", sa.JSON),
    )
    forms = _form_cohorts()
    rows = bind.execute(
        sa.select(
            campaigns.c.id,
            campaigns.c.form_id,
            campaigns.c.deadline,
            campaigns.c.opened_at,
            campaigns.c.closed_at,
        )
    ).all()
    open_ones: list[tuple[Any, int, list[str]]] = []
    for row in rows:
        cohorts = forms.get(row.form_id) or _ALL_COHORTS
        deadline = row.deadline
        year = deadline.year if hasattr(deadline, "year") else int(str(deadline)[:4])
        status = "open" if row.closed_at is None else "closed"
        bind.execute(
            campaigns.update()
            .where(campaigns.c.id == row.id)
            .values(reporting_year=year, status=status, cohorts=cohorts)
        )
        if status == "open" and row.form_id in forms:
            open_ones.append((row.opened_at, row.id, cohorts))
    _migrate_positions(bind, open_ones)


def _migrate_positions(bind: sa.Connection, open_ones: list[tuple[Any, int, list[str]]]) -> None:
    """Each chat's place becomes its user's position in the campaign the chat answered."""
    if not open_ones:
        return
    newest_first = sorted(open_ones, key=lambda c: (str(c[0]), c[1]), reverse=True)
    conversations = sa.table(
        "conversations",
        sa.column("user_id", sa.Integer),
        sa.column("state", sa.JSON),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("agency_id", sa.Integer))
    agencies = sa.table("agencies", sa.column("id", sa.Integer), sa.column("cohort", sa.String))
    positions = sa.table(
        "positions",
        sa.column("user_id", sa.Integer),
        sa.column("campaign_id", sa.Integer),
        sa.column("state", sa.JSON),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    chats = bind.execute(
        sa.select(
            conversations.c.user_id,
            conversations.c.state,
            conversations.c.updated_at,
            agencies.c.cohort,
        )
        .join(users, users.c.id == conversations.c.user_id)
        .join(agencies, agencies.c.id == users.c.agency_id)
        .order_by(conversations.c.updated_at.desc())
    ).all()
    done: set[tuple[int, int]] = set()
    for chat in chats:
        campaign_id = next((cid for _, cid, coh in newest_first if chat.cohort in coh), None)
        if campaign_id is None or (chat.user_id, campaign_id) in done:
            continue  # a person's most recently used chat wins
        done.add((chat.user_id, campaign_id))
        state = chat.state if not isinstance(chat.state, str) else json.loads(chat.state)
        bind.execute(
            positions.insert().values(
                user_id=chat.user_id,
                campaign_id=campaign_id,
                state=state,
                updated_at=chat.updated_at,
            )
        )


def downgrade() -> None:
    op.drop_table("positions")
    op.drop_index("ix_campaign_agencies_agency_id", "campaign_agencies")
    op.drop_table("campaign_agencies")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("ck_campaigns_status", type_="check")
        batch.drop_column("cohorts")
        batch.drop_column("opens_on")
        batch.drop_column("status")
        batch.drop_column("reporting_year")
