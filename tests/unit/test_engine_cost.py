"""The engine's per-update shortcuts (issue #8) give what the slow ways gave."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from flows.loader import builtin_forms
from flows.model import ItemType
from flows.state import ConversationState, Mode

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        | st.tuples(inner, inner)
    ),
    max_leaves=12,
)


@given(
    mode=st.sampled_from(list(Mode)),
    item=st.none() | st.text(max_size=6),
    skipped=st.lists(st.text(max_size=4), max_size=3),
    pending=st.none() | st.dictionaries(st.text(max_size=4), json_like, max_size=3),
    last_answer=st.none() | st.dictionaries(st.text(max_size=4), json_like, max_size=3),
)
def test_state_to_json_is_asdict(
    mode: Mode, item: str | None, skipped: list[str], pending: Any, last_answer: Any
) -> None:
    state = ConversationState(
        mode=mode, item=item, skipped=skipped, pending=pending, last_answer=last_answer
    )
    expected = asdict(state)
    expected["mode"] = str(mode)
    got = state.to_json()
    assert got == expected
    assert repr(got) == repr(expected)  # tuples stay tuples, lists lists


def test_state_to_json_is_a_deep_copy() -> None:
    state = ConversationState(trail=["1.1"], pending={"rows": [[1, 2]], "at": {"x": 1}})
    data = state.to_json()
    data["trail"].append("9")
    data["pending"]["rows"][0].append(3)
    data["pending"]["at"]["x"] = 2
    assert state.trail == ["1.1"]
    assert state.pending == {"rows": [[1, 2]], "at": {"x": 1}}
    copy = state.copy()
    copy.pending["rows"].append([5])  # type: ignore[index]
    assert state.pending == {"rows": [[1, 2]], "at": {"x": 1}}


def test_form_questions_and_computed_are_built_once_and_right() -> None:
    for form in builtin_forms().values():
        walked = [q for s in form.sections for q in s.questions]
        assert form.questions == walked
        assert form.questions is not form.questions  # the caller's own list
        form.questions.append(walked[0])  # changing it changes nothing
        assert form.questions == walked
        assert list(form.computed) == [
            q for q in walked if q.type is ItemType.COMPUTED and q.formula
        ]
    so = builtin_forms()["binh-dinh-2019-so"]
    assert [q.id for q in so.computed] == ["3.2.b", "3.2.c"]
