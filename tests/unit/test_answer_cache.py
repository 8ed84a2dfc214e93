"""AnswerCache: an entry answers only for its own token; the least recently used goes."""

from __future__ import annotations

from flows.state import Answer
from storage.answer_cache import AnswerCache


def test_only_the_same_token_answers() -> None:
    cache = AnswerCache()
    cache.put(1, 42, {"1.1": Answer(2026)})
    assert cache.get(1, 42) == {"1.1": Answer(2026)}
    assert cache.get(1, 43) is None  # another write since
    assert cache.get(1, None) is None  # a token not read
    assert cache.get(2, 42) is None  # another submission


def test_no_token_is_never_kept() -> None:
    cache = AnswerCache()
    cache.put(1, None, {"1.1": Answer(2026)})
    assert len(cache) == 0 and cache.get(1, None) is None


def test_dicts_in_and_out_are_copies() -> None:
    cache = AnswerCache()
    given = {"1.1": Answer(2026)}
    cache.put(1, 7, given)
    given["1.2"] = Answer(1)
    got = cache.get(1, 7)
    assert got == {"1.1": Answer(2026)}
    got["1.3"] = Answer(3)  # type: ignore[index]
    assert cache.get(1, 7) == {"1.1": Answer(2026)}


def test_the_least_recently_used_goes_first() -> None:
    cache = AnswerCache(size=2)
    cache.put(1, 1, {})
    cache.put(2, 2, {})
    assert cache.get(1, 1) == {}  # 1 used: 2 is now the oldest
    cache.put(3, 3, {})
    assert len(cache) == 2
    assert cache.get(2, 2) is None
    assert cache.get(1, 1) == {} and cache.get(3, 3) == {}
