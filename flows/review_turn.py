"""What both sides' turns in review share (flows/review.py: the reviewer's; flows/review_agency.py:
the agency's): the view of the submission they read, and the turn's working set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from flows import prompts
from flows.machines import Status
from flows.model import Form
from flows.state import Answer, Incoming, Reply


@dataclass(frozen=True, slots=True)
class VerdictView:
    """A standing verdict on an item: 'dat' | 'khong_dat' | 'tra_lai' | 'sua', its comment,
    the reviewer's corrected answer ('sua') and when it was given."""

    verdict: str
    comment: str | None
    corrected: Answer | None
    at: datetime


@dataclass(frozen=True, slots=True)
class SubmissionView:
    """One submission as either side's turn reads it (by the caller, under its lock)."""

    form: Form
    sub_id: int
    agency_name: str
    status: Status
    answers: Mapping[str, Answer]
    verdicts: Mapping[str, VerdictView]
    today: date
    reporting_year: int | None = None
    # Returned items the officials changed since: item → the answer before.
    changed: Mapping[str, Answer | None] = field(default_factory=dict)


V = TypeVar("V", bound=SubmissionView)
S = TypeVar("S")  # what a turn returns (flows/review.py ReviewStep, review_agency AgencyStep)


class TurnBase(Generic[V, S]):
    """One turn's working set: `view` (read-only), `state` (a copy, returned by the turn),
    `lang`, and the replies said so far. A side defines `dispatch` (what the message means)
    and `step` (what the turn returns)."""

    @classmethod
    def run(cls, view: V, state: dict[str, Any] | None, incoming: Incoming, lang: str) -> S:
        """One turn on `view` for `incoming`, in `lang`: the side's step."""
        turn = cls(view, state, lang)
        turn.dispatch(incoming)
        return turn.step()

    def dispatch(self, incoming: Incoming) -> None:
        raise NotImplementedError

    def step(self) -> S:
        raise NotImplementedError

    def __init__(self, view: V, state: dict[str, Any] | None, lang: str) -> None:
        self.view = view
        self.state: dict[str, Any] = dict(state or {})
        self.lang = lang
        self.replies: list[Reply] = []

    def t(self, msgid: str, **params: Any) -> str:
        return prompts.t(self.lang, msgid, **params)

    def say(self, msgid: str, kind: str = "info", **params: Any) -> None:
        self.replies.append(Reply(self.t(msgid, **params), kind=kind))

    def label(self, item: str) -> str:
        return prompts.label_of(self.view.form, item, self.lang)
