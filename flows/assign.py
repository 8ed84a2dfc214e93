"""Who answers for an agency beyond its officials, pure: its reviewers and its head.

Reviewers (issue #10, TEAM.md contract): a campaign with no `reviewer_assignments` row means
every reviewer reviews every target agency; otherwise a reviewer reviews the agencies their
rows give — a row with an agency (that agency), with a cohort (that cohort's agencies) or
with neither (the whole campaign). Used by the review desk (who may review, who is told of a
submission) and by the reminder planner (who gets the overdue digest), so both agree.

The head (issue #11, "overdue notices can also go to the agency's head"): the desk keeps the
head's NAME on the agency (`agencies.head`); the head is reachable when a person of that
agency carries that name, or, failing that, a position marking the head of the agency
(Giám đốc, Chủ tịch, Thủ trưởng, Trưởng ban…, not a deputy "Phó …").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from flows.parsing import fold


class Assignment(Protocol):
    """What a reviewer_assignments row says (storage.records.ReviewerAssignmentRec)."""

    @property
    def user_id(self) -> int: ...
    @property
    def cohort(self) -> str | None: ...
    @property
    def agency_id(self) -> int | None: ...


def covers(row: Assignment, agency_id: int, cohort: str) -> bool:
    """Whether one assignment row gives its reviewer the agency (id, cohort)."""
    if row.agency_id is not None:
        return row.agency_id == agency_id
    return row.cohort is None or row.cohort == cohort


def reviews(rows: Sequence[Assignment], user_id: int, agency_id: int, cohort: str) -> bool:
    """Whether reviewer `user_id` reviews the agency, given ALL the campaign's rows."""
    if not rows:
        return True
    return any(r.user_id == user_id and covers(r, agency_id, cohort) for r in rows)


class _Person(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def position(self) -> str | None: ...


P = TypeVar("P", bound=_Person)

# Folded beginnings of a position held by the head of an agency (Sở, UBND huyện/xã, ban).
HEAD_POSITIONS: tuple[str, ...] = (
    "thu truong",
    "giam doc",
    "chu tich",
    "truong ban",
    "chanh van phong",
    "head",
    "director",
    "chairman",
    "chairperson",
)


def _folded(text: str | None) -> str:
    return " ".join(fold(text or "").split())


def _name(text: str | None) -> str:
    """A name compared as written (accents kept: "Hà" is not "Hạ"), case and spacing aside."""
    return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())


def is_head_position(position: str | None) -> bool:
    """ "Giám đốc", "Chủ tịch UBND xã" → True; "Phó Giám đốc", "Chuyên viên" → False."""
    folded = _folded(position)
    return bool(folded) and folded.startswith(HEAD_POSITIONS)


def head_of(head_name: str | None, people: Iterable[P]) -> P | None:
    """The agency's head among `people` (its members): the one named `head_name` (case,
    Unicode composition and spacing aside; accents count), else the first whose position
    marks the head; None when neither is there (the overdue copy to the head is then skipped)."""
    people = list(people)
    wanted = _name(head_name)
    if wanted:
        for person in people:
            if _name(person.name) == wanted:
                return person
    for person in people:
        if is_head_position(person.position):
            return person
    return None
