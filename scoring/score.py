"""Score one agency's answers against a scale: pure, over `SubmissionFacts`.

Rules of the Cao Bằng notice (seed 002, QĐ 1513/QĐ-UBND 2018), applied to every criterion
before its own rule:
- a reviewer's "không đạt" on an item the criterion reads → 0 (and for a website-content
  item, a comment "không có tin bài trong năm" says so);
- "không áp dụng" by nature, with a reason → full marks;
- blank ("để trống") → 0;
- a website-content criterion (`posts`) counts only with at least one post in the year;
- an item that needs a link, answered positively without one → 0 ("chưa có link"); a
  returned item ("trả lại") waiting for its evidence → 0;
- a reviewer-corrected value ('sua') is used instead of the agency's, and said so.
A late or missing submission is scored but not ranked (scoring.ranking).

Speed (issue #12: 5,000 agencies × ~100 criteria scored and ranked in under a second): a
scale is compiled once per form into one closure per criterion (`_Plan`), with its items,
maxima, flags and rule constants bound, so scoring an agency reads each item straight from
its answers — no full values dict, no per-criterion list building, no dataclass
`replace`. Results with the same points and reason share one immutable-in-practice
`CriterionScore` (most criteria of most agencies are "blank", "yes", "no"…).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from flows import expr
from flows.model import Form, ItemType
from flows.parsing import fold
from flows.state import Answer
from scoring.model import (
    AgencyScore,
    Criterion,
    CriterionScore,
    Ranking,
    Scale,
    SubmissionFacts,
    Variant,
    agency_score,
    criterion_score,
)

_NO_POSTS = "khong co tin bai"
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})
_SHARED_MAX = 4096  # shared results kept per criterion (bounded: the bot process lives long)
PENDING_HINT = "_pending"
"""The key, in an AgencyScore's __dict__, of the positions of its pending criteria, kept by
score_submission (beside the kept total; not a field: a copy made by `replace` has none)."""


def effective_answers(facts: SubmissionFacts) -> tuple[Mapping[str, Answer], set[str]]:
    """The answers scoring reads: the agency's, with each reviewer correction ('sua') in
    place of the agency's answer; and the ids that were corrected. The agency's mapping is
    returned as is (not copied) when nothing was corrected."""
    corrected = {
        item for item, v in facts.verdicts.items() if v.verdict == "sua" and v.corrected is not None
    }
    if not corrected:
        return facts.answers, corrected
    answers = dict(facts.answers)
    for item in corrected:
        answers[item] = facts.verdicts[item].corrected  # type: ignore[assignment]
    return answers, corrected


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return float(len(value))
    return None


def _has_link(evidence: Any) -> bool:
    """A link given: a link string, a document or caption with a link, or a file sent (the
    file itself is what the reviewer checks)."""
    if type(evidence) is str and evidence and not evidence[0].isspace():
        return True  # the commonest case, without strip's copy
    if isinstance(evidence, str):
        return bool(evidence.strip())
    if isinstance(evidence, dict):
        return bool(evidence.get("link") or isinstance(evidence.get("file"), dict))
    return False


# Constants, not literals in the functions: a `[]` or `{}` literal builds a new object on
# every comparison, and these run ~100 times per agency.
_BLANKS: tuple[Any, ...] = ("", [], {})
_NOT_POSITIVE: tuple[Any, ...] = ("", "chua_co", [], {})


def _positive(value: Any) -> bool:
    if value is None or value is False or value in _NOT_POSITIVE:
        return False
    return not (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)


class _Agency:
    """One agency's facts as the compiled criteria read them."""

    __slots__ = ("answers", "best", "computed", "corrected", "manual", "touched", "verdicts")

    def __init__(
        self,
        answers: Mapping[str, Answer],
        corrected: set[str],
        verdicts: Mapping[str, Any],
        manual: Mapping[str, float],
        best: Mapping[str, float] | None,
    ) -> None:
        self.answers = answers
        self.corrected = corrected
        self.verdicts = verdicts
        self.manual = manual
        self.best = best
        self.computed: dict[str, Any] = {}
        # Items with a correction or a verdict: one test sends a criterion off its fast path.
        self.touched = corrected.union(verdicts) if verdicts else corrected


_Fn = Callable[[_Agency], CriterionScore]
_Read = tuple[int, int, Answer | None, float | None]


class _Plan:
    """A scale compiled for one form: a closure per listed criterion (a `sum` is listed by
    its parts), the computed items' parsed formulas, the variants' items."""

    def __init__(self, scale: Scale, form: Form) -> None:
        self.scale = scale
        self.form = form
        types = {q.id: q.type for q in form.questions}
        self.computed_types = frozenset(i for i, t in types.items() if t is ItemType.COMPUTED)
        self.multi = frozenset(i for i, t in types.items() if t is ItemType.MULTI_CHOICE)
        self.formulas = tuple(
            (q.id, expr.compiled(expr.parse(q.formula)), expr.refs(q.formula))
            for q in form.questions
            if q.type is ItemType.COMPUTED and q.formula
        )
        self.deductions = tuple(
            (d, expr.compiled(expr.parse(d.when)), expr.refs(d.when)) for d in scale.deductions
        )
        self.variants = tuple(
            (
                v,
                tuple(i for cid in v.drop if (c := scale.criterion(cid)) for i in c.all_items()),
                frozenset(v.drop),
            )
            for v in scale.variants
        )
        self._listed: dict[frozenset[str], tuple[_Fn, ...]] = {}
        self._best_fns: set[_Fn] = set()  # the closures of ratio_to_best criteria
        self._best_at: dict[frozenset[str], tuple[int, ...]] = {}
        self.tops: tuple[tuple[str, tuple[_Fn, ...]], ...] = tuple(
            (c.id, tuple(self.many(c, False))) for c in scale.criteria()
        )

    def listed(self, dropped: frozenset[str]) -> tuple[_Fn, ...]:
        """The closures of every listed criterion but the `dropped` top-level ones."""
        hit = self._listed.get(dropped)
        if hit is None:
            hit = self._listed[dropped] = tuple(
                f for cid, fns in self.tops if cid not in dropped for f in fns
            )
        return hit

    def best_at(self, dropped: frozenset[str]) -> tuple[int, ...]:
        """Where the ratio_to_best criteria are among `listed(dropped)`'s results: the only
        ones that can be pending."""
        hit = self._best_at.get(dropped)
        if hit is None:
            listed = self.listed(dropped)
            hit = self._best_at[dropped] = tuple(
                k for k, f in enumerate(listed) if f in self._best_fns
            )
        return hit

    # ---- item reading (the same answers as flows.navigation.values_of) --------------------
    def value_of(self, ag: _Agency, item: str) -> Any:
        computed = ag.computed
        if item in computed:
            return computed[item]
        a = ag.answers.get(item)
        return a.value if a is not None and a.na_reason is None else None

    def values(self, ag: _Agency, refs: tuple[str, ...]) -> dict[str, Any]:
        """`value_of` each of `refs`, inline: what a formula or a deduction reads."""
        computed, answers = ag.computed, ag.answers
        out: dict[str, Any] = {}
        for r in refs:
            if r in computed:
                out[r] = computed[r]
            else:
                a = answers.get(r)
                out[r] = a.value if a is not None and a.na_reason is None else None
        return out

    def blank(self, ag: _Agency, item: str) -> bool:
        if item in self.computed_types:
            return self.value_of(ag, item) is None
        a = ag.answers.get(item)
        if a is None:
            return True
        v = a.value
        return a.na_reason is None and (v is None or v in _BLANKS)

    def na(self, ag: _Agency, item: str) -> bool:
        a = ag.answers.get(item)
        return a is not None and a.na_reason is not None

    def number(self, ag: _Agency, item: str) -> float | None:
        raw = self.value_of(ag, item)
        if raw is None:
            return None
        if item in self.multi:
            return float(len(raw))
        return _number(raw)

    def total(self, ag: _Agency, items: tuple[str, ...]) -> float | None:
        """Sum of the items' values; None when every one is blank."""
        number = self.number
        nums = [v for i in items if (v := number(ag, i)) is not None]
        return sum(nums) if nums else None

    def read_plain(self, ag: _Agency, items: tuple[str, ...]) -> _Read:
        """`read` for items that are neither computed nor multi-choice: one pass, inline."""
        answers = ag.answers
        answered = nas = 0
        first = None
        tot: float = 0  # summed as `sum` does (from the int 0), so every float is the same
        seen = False
        for i in items:
            a = answers.get(i)
            if a is None:
                continue
            if a.na_reason is not None:
                answered += 1
                nas += 1
                if first is None:
                    first = a
                continue
            value = a.value
            if value is None:
                continue
            if value not in _BLANKS:
                answered += 1
            t = type(value)
            if t is int or t is float:  # _number's commonest case, inline
                tot += float(value)
                seen = True
            else:
                n = _number(value)
                if n is not None:
                    tot += n
                    seen = True
        return answered, nas, first, (tot if seen else None)

    def read(self, ag: _Agency, items: tuple[str, ...]) -> _Read:
        """(answered, answered "không áp dụng", the first of those, the values' `total`)."""
        answered, nas, first = self.scan(ag, items)
        return answered, nas, first, self.total(ag, items)

    def scan(self, ag: _Agency, items: tuple[str, ...]) -> tuple[int, int, Answer | None]:
        """(answered, answered "không áp dụng", the first of those) among `items`."""
        answers = ag.answers
        computed_types = self.computed_types
        answered = nas = 0
        first = None
        for i in items:
            a = answers.get(i)
            if i in computed_types:
                if self.value_of(ag, i) is None:
                    continue
            elif a is None:
                continue
            elif a.na_reason is None:
                v = a.value
                if v is None or v in _BLANKS:
                    continue
            answered += 1
            if a is not None and a.na_reason is not None:
                nas += 1
                if first is None:
                    first = a
        return answered, nas, first

    # ---- compiling -----------------------------------------------------------------------
    def many(self, c: Criterion, bonus: bool) -> list[_Fn]:
        """Closures listing `c`: one, or one per part of a `sum` (each point keeps its own
        reason); `bonus`: inside a bonus `sum`, so every part is bonus."""
        if c.rule == "sum":
            return [f for p in c.parts for f in self.many(p, bonus or c.bonus)]
        if c.rule == "best_of":
            return [self.best_of(c, bonus)]
        plain = all(
            i not in self.computed_types and i not in self.multi for i in (*c.items, *c.per)
        )
        if plain and len(c.items) == 1 and not c.per and c.rule in ("yes_no", "levels", "bands"):
            return [self.single(c, bonus)]
        if (
            plain
            and len(c.items) == 1
            and len(c.per) == 1
            and c.rule == "ratio"
            and not c.link
            and not c.posts
        ):
            return [self.single_ratio(c, bonus)]
        fn = self.leaf(c, bonus)
        if c.rule == "ratio_to_best":
            self._best_fns.add(fn)
        return [fn]

    def maker(
        self, c: Criterion, bonus: bool
    ) -> Callable[[float, str, Mapping[str, Any] | None, bool, float | None, bool], CriterionScore]:
        """The result builder of `c`: points held within 0–max and rounded; results without
        parameters or value are shared (they are never changed after scoring)."""
        cid, section, text, cmax, bonus = c.id, c.section, c.text, c.max, bonus or c.bonus
        shared: dict[tuple[float, str, bool], CriterionScore] = {}
        shared_p: dict[tuple[Any, ...], CriterionScore] = {}

        def make(
            points: float,
            reason: str,
            params: Mapping[str, Any] | None = None,
            corrected: bool = False,
            value: float | None = None,
            pending: bool = False,
        ) -> CriterionScore:
            points = round(min(max(points, 0.0), cmax), 4)
            if params or value is not None or pending:
                # Shared too when the same result recurs (a ratio, a count, a pending best
                # value…): building a frozen dataclass costs more than the lookup, and every
                # result kept alive pushes the collector towards a full pass over the cohort.
                # Not when a parameter or the value is 0, so a -0.0 stays as it came.
                vals = tuple(params.values()) if params else ()
                if value == 0 or 0 in vals:
                    key2 = None
                else:
                    key2 = (points, reason, corrected, value, pending, *(params or ()), *vals)
                    try:
                        hit = shared_p.get(key2)
                    except TypeError:  # an unhashable parameter: built afresh
                        key2, hit = None, None
                    if hit is not None:
                        return hit
                res = criterion_score(
                    cid, section, text, points, cmax, reason, params, corrected, bonus, value,
                    pending,
                )  # fmt: skip
                if key2 is not None and len(shared_p) < _SHARED_MAX:
                    shared_p[key2] = res
                return res
            key = (points, reason, corrected)
            hit = shared.get(key)
            if hit is None:
                hit = criterion_score(
                    cid, section, text, points, cmax, reason, _NO_PARAMS, corrected, bonus, None,
                    False,
                )  # fmt: skip
                if len(shared) < _SHARED_MAX:
                    shared[key] = hit
            return hit

        return make

    def best_of(self, c: Criterion, bonus: bool) -> _Fn:
        make = self.maker(c, bonus)
        cases = tuple((k, p, tuple(self.many(p, False))) for k, p in enumerate(c.parts))
        # The result by the case and its parts' results (mostly shared objects): built once.
        # The parts' results are kept beside it, so the ids in the key stay theirs.
        memo: dict[tuple[int, ...], tuple[list[CriterionScore], CriterionScore]] = {}

        def score(ag: _Agency) -> CriterionScore:
            best = None
            for k, p, fns in cases:
                inner = [f(ag) for f in fns]
                points = sum([s.points for s in inner])
                if best is None or points > best[3]:  # the first of equal cases, like max()
                    best = (k, p, inner, points)
            assert best is not None  # the loader refuses a best_of without parts
            k, case, inner, points = best
            key = (k, *[id(s) for s in inner])
            hit = memo.get(key)
            if hit is not None:
                return hit[1]
            reason = inner[0] if len(inner) == 1 else None
            if points == 0 and reason is not None:  # no case scores: say why (blank…)
                res = make(0.0, reason.reason, reason.params, reason.corrected)
            else:
                params: dict[str, Any] = {"case": case.text}
                if reason is not None:
                    params.update({"inner": reason.reason, **reason.params})
                res = make(points, "best_case", params, any(s.corrected for s in inner))
            if len(memo) < _SHARED_MAX:
                memo[key] = (inner, res)
            return res

        return score

    def single(self, c: Criterion, bonus: bool) -> _Fn:
        """`leaf` for the commonest shape (a yes/no, levels or bands criterion reading one
        plain item): the same gate and rule, inlined."""
        make = self.maker(c, bonus)
        item, rule, cmax, link, levels, posts = c.items[0], c.rule, c.max, c.link, c.levels, c.posts
        blank, yes, no = make(0.0, "blank"), make(cmax, "yes"), make(0.0, "no")
        no_posts = make(0.0, "no_posts")
        rejected = "rejected_link" if c.link else "rejected"
        steps = tuple((s.min, s.points) for s in c.steps)
        low = c.steps[-1].min if c.steps else 0
        is_yes_no, is_levels = rule == "yes_no", rule == "levels"
        memo: dict[tuple[Any, bool], CriterionScore] = {}
        # The value → result of the commonest case (no verdict, no correction on the item)
        # for levels (a str) and bands (a non-zero int or float): each value's result once.
        fast: dict[Any, CriterionScore] = {}
        fast_type = (str,) if is_levels else (int, float)

        no_link = make(0.0, "no_link", {"item": item}, False)
        nas: dict[str, CriterionScore] = {}  # "không áp dụng" by its reason

        def score(ag: _Agency) -> CriterionScore:
            """The commonest case first: no correction and no verdict on the item."""
            if item in ag.touched:
                return full(ag)
            a = ag.answers.get(item)
            if a is None:
                return blank
            na = a.na_reason
            if na is not None:
                hit = nas.get(na)
                if hit is None:
                    hit = make(cmax, "na", {"reason": na or ""}, False)
                    if len(nas) < _SHARED_MAX:
                        nas[na] = hit
                return hit
            value = a.value
            if value is True:
                if link and not _has_link(a.evidence):
                    return no_link
                if is_yes_no:
                    return yes
                return full(ag)
            if is_yes_no and value is False and not posts:
                return no
            t = type(value)
            if t in fast_type and value:
                # With a link given, the link rule passes; with posts, a number above 0 does:
                # from there the result is the value's alone.
                if link and not _has_link(a.evidence):
                    return full(ag)
                if posts and (t is str or value <= 0):
                    return full(ag)
                hit = fast.get(value)
                if hit is None:
                    hit = full(ag)
                    if len(fast) < _SHARED_MAX:
                        fast[value] = hit
                return hit
            return full(ag)

        def full(ag: _Agency) -> CriterionScore:
            corr = ag.corrected
            corrected = item in corr if corr else False
            verdicts = ag.verdicts
            v = verdicts.get(item) if verdicts else None
            if v is not None and v.verdict == "khong_dat":
                comment = (v.comment or "").strip()
                if posts and _NO_POSTS in fold(comment):
                    return make(0.0, "no_posts", None, corrected)
                return make(0.0, rejected, {"item": item, "comment": comment}, corrected)
            a = ag.answers.get(item)
            if a is None:
                return make(0.0, "blank", None, corrected) if corrected else blank
            if a.na_reason is not None:
                return make(cmax, "na", {"reason": a.na_reason or ""}, corrected)
            value = a.value
            if value is None or value in _BLANKS:
                return make(0.0, "blank", None, corrected) if corrected else blank
            # posts: a count (or yes/no) above 0; anything else, a positive answer
            if posts and not (value > 0 if isinstance(value, int | float) else _positive(value)):
                return make(0.0, "no_posts", None, corrected) if corrected else no_posts
            if link and _positive(value):
                if v is not None and v.verdict == "tra_lai":
                    return make(0.0, "returned", {"item": item}, corrected)
                if not _has_link(a.evidence):
                    return make(0.0, "no_link", {"item": item}, corrected)
            if is_yes_no:
                if corrected:
                    return (
                        make(cmax, "yes", None, True)
                        if value is True
                        else make(0.0, "no", None, True)
                    )
                return yes if value is True else no
            # The rule's result depends on the value alone from here: met again and again
            # across agencies, so shared (a 0 is not, to keep a -0.0 as it came).
            n = str(value) if is_levels else _number(value) or 0.0
            key = (n, corrected)
            hit = memo.get(key) if n else None
            if hit is not None:
                return hit
            if is_levels:
                share = levels.get(n, 0.0)  # type: ignore[call-overload]
                res = make(cmax * share, "level", {"level": n, "share": share}, corrected)
            else:
                for lo, pts in steps:
                    if n >= lo:
                        res = make(pts, "band", {"value": n, "min": lo}, corrected, n)
                        break
                else:
                    res = make(0.0, "below", {"value": n, "min": low}, corrected, n)
            if len(memo) < _SHARED_MAX:
                memo[key] = res
            return res

        return score

    def single_ratio(self, c: Criterion, bonus: bool) -> _Fn:
        """`leaf` for a ratio of one plain item over one plain item, without link or
        website-content rule: the same gate and rule, inlined."""
        make = self.maker(c, bonus)
        item, den, cmax = c.items[0], c.per[0], c.max
        rejected = "rejected_link" if c.link else "rejected"
        zero_reason = f"zero_den_{c.zero}"
        zero_points = cmax if c.zero == "full" else 0.0
        memo: dict[tuple[float, float, bool], CriterionScore] = {}

        pair = (item, den)
        blank = make(0.0, "blank", None, False)
        zero_den = make(zero_points, zero_reason, None, False)  # shared: made once here
        # The commonest case's result by the two values as answered (plain non-zero numbers,
        # no verdict or correction on either item): `general`'s, built once per pair (a
        # number and its float are equal keys, and give the same floats to the rule).
        by_values: dict[tuple[Any, Any], CriterionScore] = {}

        def score(ag: _Agency) -> CriterionScore:
            touched = ag.touched
            if item not in touched and den not in touched:
                answers = ag.answers
                a, d = answers.get(item), answers.get(den)
                if a is not None and d is not None and a.na_reason is None and d.na_reason is None:
                    x, b = a.value, d.value
                    tx, tb = type(x), type(b)
                    if x and b and (tx is int or tx is float) and (tb is int or tb is float):
                        key = (x, b)
                        hit = by_values.get(key)
                        if hit is None:
                            hit = general(ag)
                            if len(by_values) < _SHARED_MAX:
                                by_values[key] = hit
                        return hit
            return general(ag)

        def general(ag: _Agency) -> CriterionScore:
            touched = ag.touched
            corrected = False
            if item in touched or den in touched:  # a correction or a verdict
                corr = ag.corrected
                corrected = item in corr or den in corr
                verdicts = ag.verdicts
                for i in pair:
                    v = verdicts.get(i)
                    if v is not None and v.verdict == "khong_dat":
                        comment = (v.comment or "").strip()
                        return make(0.0, rejected, {"item": i, "comment": comment}, corrected)
            answers = ag.answers
            a, d = answers.get(item), answers.get(den)
            num = den_num = None
            answered = nas = 0
            first = None
            if a is not None:
                if a.na_reason is not None:
                    answered = nas = 1
                    first = a
                else:
                    value = a.value
                    if not (value is None or value in _BLANKS):
                        answered = 1
                        t = type(value)
                        num = float(value) if t is int or t is float else _number(value)
            answered_den = 0
            if d is not None:
                if d.na_reason is not None:
                    answered_den = 1
                    nas += 1
                    if first is None:
                        first = d
                else:
                    value = d.value
                    if not (value is None or value in _BLANKS):
                        answered_den = 1
                        t = type(value)
                        den_num = float(value) if t is int or t is float else _number(value)
            if nas and nas == answered + answered_den:
                return make(cmax, "na", {"reason": first.na_reason or ""}, corrected)  # type: ignore[union-attr]
            if answered and not answered_den:  # as in `leaf`: say what is missing
                return make(0.0, "blank_per", {"items": den}, corrected)
            if answered == 0 or answered_den == 0:
                return make(0.0, "blank", None, True) if corrected else blank
            x = num or 0.0
            b = den_num or 0.0
            if b == 0:
                return make(zero_points, zero_reason, None, True) if corrected else zero_den
            key = (x, b, corrected)
            hit = memo.get(key) if x else None  # shared, as in `single`
            if hit is not None:
                return hit
            res = make(cmax * min(x / b, 1.0), "ratio", {"a": x, "b": b}, corrected)
            if len(memo) < _SHARED_MAX:
                memo[key] = res
            return res

        return score

    def leaf(self, c: Criterion, bonus: bool) -> _Fn:
        make = self.maker(c, bonus)
        cid, items, per, rule, cmax, zero = c.id, c.items, c.per, c.rule, c.max, c.zero
        gate_items = items + per if per else items
        rejected = "rejected_link" if c.link else "rejected"
        posts, link = c.posts, c.link
        is_manual, is_ratio = rule == "manual", rule == "ratio"
        value_of = self.value_of
        plain = all(
            i not in self.computed_types and i not in self.multi for i in (*c.items, *c.per)
        )
        total, read = self.total, self.read_plain if plain else self.read
        zero_reason = f"zero_den_{zero}"
        zero_points = cmax if zero == "full" else 0.0
        # Results without parameters, uncorrected: shared, so made once here.
        zero_den = make(zero_points, zero_reason, None, False)
        missing = make(0.0, "manual_missing", None, False)
        steps = tuple((s.min, s.points) for s in c.steps)
        low = c.steps[-1].min if c.steps else 0
        each = c.points or 0.0
        levels = c.levels
        first_item = items[0] if items else ""

        def posted(ag: _Agency) -> bool:
            n = total(ag, items)
            if n is not None and any(isinstance(value_of(ag, i), int | float) for i in items):
                return n > 0
            return any(_positive(value_of(ag, i)) for i in items)

        # The rule's result by the numbers it read (a ratio's a and b, a count…): the same
        # numbers recur across agencies, so each is built once (not a 0: a -0.0 stays).
        memo: dict[tuple[float, float, bool], CriterionScore] = {}
        pending_memo: dict[tuple[float, bool], CriterionScore] = {}

        # The criterion's own rule, chosen once here rather than by name on every call.
        # Each takes the totals of `items` and of `per` the gate read (None: all blank).
        def ratio(ag: _Agency, corrected: bool, a: float | None, b: float | None) -> CriterionScore:
            a = a or 0.0
            b = b or 0.0
            if b == 0:
                return make(zero_points, zero_reason, None, True) if corrected else zero_den
            key = (a, b, corrected)
            hit = memo.get(key) if a else None
            if hit is not None:
                return hit
            res = make(cmax * min(a / b, 1.0), "ratio", {"a": a, "b": b}, corrected)
            if a and len(memo) < _SHARED_MAX:
                memo[key] = res
            return res

        def yes_no(ag: _Agency, corrected: bool, *_: float | None) -> CriterionScore:
            if value_of(ag, first_item) is True:
                return make(cmax, "yes", None, corrected)
            return make(0.0, "no", None, corrected)

        def level(ag: _Agency, corrected: bool, *_: float | None) -> CriterionScore:
            level = value_of(ag, first_item)
            share = levels.get(str(level), 0.0)
            return make(cmax * share, "level", {"level": str(level), "share": share}, corrected)

        def bands(ag: _Agency, corrected: bool, a: float | None, b: float | None) -> CriterionScore:
            v = a or 0.0
            if per:
                b = b or 0.0
                if b == 0:
                    return make(zero_points, zero_reason, None, True) if corrected else zero_den
                v = v / b
            if rule == "ratio_to_best":
                best = ag.best
                if best is None or cid not in best:
                    # Pending, by the value read: built once per value (not a 0: a -0.0
                    # stays as it came), without `make`'s parameters dict and key.
                    key = (v, corrected)
                    hit = pending_memo.get(key) if v else None
                    if hit is None:
                        # `make`'s result, built directly: the values are mostly distinct
                        # (a formula's ratio), so its shared-result key would rarely hit.
                        hit = criterion_score(
                            cid, c.section, c.text, 0.0, cmax, "pending_best", {"value": v},
                            corrected, bonus or c.bonus, v, True,
                        )  # fmt: skip
                        if v and len(pending_memo) < _SHARED_MAX:
                            pending_memo[key] = hit
                    return hit
                pending = make(0.0, "pending_best", None, corrected, v, True)
                return settle_best(pending, c, best[cid])
            for lo, pts in steps:
                if v >= lo:
                    return make(pts, "band", {"value": v, "min": lo}, corrected, v)
            return make(0.0, "below", {"value": v, "min": low}, corrected, v)

        def count_capped(
            ag: _Agency, corrected: bool, a: float | None, _: float | None
        ) -> CriterionScore:
            n = a or 0.0
            key = (n, 0.0, corrected)
            hit = memo.get(key) if n else None
            if hit is not None:
                return hit
            params = {"count": n, "each": c.points or 0, "max": cmax}
            res = make(n * each, "count", params, corrected, n)
            if n and len(memo) < _SHARED_MAX:
                memo[key] = res
            return res

        def manual(ag: _Agency, corrected: bool, *_: float | None) -> CriterionScore:
            if cid not in ag.manual:
                return make(0.0, "manual_missing", None, True) if corrected else missing
            pts = float(ag.manual[cid])
            key = (pts, 0.0, corrected)  # by the points entered, as a ratio by its numbers
            hit = memo.get(key) if pts else None
            if hit is None:
                hit = make(pts, "manual", {"points": pts}, corrected)
                if pts and len(memo) < _SHARED_MAX:
                    memo[key] = hit
            return hit

        apply = {
            "ratio": ratio,
            "yes_no": yes_no,
            "levels": level,
            "bands": bands,
            "ratio_to_best": bands,
            "count_capped": count_capped,
            "manual": manual,
        }.get(rule)
        if apply is None:
            raise ValueError(f"unknown rule {rule}")  # the loader refuses it first
        blank = make(0.0, "blank", None, False)
        # The commonest case's result by the values as answered: every item answered with a
        # number or a yes/no (not "không áp dụng", not a float 0, so a -0.0 is never met
        # under a 0's key), none with a verdict or a correction, the rule reading numbers
        # alone (no link, no website-content test, no cohort best yet). `general`'s result
        # then depends on those values only (an int, its float and a yes/no as 1 or 0 are
        # equal keys and read as the same float), so it is built once per tuple of values.
        # A criterion whose tuples are mostly new (counts over many items) stops keeping
        # them once 256 have been missed, more than half of its lookups: the key costs more
        # than it saves there.
        by_values: dict[tuple[Any, ...], CriterionScore] = {}
        tally = [
            plain
            and not link
            and not posts
            and rule in ("ratio", "bands", "ratio_to_best", "count_capped"),
            0,  # lookups
            0,  # misses
        ]
        needs_no_best = rule == "ratio_to_best"

        def missed() -> None:
            tally[2] += 1
            if tally[2] >= 256 and tally[2] * 2 > tally[1]:
                tally[0] = False
                by_values.clear()

        def score(ag: _Agency) -> CriterionScore:
            touched = ag.touched
            if (
                tally[0]
                and not (touched and not touched.isdisjoint(gate_items))
                and not (needs_no_best and ag.best is not None)
            ):
                tally[1] += 1
                answers = ag.answers
                values = []
                for i in gate_items:
                    a = answers.get(i)
                    if a is None or a.na_reason is not None:
                        break
                    v = a.value
                    t = type(v)
                    if t is bool or t is int or (t is float and v):
                        values.append(v)
                    else:
                        break
                else:
                    key = tuple(values)
                    hit = by_values.get(key)
                    if hit is not None:
                        return hit
                    hit = general(ag)
                    if len(by_values) < _SHARED_MAX:
                        by_values[key] = hit
                    missed()
                    return hit
                missed()  # not numbers alone: no key
            return general(ag)

        def general(ag: _Agency) -> CriterionScore:
            touched = ag.touched
            corrected = False
            verdicts = ag.verdicts
            if touched and not touched.isdisjoint(gate_items):  # a correction or a verdict
                corr = ag.corrected
                corrected = bool(corr) and any(i in corr for i in gate_items)
                for i in gate_items:
                    v = verdicts.get(i)
                    if v is not None and v.verdict == "khong_dat":
                        comment = (v.comment or "").strip()
                        if posts and _NO_POSTS in fold(comment):
                            return make(0.0, "no_posts", None, corrected)
                        return make(0.0, rejected, {"item": i, "comment": comment}, corrected)
            answered, nas, first, a_total = read(ag, items)
            if per:
                answered_per, nas_per, first_per, b_total = read(ag, per)
            else:
                answered_per, nas_per, first_per, b_total = 0, 0, None, None
            if nas + nas_per and nas + nas_per == answered + answered_per:
                na = first or first_per
                return make(cmax, "na", {"reason": na.na_reason or ""}, corrected)  # type: ignore[union-attr]
            if not is_manual and answered == 0:
                return make(0.0, "blank", None, True) if corrected else blank
            if is_ratio and answered_per == 0:
                # The numerator answered, the denominator not: name what is missing (an
                # official who answered 3.1.a/3.1.b was told 3.1 was "để trống").
                if answered and per:
                    return make(0.0, "blank_per", {"items": ", ".join(per)}, corrected)
                return make(0.0, "blank", None, True) if corrected else blank
            if posts and not posted(ag):
                return make(0.0, "no_posts", None, corrected)
            if link:
                answers = ag.answers
                for i in items:
                    a = answers.get(i)
                    if a is None or a.na_reason is not None or not _positive(a.value):
                        continue
                    v = verdicts.get(i)
                    if v is not None and v.verdict == "tra_lai":
                        return make(0.0, "returned", {"item": i}, corrected)
                    if not _has_link(a.evidence):
                        return make(0.0, "no_link", {"item": i}, corrected)
            return apply(ag, corrected, a_total, b_total)

        return score

    # ---- one agency ----------------------------------------------------------------------
    def prepare(self, facts: SubmissionFacts, best: Mapping[str, float] | None) -> _Agency:
        answers, corrected = effective_answers(facts)
        ag = _Agency(answers, corrected, facts.verdicts, facts.manual, best)
        values = self.values
        for item, formula, refs in self.formulas:
            result = formula(values(ag, refs))
            ag.computed[item] = round(result, 4) if isinstance(result, float) else result
        return ag

    def variant(self, ag: _Agency) -> tuple[Variant | None, frozenset[str]]:
        """The first variant whose dropped criteria are all answered "không áp dụng"."""
        blank, answers = self.blank, ag.answers
        for v, items, drop in self.variants:
            # Some item answered, and every answered one "không áp dụng" (`na` inline; one
            # pass, no list built).
            answered = False
            for i in items:
                if blank(ag, i):
                    continue
                a = answers.get(i)
                if a is not None and a.na_reason is not None:
                    answered = True
                else:
                    break  # answered, not "không áp dụng"
            else:
                if answered:
                    return v, drop
        return None, frozenset()


_PLANS: dict[tuple[int, int], _Plan] = {}


def _plan(scale: Scale, form: Form) -> _Plan:
    """The compiled scale for `form`, once per (scale, form) object."""
    hit = _PLANS.get((id(scale), id(form)))
    if hit is None or hit.scale is not scale or hit.form is not form:
        if len(_PLANS) > 64:  # tests build many inline scales
            _PLANS.clear()
        hit = _PLANS[(id(scale), id(form))] = _Plan(scale, form)
    return hit


def settle_best(s: CriterionScore, c: Criterion, best: float) -> CriterionScore:
    """A pending ratio_to_best score once the cohort's best value is known."""
    v = s.value or 0.0
    top = max(best, v)
    if top <= 0:
        pts = c.max if c.zero == "full" else 0.0
        reason, params = f"zero_best_{c.zero}", s.params
    else:
        pts = round(c.max * v / top, 4)
        reason, params = "to_best", {"value": v, "best": top}
    # dataclasses.replace, spelt out: it is several times slower and runs once per agency
    # and ratio_to_best criterion when ranking.
    return criterion_score(
        s.id, s.section, s.text, pts, s.max, reason, params, s.corrected, s.bonus, s.value, False
    )


def score_submission(
    scale: Scale,
    form: Form,
    facts: SubmissionFacts,
    best: Mapping[str, float] | None = None,
) -> AgencyScore:
    """Score one agency. `best`: the cohort's best value per ratio_to_best criterion, when
    known (otherwise those criteria stay pending until scoring.ranking.rank settles them).
    Late and missing submissions are scored and marked `unranked`."""
    plan = _plan(scale, form)
    ag = plan.prepare(facts, best)
    variant, dropped = plan.variant(ag)
    results = tuple([f(ag) for f in plan.listed(dropped)])
    values = plan.values
    deductions = tuple(
        (d, d.points) for d, when, refs in plan.deductions if when(values(ag, refs)) is True
    )
    unranked = None
    if not facts.submitted:
        unranked = "missing"
    elif facts.late:
        unranked = "late"
    score = agency_score(
        facts.agency,
        facts.code,
        facts.cohort,
        results,
        variant.maximum if variant else scale.maximum,
        variant,
        deductions,
        unranked,
        _NO_PARAMS,
    )
    # Where its pending criteria are, for ranking (scoring.ranking._pending): known here
    # from the compiled layout, where ranking would read every result of every agency.
    score.__dict__[PENDING_HINT] = [k for k in plan.best_at(dropped) if results[k].pending_best]
    return score


def before_deadline(ranking: Ranking) -> Ranking:
    """`ranking` as it reads while the campaign is open and its deadline not passed: an agency
    that has not sent its form is "not_yet" (chưa nộp), not "missing" (không gửi phiếu)."""
    return replace(
        ranking,
        unranked=[
            replace(s, unranked="not_yet") if s.unranked == "missing" else s
            for s in ranking.unranked
        ],
    )


def best_values(
    scores: Sequence[AgencyScore], pending: Sequence[Sequence[int]] | None = None
) -> dict[tuple[str, str], float]:
    """The best value of each ratio_to_best criterion by (group, criterion id), among the
    ranked `scores` (late and missing ones aside), at least 0. `pending`: the positions of
    each score's pending criteria, when the caller has found them."""
    best: dict[tuple[str, str], float] = {}
    for k, s in enumerate(scores):
        if s.unranked:
            continue
        at = pending[k] if pending is not None else range(len(s.criteria))
        group = s.group
        for j in at:
            c = s.criteria[j]
            if c.pending_best:
                key = (group, c.id)
                best[key] = max(best.get(key, 0.0), c.value or 0.0)
    return best


def best_items(scale: Scale, form: Form) -> tuple[str, ...]:
    """The items the cohort's best values are computed from: those the ratio_to_best
    criteria and the variants read, with the items their computed items are made of (what
    /diem loads of the other agencies' answers)."""
    plan = _plan(scale, form)
    formulas = {item: refs for item, _, refs in plan.formulas}
    todo = [
        i
        for top in scale.criteria()
        for c in top.walk()
        if c.rule == "ratio_to_best"
        for i in c.all_items()
    ]
    if not todo:
        return ()
    todo += [i for _, items, _ in plan.variants for i in items]
    seen: dict[str, None] = {}
    while todo:
        item = todo.pop(0)
        if item not in seen:
            seen[item] = None
            todo.extend(formulas.get(item, ()))
    return tuple(seen)


def provisional(
    scale: Scale, form: Form, facts: SubmissionFacts, others: Iterable[SubmissionFacts] = ()
) -> AgencyScore:
    """A score while answers are still coming in (/diem). A ratio_to_best criterion is
    measured against the best value among `others` (the other agencies of the cohort, with
    their current answers, counted whatever their status: give them as sent and on time)
    in the agency's group, the agency itself included: its reason
    says the figure is provisional ("provisional_to_best", "provisional_zero_best_…").
    Without another agency's value it is measured against the agency itself
    ("provisional_best")."""
    score = score_submission(scale, form, facts)
    if not any(s.pending_best for s in score.criteria):
        return score
    theirs = [score_submission(scale, form, f) for f in others]
    best = best_values(theirs)
    by_id = {c.id: c for top in scale.criteria() for c in top.walk()}
    settled = []
    for s in score.criteria:
        if s.pending_best:
            top = best.get((score.group, s.id))
            if top is None:  # no other agency to compare with
                s = settle_best(s, by_id[s.id], s.value or 0.0)
                s = replace(s, reason="provisional_best", params={"value": s.value or 0.0})
            else:
                s = settle_best(s, by_id[s.id], top)
                s = replace(s, reason=f"provisional_{s.reason}")
        settled.append(s)
    return replace(score, criteria=tuple(settled))
