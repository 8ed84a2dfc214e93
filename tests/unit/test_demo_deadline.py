"""The demo campaign's deadline: the next 26/11 ahead (the reporting year's deadline)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.console import demo_deadline


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2026, 11, 30), date(2027, 11, 26)),  # the issue's example: 2026's date is past
        (date(2026, 11, 26), date(2026, 11, 26)),  # the deadline day itself still counts
        (date(2026, 11, 27), date(2027, 11, 26)),
        (date(2026, 1, 1), date(2026, 11, 26)),
        (date(2026, 12, 31), date(2027, 11, 26)),
        (date(2027, 2, 28), date(2027, 11, 26)),
        (date(2028, 2, 29), date(2028, 11, 26)),
    ],
)
def test_the_demo_is_due_the_next_26_november(today: date, due: date) -> None:
    assert demo_deadline(today) == due


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(9998, 12, 31)))
def test_the_deadline_is_the_first_26_november_not_in_the_past(today: date) -> None:
    due = demo_deadline(today)
    assert (due.day, due.month) == (26, 11)
    assert today <= due < today + timedelta(days=366)
    assert due.year in (today.year, today.year + 1)
