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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    Scale,
    SubmissionFacts,
    Variant,
    Verdict,
)

_NO_POSTS = "khong co tin bai"
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})
_FORMS: dict[int, tuple[Form, dict[str, ItemType], tuple[tuple[str, str], ...]]] = {}


def _form_info(form: Form) -> tuple[dict[str, ItemType], tuple[tuple[str, str], ...]]:
    """Item types by id and the computed items' formulas, once per form (scoring 5,000
    agencies reads them 400,000 times)."""
    hit = _FORMS.get(id(form))
    if hit is None or hit[0] is not form:
        types = {q.id: q.type for q in form.questions}
        computed = tuple(
            (q.id, q.formula) for q in form.questions if q.type is ItemType.COMPUTED and q.formula
        )
        hit = _FORMS[id(form)] = (form, types, computed)
    return hit[1], hit[2]


def _values(form: Form, answers: Mapping[str, Answer]) -> dict[str, Any]:
    """flows.navigation.values_of, with the computed items read from the per-form cache."""
    _, computed = _form_info(form)
    values: dict[str, Any] = {
        item: a.value for item, a in answers.items() if a.na_reason is None and a.value is not None
    }
    for item, formula in computed:
        result = expr.evaluate(formula, values)
        values[item] = round(result, 4) if isinstance(result, float) else result
    return values


def effective_answers(facts: SubmissionFacts) -> tuple[dict[str, Answer], set[str]]:
    """The answers scoring reads: the agency's, with each reviewer correction ('sua') in
    place of the agency's answer; and the ids that were corrected."""
    answers = dict(facts.answers)
    corrected = set()
    for item, v in facts.verdicts.items():
        if v.verdict == "sua" and v.corrected is not None:
            answers[item] = v.corrected
            corrected.add(item)
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
    if isinstance(evidence, str):
        return bool(evidence.strip())
    if isinstance(evidence, dict):
        return bool(evidence.get("link") or isinstance(evidence.get("file"), dict))
    return False


def _positive(value: Any) -> bool:
    if value is None or value is False or value in ("", "chua_co", [], {}):
        return False
    return not (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)


class _Scorer:
    """One agency's pass over a scale (see module doc for the order of the rules)."""

    def __init__(
        self, scale: Scale, form: Form, facts: SubmissionFacts, best: Mapping[str, float] | None
    ) -> None:
        self.scale = scale
        self.form = form
        self.facts = facts
        self.answers, self.corrected = effective_answers(facts)
        self.types, _ = _form_info(form)
        self.values = _values(form, self.answers)
        self.verdicts = facts.verdicts
        self.best = best

    # ---- item reading --------------------------------------------------------------------
    def answer(self, item: str) -> Answer | None:
        return self.answers.get(item)

    def blank(self, item: str) -> bool:
        if self.types.get(item) is ItemType.COMPUTED:
            return self.values.get(item) is None
        a = self.answers.get(item)
        if a is None:
            return True
        v = a.value
        return a.na_reason is None and (v is None or v == "" or v == [] or v == {}) and v != 0

    def na(self, item: str) -> Answer | None:
        a = self.answers.get(item)
        return a if a is not None and a.na_reason is not None else None

    def value(self, item: str) -> float | None:
        raw = self.values.get(item)
        if raw is None:
            return None
        if self.types.get(item) is ItemType.MULTI_CHOICE:
            return float(len(raw))
        return _number(raw)

    def total(self, items: Iterable[str]) -> float | None:
        """Sum of the items' values; None when every one is blank."""
        nums = [v for i in items if (v := self.value(i)) is not None]
        return sum(nums) if nums else None

    def posted(self, c: Criterion) -> bool:
        """At least one post in the year: a count above 0; for a status or yes/no item
        (the Điện Biên survey), anything but "Chưa có"/"Không"."""
        n = self.total(c.items)
        if n is not None and any(isinstance(self.values.get(i), int | float) for i in c.items):
            return n > 0
        return any(_positive(self.values.get(i)) for i in c.items)

    # ---- the Cao Bằng gate ----------------------------------------------------------------
    def gate(self, c: Criterion) -> CriterionScore | None:
        """A score decided before the criterion's own rule, or None to apply the rule."""
        items = c.items + c.per if c.per else c.items
        corrected = bool(self.corrected) and any(i in self.corrected for i in items)
        for i in items if self.verdicts else ():
            v: Verdict | None = self.verdicts.get(i)
            if v is not None and v.verdict == "khong_dat":
                comment = (v.comment or "").strip()
                if c.posts and _NO_POSTS in fold(comment):
                    return self.result(c, 0.0, "no_posts", corrected=corrected)
                reason = "rejected_link" if c.link else "rejected"
                return self.result(c, 0.0, reason, {"item": i, "comment": comment}, corrected)
        blank = self.blank
        answered = [i for i in items if not blank(i)]
        nas = [a for i in answered if (a := self.na(i)) is not None]
        if nas and len(nas) == len(answered):
            return self.result(c, c.max, "na", {"reason": nas[0].na_reason or ""}, corrected)
        if c.rule != "manual" and (not answered or all(blank(i) for i in c.items)):
            return self.result(c, 0.0, "blank", corrected=corrected)
        if c.rule == "ratio" and all(blank(i) for i in c.per):
            return self.result(c, 0.0, "blank", corrected=corrected)
        if c.posts and not self.posted(c):
            return self.result(c, 0.0, "no_posts", corrected=corrected)
        if c.link:
            for i in c.items:
                a = self.answers.get(i)
                if a is None or a.na_reason is not None or not _positive(a.value):
                    continue
                v = self.verdicts.get(i)
                if v is not None and v.verdict == "tra_lai":
                    return self.result(c, 0.0, "returned", {"item": i}, corrected)
                if not _has_link(a.evidence):
                    return self.result(c, 0.0, "no_link", {"item": i}, corrected)
        return None

    def result(
        self,
        c: Criterion,
        points: float,
        reason: str,
        params: Mapping[str, Any] | None = None,
        corrected: bool | None = None,
        value: float | None = None,
        pending: bool = False,
    ) -> CriterionScore:
        if corrected is None:
            corrected = bool(self.corrected) and any(
                i in self.corrected for i in (*c.items, *c.per)
            )
        return CriterionScore(
            id=c.id,
            section=c.section,
            text=c.text,
            points=round(min(max(points, 0.0), c.max), 4),
            max=c.max,
            reason=reason,
            params=params if params else _NO_PARAMS,
            corrected=corrected,
            bonus=c.bonus,
            value=value,
            pending_best=pending,
        )

    # ---- the rules -----------------------------------------------------------------------
    def score(self, c: Criterion) -> list[CriterionScore]:
        """Scores of `c`: one entry, or the entries of a `sum`'s parts (so every point
        keeps its own reason)."""
        if c.rule == "sum":
            out = [s for p in c.parts for s in self.score(p)]
            if c.bonus:
                out = [replace(s, bonus=True) for s in out]
            return out
        if c.rule == "best_of":
            cases = [(p, sum(s.points for s in self.score(p))) for p in c.parts]
            best, points = max(cases, key=lambda pc: pc[1])
            inner = self.score(best)
            reason = inner[0] if len(inner) == 1 else None
            if points == 0 and reason is not None:  # no case scores: say why (blank…)
                return [self.result(c, 0.0, reason.reason, reason.params, reason.corrected)]
            params = {"case": best.text}
            if reason is not None:
                params.update({"inner": reason.reason, **reason.params})
            corrected = any(s.corrected for s in inner)
            return [self.result(c, points, "best_case", params, corrected)]
        gated = self.gate(c)
        if gated is not None:
            return [gated]
        return [self.rule(c)]

    def rule(self, c: Criterion) -> CriterionScore:
        if c.rule == "ratio":
            a = self.total(c.items) or 0.0
            b = self.total(c.per) or 0.0
            if b == 0:
                full = c.zero == "full"
                return self.result(c, c.max if full else 0.0, f"zero_den_{c.zero}")
            return self.result(c, c.max * min(a / b, 1.0), "ratio", {"a": a, "b": b})
        if c.rule == "ratio_to_best":
            v = self.total(c.items) or 0.0
            if c.per:
                b = self.total(c.per) or 0.0
                if b == 0:
                    full = c.zero == "full"
                    return self.result(c, c.max if full else 0.0, f"zero_den_{c.zero}")
                v = v / b
            return self.settle(c, v)
        if c.rule == "bands":
            v = self.total(c.items) or 0.0
            if c.per:
                b = self.total(c.per) or 0.0
                if b == 0:
                    full = c.zero == "full"
                    return self.result(c, c.max if full else 0.0, f"zero_den_{c.zero}")
                v = v / b
            for s in c.steps:
                if v >= s.min:
                    return self.result(c, s.points, "band", {"value": v, "min": s.min}, value=v)
            low = c.steps[-1].min if c.steps else 0
            return self.result(c, 0.0, "below", {"value": v, "min": low}, value=v)
        if c.rule == "count_capped":
            n = self.total(c.items) or 0.0
            pts = n * (c.points or 0.0)
            return self.result(
                c, pts, "count", {"count": n, "each": c.points or 0, "max": c.max}, value=n
            )
        if c.rule == "yes_no":
            yes = self.values.get(c.items[0]) is True
            return self.result(c, c.max if yes else 0.0, "yes" if yes else "no")
        if c.rule == "levels":
            level = self.values.get(c.items[0])
            share = c.levels.get(str(level), 0.0)
            return self.result(c, c.max * share, "level", {"level": str(level), "share": share})
        if c.rule == "manual":
            if c.id not in self.facts.manual:
                return self.result(c, 0.0, "manual_missing")
            pts = float(self.facts.manual[c.id])
            return self.result(c, pts, "manual", {"points": pts})
        raise ValueError(f"unknown rule {c.rule}")  # the loader refuses it first

    def settle(self, c: Criterion, v: float) -> CriterionScore:
        """ratio_to_best: points against the best in the cohort when it is known; otherwise
        pending, for scoring.ranking's second pass."""
        if self.best is None or c.id not in self.best:
            return self.result(c, 0.0, "pending_best", {"value": v}, value=v, pending=True)
        return settle_best(
            self.result(c, 0.0, "pending_best", value=v, pending=True), c, self.best[c.id]
        )


def settle_best(s: CriterionScore, c: Criterion, best: float) -> CriterionScore:
    """A pending ratio_to_best score once the cohort's best value is known."""
    v = s.value or 0.0
    top = max(best, v)
    if top <= 0:
        pts = c.max if c.zero == "full" else 0.0
        return replace(s, points=pts, reason=f"zero_best_{c.zero}", pending_best=False)
    pts = round(c.max * v / top, 4)
    return replace(
        s, points=pts, reason="to_best", params={"value": v, "best": top}, pending_best=False
    )


def _variant(scale: Scale, scorer: _Scorer) -> Variant | None:
    """The first variant whose dropped criteria are all answered "không áp dụng"."""
    for v in scale.variants:
        items = [i for cid in v.drop if (c := scale.criterion(cid)) for i in c.all_items()]
        answered = [i for i in items if not scorer.blank(i)]
        if answered and all(scorer.na(i) is not None for i in answered):
            return v
    return None


def score_submission(
    scale: Scale,
    form: Form,
    facts: SubmissionFacts,
    best: Mapping[str, float] | None = None,
) -> AgencyScore:
    """Score one agency. `best`: the cohort's best value per ratio_to_best criterion, when
    known (otherwise those criteria stay pending until scoring.ranking.rank settles them).
    Late and missing submissions are scored and marked `unranked`."""
    scorer = _Scorer(scale, form, facts, best)
    variant = _variant(scale, scorer)
    dropped = set(variant.drop) if variant else set()
    results: list[CriterionScore] = []
    for c in scale.criteria():
        if c.id not in dropped:
            results.extend(scorer.score(c))
    deductions = tuple(
        (d, d.points) for d in scale.deductions if expr.evaluate(d.when, scorer.values) is True
    )
    unranked, params = None, {}
    if not facts.submitted:
        unranked = "missing"
    elif facts.late:
        unranked = "late"
    return AgencyScore(
        agency=facts.agency,
        code=facts.code,
        cohort=facts.cohort,
        criteria=tuple(results),
        maximum=variant.maximum if variant else scale.maximum,
        variant=variant,
        deductions=deductions,
        unranked=unranked,
        unranked_params=params,
    )


def provisional(scale: Scale, form: Form, facts: SubmissionFacts) -> AgencyScore:
    """A score while answers are still coming in (/diem): ratio_to_best criteria are
    measured against the agency itself (reason says so) since the cohort is not known."""
    score = score_submission(scale, form, facts)
    by_id = {c.id: c for top in scale.criteria() for c in top.walk()}
    settled = []
    for s in score.criteria:
        if s.pending_best:
            s = settle_best(s, by_id[s.id], s.value or 0.0)
            s = replace(s, reason="provisional_best", params={"value": s.value or 0.0})
        settled.append(s)
    return replace(score, criteria=tuple(settled))
