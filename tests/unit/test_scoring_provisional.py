"""/diem's provisional score (issue #12 bug): a ratio_to_best criterion is measured against
the best value among the cohort's other agencies' current answers, not against the agency
itself (which always gave full marks), and the message says the figure is provisional.

The example (an agency below the cohort's best) and more of its kind: the agency is the
best, no other agency answered, the best is 0 ("zero" and "full"), a zero denominator, an
agency of another group (a variant ranked apart) left out."""

from __future__ import annotations

from typing import Any

from flows.state import Answer
from scoring.score import best_items, provisional
from scoring.texts import provisional_text, reason_text
from tests.unit.test_scoring_rules import FORM, facts, scale_of

BW = {"id": "bw", "text": "Băng thông", "rule": "ratio_to_best", "max": 10, "items": ["bw"]}


def _bw(**extra: Any) -> Any:
    return scale_of([{**BW, "zero": "zero", **extra}])


def _others(*values: Any) -> list[Any]:
    return [facts({"bw": v}, agency=f"Khác {k}") for k, v in enumerate(values)]


def test_below_the_best_other_agency_scores_its_share() -> None:
    """The example: 40 Mbps where the best other agency has 100 → 4 of 10, not 10."""
    s = _bw()
    score = provisional(s, FORM, facts({"bw": 40.0}), _others(100.0, 25.0))
    c = score.criteria[0]
    assert c.points == 4
    assert (c.reason, dict(c.params)) == ("provisional_to_best", {"value": 40.0, "best": 100.0})
    assert reason_text(c) == "tạm tính: 40 so với cao nhất khối hiện nay 100"
    assert reason_text(c, "en") == "provisional: 40 against the group's best so far, 100"
    text = provisional_text(s, score)
    assert "Mục bw: 4/10 — tạm tính: 40 so với cao nhất khối hiện nay 100" in text
    assert "Lưu ý: mục bw so với đơn vị cao nhất khối theo câu trả lời hiện có" in text


def test_the_best_agency_gets_full_marks_and_is_told_it_is_provisional() -> None:
    s = _bw()
    score = provisional(s, FORM, facts({"bw": 120.0}), _others(100.0, 25.0))
    c = score.criteria[0]
    assert c.points == 10
    assert (c.reason, dict(c.params)) == ("provisional_to_best", {"value": 120.0, "best": 120.0})
    text = provisional_text(s, score)
    assert "Mục bw:" not in text  # full marks: not a loss…
    assert "Lưu ý: mục bw so với đơn vị cao nhất khối" in text  # …but said to be provisional
    english = provisional_text(s, score, "en")
    assert "Note: item bw is compared with the best agency of the group" in english


def test_no_other_agency_answered_measures_against_itself_and_says_so() -> None:
    s = _bw()
    for others in ([], [facts({}, agency="Chưa trả lời")]):  # none, or one with a blank
        score = provisional(s, FORM, facts({"bw": 40.0}), others)
        c = score.criteria[0]
        assert (c.points, c.reason) == (10, "provisional_best")
        assert "Lưu ý: mục bw chưa có đơn vị nào khác trong khối trả lời" in provisional_text(
            s, score
        )


def test_the_best_is_zero_follows_the_criterion_s_zero_rule() -> None:
    zero = provisional(_bw(), FORM, facts({"bw": 0.0}), _others(0.0))
    assert (zero.criteria[0].points, zero.criteria[0].reason) == (0, "provisional_zero_best_zero")
    assert "tạm tính: cao nhất khối hiện nay bằng 0: không tính điểm" in provisional_text(
        _bw(), zero
    )
    full = scale_of([{**BW, "zero": "full"}])
    c = provisional(full, FORM, facts({"bw": 0.0}), _others(0.0)).criteria[0]
    assert (c.points, c.reason) == (10, "provisional_zero_best_full")


def test_a_zero_denominator_is_scored_by_its_rule_not_compared() -> None:
    """Per staff: the agency with no staff follows `zero`; the others' best per staff still
    settles an agency with staff."""
    s = scale_of([{**BW, "per": ["staff"], "zero": "full"}])
    others = [facts({"bw": 100.0, "staff": 10}, agency="Khác")]  # 10 per staff
    none = provisional(s, FORM, facts({"bw": 40.0, "staff": 0}), others).criteria[0]
    assert (none.points, none.reason) == (10, "zero_den_full")
    some = provisional(s, FORM, facts({"bw": 40.0, "staff": 8}), others).criteria[0]
    assert (some.points, some.reason) == (5, "provisional_to_best")  # 5 per staff of 10


def test_an_agency_of_another_group_is_not_compared() -> None:
    """A variant ranked apart is its own group: its agencies are not the cohort's best."""
    s = scale_of(
        [{**BW, "zero": "zero"}, {**BW, "id": "d", "items": ["dvc"], "rule": "bands",
          "steps": [{"min": 1, "points": 10}]}],
        variants=[{"id": "nd", "name": "Không DVC", "drop": ["d"], "maximum": 10,
                   "rank": "apart"}],
    )  # fmt: skip
    apart = facts({"bw": 100.0, "dvc": Answer(None, "Không có")}, agency="Khác, không DVC")
    c = provisional(s, FORM, facts({"bw": 40.0, "dvc": 3}), [apart]).criteria[0]
    assert (c.points, c.reason) == (10, "provisional_best")


def test_best_items_are_what_the_comparison_reads() -> None:
    assert best_items(_bw(), FORM) == ("bw",)
    assert best_items(scale_of([{**BW, "per": ["staff"], "zero": "full"}]), FORM) == (
        "bw",
        "staff",
    )
    ratio = {"id": "r", "text": "x", "rule": "ratio", "max": 5, "items": ["pcs"], "per": ["staff"]}
    assert best_items(scale_of([{**ratio, "zero": "zero"}]), FORM) == ()  # nothing to load
