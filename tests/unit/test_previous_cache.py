"""PreviousAnswers (bot/service.py): last year's answers kept per agency and campaign, with
the rules that keep what is offered right (issue #8: no read of them on every update)."""

from __future__ import annotations

import pytest

from bot.service import PreviousAnswers
from flows.state import Answer

FORMS = ("binh-dinh-2019-so",)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_kept_answers_are_returned_read_only_until_the_ttl() -> None:
    clock = Clock()
    cache = PreviousAnswers(ttl=30, clock=clock)
    assert cache.get(1, 2, FORMS) is None
    source = {"3.1.a": Answer(40)}
    kept = cache.put(1, 2, FORMS, source)
    source["3.1.a"] = Answer(99)  # the caller's dict is not the one kept
    assert cache.get(1, 2, FORMS) == {"3.1.a": Answer(40)}
    with pytest.raises(TypeError):
        kept["3.1.a"] = Answer(1)  # type: ignore[index]
    clock.now += 29.9
    assert cache.get(1, 2, FORMS) == {"3.1.a": Answer(40)}
    clock.now += 0.2
    assert cache.get(1, 2, FORMS) is None
    assert len(cache) == 0


def test_keys_are_agency_campaign_and_forms() -> None:
    cache = PreviousAnswers()
    cache.put(1, 2, FORMS, {"a": Answer(1)})
    assert cache.get(1, 3, FORMS) is None
    assert cache.get(2, 2, FORMS) is None
    assert cache.get(1, 2, (*FORMS, "other-form")) is None
    assert cache.get(1, 2, FORMS) == {"a": Answer(1)}


def test_a_write_to_another_campaign_of_the_agency_drops_its_entries() -> None:
    cache = PreviousAnswers()
    cache.put(1, 2, FORMS, {"a": Answer(1)})  # campaign 2 reads campaign 1 as last year
    cache.put(1, 3, FORMS, {"a": Answer(2)})
    cache.put(9, 2, FORMS, {"a": Answer(3)})  # another agency
    cache.changed(1, 1)  # agency 1 edits its campaign-1 submission
    assert cache.get(1, 2, FORMS) is None
    assert cache.get(1, 3, FORMS) is None
    assert cache.get(9, 2, FORMS) == {"a": Answer(3)}


def test_a_write_to_the_same_campaign_keeps_its_entry() -> None:
    """Every answer writes this year's submission; this year's entry reads only earlier
    campaigns, so it stays (otherwise nothing would ever be saved)."""
    cache = PreviousAnswers()
    cache.put(1, 2, FORMS, {"a": Answer(1)})
    cache.changed(1, 2)
    assert cache.get(1, 2, FORMS) == {"a": Answer(1)}


def test_at_most_size_entries_least_recently_used_dropped() -> None:
    cache = PreviousAnswers(size=3)
    for agency in range(3):
        cache.put(agency, 1, FORMS, {})
    assert cache.get(0, 1, FORMS) == {}  # 0 used: 1 is now the least recent
    cache.put(3, 1, FORMS, {})
    assert len(cache) == 3
    assert cache.get(1, 1, FORMS) is None
    assert cache.get(0, 1, FORMS) == {} and cache.get(3, 1, FORMS) == {}
    for agency in range(10_000):
        cache.put(agency, 1, FORMS, {})
    assert len(cache) == 3
