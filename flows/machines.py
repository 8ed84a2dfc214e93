"""The two state machines, configured as data at module level (transitions).

The conversation machine says where a chat is; which *question* comes next is decided from
the form (order, `when`), not by one state per question. The submission machine is the
lifecycle a reviewer and an official move a submission through; storage persists its state in
a column and changes it with a compare-and-set.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from transitions import Machine, MachineError


class Mode(StrEnum):
    MENU = "menu"
    ANSWERING = "answering"
    CONFIRMING_VALUE = "confirming_value"
    AWAITING_NA_REASON = "awaiting_na_reason"
    AWAITING_EVIDENCE = "awaiting_evidence"
    LIST_MORE = "list_more"
    REVIEWING = "reviewing"
    CONFIRMING_SUBMIT = "confirming_submit"
    SUBMITTED = "submitted"


_ANY = list(Mode)
_EDITING = [
    Mode.MENU,
    Mode.ANSWERING,
    Mode.CONFIRMING_VALUE,
    Mode.AWAITING_NA_REASON,
    Mode.AWAITING_EVIDENCE,
    Mode.LIST_MORE,
    Mode.REVIEWING,
    Mode.CONFIRMING_SUBMIT,
]

CONVERSATION_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "open_menu", "source": _ANY, "dest": Mode.MENU},
    {"trigger": "ask", "source": _EDITING, "dest": Mode.ANSWERING},
    {"trigger": "ask", "source": Mode.SUBMITTED, "dest": Mode.ANSWERING, "conditions": "editable"},
    {"trigger": "need_confirmation", "source": Mode.ANSWERING, "dest": Mode.CONFIRMING_VALUE},
    {"trigger": "need_reason", "source": Mode.ANSWERING, "dest": Mode.AWAITING_NA_REASON},
    {
        "trigger": "need_evidence",
        "source": [Mode.ANSWERING, Mode.CONFIRMING_VALUE, Mode.AWAITING_EVIDENCE],
        "dest": Mode.AWAITING_EVIDENCE,
    },
    {
        "trigger": "ask_more_rows",
        "source": [Mode.ANSWERING, Mode.LIST_MORE],
        "dest": Mode.LIST_MORE,
    },
    {"trigger": "review", "source": _ANY, "dest": Mode.REVIEWING},
    {
        "trigger": "confirm_submit",
        # from CONFIRMING_SUBMIT: asked again (an unclear reply, a stale button)
        "source": [Mode.REVIEWING, Mode.MENU, Mode.ANSWERING, Mode.CONFIRMING_SUBMIT],
        "dest": Mode.CONFIRMING_SUBMIT,
    },
    {"trigger": "submitted", "source": Mode.CONFIRMING_SUBMIT, "dest": Mode.SUBMITTED},
    {"trigger": "lock", "source": _ANY, "dest": Mode.SUBMITTED},
]


def _plain(transitions: list[dict[str, object]]) -> list[dict[str, object]]:
    """transitions treats Enum members as enum states; the machines use their string values."""

    def value(v: object) -> object:
        if isinstance(v, list):
            return [str(x) for x in v]
        return str(v) if isinstance(v, StrEnum) else v

    return [{k: value(v) for k, v in t.items()} for t in transitions]


class _ModeHolder:
    """The model object transitions drives for one call; nothing survives the call."""

    def __init__(self, editable: bool) -> None:
        self._editable = editable
        self.state: str = Mode.MENU

    def editable(self) -> bool:
        return self._editable


_CONVERSATION = Machine(
    model=None,
    states=[str(m) for m in _ANY],
    transitions=_plain(CONVERSATION_TRANSITIONS),
    initial=Mode.MENU.value,
    auto_transitions=False,
)


def move(mode: Mode | str, trigger: str, *, editable: bool = True) -> Mode:
    """The mode after `trigger`; raises MachineError when the move is not allowed."""
    moved = _move(str(mode), trigger, editable)
    if moved is None:
        raise MachineError(f"{trigger} not allowed from {mode}")
    return moved


@lru_cache(maxsize=512)
def _move(mode: str, trigger: str, editable: bool) -> Mode | None:
    """The machine's answer for (mode, trigger, editable), None when a condition refuses.

    A pure function of its arguments (the model has no callbacks), remembered: attaching
    a model to transitions' Machine and removing it cost a tenth of the engine's time per
    answer (issue #8). A trigger the mode does not know raises MachineError (not cached)."""
    holder = _ModeHolder(editable)
    _CONVERSATION.add_model(holder, initial=mode)
    try:
        if not getattr(holder, trigger)():
            return None
        return Mode(holder.state)
    finally:
        _CONVERSATION.remove_model(holder)


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    RESUBMITTED = "resubmitted"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"


EDITABLE_STATUSES = frozenset({Status.DRAFT, Status.RETURNED})

SUBMISSION_TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "submit", "source": Status.DRAFT, "dest": Status.SUBMITTED},
    {"trigger": "submit", "source": Status.RETURNED, "dest": Status.RESUBMITTED},
    {
        "trigger": "start_review",
        "source": [Status.SUBMITTED, Status.RESUBMITTED],
        "dest": Status.IN_REVIEW,
    },
    {"trigger": "return_to_agency", "source": Status.IN_REVIEW, "dest": Status.RETURNED},
    {"trigger": "accept", "source": Status.IN_REVIEW, "dest": Status.ACCEPTED},
    {"trigger": "confirm", "source": Status.ACCEPTED, "dest": Status.CONFIRMED},
    # The agency disputes a correction after acceptance (issue #10): back to the reviewer.
    {"trigger": "dispute", "source": Status.ACCEPTED, "dest": Status.IN_REVIEW},
]

_SUBMISSION = Machine(
    model=None,
    states=[s.value for s in Status],
    transitions=_plain(SUBMISSION_TRANSITIONS),
    initial=Status.DRAFT.value,
    auto_transitions=False,
)


class _StatusHolder:
    def __init__(self) -> None:
        self.state: str = Status.DRAFT


def next_status(current: Status | str, trigger: str) -> Status | None:
    """Where `trigger` takes a submission in `current`, or None if it may not move."""
    holder = _StatusHolder()
    _SUBMISSION.add_model(holder, initial=str(current))
    try:
        try:
            getattr(holder, trigger)()
        except (MachineError, AttributeError):
            return None
        return Status(holder.state)
    finally:
        _SUBMISSION.remove_model(holder)
