"""storage/_desk.py `_json_value` (the export's fast reading of stored answers) gives what
the ExactJSON column type gives for the same stored text, whatever the value."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from storage._desk import _json_value
from storage.models import _tag, _untag

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
)


def _column(text: str) -> Any:
    return _untag(json.loads(text))


@given(values, st.booleans(), st.booleans())
def test_the_same_value_as_the_column_type(value: Any, sqlite: bool, ascii_only: bool) -> None:
    text = json.dumps(_tag(value, sqlite), ensure_ascii=ascii_only, default=str)
    got, want = _json_value(text), _column(text)
    assert got == want and type(got) is type(want)


def test_examples() -> None:
    assert _json_value('"abc"') == "abc"
    assert _json_value('"a\\"b"') == 'a"b'
    assert _json_value('"\\u1ea1"') == "ạ"
    assert _json_value("12") == 12 and _json_value("-3") == -3
    assert _json_value("true") is True
    assert _json_value('{"$decimal": "1.50"}') == Decimal("1.50")
    assert str(_json_value('{"$decimal": "1.50"}')) == "1.50"
    assert _json_value('[{"$int": "1"}]') == _column('[{"$int": "1"}]')
