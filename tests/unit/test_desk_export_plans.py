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
from bot.desk.answers import (
    HistoryRows,
    Memo,
    _history_values,
    column_plan,
    columns_of,
    value_of,
)
from flows.loader import builtin_forms
from flows.state import Answer
from storage._desk import HistoryText, Stored
from storage.models import ExactJSON
from storage.records import AgencyRec

FORM = builtin_forms()[FORM_ID]
AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
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


def _json(value: Any, dialect: Any) -> str | None:
    """The JSON text a column holds for `value` (ExactJSON's tagging on that database)."""
    if value is None:
        return None
    return json.dumps(ExactJSON(none_as_null=True).process_bind_param(value, dialect))


def _stored(a: Answer | None, dialect: Any) -> str | None:
    """The JSON text a history row holds for `a` (what `history_texts` reads back)."""
    return _json(a.to_json(), dialect) if a is not None else None


def _row(a: Answer | None, dialect: Any) -> Stored | None:
    """What `answer_texts` reads back for `a`: (value text, reason, evidence text)."""
    if a is None:
        return None
    return (_json(a.value, dialect), a.na_reason, _json(a.evidence, dialect))


DIALECTS = [sqlite.dialect(), postgresql.dialect()]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_column_plans_give_what_value_of_gives(lang: str, dialect: Any) -> None:
    memo = Memo()
    for col in columns_of(FORM):
        plan = column_plan(col, lang, memo)
        for a in _answers(col.question):
            want = value_of(col, a, lang)
            for _ in range(2):
                got = plan(_row(a, dialect))
                assert repr(got) == repr(want), (col.question.id, col.evidence, a)


@pytest.mark.parametrize("limit", [0, 1, 5])
def test_a_full_memory_still_gives_the_right_values(limit: int) -> None:
    memo = Memo(limit)
    cols = [c for c in columns_of(FORM) if not c.evidence][:3]
    plans = [column_plan(col, "vi", memo) for col in cols]
    rows = HistoryRows({}, FORM, ZoneInfo("Asia/Ho_Chi_Minh"), "vi", memo)
    for col, plan in zip(cols, plans, strict=True):
        for a in _answers(col.question) * 2:
            assert repr(plan(_row(a, DIALECTS[0]))) == repr(value_of(col, a, "vi"))
            h = HistoryText(1, col.question.id, None, _stored(a, DIALECTS[0]), None, "zalo", AT)
            assert repr(rows.values(h)) == repr(_history_values(h, {}, FORM, rows.tz, "vi"))
    assert memo.left == 0


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_history_rows_give_what_history_values_gives(lang: str, dialect: Any) -> None:
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    agencies = {1: AgencyRec(1, "A", "Cơ quan A", "so", datetime(2026, 1, 1, tzinfo=UTC))}
    rows = HistoryRows(agencies, FORM, tz, lang, Memo())
    at = AT
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
