"""Scoring as plain data: the scale (what a file says), the facts handed in, the results.

Pure: nothing here reads a database or a chat. `bot/cli/score.py` and the chat service build
`SubmissionFacts` from storage; `scoring.score` turns them into `AgencyScore`s and
`scoring.ranking` ranks them per cohort.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any

from flows.i18n import N_, normalise_language
from flows.model import Text
from flows.state import Answer

RULES = (
    "ratio",
    "ratio_to_best",
    "bands",
    "count_capped",
    "yes_no",
    "levels",
    "best_of",
    "sum",
    "manual",
)
"""The rule vocabulary (issue #12, DESIGN.md "Scoring vocabulary"); bonus and deduction are
flags/lists on top of it (`Criterion.bonus`, `Scale.deductions`)."""

DEFAULT_LEVELS: Mapping[str, float] = {"hoan_chinh": 1.0, "thu_nghiem": 0.5, "chua_co": 0.0}
"""Hoàn chỉnh 1 · Đang thử nghiệm ½ · Chưa có 0, as a share of the criterion's maximum."""


def _in(vi: str, en: str | None, lang: str) -> str:
    """A scale's own wording in `lang`: scale files are Vietnamese, with an optional English
    rendering (`name_en`, `text_en`, `title_en`, as form files do); Vietnamese is the
    fallback."""
    return Text(vi, en).get(normalise_language(lang))


@dataclass(frozen=True, slots=True)
class Band:
    """A named band on the 100-point scale: an agency at `min` or above (and below the band
    above) is in it. Default (Bình Phước, Lào Cai decisions): Tốt ≥ 85, Khá 70–84,
    Trung bình 50–69, Yếu < 50."""

    name: str
    min: float


DEFAULT_BANDS: tuple[Band, ...] = (
    # msgids: shown in the language of the run (scoring.texts.band_text)
    Band(N_("Tốt"), 85),
    Band(N_("Khá"), 70),
    Band(N_("Trung bình"), 50),
    Band(N_("Yếu"), 0),
)


@dataclass(frozen=True, slots=True)
class Step:
    """One threshold of a `bands` rule: a value at `min` or above scores `points`."""

    min: float
    points: float


@dataclass(frozen=True, slots=True)
class Criterion:
    """One scored line of a scale.

    `items` are the form items it reads (for ratio: `a` over `b`); `parts` the sub-criteria
    of `sum` and `best_of`. `zero` says what a zero denominator scores ("full" or "zero"),
    stated per criterion for `ratio`, `ratio_to_best` and a `bands` rule read `per` items.
    `link`: the answer needs a link (the form's `evidence`, or set here). `posts`: a
    website-content item, counted only with ≥ 1 post in the year (Cao Bằng). `bonus`:
    points on top of the maximum (cộng điểm khuyến khích).
    """

    id: str
    text: str
    rule: str
    max: float
    items: tuple[str, ...] = ()
    per: tuple[str, ...] = ()
    zero: str | None = None
    steps: tuple[Step, ...] = ()
    points: float | None = None
    levels: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    parts: tuple[Criterion, ...] = ()
    link: bool = False
    posts: bool = False
    bonus: bool = False
    section: str = ""
    text_en: str | None = None

    def text_in(self, lang: str) -> str:
        """The wording in `lang`: the English one (`text_en`) when asked and given, else the
        Vietnamese (flows.model.Text's fallback)."""
        return _in(self.text, self.text_en, lang)

    def walk(self) -> list[Criterion]:
        """This criterion and every sub-criterion, depth first."""
        out = [self]
        for p in self.parts:
            out.extend(p.walk())
        return out

    def all_items(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for c in self.walk():
            for i in (*c.items, *c.per):
                seen[i] = None
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class ScaleSection:
    id: str
    title: str
    max: float
    criteria: tuple[Criterion, ...]
    title_en: str | None = None

    def title_in(self, lang: str) -> str:
        """The title in `lang` (English when given, else the Vietnamese)."""
        return _in(self.title, self.title_en, lang)


@dataclass(frozen=True, slots=True)
class Deduction:
    """Points taken off when `when` (a flows.expr expression over item values) is true."""

    id: str
    text: str
    points: float
    when: str
    text_en: str | None = None

    def text_in(self, lang: str) -> str:
        """The wording in `lang` (English when given, else the Vietnamese)."""
        return _in(self.text, self.text_en, lang)


@dataclass(frozen=True, slots=True)
class Variant:
    """A different maximum for agencies to which whole groups do not apply.

    An agency takes the variant when every answered item the `drop` criteria read is
    "không áp dụng" (and at least one is). Its maximum is the scale's minus the dropped
    criteria's; `rank` is "together" (ranked with the others by index) or "apart" (its own
    ranking, named after the variant)."""

    id: str
    name: str
    drop: tuple[str, ...]
    maximum: float
    rank: str = "together"
    name_en: str | None = None

    def name_in(self, lang: str) -> str:
        """The name in `lang` (English when given, else the Vietnamese)."""
        return _in(self.name, self.name_en, lang)


@dataclass(frozen=True)
class Scale:
    id: str
    form: str
    version: int
    name: str
    maximum: float
    sections: tuple[ScaleSection, ...]
    illustrative: bool = False
    note: str = ""
    bands: tuple[Band, ...] = DEFAULT_BANDS
    deductions: tuple[Deduction, ...] = ()
    variants: tuple[Variant, ...] = ()
    path: str | None = None
    name_en: str | None = None

    def name_in(self, lang: str) -> str:
        """The name in `lang` (English when given, else the Vietnamese)."""
        return _in(self.name, self.name_en, lang)

    def wording_in(self, text: str, lang: str) -> str:
        """A criterion's Vietnamese wording (as a score's reason carries it, e.g. a best_of's
        case) in `lang`: its `text_en` when English is asked and given, else `text`."""
        if normalise_language(lang) != "en":
            return text
        return self._english.get(text, text)

    @cached_property
    def _english(self) -> dict[str, str]:
        """Vietnamese wording → English of every criterion that has one (cached_property
        writes the instance's __dict__, so it works on this frozen dataclass)."""
        return {c.text: c.text_en for top in self.criteria() for c in top.walk() if c.text_en}

    def criteria(self) -> list[Criterion]:
        """Top-level criteria, in order."""
        return [c for s in self.sections for c in s.criteria]

    def manual_criteria(self) -> list[Criterion]:
        """The criteria a reviewer scores (rule "manual"), sub-criteria included, in order."""
        return [sub for c in self.criteria() for sub in c.walk() if sub.rule == "manual"]

    def criterion(self, cid: str) -> Criterion | None:
        for c in self.criteria():
            for sub in c.walk():
                if sub.id == cid:
                    return sub
        return None

    @property
    def label(self) -> str:
        """The name, with "(minh họa)" when the scale is illustrative."""
        return f"{self.name} (minh họa)" if self.illustrative else self.name


# ---- facts handed in ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """A reviewer's standing verdict on one item: 'dat' | 'khong_dat' | 'tra_lai' | 'sua'
    (review contract, item_reviews); `corrected` is the corrected answer of 'sua'."""

    verdict: str
    comment: str | None = None
    corrected: Answer | None = None


@dataclass(frozen=True)
class SubmissionFacts:
    """Everything scoring needs about one agency in one campaign.

    `answers` by item id (flows.state.Answer); `verdicts` the standing reviewer verdict per
    item; `manual` reviewer-entered points per manual criterion id. `submitted` False: no
    form sent (missing); `late`: sent after the deadline. Either keeps it out of the
    ranking (Cao Bằng notice: "Không đánh giá, xếp hạng đối với … gửi phiếu chậm hoặc không
    gửi phiếu")."""

    agency: str
    cohort: str
    answers: Mapping[str, Answer] = field(default_factory=dict)
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    manual: Mapping[str, float] = field(default_factory=dict)
    code: str = ""
    submitted: bool = True
    late: bool = False
    status: str | None = None


# ---- results ----------------------------------------------------------------------------

_POINTS = attrgetter("points")  # summed in C, in the same order (the same float)


# Frozen: scoring.score shares one instance among the agencies with the same result.
@dataclass(frozen=True, slots=True)
class CriterionScore:
    """Points of one criterion for one agency and why (`reason`, a code of
    scoring.texts.REASONS, with `params`). `corrected`: a reviewer-corrected value was
    used. `value` is what the rule read (for ratio_to_best, before the cohort pass)."""

    id: str
    section: str
    text: str
    points: float
    max: float
    reason: str
    params: Mapping[str, Any] = field(default_factory=dict)
    corrected: bool = False
    bonus: bool = False
    value: float | None = None
    pending_best: bool = False

    @property
    def lost(self) -> float:
        return 0.0 if self.bonus else max(self.max - self.points, 0.0)


@dataclass(frozen=True)
class AgencyScore:
    """One agency's score: per criterion, per section, the total, the index (total ÷
    maximum, 0–1) and, once ranked, the rank and band; `unranked` says why it is not."""

    agency: str
    code: str
    cohort: str
    criteria: tuple[CriterionScore, ...]
    maximum: float
    variant: Variant | None = None
    deductions: tuple[tuple[Deduction, float], ...] = ()
    unranked: str | None = None
    unranked_params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sections(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in self.criteria:
            out[c.section] = out.get(c.section, 0.0) + c.points
        return out

    @property
    def total(self) -> float:
        """Points of every criterion less the deductions, at least 0, to 4 decimals. Kept
        after the first read (ranking reads it several times per agency; the fields never
        change): by hand, as functools.cached_property takes a lock on every read in 3.11."""
        kept = self.__dict__.get("_total")
        if kept is None:
            raw = sum(map(_POINTS, self.criteria)) - sum(p for _, p in self.deductions)
            kept = self.__dict__["_total"] = round(max(raw, 0.0), 4)
        return kept

    @property
    def index(self) -> float:
        """total ÷ maximum, held within 0–1 (bonus points may pass the maximum)."""
        if self.maximum <= 0:
            return 0.0
        return round(min(self.total / self.maximum, 1.0), 6)

    @property
    def score100(self) -> float:
        """The index on the 100-point scale bands are written on, to 2 decimals."""
        return round(self.index * 100, 2)

    @property
    def corrected(self) -> list[str]:
        return [c.id for c in self.criteria if c.corrected]

    @property
    def group(self) -> str:
        """The ranking this agency belongs to: its cohort, or cohort / variant when the
        variant ranks apart."""
        if self.variant is not None and self.variant.rank == "apart":
            return f"{self.cohort} / {self.variant.name}"
        return self.cohort


@dataclass(frozen=True)
class Ranked:
    """One line of a ranking."""

    score: AgencyScore
    rank: int
    band: str


@dataclass(frozen=True)
class Ranking:
    """Rankings per group (cohort, or cohort / variant ranked apart) and the unranked."""

    scale: Scale
    groups: dict[str, list[Ranked]]
    unranked: list[AgencyScore]


# ---- fast builders ------------------------------------------------------------------------
# A frozen dataclass's __init__ sets each field through object.__setattr__ (~0.4 µs a
# field): CriterionScore(…) costs ~4.4 µs, AgencyScore(…) ~6.5 µs, and scoring and ranking
# 5,000 agencies build ~25,000 of them. These build the same objects (every field given, in
# the order of `dataclasses.fields`) in ~2.3 µs and ~1 µs: slots set through their
# descriptors, a dict-backed instance given its __dict__ whole. tests/unit/test_scoring_fast.py
# checks they take every field, in order, and equal the constructor's result.

_new = object.__new__
_set_attr = object.__setattr__
(
    _cs_id, _cs_section, _cs_text, _cs_points, _cs_max, _cs_reason, _cs_params,
    _cs_corrected, _cs_bonus, _cs_value, _cs_pending,
) = (
    CriterionScore.__dict__[n].__set__  # type: ignore[attr-defined]
    for n in CriterionScore.__slots__  # type: ignore[attr-defined]
)  # fmt: skip


def criterion_score(
    id: str,
    section: str,
    text: str,
    points: float,
    max: float,
    reason: str,
    params: Mapping[str, Any],
    corrected: bool,
    bonus: bool,
    value: float | None,
    pending_best: bool,
) -> CriterionScore:
    """`CriterionScore(…)` with every field given, about twice as fast."""
    o = _new(CriterionScore)
    _cs_id(o, id)
    _cs_section(o, section)
    _cs_text(o, text)
    _cs_points(o, points)
    _cs_max(o, max)
    _cs_reason(o, reason)
    _cs_params(o, params)
    _cs_corrected(o, corrected)
    _cs_bonus(o, bonus)
    _cs_value(o, value)
    _cs_pending(o, pending_best)
    return o


def agency_score(
    agency: str,
    code: str,
    cohort: str,
    criteria: tuple[CriterionScore, ...],
    maximum: float,
    variant: Variant | None,
    deductions: tuple[tuple[Deduction, float], ...],
    unranked: str | None,
    unranked_params: Mapping[str, Any],
) -> AgencyScore:
    """`AgencyScore(…)` with every field given, about six times as fast."""
    o = _new(AgencyScore)
    _set_attr(
        o,
        "__dict__",
        {
            "agency": agency,
            "code": code,
            "cohort": cohort,
            "criteria": criteria,
            "maximum": maximum,
            "variant": variant,
            "deductions": deductions,
            "unranked": unranked,
            "unranked_params": unranked_params,
        },
    )
    return o


def ranked(score: AgencyScore, rank: int, band: str) -> Ranked:
    """`Ranked(score, rank, band)`, faster (a line per ranked agency)."""
    o = _new(Ranked)
    _set_attr(o, "__dict__", {"score": score, "rank": rank, "band": band})
    return o
