"""Values typed during review (issue #10), pure, for both sides: a reviewer's correction
("✏️ Sửa", flows/review.py) and an official's fix of a returned item (flows/review_agency.py).

Both read a whole item's value with the item's own parser. An open list (type `list`) is
a whole list there, not one more row as in the questionnaire: one row per line ("Tên; 12"),
or "không có" for none, so the stored value keeps the list's shape (a list of rows).
"""

from __future__ import annotations

from datetime import date

from flows import prompts
from flows.i18n import N_
from flows.model import ItemType, Question
from flows.parsing import (
    NO_ROWS,
    Confirm,
    Ok,
    Problem,
    Result,
    example_for,
    format_answer,
    parse_answer,
)
from flows.state import Answer, Reply


def read_value(q: Question, text: str, today: date, *, reporting_year: int | None = None) -> Result:
    """`text` read as the whole value of `q` (see the module doc). A list's rows are read
    one by one by the list's row parser; the first row refused refuses all (its Problem),
    and a row to confirm makes the whole list a Confirm with that row's message."""
    if q.type is not ItemType.LIST:
        return parse_answer(q, text, today, reporting_year=reporting_year)
    lines = [line for line in text.splitlines() if line.strip()] or [text]
    rows = []
    confirm: Confirm | None = None
    for line in lines:
        result = parse_answer(q, line, today, reporting_year=reporting_year)
        if isinstance(result, Problem):
            return result
        if result.value == NO_ROWS:
            if len(lines) == 1:
                return Ok([])
            continue
        if isinstance(result, Confirm) and confirm is None:
            confirm = result
        rows.append(result.value)
    if confirm is not None:
        return Confirm(rows, confirm.msgid, confirm.params)
    return Ok(rows)


def value_example(q: Question, lang: str) -> str:
    """What to show after "Ví dụ:" when asking for a whole value of `q` (a list: two rows)."""
    example = prompts.example_in(lang, example_for(q))
    return f"{example}\n{example}" if q.type is ItemType.LIST else example


def problem_reply(lang: str, problem: Problem) -> Reply:
    """A refused value: what was wrong, then "Ví dụ: …" (an error reply)."""
    example = prompts.t(
        lang, N_("Ví dụ: {example}"), example=prompts.example_in(lang, problem.example)
    )
    return Reply(f"{prompts.t(lang, problem.msgid, **problem.params)}\n{example}", kind="error")


def shown(q: Question | None, answer: Answer | None, lang: str) -> str:
    """An answer as review shows it: "—" when none, "không áp dụng (reason)", or the value."""
    if answer is None:
        return "—"
    if answer.is_na:
        return prompts.t(lang, N_("không áp dụng ({reason})"), reason=answer.na_reason)
    return format_answer(q, answer.value, lang) if q else str(answer.value)
