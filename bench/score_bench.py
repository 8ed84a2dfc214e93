"""Score and rank many submissions of one form, then write the workbook (issue #12).

Answers are generated (seeded, so runs compare): every question gets a plausible value of
its type; now and then an item is left blank, a link is missing, a reviewer rejects or
corrects an item, a whole group is "không áp dụng", a submission is late. Timed apart:
scoring + ranking (goal < 1 s for 5,000) and the workbook (goal < 20 s); peak memory of the
process (max RSS) printed with them.

    python3 bench/score_bench.py [--agencies 5000] [--form binh-dinh-2019-so]
                                 [--out /tmp/score_bench.xlsx] [--tiny]
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.loader import builtin_forms  # noqa: E402
from flows.model import Evidence, Form, ItemType, Question  # noqa: E402
from flows.state import Answer  # noqa: E402
from scoring.model import Scale, SubmissionFacts, Verdict  # noqa: E402
from scoring.ranking import rank  # noqa: E402
from scoring.scales import scale_for  # noqa: E402
from scoring.score import score_submission  # noqa: E402
from scoring.workbook import write_workbook  # noqa: E402

COHORTS = ("so", "huyen", "xa")
_NUMBERS = {ItemType.INTEGER, ItemType.DECIMAL}


def value_for(q: Question, rng: random.Random, quality: float) -> Any:
    """A plausible value of the question's type; `quality` (0–1) is how well the agency
    does (yes, "Hoàn chỉnh"…)."""
    t = q.type
    if t is ItemType.INTEGER:
        return rng.choice([0, 1, 2, 3, 5, 8, 12, 20, 35, 60, 120])
    if t is ItemType.DECIMAL:
        return round(rng.uniform(0, 200), 1)
    if t is ItemType.YES_NO:
        return rng.random() < quality
    if t is ItemType.STATUS:
        r = rng.random()
        return "hoan_chinh" if r < quality else "thu_nghiem" if r < (1 + quality) / 2 else "chua_co"
    if t is ItemType.CHOICE:
        return rng.choice(q.options).value if q.options else None
    if t is ItemType.MULTI_CHOICE:
        return [o.value for o in q.options if rng.random() < quality]
    if t is ItemType.LIST:
        return [{c.id: "x" for c in q.columns} for _ in range(rng.randint(0, 3))]
    if t is ItemType.YEAR:
        return 2019
    if t is ItemType.DOCUMENT:
        return {"number": "12/KH-UBND", "date": "2019-01-15", "title": "Kế hoạch", "link": None}
    if t is ItemType.PERSON:
        return {"name": "Nguyễn Văn A", "position": "Phó Giám đốc"}
    return "=SUM(A1)" if rng.random() < 0.01 else "văn bản"


def _realistic(
    scale: Scale, form: Form, answers: dict[str, Answer], rng: random.Random, quality: float
) -> None:
    """Make the numbers hang together the way a real agency's do, criterion by criterion:
    a ratio's numerator at most its denominator (usually all of it), a band's value usually
    at its top step, a capped count usually at its cap."""
    types = {q.id: q.type for q in form.questions}

    def number(i: str) -> float:
        a = answers.get(i)
        v = a.value if a is not None else None
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0

    def put(i: str, v: float) -> None:
        a = answers.get(i)
        if a is None or a.na_reason is not None or types.get(i) not in _NUMBERS:
            return
        value = round(v) if types[i] is ItemType.INTEGER else round(v, 1)
        answers[i] = Answer(value, None, a.evidence)

    for top in scale.criteria():
        for c in top.walk():
            good = rng.random() < quality
            if c.rule == "ratio":
                share = 1.0 if good else rng.uniform(0.4, 1.0)
                if len(c.items) == len(c.per):
                    for i, d in zip(c.items, c.per, strict=True):
                        put(i, number(d) * share)
                else:
                    put(c.items[0], sum(number(d) for d in c.per) * share)
            elif c.rule == "bands" and c.steps and not c.per and good:
                put(c.items[0], c.steps[0].min + rng.choice([0, 0, 1, 2]))
            elif c.rule == "count_capped" and c.points and good:
                need = math.ceil(c.max / c.points)
                if len(c.items) == 1:
                    put(c.items[0], need)
                else:
                    for i in c.items[:need]:
                        a = answers.get(i)
                        if (
                            a is not None
                            and a.na_reason is None
                            and types.get(i) is ItemType.YES_NO
                        ):
                            answers[i] = Answer(True, None, a.evidence)


def generate(
    form: Form, n: int, seed: int = 7, scale: Scale | None = None
) -> list[SubmissionFacts]:
    """`n` agencies' facts for `form`, deterministic for a seed. Realistic: most agencies
    answer most items well (quality 0.75–1, one in ten weaker), few blanks, few missing
    links, few reviewer rejections and corrections; one in ten has no online services
    (every "không áp dụng" item so); 2 % late, 1 % missing."""
    rng = random.Random(seed)
    out = []
    questions = [q for q in form.questions if q.answerable]
    for i in range(n):
        quality = rng.uniform(0.4, 0.75) if rng.random() < 0.1 else rng.uniform(0.75, 1.0)
        answers: dict[str, Answer] = {}
        verdicts: dict[str, Verdict] = {}
        na_all = rng.random() < 0.10
        for q in questions:
            if rng.random() < 0.01:
                continue  # blank
            if q.na_allowed and (na_all or rng.random() < 0.01):
                answers[q.id] = Answer(None, "Đơn vị không có nhiệm vụ này")
                continue
            value = value_for(q, rng, quality)
            evidence = None
            if q.evidence is not Evidence.NONE and rng.random() < 0.97:
                evidence = f"https://so{i}.binhdinh.gov.vn/{q.id}"
            answers[q.id] = Answer(value, None, evidence)
        if scale is not None:
            _realistic(scale, form, answers, rng, quality)
        for item, a in answers.items():
            r = rng.random()
            if r < 0.01 and a.na_reason is None:
                verdicts[item] = Verdict("khong_dat", "không có tin bài trong năm")
            elif r < 0.015 and isinstance(a.value, int) and not isinstance(a.value, bool):
                verdicts[item] = Verdict(
                    "sua", "số liệu thực tế", Answer(a.value // 2, None, a.evidence)
                )
        cohort = form.cohorts[0] if form.cohorts else COHORTS[i % len(COHORTS)]
        out.append(
            SubmissionFacts(
                agency=f"Cơ quan {i + 1:05d}",
                code=f"CQ{i + 1:05d}",
                cohort=cohort,
                answers=answers,
                verdicts=verdicts,
                manual={"4.3": float(rng.randint(10, 20))} if rng.random() < 0.8 else {},
                submitted=rng.random() > 0.01,
                late=rng.random() < 0.02,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=5000)
    ap.add_argument("--form", default="binh-dinh-2019-so")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--tiny", action="store_true", help="60 agencies, for the test suite")
    args = ap.parse_args(argv)
    n = 60 if args.tiny else args.agencies
    form = builtin_forms()[args.form]
    scale = scale_for(form.id)
    if scale is None:
        print(f"no scale for {form.id}")
        return 2
    facts = generate(form, n, scale=scale)
    clock = time.process_time  # CPU seconds of this process: the shared machine's load aside
    t0, c0 = time.perf_counter(), clock()
    scores = [score_submission(scale, form, f) for f in facts]
    t1, c1 = time.perf_counter(), clock()
    ranking = rank(scale, scores)
    t2, c2 = time.perf_counter(), clock()
    out = args.out or Path(tempfile.mkdtemp()) / "score_bench.xlsx"
    write_workbook(ranking, out)
    t3, c3 = time.perf_counter(), clock()
    # Peak resident size of the process (tracemalloc would slow scoring several times).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ranked = sum(len(v) for v in ranking.groups.values())
    reasons = sum(
        1
        for s in scores
        for c in s.criteria
        if c.points < c.max or c.corrected or c.reason in ("na", "zero_den_full")
    )
    print(f"form {form.id}, scale {scale.label}: {n} agencies, {len(scale.criteria())} criteria")
    print("            wall s    CPU s   (wall = elapsed; CPU = this process's share of it)")
    print(
        f"score    {t1 - t0:8.3f} {c1 - c0:8.3f}   "
        f"({(t1 - t0) / n * 1e6:.0f} µs/agency wall, {(c1 - c0) / n * 1e6:.0f} µs CPU)"
    )
    print(
        f"rank     {t2 - t1:8.3f} {c2 - c1:8.3f}   ({ranked} ranked, {len(ranking.unranked)} apart)"
    )
    print(f"score+rank {t2 - t0:6.3f} {c2 - c0:8.3f}   (goal < 1 s for 5,000)")
    print(
        f"workbook {t3 - t2:8.3f} {c3 - c2:8.3f}   (goal < 20 s; {reasons / n:.1f} reasons per "
        f"agency) → {out} ({out.stat().st_size / 1e6:.1f} MB)"
    )
    print(f"peak memory (max RSS of the process, generated answers included) {peak / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
