"""Answers a process read or wrote, kept while the submission's token says they are current.

Reading every answer of a submission at every update cost more CPU than any other statement
(about a sixth of an update with a dozen answers, and it grows with the form: issue #8).
`submissions.answers_rev` is a random token that apply_changes replaces in the same
statement that touches the row, so (submission id, token) names one exact set of answers. A
unit that read the token under its lock (Unit.standing) may use the answers kept for that
token instead of reading them; whatever another process or unit wrote since carries another
token and is read from the database. Entries are put only after their unit committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from flows.state import Answer

# Submissions kept per process. A whole form's answers take ~40–80 KB (200 frozen Answers,
# measured with tracemalloc; more with evidence), so the bound is what keeps memory flat in
# users (issue #8: ≤ 20 MB of growth): 128 entries ≤ ~10 MB. The officials answering in the
# same minutes are far fewer than that in a province; an entry dropped is only read again.
ANSWER_CACHE_SIZE = 128


class AnswerCache:
    """(submission id → token, answers), least recently used dropped past `size`."""

    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[int, dict[str, Answer]]] = OrderedDict()

    def get(self, submission_id: int, token: int | None) -> dict[str, Answer] | None:
        """A new dict of the answers kept under `token`, or None (none kept, or another)."""
        entry = self._entries.get(submission_id)
        if token is None or entry is None or entry[0] != token:
            return None
        self._entries.move_to_end(submission_id)
        return dict(entry[1])

    def put(self, submission_id: int, token: int | None, answers: Mapping[str, Answer]) -> None:
        """Keep `answers` as what the submission holds under `token` (a committed state)."""
        if token is None:
            return
        self._entries[submission_id] = (token, dict(answers))
        self._entries.move_to_end(submission_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
