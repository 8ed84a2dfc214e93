"""The export's fast paths give exactly what the plain functions give: a column plan
(`column_plan`) what `value_of` gives, the history rows (`HistoryRows`) what
`_history_values` gives — for every column of binh-dinh-2019-so, in both languages, with
ordinary and odd stored values, asked twice (the second time from memory)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from bench.desk_bench import FORM_ID, _value
from bot.desk.answers import HistoryRows, _history_values, column_plan, columns_of, value_of
from flows.loader import builtin_forms
from flows.state import Answer
from storage._desk import HistoryText
from storage.models import ExactJSON
from storage.records import AgencyRec

FORM = builtin_forms()[FORM_ID]
ODD: list[Any] = [
    "x",
    "=1+1",
    "",
    0,
    1,
    True,
    False,
    1.0,
    -0.0,
    Decimal("1.50"),
    Decimal("1.5"),
    [1, "a"],
    [True],
    {"a": 1},
    {"name": "A", "position": None},
    {"number": "1/QĐ", "date": "2019-01-02"},
    [{"x": 1}],
    float("nan"),
]
EVIDENCE: list[Any] = [None, "https://a.vn/x.pdf", "tệp", {"link": "http://b.vn"}, {"number": "2"}]


def _answers(q: Any) -> list[Answer | None]:
    rng = random.Random(q.id)
    out: list[Answer | None] = [None, Answer(None, "không có"), Answer(None, ""), Answer(None)]
    out += [Answer(_value(q, rng), None, rng.choice(EVIDENCE)) for _ in range(4)]
    out += [Answer(v, None, e) for v in ODD for e in EVIDENCE[:2]]
    return out


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_column_plans_give_what_value_of_gives(lang: str) -> None:
    for col in columns_of(FORM):
        plan = column_plan(col, lang)
        for a in _answers(col.question):
            want = value_of(col, a, lang)
            for _ in range(2):
                got = plan(a)
                assert repr(got) == repr(want), (col.question.id, col.evidence, a)


def test_a_full_memory_still_gives_the_right_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.desk.answers.MEMO_LIMIT", 1)
    col = next(c for c in columns_of(FORM) if not c.evidence)
    plan = column_plan(col, "vi")
    for a in _answers(col.question) * 2:
        assert repr(plan(a)) == repr(value_of(col, a, "vi"))


def _stored(a: Answer | None, dialect: Any) -> str | None:
    """The JSON text a history row holds for `a` (what `history_texts` reads back)."""
    if a is None:
        return None
    return json.dumps(ExactJSON(none_as_null=True).process_bind_param(a.to_json(), dialect))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_history_rows_give_what_history_values_gives(lang: str, dialect: Any) -> None:
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    agencies = {1: AgencyRec(1, "A", "Cơ quan A", "so", datetime(2026, 1, 1, tzinfo=UTC))}
    rows = HistoryRows(agencies, FORM, tz, lang)
    at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    n = 0
    for q in [*FORM.questions[:80], None]:
        item = q.id if q is not None else "không-có"
        answers = _answers(q) if q is not None else [None, Answer(3)]
        for old, new in zip(answers, reversed(answers), strict=True):
            n += 1
            old_text, new_text = _stored(old, dialect), _stored(new, dialect)
            when = at.replace(minute=n % 60)
            for h in (
                HistoryText(1, item, old_text, new_text, "Lan", "zalo", when),
                HistoryText(2, item, old_text, new_text, None, "telegram", when),
            ):
                want = _history_values(h, agencies, FORM, tz, lang)
                assert repr(rows.values(h)) == repr(want)
                assert repr(rows.values(h)) == repr(want)
