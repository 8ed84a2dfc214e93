"""The values that cross the engine's boundary: what comes in, what is stored, what goes out.

All of them are plain data with JSON forms, so storage can keep them in a column and a test
can compare them, and none of them knows a chat app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import date, datetime
from typing import Any

from flows.machines import Mode, Status

_LEADING_SYMBOLS = re.compile(r"^[^\w]+")


def words_of(label: str) -> str:
    """A label without the emoji or marks in front ("✅ Đúng" → "Đúng")."""
    return _LEADING_SYMBOLS.sub("", label)


@dataclass(frozen=True, slots=True)
class Answer:
    """An item's stored answer: a value, or "không áp dụng" with its reason, plus evidence."""

    value: Any = None
    na_reason: str | None = None
    evidence: Any = None

    @property
    def is_na(self) -> bool:
        return self.na_reason is not None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "na_reason": self.na_reason, "evidence": self.evidence}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(data.get("value"), data.get("na_reason"), data.get("evidence"))


def _plain(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, tuples, scalars), as asdict makes it."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return type(value)(_plain(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


@dataclass(slots=True)
class ConversationState:
    """Where one chat is. Kept in storage; nothing about a chat lives in process memory."""

    mode: Mode = Mode.MENU
    item: str | None = None
    lang: str = "vi"
    skipped: list[str] = field(default_factory=list)
    trail: list[str] = field(default_factory=list)
    pending: dict[str, Any] | None = None
    # The message that produced the latest answer, so an edit of it re-answers the item:
    # {"message_id", "item", "kind": "value" | "row" | "evidence", "row"?}. None when the
    # latest answer came from a button (nothing to edit) or from a channel without ids.
    last_answer: dict[str, Any] | None = None
    # The media group (album) being received: {"group", "item"}; item None when the album
    # was refused (then its other files are dropped quietly, one reply for the album).
    album: dict[str, Any] | None = None
    # A message long enough to have been split by the chat app: {"at": ISO time, "noted"}.
    split: dict[str, Any] | None = None
    # Where the official was before /sua or /kad took them elsewhere: asked again once that
    # detour is answered or skipped, if still open (NEWCOMER #10, "keep the official's place").
    back_to: str | None = None
    # The campaign this chat is answering, when the agency has several open (issue #9); a
    # chat-level field the engine never reads (the service keeps each campaign's place).
    campaign: int | None = None
    # The review conversation (flows/review.py) of a reviewer, or of an official fixing
    # returned items / confirming the final data: {"sub", "await", "choices", …}.
    review: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A deep copy as plain data (what storage keeps). The same as dataclasses.asdict,
        which costed a fifth of the engine's time per update (issue #8)."""
        data = {f.name: _plain(getattr(self, f.name)) for f in _STATE_FIELDS}
        data["mode"] = str(self.mode)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ConversationState:
        if not data:
            return cls()
        try:
            mode = Mode(data.get("mode", Mode.MENU))
        except ValueError:
            mode = Mode.MENU
        return cls(
            mode=mode,
            item=data.get("item"),
            lang=data.get("lang") or "vi",
            skipped=list(data.get("skipped") or []),
            trail=list(data.get("trail") or []),
            pending=data.get("pending"),
            last_answer=data.get("last_answer"),
            album=data.get("album"),
            back_to=data.get("back_to"),
            split=data.get("split"),
            campaign=data.get("campaign") if isinstance(data.get("campaign"), int) else None,
            review=data.get("review"),
        )

    def copy(self) -> ConversationState:
        """A deep copy (what to_json then from_json give, without the round trip)."""
        return ConversationState(
            mode=self.mode,
            item=self.item,
            lang=self.lang,
            skipped=list(self.skipped),
            trail=list(self.trail),
            pending=_plain(self.pending),
            last_answer=_plain(self.last_answer),
            album=_plain(self.album),
            split=_plain(self.split),
            back_to=self.back_to,
            campaign=self.campaign,
            review=_plain(self.review),
        )


_STATE_FIELDS = fields(ConversationState)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a user did: typed text, or picked a choice (its payload).

    Channels that know more say it: `message_id` (the chat app's id of the message, so an
    edit of it can be matched), `edited` (this is a new version of message `message_id`),
    `group` (the album a photo or file belongs to, Telegram's media_group_id) and `sent_at`
    (when the chat app says the message was sent, timezone-aware)."""

    text: str | None = None
    payload: str | None = None
    attachment: dict[str, Any] | None = None
    message_id: str | None = None
    edited: bool = False
    group: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What the engine needs to know about the world, read by the caller before the call."""

    now: datetime
    agency_name: str
    deadline: date | None = None
    status: Status = Status.DRAFT
    user_name: str | None = None
    # The year the campaign reports on: documents dated after it are questioned.
    reporting_year: int | None = None
    known: Mapping[str, Any] = field(default_factory=dict)
    """What Phiếu knows before asking, by prefill key (flows.model.PREFILL_KEYS):
    {"campaign.year": 2026, "agency.name": "Sở …", "agency.phone": "0256 3822 345", …}."""
    previous: Mapping[str, Answer] = field(default_factory=dict)
    """The agency's answers to its latest earlier campaign of a form that carries over
    (flows.model.CarryOver), by item id; empty the first year."""
    scorer: Callable[[Mapping[str, Answer], str], str] | None = None
    """/diem: a pure function (answers, language) → the provisional score message, built
    by the service from the campaign's scale (scoring/); None when the form has no scale."""

    @property
    def today(self) -> date:
        return self.now.date()


@dataclass(frozen=True, slots=True)
class Choice:
    """A pickable option: a button on Telegram, a numbered line where there are no buttons."""

    label: str
    payload: str

    @property
    def words(self) -> str:
        return words_of(self.label)


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for the user. `choices` answer the question; `actions` navigate."""

    text: str
    choices: tuple[Choice, ...] = ()
    actions: tuple[Choice, ...] = ()
    kind: str = "info"
    item: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, for the caller to deliver (notifications, audit)."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one incoming event: everything the caller commits in one transaction."""

    state: ConversationState
    changes: dict[str, Answer | None]
    replies: tuple[Reply, ...]
    events: tuple[Event, ...] = ()
    transition: str | None = None
