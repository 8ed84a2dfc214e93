"""The fast scoring paths give exactly the results of the general one (issue #12 speed).

- Property test (hypothesis): every criterion that scoring.score compiles to a fast path
  (`single`: one plain item, yes/no, levels or bands; `single_ratio`: one item over one) is
  also compiled by the general `leaf`, and both score the same generated agencies: blank,
  "không áp dụng", odd values (0, -0.0, "", [], {}), links present, blank or spaces, every
  reviewer verdict and corrections. `leaf` is the reference: it applies the Cao Bằng gates
  and the rule one step after the other, with no shortcut or shared result.
- Digest: every agency's criterion results, totals, ranks and bands over the three shipped
  scales, on the bench's realistic generator (bench/score_bench.py), exactly (floats by
  repr), pinned from the code before the speed work (d15d99c).
- Ranking's rebuilt AgencyScore keeps every field; a compiled expression tells a literal
  1 from true.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import expr
from flows.loader import builtin_forms
from flows.state import Answer
from scoring.model import (
    AgencyScore,
    CriterionScore,
    Ranked,
    SubmissionFacts,
    Variant,
    Verdict,
    agency_score,
    criterion_score,
    ranked,
)
from scoring.ranking import _with_criteria, rank
from scoring.scales import builtin_scales
from scoring.score import PENDING_HINT, _plan, score_submission
from tests.unit.test_scoring_rules import FORM, scale_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import score_bench  # bench/ holds scripts, not a package

CRITERIA: list[dict[str, Any]] = [
    {"id": "wan", "text": "x", "rule": "yes_no", "max": 5, "item": "wan"},
    {"id": "plan", "text": "x", "rule": "yes_no", "max": 5, "item": "plan", "link": True},
    {"id": "portal", "text": "x", "rule": "levels", "max": 8, "item": "portal"},
    {"id": "news", "text": "x", "rule": "bands", "max": 6, "items": ["news"], "posts": True,
     "steps": [{"min": 10, "points": 6}, {"min": 1, "points": 2}]},
    {"id": "meet", "text": "x", "rule": "bands", "max": 4, "items": ["meetings"],
     "steps": [{"min": 4, "points": 4}, {"min": 2, "points": 1}]},
    {"id": "pcs", "text": "x", "rule": "ratio", "max": 10, "items": ["pcs"], "per": ["staff"],
     "zero": "zero"},
    {"id": "dvc", "text": "x", "rule": "ratio", "max": 10, "items": ["dvc_online"],
     "per": ["dvc"], "zero": "full"},
]  # fmt: skip
SCALE = scale_of(CRITERIA)
ITEMS = ("wan", "plan", "portal", "news", "meetings", "pcs", "staff", "dvc_online", "dvc")

_values = st.one_of(
    st.booleans(),
    st.sampled_from([0, 1, 3, 12, -2, 0.0, -0.0, 2.5, 150.0]),
    st.integers(-5, 500),
    st.sampled_from(["hoan_chinh", "thu_nghiem", "chua_co", "khác", "", "  "]),
    st.sampled_from([[], {}, ["a"], {"link": "https://x.vn"}, None]),
)
_evidence = st.sampled_from(
    [None, "", "   ", " https://a.vn", "https://a.vn", {"link": "https://a.vn"}, {"link": ""},
     {"file": {"id": "f"}}, {"caption": "x"}, 3]
)  # fmt: skip
_answer = st.one_of(
    st.builds(Answer, _values, st.none(), _evidence),
    st.builds(Answer, st.none(), st.sampled_from(["Không có nhiệm vụ", ""]), _evidence),
)
_verdict = st.one_of(
    st.builds(
        Verdict,
        st.sampled_from(["dat", "khong_dat", "tra_lai"]),
        st.sampled_from([None, "", " link hỏng ", "Không có tin bài trong năm"]),
    ),
    st.builds(Verdict, st.just("sua"), st.just("đếm lại"), st.one_of(st.none(), _answer)),
)
_agency = st.builds(
    lambda answers, verdicts: SubmissionFacts("Sở A", "so", answers=answers, verdicts=verdicts),
    st.dictionaries(st.sampled_from(ITEMS), _answer),
    st.dictionaries(st.sampled_from(ITEMS), _verdict, max_size=3),
)


def test_every_criterion_here_takes_a_fast_path() -> None:
    plan = _plan(SCALE, FORM)
    kinds = {
        c.id: plan.many(c, False)[0].__qualname__.split(".")[1]
        for top in SCALE.criteria()
        for c in top.walk()
    }
    assert kinds == {
        "wan": "single", "plan": "single", "portal": "single", "news": "single",
        "meet": "single", "pcs": "single_ratio", "dvc": "single_ratio",
    }  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_agency, min_size=1, max_size=4))
def test_fast_paths_score_as_the_general_rule(agencies: list[SubmissionFacts]) -> None:
    plan = _plan(SCALE, FORM)
    pairs = [
        (plan.many(c, False)[0], plan.leaf(c, False))
        for top in SCALE.criteria()
        for c in top.walk()
    ]
    # Several agencies in a row: a result one agency left in a shared memo must not leak.
    for facts in agencies:
        ag = plan.prepare(facts, None)
        for fast, general in pairs:
            assert fast(ag) == general(ag)


LEAVES = scale_of([
    {"id": "cnt", "text": "x", "rule": "count_capped", "max": 6, "items": ["wan", "plan", "pcs"],
     "points": 2},
    {"id": "rtb", "text": "x", "rule": "ratio_to_best", "max": 10, "items": ["pcs"],
     "per": ["staff"], "zero": "zero"},
    {"id": "r2", "text": "x", "rule": "ratio", "max": 10, "items": ["pcs", "dvc_online"],
     "per": ["staff", "dvc"], "zero": "full"},
    {"id": "bd", "text": "x", "rule": "bands", "max": 4, "items": ["meetings", "news"],
     "steps": [{"min": 4, "points": 4}, {"min": 2, "points": 1}]},
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_agency, min_size=1, max_size=6), st.booleans())
def test_a_general_criterion_kept_by_its_values_scores_as_a_fresh_one(
    agencies: list[SubmissionFacts], with_best: bool
) -> None:
    """`leaf` keeps the commonest results by the values answered; a fresh closure (nothing
    kept) is the reference, for every agency of a run, with and without the cohort's best."""
    plan = _plan(LEAVES, FORM)
    kept = [(c, plan.leaf(c, False)) for top in LEAVES.criteria() for c in top.walk()]
    best = {"rtb": 0.5} if with_best else None
    for facts in agencies:
        ag = plan.prepare(facts, best)
        for c, fn in kept:
            assert fn(ag) == plan.leaf(c, False)(ag)


@pytest.mark.parametrize(
    ("pcs", "staff", "best", "points"),
    [(1, 2, 1.0, 5.0), (3, 4, 0.5, 10.0), (0, 4, 0.5, 0.0), (2.5, 5, 2.0, 2.5)],
)
def test_a_ratio_to_best_scored_with_the_cohort_best_given_is_settled_at_once(
    pcs: float, staff: float, best: float, points: float
) -> None:
    """score_submission(best=…) settles a ratio_to_best criterion as ranking would (it
    raised a TypeError building its shared-result key before)."""
    answers = {"pcs": Answer(pcs), "staff": Answer(staff)}
    s = score_submission(LEAVES, FORM, SubmissionFacts("A", "so", answers=answers), {"rtb": best})
    got = next(c for c in s.criteria if c.id == "rtb")
    assert (got.points, got.pending_best) == (points, False)


def test_a_criterion_whose_values_rarely_repeat_stops_keeping_them_and_scores_the_same() -> None:
    plan = _plan(LEAVES, FORM)
    c = next(c for top in LEAVES.criteria() for c in top.walk() if c.id == "r2")
    fn = plan.leaf(c, False)
    for n in range(1, 700):  # every tuple new: kept no more after 256 misses
        answers = {"pcs": Answer(n), "dvc_online": Answer(1), "staff": Answer(n + 1),
                   "dvc": Answer(2)}  # fmt: skip
        ag = plan.prepare(SubmissionFacts("A", "so", answers=answers), None)
        got = fn(ag)
        assert got == plan.leaf(c, False)(ag)
        assert got.points == round(10 * (n + 1) / (n + 3), 4)
    kept = dict(zip(fn.__code__.co_freevars, fn.__closure__, strict=True))
    assert kept["by_values"].cell_contents == {}
    assert kept["tally"].cell_contents[0] is False


def test_a_ratio_met_before_by_its_values_is_not_reused_where_a_verdict_or_blank_differs() -> None:
    """single_ratio keeps the result of two plain numbers by the values as answered: the
    same pair as floats, and the same pair under a correction, a rejection, "không áp
    dụng" or a yes/no, must score as the general rule does, one agency after the other."""
    plan = _plan(SCALE, FORM)
    pcs = next(c for top in SCALE.criteria() for c in top.walk() if c.id == "pcs")
    fast, general = plan.many(pcs, False)[0], plan.leaf(pcs, False)
    a = {"pcs": Answer(3), "staff": Answer(4)}
    rows = [
        ({}, {}, 7.5, "ratio"),
        ({"pcs": Answer(3.0), "staff": Answer(4.0)}, {}, 7.5, "ratio"),
        ({}, {"staff": Verdict("sua", "x", Answer(6))}, 5.0, "ratio"),
        ({}, {"pcs": Verdict("khong_dat", "sai")}, 0.0, "rejected"),
        ({"pcs": Answer(True)}, {}, 2.5, "ratio"),
        ({"staff": Answer(None, "không có")}, {}, 0.0, "zero_den_zero"),
        ({}, {}, 7.5, "ratio"),
    ]
    for answers, verdicts, points, reason in rows:
        facts = SubmissionFacts("A", "so", answers={**a, **answers}, verdicts=verdicts)
        ag = plan.prepare(facts, None)
        got = fast(ag)
        assert got == general(ag)
        assert (got.points, got.reason, got.corrected) == (points, reason, "staff" in verdicts)


def _digest(n: int) -> dict[str, str]:
    """Exact digest of score + rank per shipped scale on the bench's generator."""
    forms = builtin_forms()
    out = {}
    for form_id, scale in sorted(builtin_scales().items()):
        form = forms[form_id]
        facts = score_bench.generate(form, n, seed=11, scale=scale)
        scores = [score_submission(scale, form, f) for f in facts]
        ranking = rank(scale, scores)
        h = hashlib.sha256()
        for s in scores:
            h.update(repr((
                s.agency, s.maximum, s.variant and s.variant.id,
                [(d.id, p) for d, p in s.deductions], s.unranked, s.total,
                [(c.id, c.section, c.points, c.max, c.reason, sorted(c.params.items()),
                  c.corrected, c.bonus, c.value, c.pending_best) for c in s.criteria],
            )).encode())  # fmt: skip
        for group, rows in sorted(ranking.groups.items()):
            for r in rows:
                h.update(repr((
                    group, r.rank, r.band, r.score.agency, r.score.total,
                    [(c.id, c.points, c.reason, sorted(c.params.items()))
                     for c in r.score.criteria],
                )).encode())  # fmt: skip
        h.update(repr([s.agency for s in ranking.unranked]).encode())
        out[form_id] = h.hexdigest()[:16]
    return out


def test_bench_agencies_score_and_rank_exactly_as_before_the_speed_work() -> None:
    """Pinned from d15d99c (before the speed work). If bench/score_bench.py's generator
    changes, recompute the digests with the scoring code of main, not with a change."""
    assert _digest(300) == {
        "binh-dinh-2019-huyen": "cb2d059fb4d8b5ed",
        "binh-dinh-2019-so": "e332e0097595609f",
        "dien-bien-2014-website": "ac8660be47fa37da",
    }


@pytest.mark.parametrize("form_id", sorted(builtin_scales()))
def test_the_pending_positions_kept_when_scoring_are_those_of_the_pending_results(
    form_id: str,
) -> None:
    """score_submission keeps where an agency's pending criteria are (every variant's layout
    of the shipped scales, none once the best is given); ranking a copy without them (made by
    `replace`, as before_deadline does) ranks the same."""
    scale, form = builtin_scales()[form_id], builtin_forms()[form_id]
    facts = score_bench.generate(form, 120, seed=5, scale=scale)
    scores = [score_submission(scale, form, f) for f in facts]
    for s in scores:
        scanned = [k for k, c in enumerate(s.criteria) if c.pending_best]
        assert s.__dict__[PENDING_HINT] == scanned
    assert score_submission(scale, form, facts[0], {}).__dict__[PENDING_HINT] == [
        k for k, c in enumerate(scores[0].criteria) if c.pending_best
    ]  # an empty best: still pending
    copies = [dataclasses.replace(s) for s in scores]
    assert all(PENDING_HINT not in c.__dict__ for c in copies)

    def lines(ranking: Any) -> list[Any]:
        return [
            (g, r.rank, r.band, r.score.agency, r.score.total, r.score.criteria)
            for g, rows in sorted(ranking.groups.items())
            for r in rows
        ]

    assert lines(rank(scale, scores)) == lines(rank(scale, copies))


def test_a_settled_score_keeps_every_field() -> None:
    variant = Variant("v", "Biến thể", ("x",), 50.0, "apart")
    s = AgencyScore(
        "Sở A", "SA", "so", (), 50.0, variant, (), "late", {"why": "x"}
    )  # every field set
    assert _with_criteria(s, ()) == dataclasses.replace(s, criteria=())
    assert {f.name for f in dataclasses.fields(AgencyScore)} == {
        "agency",
        "code",
        "cohort",
        "criteria",
        "maximum",
        "variant",
        "deductions",
        "unranked",
        "unranked_params",
    }  # fmt: skip  (a new field: name it in ranking._with_criteria too)


@pytest.mark.parametrize(
    ("cls", "build"),
    [(CriterionScore, criterion_score), (AgencyScore, agency_score), (Ranked, ranked)],
)
def test_a_fast_builder_takes_every_field_in_order_and_equals_the_constructor(
    cls: type, build: Callable[..., Any]
) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(build).parameters) == names  # a new field: add it there
    values = [object() for _ in names]  # a distinct value per field: none swapped
    fast, slow = build(*values), cls(*values)
    assert type(fast) is cls
    assert fast == slow
    assert all(getattr(fast, n) is v for n, v in zip(names, values, strict=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(fast, names[0], 1)  # as frozen as the constructor's


def test_results_built_fast_read_as_the_constructor_s() -> None:
    c = criterion_score("a", "1", "x", 2.5, 5.0, "ratio", {"a": 1.0}, False, False, 1.0, False)
    assert c.lost == 2.5
    assert dataclasses.replace(c, points=5.0).lost == 0.0
    s = agency_score("Sở A", "SA", "so", (c, c), 10.0, None, (), None, {})
    assert (s.total, s.index, s.score100, s.sections, s.group) == (5.0, 0.5, 50.0, {"1": 5.0}, "so")
    assert dataclasses.replace(s, criteria=(c,)).total == 2.5
    assert ranked(s, 1, "Tốt") == Ranked(s, 1, "Tốt")


def test_a_kept_total_is_not_carried_into_a_changed_score() -> None:
    s = score_submission(SCALE, FORM, SubmissionFacts("A", "so", answers={"wan": Answer(True)}))
    assert s.total == 5
    assert dataclasses.replace(s, criteria=s.criteria[1:]).total == 0


def test_a_compiled_expression_tells_a_literal_one_from_true() -> None:
    assert expr.evaluate("[a] + 1", {"a": 1}) == 2
    assert expr.evaluate("[a] + true", {"a": 1}) is None  # a yes/no is not a number
    assert expr.evaluate("[a] == 1 and [b] > 0", {"a": 1, "b": None}) is None
    assert expr.evaluate("[a] == 1 or [b] > 0", {"a": 1, "b": None}) is True


# ---- compiled expressions (flows.expr.compiled) against the tree walk they replace ---------


def _walk(node: Any, values: dict[str, Any]) -> Any:
    """The reference: flows.expr's tree-walking evaluator before expressions were compiled
    (d15d99c), with the same helpers; `sum` as it was written then."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ref":
        return values.get(node[1])
    if kind == "neg":
        n = expr._num(_walk(node[1], values))
        return None if n is None else -n
    if kind == "not":
        v = _walk(node[1], values)
        return None if v is None else not v
    if kind == "call":
        args = [_walk(a, values) for a in node[2]]
        if node[1] == "sum":
            return sum(n for n in (expr._num(a) for a in args) if n is not None)
        return expr._FUNCTIONS[node[1]](*args)
    op, left, right = node[1], node[2], node[3]
    if op in ("and", "or"):
        a = _walk(left, values)
        if op == "and" and a is False:
            return False
        if op == "or" and a is True:
            return True
        b = _walk(right, values)
        if a is None or b is None:
            return None
        return bool(a) and bool(b) if op == "and" else bool(a) or bool(b)
    a, b = _walk(left, values), _walk(right, values)
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return expr._compare(op, a, b)
    return expr._arith(op, a, b)


_atoms = st.sampled_from(["[a]", "[b]", "[c]", "0", "1", "2.5", "true", "false", "null"])
_sources = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(list(expr._BINARY)), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda s: f"not {s}"),
        inner.map(lambda s: f"-{s}"),
        st.tuples(st.sampled_from(["sum", "min", "max", "count_true", "answered"]),
                  st.lists(inner, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.tuples(inner, inner).map(lambda t: f"contains({t[0]}, {t[1]})"),
    ),
    max_leaves=8,
)  # fmt: skip
_expr_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, -0.0, 1.5, -2.25]),
    st.sampled_from(["", "x", [], ["x"], [1, 2]]),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(_sources, st.fixed_dictionaries({"a": _expr_values, "b": _expr_values, "c": _expr_values}))
def test_a_compiled_expression_evaluates_as_the_tree_walk(
    source: str, values: dict[str, Any]
) -> None:
    node = expr.parse(source)
    want = _walk(node, values)
    got = expr.evaluate(source, values)
    assert type(got) is type(want) and repr(got) == repr(want), source
