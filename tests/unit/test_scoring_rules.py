"""Scoring rules (issue #12): every rule of the vocabulary, every Cao Bằng rule (seed 002),
the different maximum, ranking with ties and bands at their edges. Scales and forms are
written inline so each test shows the whole case."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from flows.state import Answer
from scoring.model import Band, SubmissionFacts, Verdict
from scoring.ranking import band_of, competition_ranks, rank
from scoring.scales import parse_scale
from scoring.score import provisional, score_submission
from scoring.texts import losses, provisional_text, reason_text
from tests.engine_driver import inline_form

FORM = inline_form(
    """
cohorts: [so]
sections:
  - id: "1"
    title: Chung
    items:
      - {id: staff, type: integer, text: Số cán bộ}
      - {id: pcs, type: integer, text: Số máy tính}
      - {id: bw, type: decimal, text: Băng thông, unit: Mbps}
      - {id: meetings, type: integer, text: Số cuộc họp}
      - {id: apps, type: integer, text: Số ứng dụng}
      - {id: wan, type: yes_no, text: Có mạng WAN}
      - {id: portal, type: status, text: Cổng thông tin}
      - {id: news, type: integer, text: Tin bài trong năm, evidence: link}
      - {id: plan, type: yes_no, text: Có kế hoạch, evidence: document}
      - {id: dvc, type: integer, text: Số thủ tục, na_allowed: true}
      - {id: dvc_online, type: integer, text: Số thủ tục trực tuyến, na_allowed: true}
      - {id: fulltime, type: integer, text: Chuyên trách}
      - {id: parttime, type: integer, text: Kiêm nhiệm}
      - {id: note, type: text, text: Ghi chú, required: false}
"""
)

BASE = {
    "format": 1,
    "form": "t",
    "version": 1,
    "name": "Thang thử",
    "maximum": 100,
}


def scale_of(criteria: list[dict[str, Any]], **extra: Any) -> Any:
    maximum = sum(c["max"] for c in criteria if not c.get("bonus"))
    data = {
        **BASE,
        "maximum": maximum,
        "sections": [{"id": "1", "title": "Chung", "max": maximum, "criteria": criteria}],
    }
    data.update(extra)
    return parse_scale(data, "thu.yaml", FORM)


def facts(answers: dict[str, Any], **kw: Any) -> SubmissionFacts:
    return SubmissionFacts(
        agency=kw.pop("agency", "Sở A"),
        cohort=kw.pop("cohort", "so"),
        answers={k: v if isinstance(v, Answer) else Answer(v) for k, v in answers.items()},
        **kw,
    )


def one(scale: Any, answers: dict[str, Any], **kw: Any) -> Any:
    s = score_submission(scale, FORM, facts(answers, **kw))
    assert len(s.criteria) >= 1
    return s.criteria[0]


RATIO = {"id": "r", "text": "Tỉ lệ", "rule": "ratio", "max": 20, "items": ["pcs"], "per": ["staff"]}


# ---- ratio ---------------------------------------------------------------------------------
def test_ratio_is_max_times_a_over_b_capped_at_max() -> None:
    s = scale_of([{**RATIO, "zero": "zero"}])
    assert one(s, {"pcs": 30, "staff": 40}).points == 15
    assert one(s, {"pcs": 50, "staff": 40}).points == 20  # more computers than staff: capped
    assert reason_text(one(s, {"pcs": 30, "staff": 40})) == "tỉ lệ 30/40"


def test_ratio_with_its_denominator_unanswered_names_what_is_missing() -> None:
    """3.1.a/3.1.b answered, 1.8/1.9 not: /diem said "3.1: 0/30 — để trống", untrue for
    an official who had just answered 3.1.a. The missing items are named instead."""
    s = scale_of([{**RATIO, "zero": "zero"}])
    c = one(s, {"pcs": 30})
    assert c.points == 0
    assert reason_text(c) == "chưa trả lời staff để tính tỉ lệ"
    assert reason_text(c, "en") == "staff not answered, needed for the ratio"
    assert reason_text(one(s, {})) == "để trống"  # nothing answered: blank, as before
    two = scale_of(
        [{**RATIO, "zero": "zero", "items": ["pcs", "meetings"], "per": ["staff", "bw"]}]
    )
    assert reason_text(one(two, {"meetings": 3})) == "chưa trả lời staff, bw để tính tỉ lệ"


@pytest.mark.parametrize(
    ("zero", "points", "why"), [("zero", 0, "không tính"), ("full", 20, "tối đa")]
)
def test_ratio_zero_denominator_follows_the_criterion(zero: str, points: float, why: str) -> None:
    s = scale_of([{**RATIO, "zero": zero}])
    c = one(s, {"pcs": 0, "staff": 0})
    assert c.points == points
    assert why in reason_text(c)


def test_ratio_without_zero_case_is_refused_naming_the_criterion() -> None:
    with pytest.raises(ValueError, match=r"thu.yaml[\s\S]*tiêu chí r: cần 'zero: full'"):
        scale_of([RATIO])


def test_ratio_to_best_is_settled_against_the_best_in_the_cohort() -> None:
    s = scale_of(
        [
            {
                "id": "bw",
                "text": "Băng thông",
                "rule": "ratio_to_best",
                "max": 10,
                "items": ["bw"],
                "zero": "zero",
            }
        ]
    )
    scores = [
        score_submission(s, FORM, facts({"bw": v}, agency=a, code=a))
        for a, v in (("A", 100.0), ("B", 50.0), ("C", 25.0))
    ]
    assert all(x.criteria[0].pending_best for x in scores)
    ranking = rank(s, scores)
    pts = {r.score.agency: r.score.criteria[0].points for r in ranking.groups["so"]}
    assert pts == {"A": 10, "B": 5, "C": 2.5}
    assert reason_text(ranking.groups["so"][1].score.criteria[0]) == "50 so với cao nhất khối 100"


def test_ratio_to_best_when_the_best_is_zero() -> None:
    s = scale_of(
        [
            {
                "id": "bw",
                "text": "x",
                "rule": "ratio_to_best",
                "max": 10,
                "items": ["bw"],
                "zero": "full",
            }
        ]
    )
    ranking = rank(s, [score_submission(s, FORM, facts({"bw": 0.0}))])
    assert ranking.groups["so"][0].score.criteria[0].points == 10


def test_ratio_to_best_ignores_unranked_agencies_for_the_best() -> None:
    s = scale_of(
        [
            {
                "id": "bw",
                "text": "x",
                "rule": "ratio_to_best",
                "max": 10,
                "items": ["bw"],
                "zero": "zero",
            }
        ]
    )
    scores = [
        score_submission(s, FORM, facts({"bw": 100.0}, agency="Late", late=True)),
        score_submission(s, FORM, facts({"bw": 40.0}, agency="B")),
    ]
    ranking = rank(s, scores)
    assert ranking.groups["so"][0].score.criteria[0].points == 10  # B is the best ranked


def test_provisional_measures_ratio_to_best_against_itself_and_says_so() -> None:
    s = scale_of(
        [
            {
                "id": "bw",
                "text": "x",
                "rule": "ratio_to_best",
                "max": 10,
                "items": ["bw"],
                "zero": "zero",
            }
        ]
    )
    c = provisional(s, FORM, facts({"bw": 40.0})).criteria[0]
    assert c.points == 10 and "tạm tính" in reason_text(c)


# ---- bands ---------------------------------------------------------------------------------
MEETINGS = {
    "id": "m",
    "text": "Họp trực tuyến",
    "rule": "bands",
    "max": 20,
    "items": ["meetings"],
    "steps": [
        {"min": 4, "points": 20},
        {"min": 3, "points": 15},
        {"min": 2, "points": 10},
        {"min": 1, "points": 5},
    ],
}


@pytest.mark.parametrize(("n", "points"), [(7, 20), (4, 20), (3, 15), (2, 10), (1, 5), (0, 0)])
def test_bands_4_3_2_1_meetings_give_20_15_10_5_else_0(n: int, points: float) -> None:
    assert one(scale_of([MEETINGS]), {"meetings": n}).points == points


def test_bands_whose_best_step_is_not_the_maximum_are_refused() -> None:
    bad = {**MEETINGS, "max": 25}
    with pytest.raises(ValueError, match="tiêu chí m: bậc cao nhất cho 20 ≠ max 25"):
        scale_of([bad])


# ---- count capped, yes/no, levels -----------------------------------------------------------
@pytest.mark.parametrize(("apps", "points"), [(0, 0), (3, 3), (5, 5), (9, 5)])
def test_count_times_points_is_capped(apps: int, points: float) -> None:
    s = scale_of(
        [
            {
                "id": "a",
                "text": "Ứng dụng",
                "rule": "count_capped",
                "max": 5,
                "points": 1,
                "items": ["apps"],
            }
        ]
    )
    assert one(s, {"apps": apps}).points == points


def test_yes_no() -> None:
    s = scale_of([{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}])
    assert one(s, {"wan": True}).points == 10
    assert one(s, {"wan": False}).points == 0


@pytest.mark.parametrize(
    ("level", "points"), [("hoan_chinh", 8), ("thu_nghiem", 4), ("chua_co", 0)]
)
def test_levels_complete_1_testing_half_none_0(level: str, points: float) -> None:
    s = scale_of([{"id": "p", "text": "Cổng", "rule": "levels", "max": 8, "item": "portal"}])
    assert one(s, {"portal": level}).points == points


def test_a_rule_reading_an_item_of_the_wrong_type_names_criterion_and_item() -> None:
    with pytest.raises(ValueError) as e:
        scale_of([{"id": "w", "text": "WAN", "rule": "levels", "max": 10, "item": "wan"}])
    assert "thu.yaml" in str(e.value)
    assert "tiêu chí w, mục wan: kiểu 'yes_no' không dùng được cho quy tắc 'levels'" in str(e.value)


def test_an_unknown_item_names_criterion_and_item() -> None:
    with pytest.raises(ValueError, match=r"tiêu chí w, mục 9\.9: không có trong mẫu phiếu t"):
        scale_of([{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "9.9"}])


# ---- composites, manual, bonus, deductions --------------------------------------------------
STAFF_CASES = {
    "id": "it",
    "text": "Cán bộ CNTT",
    "rule": "best_of",
    "max": 20,
    "parts": [
        {
            "id": "it.a",
            "text": "Chuyên trách",
            "rule": "bands",
            "max": 20,
            "items": ["fulltime"],
            "steps": [{"min": 1, "points": 20}],
        },
        {
            "id": "it.b",
            "text": "Kiêm nhiệm",
            "rule": "bands",
            "max": 10,
            "items": ["parttime"],
            "steps": [{"min": 1, "points": 10}],
        },
    ],
}


def test_best_of_takes_the_highest_scoring_case() -> None:
    s = scale_of([STAFF_CASES])
    assert one(s, {"fulltime": 0, "parttime": 2}).points == 10
    c = one(s, {"fulltime": 1, "parttime": 2})
    assert c.points == 20 and "Chuyên trách" in reason_text(c)


def test_sum_lists_each_part_with_its_reason_and_maxima_must_add_up() -> None:
    parts = [
        {"id": "s.w", "text": "WAN", "rule": "yes_no", "max": 5, "item": "wan"},
        {"id": "s.p", "text": "Cổng", "rule": "levels", "max": 5, "item": "portal"},
    ]
    s = scale_of([{"id": "s", "text": "Tổng", "rule": "sum", "max": 10, "parts": parts}])
    score = score_submission(s, FORM, facts({"wan": True, "portal": "thu_nghiem"}))
    assert [(c.id, c.points) for c in score.criteria] == [("s.w", 5), ("s.p", 2.5)]
    assert score.total == 7.5
    with pytest.raises(ValueError, match=r"tiêu chí s: max 12 ≠ tổng các tiêu chí con \(10\)"):
        scale_of([{"id": "s", "text": "Tổng", "rule": "sum", "max": 12, "parts": parts}])


def test_section_and_scale_maxima_must_add_up() -> None:
    data = {
        **BASE,
        "maximum": 50,
        "sections": [
            {
                "id": "1",
                "title": "x",
                "max": 30,
                "criteria": [
                    {"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}
                ],
            }
        ],
    }
    with pytest.raises(ValueError) as e:
        parse_scale(data, "thu.yaml", FORM)
    assert "nhóm 1: max 30 ≠ tổng điểm các tiêu chí (10" in str(e.value)
    assert "maximum 50 ≠ tổng điểm các nhóm (30)" in str(e.value)


def test_manual_points_come_from_the_reviewer_and_are_capped() -> None:
    s = scale_of([{"id": "q", "text": "Hiệu quả", "rule": "manual", "max": 20}])
    assert one(s, {}, manual={"q": 12}).points == 12
    assert one(s, {}, manual={"q": 50}).points == 20
    missing = one(s, {})
    assert missing.points == 0 and reason_text(missing).startswith("chưa chấm")


def test_bonus_points_go_on_top_of_the_maximum_and_never_count_as_lost() -> None:
    s = scale_of(
        [
            {"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"},
            {
                "id": "b",
                "text": "Khuyến khích",
                "rule": "yes_no",
                "max": 5,
                "item": "wan",
                "bonus": True,
            },
        ]
    )
    assert s.maximum == 10
    score = score_submission(s, FORM, facts({"wan": True}))
    assert score.total == 15 and score.index == 1.0  # the index stays within 0–1
    low = score_submission(s, FORM, facts({"wan": False}))
    assert [c.id for c in losses(low)] == ["w"]


def test_deduction_listed_by_the_scale_is_taken_off() -> None:
    s = scale_of(
        [{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}],
        deductions=[
            {
                "id": "d",
                "text": "Không WAN mà có máy",
                "points": 4,
                "when": "[pcs] > 0 and [wan] == false",
            }
        ],
    )
    assert score_submission(s, FORM, facts({"wan": True, "pcs": 3})).total == 10
    hit = score_submission(s, FORM, facts({"wan": False, "pcs": 3}))
    assert hit.total == 0 and hit.deductions[0][1] == 4
    low = scale_of(
        [
            {"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"},
            {"id": "p", "text": "Cổng", "rule": "levels", "max": 10, "item": "portal"},
        ],
        deductions=[{"id": "d", "text": "x", "points": 4, "when": "[wan] == false"}],
    )
    assert score_submission(low, FORM, facts({"wan": False, "portal": "hoan_chinh"})).total == 6


# ---- the Cao Bằng rules (seed 002) -----------------------------------------------------------
def test_blank_scores_zero() -> None:
    s = scale_of(
        [
            {**RATIO, "zero": "full"},
            {"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"},
        ]
    )
    score = score_submission(s, FORM, facts({}))
    assert [(c.points, c.reason) for c in score.criteria] == [(0, "blank"), (0, "blank")]
    assert reason_text(score.criteria[0]) == "để trống"


def test_not_applicable_with_reason_scores_full_marks() -> None:
    s = scale_of(
        [
            {
                "id": "d",
                "text": "DVC",
                "rule": "ratio",
                "max": 30,
                "items": ["dvc_online"],
                "per": ["dvc"],
                "zero": "zero",
            }
        ]
    )
    na = Answer(None, "Đơn vị không có thủ tục hành chính")
    c = one(s, {"dvc": na, "dvc_online": na})
    assert c.points == 30
    assert reason_text(c) == "không áp dụng: Đơn vị không có thủ tục hành chính"


def test_an_item_needing_a_link_scores_zero_without_one() -> None:
    s = scale_of(
        [
            {
                "id": "n",
                "text": "Tin",
                "rule": "bands",
                "max": 10,
                "items": ["news"],
                "steps": [{"min": 1, "points": 10}],
            },
            {"id": "k", "text": "Kế hoạch", "rule": "yes_no", "max": 10, "item": "plan"},
        ]
    )
    assert s.criterion("n").link and s.criterion("k").link  # from the form's evidence
    score = score_submission(
        s, FORM, facts({"news": 12, "plan": Answer(True, None, {"number": "1/KH"})})
    )
    assert [(c.points, reason_text(c)) for c in score.criteria] == [
        (0, "chưa có link"),
        (0, "chưa có link"),
    ]
    linked = score_submission(
        s,
        FORM,
        facts(
            {
                "news": Answer(12, None, "https://so.gov.vn/tin"),
                "plan": Answer(True, None, {"number": "1/KH", "link": "https://so.gov.vn/kh.pdf"}),
            }
        ),
    )
    assert linked.total == 20


def test_an_item_needing_a_link_scores_zero_when_the_reviewer_marked_it_khong_dat() -> None:
    s = scale_of([{"id": "k", "text": "Kế hoạch", "rule": "yes_no", "max": 10, "item": "plan"}])
    ans = {"plan": Answer(True, None, {"link": "https://so.gov.vn/kh.pdf"})}
    assert one(s, ans).points == 10
    c = one(s, ans, verdicts={"plan": Verdict("khong_dat", "link không mở được")})
    assert c.points == 0
    assert reason_text(c) == "thẩm định: minh chứng không đạt (link không mở được)"


def test_a_returned_item_waiting_for_evidence_scores_zero() -> None:
    s = scale_of([{"id": "k", "text": "Kế hoạch", "rule": "yes_no", "max": 10, "item": "plan"}])
    ans = {"plan": Answer(True, None, {"link": "https://so.gov.vn/kh.pdf"})}
    assert one(s, ans, verdicts={"plan": Verdict("tra_lai", "bổ sung")}).reason == "returned"


NEWS = {
    "id": "n",
    "text": "Tin bài",
    "rule": "bands",
    "max": 10,
    "items": ["news"],
    "posts": True,
    "steps": [{"min": 12, "points": 10}, {"min": 1, "points": 4}],
}


def test_website_content_counts_only_with_a_post_in_the_year() -> None:
    s = scale_of([NEWS])
    assert one(s, {"news": Answer(3, None, "https://x.gov.vn/a")}).points == 4
    c = one(s, {"news": Answer(0, None, None)})
    assert c.points == 0 and reason_text(c) == "không có tin bài trong năm"


def test_reviewer_no_post_in_the_year_scores_zero() -> None:
    s = scale_of([NEWS])
    c = one(
        s,
        {"news": Answer(30, None, "https://x.gov.vn/a")},
        verdicts={"news": Verdict("khong_dat", "Không có tin bài trong năm")},
    )
    assert c.points == 0 and c.reason == "no_posts"


def test_reviewer_corrected_value_is_used_and_said() -> None:
    s = scale_of([{**RATIO, "zero": "zero"}])
    c = one(
        s,
        {"pcs": 40, "staff": 40},
        verdicts={"pcs": Verdict("sua", "đếm lại", Answer(10))},
    )
    assert c.points == 5 and c.corrected
    assert reason_text(c) == "tỉ lệ 10/40; số liệu đã được thẩm định điều chỉnh"


@pytest.mark.parametrize(
    ("kw", "why"), [({"late": True}, "gửi phiếu chậm"), ({"submitted": False}, "không gửi phiếu")]
)
def test_late_or_missing_is_not_ranked_and_listed_apart_with_the_reason(kw: dict, why: str) -> None:
    from scoring.texts import unranked_text

    s = scale_of([{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}])
    ranking = rank(
        s,
        [
            score_submission(s, FORM, facts({"wan": True}, agency="A")),
            score_submission(s, FORM, facts({"wan": True}, agency="B", **kw)),
        ],
    )
    assert [r.score.agency for r in ranking.groups["so"]] == ["A"]
    assert [u.agency for u in ranking.unranked] == ["B"]
    assert unranked_text(ranking.unranked[0]) == why


# ---- different maximum ---------------------------------------------------------------------
def variant_scale(rank_how: str) -> Any:
    return scale_of(
        [
            {"id": "w", "text": "WAN", "rule": "yes_no", "max": 75, "item": "wan"},
            {
                "id": "d",
                "text": "DVC",
                "rule": "ratio",
                "max": 25,
                "items": ["dvc_online"],
                "per": ["dvc"],
                "zero": "zero",
            },
        ],
        variants=[
            {"id": "v", "name": "Không có TTHC", "drop": ["d"], "maximum": 75, "rank": rank_how}
        ],
    )


def test_agencies_without_a_group_are_scored_out_of_a_different_maximum() -> None:
    s = variant_scale("together")
    na = Answer(None, "Không có thủ tục")
    without = score_submission(s, FORM, facts({"wan": True, "dvc": na, "dvc_online": na}))
    assert without.maximum == 75 and without.variant is not None
    assert [c.id for c in without.criteria] == ["w"]
    assert without.index == 1.0
    full = score_submission(s, FORM, facts({"wan": True, "dvc": 10, "dvc_online": 5}))
    assert full.maximum == 100 and full.total == 87.5
    ranking = rank(s, [full, without])
    assert [r.score.maximum for r in ranking.groups["so"]] == [75, 100]  # by index


def test_a_variant_may_rank_apart() -> None:
    s = variant_scale("apart")
    na = Answer(None, "Không có thủ tục")
    ranking = rank(
        s,
        [
            score_submission(
                s, FORM, facts({"wan": True, "dvc": na, "dvc_online": na}, agency="X")
            ),
            score_submission(s, FORM, facts({"wan": True, "dvc": 1, "dvc_online": 1}, agency="Y")),
        ],
    )
    assert set(ranking.groups) == {"so", "so / Không có TTHC"}


def test_a_variant_maximum_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"biến thể v: maximum 70 ≠ 100 trừ các tiêu chí bỏ đi \(75\)"
    ):
        scale_of(
            [
                {"id": "w", "text": "WAN", "rule": "yes_no", "max": 75, "item": "wan"},
                {"id": "d", "text": "DVC", "rule": "yes_no", "max": 25, "item": "wan"},
            ],
            variants=[{"id": "v", "name": "x", "drop": ["d"], "maximum": 70}],
        )


# ---- ranking -------------------------------------------------------------------------------
def test_equal_scores_share_a_rank_and_the_next_is_skipped() -> None:
    assert competition_ranks([90, 80, 80, 70]) == [1, 2, 2, 4]
    values = [100 - i for i in range(16)] + [50, 50, 40]
    ranks = competition_ranks(values)
    assert ranks[16:] == [17, 17, 19]  # two at 17 → next is 19


def test_ranking_ties_through_rank() -> None:
    s = scale_of([{"id": "p", "text": "Cổng", "rule": "levels", "max": 10, "item": "portal"}])
    scores = [
        score_submission(s, FORM, facts({"portal": lvl}, agency=name))
        for name, lvl in (
            ("A", "hoan_chinh"),
            ("B", "thu_nghiem"),
            ("C", "thu_nghiem"),
            ("D", "chua_co"),
        )
    ]
    ranked = rank(s, scores).groups["so"]
    assert [(r.score.agency, r.rank) for r in ranked] == [("A", 1), ("B", 2), ("C", 2), ("D", 4)]


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, "Tốt"),
        (85, "Tốt"),
        (84.99, "Khá"),
        (70, "Khá"),
        (69.99, "Trung bình"),
        (50, "Trung bình"),
        (49.99, "Yếu"),
        (0, "Yếu"),
    ],
)
def test_default_bands_at_their_edges(score: float, band: str) -> None:
    scale = scale_of([{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}])
    assert band_of(score, scale.bands) == band


def test_bands_are_configurable_in_the_scale() -> None:
    s = scale_of(
        [{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}],
        bands=[
            {"name": "Xuất sắc", "min": 90},
            {"name": "Đạt", "min": 60},
            {"name": "Chưa đạt", "min": 0},
        ],
    )
    assert s.bands == (Band("Xuất sắc", 90), Band("Đạt", 60), Band("Chưa đạt", 0))
    assert band_of(89.9, s.bands) == "Đạt"
    with pytest.raises(ValueError, match="mức thấp nhất phải bắt đầu từ 0"):
        scale_of(
            [{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}],
            bands=[{"name": "Đạt", "min": 50}],
        )


# ---- /diem text ------------------------------------------------------------------------------
def test_provisional_text_lists_sections_and_the_five_biggest_losses() -> None:
    crits = [
        {"id": f"c{i}", "text": f"Tiêu chí {i}", "rule": "yes_no", "max": 10 + i, "item": "wan"}
        for i in range(6)
    ] + [
        {
            "id": "n",
            "text": "Tin",
            "rule": "bands",
            "max": 10,
            "items": ["news"],
            "steps": [{"min": 1, "points": 10}],
        }
    ]
    s = scale_of(crits)
    score = provisional(s, FORM, facts({"wan": False, "news": 5}))
    text = provisional_text(s, score, "vi")
    assert "Tổng: 0/85 điểm" in text
    assert "• Mục 1. Chung: 0/85" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("Mục c") or ln.startswith("Mục n")]
    assert lines == [
        "Mục c5: 0/15 — không",
        "Mục c4: 0/14 — không",
        "Mục c3: 0/13 — không",
        "Mục c2: 0/12 — không",
        "Mục c1: 0/11 — không",
    ]
    en = provisional_text(s, score, "en")
    assert "Provisional score" in en


def test_loss_line_says_no_link_like_the_issue() -> None:
    s = scale_of(
        [
            {
                "id": "6.1.a",
                "text": "Tin",
                "rule": "bands",
                "max": 10,
                "items": ["news"],
                "steps": [{"min": 1, "points": 10}],
            }
        ]
    )
    text = provisional_text(s, provisional(s, FORM, facts({"news": 5})), "vi")
    assert "Mục 6.1.a: 0/10 — chưa có link" in text


def test_scale_yaml_round_trip_from_text() -> None:
    text = """
format: 1
form: t
version: 2
name: Thang
illustrative: true
maximum: 10
sections:
  - {id: "1", title: A, max: 10, criteria: [{id: w, text: WAN, rule: yes_no, max: 10, item: wan}]}
"""
    s = parse_scale(yaml.safe_load(text), "x.yaml", FORM)
    assert s.label == "Thang (minh họa)" and s.version == 2


# ---- /diem through the pure engine -----------------------------------------------------------
def test_engine_diem_replies_with_the_scorer_and_changes_nothing() -> None:
    from dataclasses import replace

    from flows.engine import command_of
    from flows.state import Incoming
    from tests.engine_driver import Chat

    s = scale_of([{"id": "w", "text": "WAN", "rule": "yes_no", "max": 10, "item": "wan"}])
    chat = Chat(FORM)

    def scorer(answers: Any, lang: str) -> str:
        return provisional_text(s, provisional(s, FORM, facts(dict(answers))), lang)

    chat.ctx = replace(chat.ctx, scorer=scorer)
    chat.say("/sua wan")
    chat.say("có")
    before = (chat.state.mode, chat.state.item, dict(chat.answers))
    text = chat.say("/diem")
    assert "Tổng: 10/10 điểm" in text and not chat.last.changes
    assert (chat.state.mode, chat.state.item, dict(chat.answers)) == before
    assert command_of(Incoming("/diem")) == command_of(Incoming("/score")) == "score"
    assert command_of(Incoming("12")) is None
    chat.ctx = replace(chat.ctx, scorer=None)
    assert "chưa có thang điểm" in chat.say("/diem")
