"""Which items are visible, done, next, failing — pure functions of the form and its answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flows import expr
from flows.model import Check, Evidence, Form, ItemType, Question, Section
from flows.state import Answer

Answers = Mapping[str, Answer]


def values_of(form: Form, answers: Answers) -> dict[str, Any]:
    """Values for expressions: typed answers, and computed items evaluated from them (a new
    dict: the caller's own).

    One answer asks for them five or six times over the same answers (next item, section
    progress, prompt…); the last result is remembered by (form, answers' items), compared
    by identity first, so a repeat costs a tuple instead of every formula (issue #8)."""
    global _last_values
    key = tuple(answers.items())
    last_form, last_key, last_values = _last_values
    if last_form is form and last_key == key:
        return dict(last_values)
    values = _values_of(form, answers)
    _last_values = (form, key, values)
    return dict(values)


# (form, answers' items, values) of the last values_of: one tuple, replaced whole.
_last_values: tuple[Form | None, tuple[tuple[str, Answer], ...], dict[str, Any]] = (None, (), {})


def _values_of(form: Form, answers: Answers) -> dict[str, Any]:
    values: dict[str, Any] = {
        item: a.value for item, a in answers.items() if not a.is_na and a.value is not None
    }
    for q in form.computed:
        result = expr.evaluate(q.formula or "", values)
        values[q.id] = round(result, 4) if isinstance(result, float) else result
    return values


def is_visible(q: Question, values: Mapping[str, Any]) -> bool:
    return not q.when or expr.evaluate(q.when, values) is True


def is_done(q: Question, answers: Answers) -> bool:
    a = answers.get(q.id)
    return a is not None and (a.is_na or a.value is not None)


def is_open(q: Question, answers: Answers, values: Mapping[str, Any]) -> bool:
    """Still to be asked: unanswered, or a computed value not yet confirmed at its current value.

    A computed item whose inputs are missing cannot be shown yet, so it is not open.
    """
    if q.type is ItemType.COMPUTED:
        live = values.get(q.id)
        stored = answers.get(q.id)
        return live is not None and (stored is None or stored.value != live)
    return not is_done(q, answers)


def _is_complete(q: Question, answers: Answers, values: Mapping[str, Any]) -> bool:
    if q.type is ItemType.COMPUTED:
        return values.get(q.id) is not None and not is_open(q, answers, values)
    return is_done(q, answers)


def visible_questions(
    form: Form, values: Mapping[str, Any], section: str | None = None
) -> list[Question]:
    return [
        q
        for q in form.questions
        if (section is None or q.section == section) and is_visible(q, values)
    ]


def next_item(
    form: Form, answers: Answers, after: str | None, skipped: Sequence[str] = ()
) -> str | None:
    """The first visible, unanswered item after `after`, wrapping around; skipped ones last.

    Walks from `after` and stops at the first such item not skipped, rather than sorting
    every open item of the form (it ran at every answer: issue #8)."""
    values = values_of(form, answers)
    questions = form.questions
    ids = [q.id for q in questions]
    start = ids.index(after) + 1 if after in ids else 0
    n = len(questions)
    first_skipped = None
    for k in range(n):
        q = questions[(start + k) % n]
        if not is_open(q, answers, values) or not is_visible(q, values):
            continue
        if q.id not in skipped:
            return q.id
        if first_skipped is None:
            first_skipped = q.id
    return first_skipped


def first_open_in_section(form: Form, answers: Answers, section: str) -> str | None:
    values = values_of(form, answers)
    qs = visible_questions(form, values, section)
    open_ = [q for q in qs if is_open(q, answers, values)]
    if open_:
        return open_[0].id
    return qs[0].id if qs else None


@dataclass(frozen=True, slots=True)
class SectionProgress:
    id: str
    done: int
    total: int
    missing_required: int = 0

    @property
    def complete(self) -> bool:
        """Nothing more is needed: optional items may stay blank."""
        return self.missing_required == 0


def may_be_asked(q: Question, values: Mapping[str, Any]) -> bool:
    """Visible now, or hidden only by a question not answered yet ("Nếu có" follow-ups).

    Counting these keeps a section's total from growing under the official's feet: a "Có"
    never adds questions to "câu n/total"; a "Không" removes the ones it rules out.
    """
    return is_visible(q, values) or not expr.ruled_out(q.when or "false", values)


def section_progress(
    form: Form, answers: Answers, section: Section, values: Mapping[str, Any] | None = None
) -> SectionProgress:
    """Done / total of a section; the total counts every question that may still be asked."""
    values = values_of(form, answers) if values is None else values
    qs = [q for q in section.questions if is_visible(q, values)]
    complete = [_is_complete(q, answers, values) for q in qs]
    missing = sum(
        1
        for q, ok in zip(qs, complete, strict=True)
        if not ok and (is_open(q, answers, values) if q.type is ItemType.COMPUTED else q.required)
    )
    total = sum(1 for q in section.questions if may_be_asked(q, values))
    return SectionProgress(section.id, sum(complete), total, missing)


def progress(form: Form, answers: Answers) -> list[SectionProgress]:
    values = values_of(form, answers)
    return [section_progress(form, answers, s, values) for s in form.sections]


def position_in_section(form: Form, answers: Answers, item: str) -> tuple[int, int]:
    """("câu 4/15"): the item's place among the items of its section that may be asked, the
    same total as the menu's (section_progress)."""
    q = form.question(item)
    if q is None:
        return (0, 0)
    values = values_of(form, answers)
    ids = [x.id for x in form.questions if x.section == q.section and may_be_asked(x, values)]
    return (ids.index(item) + 1 if item in ids else 0, len(ids))


@dataclass(frozen=True, slots=True)
class FailedCheck:
    check: Check
    values: dict[str, Any]


def failed_checks(
    form: Form, values: Mapping[str, Any], item: str | None = None
) -> list[FailedCheck]:
    """Checks that read only answered items and do not hold (optionally only `item`'s)."""
    checks = form.checks_for(item) if item else list(form.checks)
    out = []
    for check in checks:
        if expr.evaluate(check.rule, values) is False:
            out.append(FailedCheck(check, {i: values.get(i) for i in check.items}))
    return out


def is_positive(q: Question, value: Any) -> bool:
    """Whether an answer claims something that evidence should back."""
    if value is None or value is False or value in ("", "chua_co", [], {}):
        return False
    return not (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)


def needs_evidence(q: Question, answer: Answer | None) -> bool:
    return (
        q.evidence is not Evidence.NONE
        and answer is not None
        and not answer.is_na
        and is_positive(q, answer.value)
    )


@dataclass(frozen=True, slots=True)
class Summary:
    answered: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
    failed: list[FailedCheck] = field(default_factory=list)
    missing_evidence: list[str] = field(default_factory=list)
    total: int = 0

    @property
    def ready(self) -> bool:
        return not self.missing_required and not self.failed


def summarise(form: Form, answers: Answers, skipped: Sequence[str] = ()) -> Summary:
    values = values_of(form, answers)
    s = Summary(total=0)
    qs = [q for q in visible_questions(form, values) if q.answerable]
    for q in qs:
        a = answers.get(q.id)
        if a is not None and a.is_na:
            s.not_applicable.append(q.id)
        elif is_done(q, answers):
            s.answered.append(q.id)
            if needs_evidence(q, a) and not (a and a.evidence):
                s.missing_evidence.append(q.id)
        else:
            if q.id in skipped:
                s.skipped.append(q.id)
            if q.required:
                s.missing_required.append(q.id)
    s.failed.extend(failed_checks(form, values))
    return Summary(
        answered=s.answered,
        not_applicable=s.not_applicable,
        skipped=s.skipped,
        missing_required=s.missing_required,
        failed=s.failed,
        missing_evidence=s.missing_evidence,
        total=len(qs),
    )
