"""What is shown is what is stored: answers come back from both databases exactly as saved.

SQLite gives a JSON column NUMERIC affinity, so a bare 99999999999999999999999999 used to come
back as 1.0e+26 and some decimals as a neighbouring float (issue #7, "Plausible and exact").
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.loader import get_form
from flows.parsing import Ok, format_answer, parse_answer
from flows.state import Answer
from storage import Storage
from tests.integration.test_storage_contract import NOW, seed

EXACT_VALUES: dict[str, Any] = {
    "big": 99999999999999999999999999,
    "int64+1": 9223372036854775808,
    "int64": 9223372036854775807,
    "below-int64": -9223372036854775809,
    "tenth": 0.1,
    "sum": 0.1 + 0.2,
    "whole-float": 2.0,
    "mbps": 1234.5,
    "fifteen": 12345678901234.5,
    "decimal": Decimal("1.50"),
    "long-decimal": Decimal("12345678901234567890.123"),
    "digits-text": "99999999999999999999999999",
    "rows": [{"so_luong": 10**30, "ty_le": Decimal("0.125"), "ten": "Tường lửa"}],
    "yes": True,
    "zero": 0,
}


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and repr(a) == repr(b)


async def test_answers_round_trip_exactly(storage: Storage) -> None:
    _, user, _, sub = await seed(storage)
    changes = {item: Answer(value, evidence=value) for item, value in EXACT_VALUES.items()}
    async with storage.unit() as u:
        await u.apply_changes(sub.id, changes, user.id, "console", NOW)
    async with storage.unit() as u:
        loaded = await u.load_answers(sub.id)
        history = await u.answer_history(sub.id)
    for item, value in EXACT_VALUES.items():
        assert same(loaded[item].value, value), (item, loaded[item].value)
        assert same(loaded[item].evidence, value), (item, loaded[item].evidence)
    for h in history:
        assert h.new is not None and same(h.new.value, EXACT_VALUES[h.item_id])
    # Saving the same values again changes nothing: they read back equal.
    async with storage.unit() as u:
        assert await u.apply_changes(sub.id, changes, user.id, "console", NOW) == 0


@pytest.mark.parametrize(
    ("item", "typed"),
    [("3.1.a", "1.234"), ("3.2.b.1", "1.234,5"), ("3.2.b.1", "0,1"), ("3.4", "3 máy chủ")],
)
async def test_shown_is_stored(storage: Storage, item: str, typed: str) -> None:
    """The acknowledgement's text, computed from the parsed value, is the stored value's."""
    form = get_form("binh-dinh-2019-so")
    question = form.question(item)
    assert question is not None
    parsed = parse_answer(question, typed, date(2019, 11, 1))
    assert isinstance(parsed, Ok)
    _, user, _, sub = await seed(storage)
    async with storage.unit() as u:
        await u.apply_changes(sub.id, {item: Answer(parsed.value)}, user.id, "console", NOW)
    async with storage.unit() as u:
        stored = (await u.load_answers(sub.id))[item].value
    assert same(stored, parsed.value)
    assert format_answer(question, stored, "vi") == format_answer(question, parsed.value, "vi")


numbers = (
    st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**20)
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=numbers)
async def test_any_number_round_trips(storage: Storage, value: Any) -> None:
    _, user, _, sub = await _seed_once(storage)
    item = f"n{next(_ITEMS)}"  # a new item each time: 0 and 0.0 are one answer to storage
    async with storage.unit() as u:
        await u.apply_changes(sub.id, {item: Answer(value)}, user.id, "console", NOW)
    async with storage.unit() as u:
        stored = (await u.load_answers(sub.id))[item].value
    assert same(stored, value), (value, stored)


_SEEDED: dict[int, Any] = {}
_ITEMS = itertools.count()


async def _seed_once(storage: Storage) -> Any:
    if id(storage) not in _SEEDED:
        _SEEDED[id(storage)] = await seed(storage)
    return _SEEDED[id(storage)]


async def test_through_the_service_the_reporting_year_and_exact_values(storage: Storage) -> None:
    """bot/service.py gives the engine the campaign's reporting year (the year of its
    deadline, 26/11/2026 → 2026): a document dated 2029 is questioned; an acknowledged number
    is the stored number."""
    from tests.integration.test_service import make_world

    world = await make_world(storage)
    lan = world.chat("telegram", "111")
    await lan.send("/sua 3.2.b.1")
    assert "✅ Đã lưu 3.2.b.1: 1,2345 Mbps" in await lan.send("1,2345")
    assert "lớn hơn mức có thể có" in await lan.send("/sua 3.1.a") + await lan.send(
        "99999999999999999999999999"
    )
    await lan.send("/sua 8.1")
    await lan.send("có")
    out = await lan.send("12/KH-UBND; 01/4/2029; https://sotttt.binhdinh.gov.vn/kh")
    assert "sau năm báo cáo 2026" in out
    answers = await world.answers()
    assert answers["3.2.b.1"] == 1.2345 and "3.1.a" not in answers
    await lan.send("đúng")
    sub = await world.submission()
    async with storage.unit() as u:
        saved = (await u.load_answers(sub.id))["8.1"]
    assert saved.value is True and saved.evidence["date"] == "2029-04-01"
