"""flows/assign.py: who reviews an agency, who is its head (issues #10, #11)."""

from __future__ import annotations

from dataclasses import dataclass

from flows.assign import head_of, is_head_position, reviews


@dataclass(frozen=True)
class Row:
    user_id: int
    cohort: str | None = None
    agency_id: int | None = None


@dataclass(frozen=True)
class P:
    name: str
    position: str | None = None


def test_no_row_means_everyone_reviews_everything() -> None:
    assert reviews([], 7, 1, "so") and reviews([], 8, 2, "xa")


def test_rows_by_agency_cohort_or_whole_campaign() -> None:
    rows = [Row(1, agency_id=10), Row(2, cohort="huyen"), Row(3)]
    assert reviews(rows, 1, 10, "so") and not reviews(rows, 1, 11, "so")
    assert reviews(rows, 2, 11, "huyen") and not reviews(rows, 2, 10, "so")
    assert reviews(rows, 3, 10, "so") and reviews(rows, 3, 99, "xa")
    assert not reviews(rows, 4, 10, "so")  # a reviewer without a row, once rows exist


def test_head_by_name_then_by_position() -> None:
    people = [P("Lê Phó", "Phó Giám đốc"), P("Trần Mai", "Giám đốc"), P("NGUYỄN  Văn Hùng")]
    assert head_of("Nguyễn Văn Hùng", people) == people[2]
    assert head_of("Người khác", people) == people[1]  # the name matches nobody
    assert head_of(None, people) == people[1]
    assert head_of("Nguyen Van Hung", [P("Nguyễn Văn Hùng")]) is None  # accents count
    assert head_of("X", [P("A", "Chuyên viên"), P("B", "Phó Chủ tịch UBND")]) is None


def test_head_positions() -> None:
    for yes in ("Giám đốc", "Chủ tịch UBND xã", "thủ trưởng", "Trưởng ban", "Director"):
        assert is_head_position(yes), yes
    for no in ("Phó Giám đốc", "Chuyên viên", "", None, "Phó Chủ tịch"):
        assert not is_head_position(no), no
