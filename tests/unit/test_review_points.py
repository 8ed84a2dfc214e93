"""Points of a reviewer-scored criterion, typed during review (flows/review_points.py):
read forgivingly, bounded 0..the criterion's maximum, refused politely with an example."""

from __future__ import annotations

import pytest

from flows.i18n import translate
from flows.parsing import Problem
from flows.review_points import example_points, parse_points


@pytest.mark.parametrize(
    ("typed", "points"),
    [
        ("7", 7.0),
        ("7,5", 7.5),
        ("7.5 điểm", 7.5),
        (" 15 đ ", 15.0),
        ("15/20", 15.0),
        ("0", 0.0),
        ("20 Điểm.", 20.0),
        ("12 points", 12.0),
    ],
)
def test_points_are_read_forgivingly(typed: str, points: float) -> None:
    assert parse_points(typed, 20) == points


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("bảy", "Điểm phải là một số từ 0 đến 20."),
        ("-1", "Điểm phải là một số từ 0 đến 20."),
        ("", "Điểm phải là một số từ 0 đến 20."),
        ("7 mục", "Điểm phải là một số từ 0 đến 20."),
        ("25", "25 điểm vượt mức tối đa 20 của tiêu chí."),
        ("20,5", "20.5 điểm vượt mức tối đa 20 của tiêu chí."),
        ("15/30", "Tiêu chí này chấm trên thang 20 điểm."),
    ],
)
def test_words_and_points_out_of_range_are_refused_with_an_example(typed: str, says: str) -> None:
    problem = parse_points(typed, 20)
    assert isinstance(problem, Problem)
    assert translate("vi", problem.msgid, problem.params) == says
    assert problem.example == "15" and parse_points(problem.example, 20) == 15.0


def test_the_example_is_within_any_maximum() -> None:
    for maximum in (1, 5, 10, 20, 250):
        assert 0 <= float(example_points(maximum)) <= maximum
