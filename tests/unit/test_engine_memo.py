"""What the engine remembers between calls is pure: the same inputs, the same answer.

values_of (by form and answers), the conversation machine's moves (by mode, trigger,
editable) and ConversationState.copy (a deep copy without the JSON round trip), issue #8.
"""

from __future__ import annotations

import pytest
from transitions import MachineError

from flows.loader import builtin_forms
from flows.machines import Mode, move
from flows.navigation import values_of
from flows.state import Answer, ConversationState

SO = builtin_forms()["binh-dinh-2019-so"]
HUYEN = builtin_forms()["binh-dinh-2019-huyen"]


def _inputs(a: int, b: int) -> dict[str, Answer]:
    return {"3.2.b.1": Answer(a), "3.2.b.2": Answer(b), "3.2.b.3": Answer(1), "3.2.b.4": Answer(0)}


def test_values_follow_a_change_in_place_of_the_answers() -> None:
    answers = _inputs(1, 1)
    assert values_of(SO, answers)["3.2.b"] == 11
    answers["3.2.b.1"] = Answer(2)  # the engine changes its dict in place
    assert values_of(SO, answers)["3.2.b"] == 16
    del answers["3.2.b.2"]
    assert values_of(SO, answers)["3.2.b"] == 11
    answers["3.2.b.2"] = Answer(None, na_reason="không có")
    assert "3.2.b.2" not in values_of(SO, answers)


def test_values_are_the_callers_own() -> None:
    answers = _inputs(1, 1)
    mine = values_of(SO, answers)
    mine["3.2.b"] = 999
    mine["x"] = 1
    again = values_of(SO, answers)
    assert again["3.2.b"] == 11 and "x" not in again


def test_values_of_another_form_or_equal_answers_are_its_own() -> None:
    answers = {**_inputs(1, 1), "1.8": Answer(2), "1.9": Answer(2), "1.10": Answer(6)}
    assert values_of(SO, answers)["3.2.c"] == pytest.approx(11 / 4)
    assert values_of(HUYEN, answers)["3.2.c"] == pytest.approx(11 / 8)  # [1.9] + [1.10]
    copy = {k: Answer(a.value, a.na_reason, a.evidence) for k, a in answers.items()}
    assert values_of(SO, copy) == values_of(SO, answers)  # equal, not identical, answers


def test_a_refused_move_is_refused_every_time() -> None:
    assert move(Mode.SUBMITTED, "ask", editable=True) is Mode.ANSWERING
    for _ in range(2):
        with pytest.raises(MachineError):
            move(Mode.SUBMITTED, "ask", editable=False)
    assert move(Mode.SUBMITTED, "ask", editable=True) is Mode.ANSWERING
    assert move("menu", "ask") is Mode.ANSWERING  # the mode's string works alike


def test_an_unknown_trigger_raises_every_time() -> None:
    for _ in range(2):
        with pytest.raises((MachineError, AttributeError)):
            move(Mode.MENU, "no_such_trigger")


def test_copy_is_deep_and_equal_to_the_json_round_trip() -> None:
    state = ConversationState(
        mode=Mode.ANSWERING,
        item="1.1",
        lang="en",
        skipped=["1.2"],
        trail=["1.0"],
        pending={"rows": [{"a": 1}]},
        last_answer={"message_id": "5", "item": "1.1", "kind": "value"},
        album={"group": "g", "item": None},
        split={"at": "2026-11-30T00:00:00", "noted": True},
        back_to="1.3",
        campaign=4,
        review={"sub": 1, "choices": [["a", "b"]]},
    )
    copy = state.copy()
    assert copy == state == ConversationState.from_json(state.to_json())
    copy.pending["rows"][0]["a"] = 2  # type: ignore[index]
    copy.skipped.append("x")
    copy.review["choices"].append(["c", "d"])  # type: ignore[index]
    assert state.pending == {"rows": [{"a": 1}]}
    assert state.skipped == ["1.2"] and state.review == {"sub": 1, "choices": [["a", "b"]]}


def _next_item_by_sorting(
    form: object, answers: dict[str, Answer], after: str | None, skipped: list[str]
) -> str | None:
    """next_item as it was written before the walk: every open item, sorted from `after`."""
    from flows.navigation import is_open, visible_questions

    values = values_of(form, answers)  # type: ignore[arg-type]
    order = [q for q in visible_questions(form, values) if is_open(q, answers, values)]  # type: ignore[arg-type]
    if not order:
        return None
    ids = [q.id for q in form.questions]  # type: ignore[attr-defined]
    start = ids.index(after) + 1 if after in ids else 0
    position = {qid: i for i, qid in enumerate(ids)}
    rotated = sorted(order, key=lambda q: (position[q.id] < start, position[q.id]))
    fresh = [q for q in rotated if q.id not in skipped]
    return (fresh or rotated)[0].id


@pytest.mark.parametrize("form", [SO, HUYEN], ids=lambda f: f.id)
def test_next_item_walk_is_the_sorted_order(form: object) -> None:
    """Random answers, places and skips (empty, partial, nearly full, all skipped): the walk
    from `after` gives what sorting every open item gave."""
    import random

    from flows.navigation import next_item

    rng = random.Random(8)
    ids = [q.id for q in form.questions]  # type: ignore[attr-defined]
    for share in (0.0, 0.3, 0.7, 0.97, 1.0):
        for _ in range(40):
            answers = {
                i: Answer(rng.choice([1, 0, "Có", "Không"])) for i in ids if rng.random() < share
            }
            after = rng.choice([None, "no-such-item", *ids])
            skipped = rng.sample(ids, k=min(len(ids), rng.choice([0, 3, 30, len(ids)])))
            expected = _next_item_by_sorting(form, answers, after, skipped)
            assert next_item(form, answers, after, skipped) == expected  # type: ignore[arg-type]


def test_numbers_are_formatted_as_before_when_remembered() -> None:
    """format_number keyed by language, type and (for a Decimal) its text: what the
    uncached function gave (the same outputs as before, sNaN still refused)."""
    from decimal import Decimal, InvalidOperation

    from flows.i18n import format_number

    for _ in range(2):  # the second round is served from memory
        assert format_number("vi", 1234.5) == "1.234,5"
        assert format_number("en", 1234.5) == "1,234.5"
        assert format_number("vi", 2.0) == format_number("vi", 2) == "2"
        assert format_number("vi", Decimal("1.50")) == format_number("vi", Decimal("1.5"))
        assert format_number("vi", Decimal("1.5")) == "1,5"
        assert format_number("en-US", Decimal("1.2345")) == "1.2345"
        assert format_number("vi", Decimal("12345")) == "12.345"
        assert format_number("vi", 1 / 3) == "0,333"
        with pytest.raises(InvalidOperation):  # as before: babel refuses a signalling NaN
            format_number("vi", Decimal("sNaN"))
