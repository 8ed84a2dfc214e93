"""Rank scored agencies per cohort (the second pass over the cohort).

- ratio_to_best criteria are settled against the best value among the ranked agencies of
  the same group (cohort, or cohort / variant ranked apart);
- agencies are ordered by their index on the 100-point scale (so agencies scored out of a
  different maximum rank fairly beside the others); equal scores share a rank and the next
  rank is skipped (two at 17 → the next is 19: "standard competition ranking");
- each gets the band its score falls in (scale.bands, default Tốt ≥ 85, Khá 70–84,
  Trung bình 50–69, Yếu < 50);
- late and missing submissions are listed apart with the reason (Cao Bằng notice).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter

from scoring.model import (
    AgencyScore,
    Band,
    CriterionScore,
    Ranked,
    Ranking,
    Scale,
    agency_score,
    ranked,
)
from scoring.score import PENDING_HINT, best_values, settle_best


def band_of(score100: float, bands: Sequence[Band]) -> str:
    """The band a score (0–100) falls in: the highest band whose `min` it reaches."""
    for b in sorted(bands, key=lambda b: -b.min):
        if score100 >= b.min:
            return b.name
    return bands[-1].name if bands else ""


def competition_ranks(values: Sequence[float]) -> list[int]:
    """Ranks for values sorted best first: equal values share a rank, the next is skipped
    ([90, 80, 80, 70] → [1, 2, 2, 4])."""
    ranks: list[int] = []
    for i, v in enumerate(values):
        ranks.append(ranks[-1] if i and v == values[i - 1] else i + 1)
    return ranks


def settle_cohorts(scale: Scale, scores: Iterable[AgencyScore]) -> list[AgencyScore]:
    """Settle every pending ratio_to_best criterion against its group's best value (among
    agencies that are ranked; an unranked agency is measured against the same best)."""
    scores = list(scores)
    by_id = {c.id: c for top in scale.criteria() for c in top.walk()}
    pending = _pending(scale, scores)
    best = best_values(scores, pending)
    out = []
    # A pending result is often shared among agencies (scoring.score), and so is its group's
    # best: each (result, best) settled once. Keyed by id, the result kept alive beside it.
    done: dict[tuple[int, float], tuple[CriterionScore, CriterionScore]] = {}
    for s, at in zip(scores, pending, strict=True):
        if not at:
            out.append(s)
            continue
        settled = list(s.criteria)
        group = s.group
        for k in at:
            c = settled[k]
            top = best.get((group, c.id), 0.0)
            hit = done.get((id(c), top))
            if hit is None:
                hit = done[(id(c), top)] = (c, settle_best(c, by_id[c.id], top))
            settled[k] = hit[1]
        out.append(_with_criteria(s, tuple(settled)))
    return out


def _pending(scale: Scale, scores: Sequence[AgencyScore]) -> list[list[int]]:
    """Where each agency's pending criteria are (only ratio_to_best criteria are pending).
    Agencies of one variant list the same criteria in the same order: the positions of the
    ratio_to_best ones are found once per list of ids (built and hashed in C), and only
    those results are read per agency, not 80 criteria × 5,000 agencies."""
    best_ids = frozenset(
        c.id for top in scale.criteria() for c in top.walk() if c.rule == "ratio_to_best"
    )
    layouts: dict[tuple[str, ...], tuple[int, ...]] = {}
    out = []
    for s in scores:
        hint = s.__dict__.get(PENDING_HINT)
        if hint is not None:  # kept by score_submission
            out.append(hint)
            continue
        criteria = s.criteria
        ids = tuple(map(_ID, criteria))
        at = layouts.get(ids)
        if at is None:
            at = layouts[ids] = tuple(k for k, cid in enumerate(ids) if cid in best_ids)
        out.append([k for k in at if criteria[k].pending_best])
    return out


_ID = attrgetter("id")


def _with_criteria(s: AgencyScore, criteria: tuple[CriterionScore, ...]) -> AgencyScore:
    """`replace(s, criteria=criteria)`, spelt out: replace (or a keyword dict) costs several
    times more, and this runs once per agency with a ratio_to_best criterion. Every field
    is named (tests/unit/test_scoring_fast.py checks that none is forgotten)."""
    return agency_score(
        s.agency, s.code, s.cohort, criteria, s.maximum, s.variant, s.deductions, s.unranked,
        s.unranked_params,
    )  # fmt: skip


def rank(scale: Scale, scores: Iterable[AgencyScore]) -> Ranking:
    """The ranking per group, best first (ties in agency-name order), and the unranked."""
    settled = settle_cohorts(scale, scores)
    groups: dict[str, list[AgencyScore]] = {}
    unranked = []
    for s in settled:
        if s.unranked:
            unranked.append(s)
        else:
            groups.setdefault(s.group, []).append(s)
    out: dict[str, list[Ranked]] = {}
    bands: dict[float, str] = {}  # band per score met (band_of sorts the bands each call)
    for name in sorted(groups):
        # score100 read once per agency (a chain of properties), not once per use.
        keyed = []
        for k, s in enumerate(groups[name]):
            v = s.score100
            keyed.append((-v, s.agency, k, v, s))  # k: a stable sort by (score, name)
        keyed.sort()
        values = [row[3] for row in keyed]
        ranks = competition_ranks(values)
        lines = []
        for (*_, s), r, v in zip(keyed, ranks, values, strict=True):
            band = bands.get(v)
            if band is None:
                band = bands[v] = band_of(v, scale.bands)
            lines.append(ranked(s, r, band))
        out[name] = lines
    unranked.sort(key=lambda s: (s.cohort, s.agency))
    return Ranking(scale, out, unranked)
