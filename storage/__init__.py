"""Storage: SQLAlchemy models, repository, migrations.

bot/ imports from here only: Storage, Unit, the records, and the two exceptions.
"""

from storage.records import (
    AgencyRec,
    CampaignRec,
    Conflict,
    HistoryRec,
    IdentityRec,
    InviteRec,
    NotFound,
    OutboxRec,
    StandingRec,
    SubmissionEventRec,
    SubmissionRec,
    UserRec,
)
from storage.repository import Storage, Unit

__all__ = [
    "AgencyRec",
    "CampaignRec",
    "Conflict",
    "HistoryRec",
    "IdentityRec",
    "InviteRec",
    "NotFound",
    "OutboxRec",
    "StandingRec",
    "Storage",
    "SubmissionEventRec",
    "SubmissionRec",
    "Unit",
    "UserRec",
]
