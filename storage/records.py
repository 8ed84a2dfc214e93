"""What the repository hands out: small frozen values, never ORM objects.

Callers (bot/) can keep them after the unit has committed, compare them in tests and pass
them around without a session behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flows.machines import Status
from flows.state import Answer, ConversationState


class Conflict(Exception):
    """A uniqueness or foreign-key rule refused a write (duplicate code, unknown agency…).

    The unit it happened in is finished: let the exception leave the `async with` so the
    transaction rolls back, then start a new unit if there is something else to do.
    """


class NotFound(LookupError):
    """A write named a row that does not exist: a caller's mistake, not a user's."""


@dataclass(frozen=True, slots=True)
class AgencyRec:
    id: int
    code: str
    name: str
    cohort: str
    created_at: datetime
    address: str | None = None
    website: str | None = None
    phone: str | None = None
    email: str | None = None
    head: str | None = None
    archived_at: datetime | None = None

    def known(self) -> dict[str, str]:
        """The record's values by prefill key (flows.model.PREFILL_KEYS), empty ones left out."""
        pairs = {
            "agency.name": self.name,
            "agency.address": self.address,
            "agency.website": self.website,
            "agency.phone": self.phone,
            "agency.email": self.email,
        }
        return {k: v for k, v in pairs.items() if v}


@dataclass(frozen=True, slots=True)
class UserRec:
    id: int
    name: str
    agency_id: int | None
    role: str
    lang: str
    created_at: datetime
    position: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityRec:
    id: int
    user_id: int
    channel: str
    external_id: str
    display_name: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CampaignRec:
    id: int
    form_id: str
    form_version: int
    name: str
    deadline: date
    timezone: str
    opened_at: datetime
    closed_at: datetime | None
    # The year the answers are about (not the deadline's year: a 2019 form due in 2019 may
    # report on 2018); 0 only in records built by hand without one.
    reporting_year: int = 0
    status: str = "open"  # draft | open | closed (storage.models.CAMPAIGN_STATUSES)
    opens_on: date | None = None
    # Cohort codes targeted; with the explicit list (Unit.campaign_agency_ids) the targets.
    cohorts: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class SubmissionRec:
    id: int
    campaign_id: int
    agency_id: int
    status: Status
    version: int
    submitted_at: datetime | None
    updated_at: datetime
    answers_rev: int | None = None  # changes with every write of the answers (models.py)


@dataclass(frozen=True, slots=True)
class StandingRec:
    """Who a chat account is and where they stand, read in one statement (Unit.standing).

    `agency` is None for a user bound to no agency; `campaign` is None when no open campaign
    targets the agency; `submission` is None until the agency's first update in that
    campaign creates it. A submission handed out here is locked until the unit ends.
    """

    user: UserRec
    agency: AgencyRec | None
    campaign: CampaignRec | None
    submission: SubmissionRec | None
    # How many open campaigns target the agency (more than one: the official chooses).
    campaigns_open: int = 0
    # The person's place in `campaign`'s questionnaire; None before they first answered it.
    position: ConversationState | None = None


@dataclass(frozen=True, slots=True)
class SubmissionEventRec:
    id: int
    submission_id: int
    from_status: Status
    to_status: Status
    user_id: int | None
    at: datetime
    note: str | None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewerAssignmentRec:
    """One reviewer's share of a campaign: a cohort, an agency, or (both None) all of it."""

    id: int
    campaign_id: int
    user_id: int
    cohort: str | None
    agency_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ManualScoreRec:
    """Points given to one reviewer-scored criterion of one submission (0..the criterion's
    max, checked by whoever entered them), by whom, when and on which channel."""

    id: int
    submission_id: int
    criterion_id: str
    points: float
    reviewer_id: int | None
    channel: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ItemReviewRec:
    """One verdict on one item: 'dat' | 'khong_dat' | 'tra_lai' | 'sua' (storage VERDICTS).

    `corrected` is the reviewer's Answer for 'sua' (None otherwise); `comment` is required
    by the review flow for every verdict but 'dat'.
    """

    id: int
    submission_id: int
    item_id: str
    verdict: str
    comment: str | None
    corrected: Answer | None
    reviewer_id: int | None
    channel: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class HistoryRec:
    """One change to one answer; `old` None means it was created, `new` None deleted."""

    id: int
    submission_id: int
    item_id: str
    old: Answer | None
    new: Answer | None
    user_id: int | None
    channel: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRec:
    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    status: str
    attempts: int
    not_before: datetime
    claimed_until: datetime | None
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    kind: str = "reply"  # "reply" or "notice" (storage.models.OUTBOX_KINDS)
    dedupe_key: str | None = None  # reminders and broadcasts: queued once, ever


@dataclass(frozen=True, slots=True)
class InviteRec:
    id: int
    code_hash: str
    agency_id: int | None
    role: str
    uses_left: int | None
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    created_by: int | None
    user_id: int | None = None

    def usable(self, now: datetime) -> bool:
        """What use_invite would say now (use_invite itself is the atomic check)."""
        return (
            self.revoked_at is None
            and (self.uses_left is None or self.uses_left > 0)
            and (self.expires_at is None or self.expires_at > now)
        )


@dataclass(frozen=True, slots=True)
class LinkCheckRec:
    """What opening an evidence link found (bot/workers/linkcheck.py; issue #10).

    `status` is the final HTTP status (None when no response came); `final_url` the address
    after redirects; `title` the page's <title> (HTML only, from its first bytes); `size` in
    bytes (the declared Content-Length, else what was read when the whole body fit under the
    cap, else None); `elapsed_ms` the whole check, redirects included; `error` a short code
    ("timeout", "dns", "forbidden_address:loopback", …; see linkcheck.ERRORS) or None.
    """

    url: str
    status: int | None
    final_url: str | None
    title: str | None
    content_type: str | None
    size: int | None
    elapsed_ms: int
    error: str | None
    checked_at: datetime

    @property
    def ok(self) -> bool:
        """The link opened: an answer came, with a status below 400, and no error."""
        return self.error is None and self.status is not None and self.status < 400

    @property
    def error_code(self) -> str | None:
        """`error` without its detail ("forbidden_address:loopback" → "forbidden_address")."""
        return None if self.error is None else self.error.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class EvidenceRec:
    """An answer's evidence as stored, with who gave it (for the link worker's pass)."""

    answer_id: int
    submission_id: int
    item_id: str
    evidence: Any
    updated_by: int | None
