"""Tables, as SQLAlchemy 2 declarative models, portable between SQLite and PostgreSQL.

These classes never leave storage/: the repository turns rows into records (records.py).
The hand-written migrations must match this file; tests/integration checks that they do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flows.machines import Status

# Named constraints, so migrations can refer to them (SQLite batch mode needs names).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

COHORTS = ("so", "huyen", "xa")
ROLES = ("official", "reviewer", "admin")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
# "reply" answers the chat's own message (sent first, no per-chat budget); "notice" is
# unsolicited (reviewer notices, reminders): paced per chat and sent after replies.
OUTBOX_KINDS = ("reply", "notice")
# A reviewer's verdict on one item (issue #10): đạt, không đạt, trả lại, sửa.
VERDICTS = ("dat", "khong_dat", "tra_lai", "sua")
STATUSES = tuple(s.value for s in Status)
# A campaign is prepared (draft), then officials answer it (open), then it is over (closed).
CAMPAIGN_STATUSES = ("draft", "open", "closed")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as UTC; naive datetimes are refused.

    SQLite has no time zones: it keeps naive UTC text, and the zone is put back on reading,
    so both databases hand out aware UTC datetimes and compare them the same way.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: storage needs an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> JSON:
    # Python None is SQL NULL, not the JSON literal null: "IS NULL" then means "absent".
    return JSON(none_as_null=True)


_INT64 = range(-(2**63), 2**63)
_TAGS = ("$int", "$float", "$decimal")


def _tag(value: Any, sqlite: bool) -> Any:
    """Numbers JSON or the database would change, written as tagged strings (see ExactJSON)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if sqlite and isinstance(value, int) and value not in _INT64:
        return {"$int": str(value)}
    if sqlite and isinstance(value, float):
        return {"$float": repr(value)}
    if isinstance(value, list):
        return [_tag(v, False) for v in value]
    if isinstance(value, dict):
        return {k: _tag(v, False) for k, v in value.items()}
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, list):
        return [_untag(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and (key := next(iter(value))) in _TAGS and isinstance(value[key], str):
        text = value[key]
        try:
            return int(text) if key == "$int" else float(text) if key == "$float" else Decimal(text)
        except (ValueError, ArithmeticError):
            return value
    return {k: _untag(v) for k, v in value.items()}


class ExactJSON(TypeDecorator[Any]):
    """JSON that gives back exactly the numbers it was given, on SQLite and PostgreSQL.

    SQLite gives a JSON column NUMERIC affinity: a bare number is converted on the way in, so
    99999999999999999999999999 came back as 1.0e+26 and some decimals as a neighbouring
    float. A top-level float, or an int beyond 64 bits, is therefore stored on SQLite as
    {"$float": "2.5"} / {"$int": "…"} (text inside an object keeps every digit); a Decimal,
    which JSON cannot hold, as {"$decimal": "1.50"} on both databases. Reading undoes it.
    Numbers nested in lists and objects are JSON text already and stay as they are.
    """

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _tag(value, dialect.name == "sqlite")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return _untag(value)


def _exact_json() -> ExactJSON:
    return ExactJSON(none_as_null=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK body for a fixed vocabulary (the values are constants of this module)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Big ids where rows accumulate forever; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: _json(),
    }


class Agency(Base):
    __tablename__ = "agencies"
    __table_args__ = (CheckConstraint(_in("cohort", COHORTS), name="cohort"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    cohort: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the agency record tells Phiếu to prefill (items with `prefill: agency.…`).
    address: Mapped[str | None] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255))
    # The head of the agency (thủ trưởng), and when it stopped being asked (never deleted
    # once it has answers: `phieu agencies remove` archives it then).
    head: Mapped[str | None] = mapped_column(String(255))
    archived_at: Mapped[datetime | None]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8), default="vi", server_default="vi")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Contact details from the administrator's workbook (`phieu agencies import`).
    position: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255))


class Identity(Base):
    """One chat-app account of a user; a person may have a Telegram and a Zalo one."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint(_in("status", CAMPAIGN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(128), index=True)
    form_version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    deadline: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(
        String(64), default="Asia/Ho_Chi_Minh", server_default="Asia/Ho_Chi_Minh"
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # The year the answers are about (a 2019 form due 26/11/2019 reports on 2018): prefilled
    # as "Năm báo cáo" and used to question documents dated after it (issue #9).
    # 0 only for a row no one gave a year (SQLite adds a NOT NULL column only with a default).
    reporting_year: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    opens_on: Mapped[date | None] = mapped_column(Date)
    # Cohort codes whose agencies the campaign targets (with campaign_agencies, the explicit
    # list); may be empty (or NULL, the same) when only the explicit list is targeted.
    cohorts: Mapped[list[str] | None] = mapped_column(_json(), default=list)


class CampaignAgency(Base):
    """An agency a campaign targets by name, besides the agencies of its cohorts."""

    __tablename__ = "campaign_agencies"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True, index=True)


class Position(Base):
    """Where a person is in one campaign's questionnaire (ConversationState JSON, its
    question-level part): shared by every chat of the person, so Telegram and Zalo continue
    at the same question. The chat row (conversations) keeps only chat-level things."""

    __tablename__ = "positions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Submission(Base):
    """One agency's questionnaire in one campaign; `status` moves only by compare-and-set."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("campaign_id", "agency_id"),
        CheckConstraint(_in("status", STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    submitted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A new random token at every write of the answers (apply_changes), NULL before the
    # first: answers read or written under one token stay true while the row carries it
    # (storage/answer_cache.py). Random, not a counter: a deleted submission's id reused
    # by SQLite starts from NULL and never meets the old row's tokens.
    answers_rev: Mapped[int | None] = mapped_column(BigInteger)


class SubmissionEvent(Base):
    __tablename__ = "submission_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    # Where the move was made (telegram, zalo, console, cli); None for rows before 0005.
    channel: Mapped[str | None] = mapped_column(String(16))


class AnswerRow(Base):
    """The current answer to one item (history is in answer_history)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("submission_id", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    item_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any | None] = mapped_column(_exact_json())
    na_reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[Any | None] = mapped_column(_exact_json())
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class AnswerHistory(Base):
    """Every change to an answer: who, when, through which channel, old → new (Answer JSON)."""

    __tablename__ = "answer_history"
    __table_args__ = (Index(None, "submission_id", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    item_id: Mapped[str] = mapped_column(String(64))
    old: Mapped[dict[str, Any] | None] = mapped_column(_exact_json())
    new: Mapped[dict[str, Any] | None] = mapped_column(_exact_json())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class Conversation(Base):
    """Where one chat is (ConversationState JSON); its row lock serialises the chat."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(Base):
    """Update ids already handled, so a redelivered update changes nothing."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ChatArrival(Base):
    """Updates that arrived and are not yet applied, with the channel's number for them.

    A handler applies its update only when no older arrival of the same chat is still
    waiting (storage/_order.py): concurrent updates of one chat are applied in order.
    """

    __tablename__ = "chat_arrivals"
    __table_args__ = (Index(None, "channel", "chat_id", "seq"),)

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(BigInteger)
    arrived_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    """Messages to send after commit; workers claim rows with a lease."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "status", "not_before"),
        Index(None, "channel", "chat_id"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    kind: Mapped[str] = mapped_column(String(16), default="reply", server_default="reply")
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set by reminders and broadcasts only: a row with a key is queued once, ever (ON
    # CONFLICT DO NOTHING), and kept by prune (the key is the record that it went out).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class SendWorker(Base):
    """A process that sends for a bot, with its last heartbeat: the bot's rate is shared
    between the live ones (bot/workers/outbox.py RateShare)."""

    __tablename__ = "send_workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bot: Mapped[str] = mapped_column(String(64), index=True)
    seen_at: Mapped[datetime]


class Invite(Base):
    """An invitation code (only its sha256 is kept) that binds a chat account to an agency."""

    __tablename__ = "invites"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    role: Mapped[str] = mapped_column(String(16))
    uses_left: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The imported person this invitation is for (`phieu invite bulk`): redeeming it binds
    # the chat account to that person instead of creating a new user.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)


class InviteFailure(Base):
    """A wrong invite code from one chat account: counted to throttle guessing."""

    __tablename__ = "invite_failures"
    __table_args__ = (Index(None, "channel", "external_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]


class LinkCheck(Base):
    """The latest check of an evidence link (bot/workers/linkcheck.py; issue #10).

    One row per URL, shared by every answer that gives it; a newer check replaces an older
    one, never the reverse."""

    __tablename__ = "link_checks"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    status: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    elapsed_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(255))
    checked_at: Mapped[datetime] = mapped_column(index=True)


class ReviewerAssignment(Base):
    """Which agencies of a campaign one reviewer reviews (issue #10).

    A row names a cohort, an agency, or neither (every target of the campaign). A campaign
    with no row at all is reviewed by every reviewer, for every target agency.
    """

    __tablename__ = "reviewer_assignments"
    __table_args__ = (
        Index(None, "campaign_id", "user_id"),
        CheckConstraint(f"cohort IS NULL OR {_in('cohort', COHORTS)}", name="cohort"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cohort: Mapped[str | None] = mapped_column(String(16))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemReview(Base):
    """A reviewer's verdict on one item of a submission; rows are only appended.

    The latest row per (submission, item) is the standing verdict; the earlier ones are the
    history. `corrected` is the Answer JSON the reviewer put in place of the official's for
    a 'sua' verdict (the official's own value stays in `answers`).
    """

    __tablename__ = "item_reviews"
    __table_args__ = (
        Index(None, "submission_id", "item_id"),
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    item_id: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    corrected: Mapped[dict[str, Any] | None] = mapped_column(_exact_json())
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime]


class ManualScore(Base):
    """Points a reviewer gave a reviewer-scored criterion of the scale ("manual", issue #12)
    for one submission; rows are only appended. The latest row per (submission, criterion)
    stands; the earlier ones are the history. `channel` "yaml" for `phieu score --manual`.
    """

    __tablename__ = "manual_scores"
    __table_args__ = (Index(None, "submission_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    criterion_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[float] = mapped_column(Float)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime]


class ReminderPlanRow(Base):
    """A campaign's reminder settings (flows/reminders.py ReminderPlan); none = defaults."""

    __tablename__ = "reminder_plans"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    days_before: Mapped[Any] = mapped_column(JSON)  # [7, 3, 1]
    at: Mapped[str] = mapped_column(String(5))  # "08:00", local time
    on_deadline: Mapped[bool] = mapped_column(Boolean)
    overdue: Mapped[bool] = mapped_column(Boolean)
    quiet_start: Mapped[str] = mapped_column(String(5))
    quiet_end: Mapped[str] = mapped_column(String(5))
    no_weekends: Mapped[bool] = mapped_column(Boolean)
    overdue_to_head: Mapped[bool] = mapped_column(Boolean)
    overdue_to_reviewer: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]


class ReminderMute(Base):
    """A person turning a campaign's reminders off (muted) or on again; rows are appended,
    the latest per (campaign, user) stands, so when and through which channel is kept."""

    __tablename__ = "reminder_mutes"
    __table_args__ = (Index(None, "campaign_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    muted: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime]
