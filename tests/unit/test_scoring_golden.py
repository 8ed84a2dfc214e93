"""Golden scores: the points, reasons, totals, ranks and bands of a fixed set of generated
agencies on every shipped scale, pinned before the scoring pass was optimised (issue #12
speed goals), so a faster scorer gives exactly the same results.

The generator here is frozen (it is not the bench's, which may change): every item type,
blanks, "không áp dụng" items and whole groups, missing links, documents with and without
a link, reviewer verdicts (không đạt with and without a comment, "không có tin bài trong
năm", trả lại, đạt, sửa), manual points, late and missing forms.

Regenerate (only when a result is meant to change, and say why in the commit):
    python3 -m tests.unit.test_scoring_golden --write
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from flows.loader import builtin_forms
from flows.model import Evidence, Form, ItemType, Question
from flows.state import Answer
from scoring.model import AgencyScore, SubmissionFacts, Verdict
from scoring.ranking import rank
from scoring.scales import builtin_scales
from scoring.score import provisional, score_submission
from scoring.texts import reason_text, unranked_text

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "scoring_golden.json"
DETAILED = 8  # agencies per form pinned criterion by criterion
HASHED = 150  # agencies per form pinned by a digest


def _value(q: Question, rng: random.Random) -> Any:
    t = q.type
    if t is ItemType.INTEGER:
        return rng.choice([0, 0, 1, 2, 3, 4, 5, 8, 12, 20, 35, 60, 120])
    if t is ItemType.DECIMAL:
        return rng.choice([0.0, round(rng.uniform(0, 200), 1)])
    if t is ItemType.YES_NO:
        return rng.random() < 0.6
    if t is ItemType.STATUS:
        return rng.choice(["hoan_chinh", "thu_nghiem", "chua_co"])
    if t is ItemType.CHOICE:
        return rng.choice(q.options).value if q.options else None
    if t is ItemType.MULTI_CHOICE:
        return [o.value for o in q.options if rng.random() < 0.5]
    if t is ItemType.LIST:
        return [{c.id: "x" for c in q.columns} for _ in range(rng.randint(0, 3))]
    if t is ItemType.YEAR:
        return 2019
    if t is ItemType.DOCUMENT:
        link = rng.choice([None, "https://vb.gov.vn/12"])
        return {"number": "12/KH-UBND", "date": "2019-01-15", "title": "Kế hoạch", "link": link}
    if t is ItemType.PERSON:
        return {"name": "Nguyễn Văn A", "position": "Phó Giám đốc"}
    return rng.choice(["văn bản", "", "=SUM(A1)"])


def _evidence(rng: random.Random, i: int, q: Question) -> Any:
    r = rng.random()
    if r < 0.6:
        return f"https://cq{i}.gov.vn/{q.id}"
    if r < 0.7:
        return {"link": "https://vb.gov.vn/1", "caption": "x"}
    if r < 0.75:
        return {"file": {"id": "f1"}}
    if r < 0.8:
        return "   "
    return None


def generate(form: Form, n: int, seed: int) -> list[SubmissionFacts]:
    rng = random.Random(seed)
    questions = [q for q in form.questions if q.answerable]
    manual_ids = [c.id for c in builtin_scales()[form.id].criteria() for c in c.walk()]
    out = []
    for i in range(n):
        answers: dict[str, Answer] = {}
        verdicts: dict[str, Verdict] = {}
        na_all = rng.random() < 0.2
        blank_rate = rng.choice([0.0, 0.05, 0.3])
        for q in questions:
            if rng.random() < blank_rate:
                continue
            if q.na_allowed and (na_all or rng.random() < 0.1):
                answers[q.id] = Answer(None, rng.choice(["Không có nhiệm vụ", ""]))
                continue
            value = _value(q, rng)
            ev = _evidence(rng, i, q) if q.evidence is not Evidence.NONE else None
            answers[q.id] = Answer(value, None, ev)
            r = rng.random()
            if r < 0.03:
                verdicts[q.id] = Verdict("khong_dat", "Không có tin bài trong năm")
            elif r < 0.05:
                verdicts[q.id] = Verdict("khong_dat", rng.choice([None, "", "link hỏng"]))
            elif r < 0.06:
                verdicts[q.id] = Verdict("tra_lai", "bổ sung")
            elif r < 0.08:
                verdicts[q.id] = Verdict("dat")
            elif r < 0.10 and isinstance(value, int | float) and not isinstance(value, bool):
                verdicts[q.id] = Verdict("sua", "số liệu", Answer(value // 2, None, ev))
        manual = {m: float(rng.randint(0, 20)) for m in manual_ids if rng.random() < 0.3}
        cohort = form.cohorts[i % len(form.cohorts)] if form.cohorts else "so"
        out.append(
            SubmissionFacts(
                agency=f"Cơ quan {i % 40:03d}",  # repeated names: ties in name order
                code=f"CQ{i:04d}",
                cohort=cohort,
                answers=answers,
                verdicts=verdicts,
                manual=manual,
                submitted=rng.random() > 0.03,
                late=rng.random() < 0.05,
            )
        )
    return out


def _num(v: Any) -> Any:
    return round(v, 9) if isinstance(v, float) else v


def _params(p: Any) -> list[list[Any]]:
    return [[k, _num(v)] for k, v in sorted(p.items())]


def _score(s: AgencyScore) -> dict[str, Any]:
    return {
        "agency": s.agency,
        "code": s.code,
        "cohort": s.cohort,
        "group": s.group,
        "maximum": s.maximum,
        "variant": s.variant.id if s.variant else None,
        "deductions": [[d.id, p] for d, p in s.deductions],
        "unranked": s.unranked,
        "unranked_text": unranked_text(s) if s.unranked else None,
        "total": s.total,
        "index": s.index,
        "score100": s.score100,
        "sections": sorted([k, round(v, 9)] for k, v in s.sections.items()),
        "corrected": s.corrected,
        "criteria": [
            [
                c.id,
                c.section,
                c.text,
                _num(c.points),
                c.max,
                c.reason,
                _params(c.params),
                c.corrected,
                c.bonus,
                _num(c.value),
                c.pending_best,
                reason_text(c),
                reason_text(c, "en"),
            ]
            for c in s.criteria
        ],
    }


def snapshot() -> dict[str, Any]:
    """Everything pinned, per shipped scale."""
    forms = builtin_forms()
    out: dict[str, Any] = {}
    for form_id, scale in sorted(builtin_scales().items()):
        form = forms[form_id]
        facts = generate(form, HASHED, seed=sum(map(ord, form_id)))
        scores = [score_submission(scale, form, f) for f in facts]
        ranking = rank(scale, scores)
        ranked = [
            [g, r.rank, r.band, json.dumps(_score(r.score), ensure_ascii=False, sort_keys=True)]
            for g, rows in ranking.groups.items()
            for r in rows
        ]
        apart = [
            json.dumps(_score(s), ensure_ascii=False, sort_keys=True) for s in ranking.unranked
        ]
        digest = hashlib.sha256(json.dumps([ranked, apart]).encode()).hexdigest()
        out[form_id] = {
            "digest": digest,
            "ranks": [
                [g, r, b, json.loads(s)["code"], json.loads(s)["total"]] for g, r, b, s in ranked
            ],
            "unranked": [json.loads(s)["code"] for s in apart],
            "scored": [_score(s) for s in scores[:DETAILED]],
            "provisional": [_score(provisional(scale, form, f)) for f in facts[:DETAILED]],
        }
    return out


@pytest.fixture(scope="module")
def now() -> dict[str, Any]:
    return snapshot()


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize("form_id", sorted(builtin_scales()))
def test_scores_match_golden_criterion_by_criterion(now: Any, golden: Any, form_id: str) -> None:
    got, want = now[form_id], golden[form_id]
    for g, w in zip(got["scored"], want["scored"], strict=True):
        assert g["criteria"] == w["criteria"], w["code"]
        assert g == w
    assert got["provisional"] == want["provisional"]


@pytest.mark.parametrize("form_id", sorted(builtin_scales()))
def test_ranking_matches_golden(now: Any, golden: Any, form_id: str) -> None:
    got, want = now[form_id], golden[form_id]
    assert got["ranks"] == want["ranks"]
    assert got["unranked"] == want["unranked"]
    assert got["digest"] == want["digest"]


def test_golden_covers_the_cases(golden: Any) -> None:
    """The pinned set is not trivial: it holds every kind of reason and some ties."""
    reasons = {
        c[5] for f in golden.values() for s in f["scored"] + f["provisional"] for c in s["criteria"]
    }
    for r in ("blank", "na", "no_link", "rejected", "no_posts", "returned", "yes", "no"):
        assert r in reasons, r
    assert any(f["unranked"] for f in golden.values())


if __name__ == "__main__":
    if "--write" in sys.argv:
        GOLDEN.write_text(
            json.dumps(snapshot(), ensure_ascii=False, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {GOLDEN}")
