"""The storage Unit is assembled from one mixin per area (storage/_*.py): no two may define
the same method, or the one earlier in the MRO silently replaces the other's meaning (the
reminders' and the desk's `answers_of` once did: progress counted no answers)."""

from __future__ import annotations

from storage.repository import Unit


def test_no_two_unit_mixins_define_the_same_method() -> None:
    owners: dict[str, list[str]] = {}
    for cls in Unit.__mro__[1:]:
        for name, value in vars(cls).items():
            if callable(value) and not (name.startswith("__") and name.endswith("__")):
                owners.setdefault(name, []).append(cls.__name__)
    assert {n: o for n, o in owners.items() if len(o) > 1} == {}
