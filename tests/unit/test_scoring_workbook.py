"""The workbook's "Lý do" and "Điểm tiêu chí" sheets read back with openpyxl, row for row
against the scores (issue #12: every criterion's points per agency and the reason). Pins
the faster writing (reasons worded once, points taken in order) to what the scores say."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from flows.loader import builtin_forms
from scoring.ranking import rank
from scoring.scales import scale_for
from scoring.score import score_submission
from scoring.texts import reason_text
from scoring.workbook import write_workbook
from tests.unit.test_scoring_golden import generate

SAID = {"na", "zero_den_full", "zero_best_full"}


def _ranking(form_id: str, n: int = 40):  # type: ignore[no-untyped-def]
    form = builtin_forms()[form_id]
    scale = scale_for(form_id)
    assert scale is not None
    scores = [score_submission(scale, form, f) for f in generate(form, n, seed=11)]
    return rank(scale, scores)


def _all_scores(ranking):  # type: ignore[no-untyped-def]
    return [r.score for rows in ranking.groups.values() for r in rows] + ranking.unranked


def test_reasons_sheet_lists_every_lost_point_and_every_full_mark_given_without_the_work(
    tmp_path: Path,
) -> None:
    ranking = _ranking("binh-dinh-2019-so")
    out = write_workbook(ranking, tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(out)["Lý do"]
    got = [tuple(c.value for c in r) for r in ws.iter_rows(min_row=4)]
    want = []
    for s in _all_scores(ranking):
        if s.unranked:
            want.append((s.code, s.agency, None, None, None, got_unranked(s)))
        for c in s.criteria:
            if c.points < c.max or c.corrected or c.reason in SAID:
                why = f"điểm cộng: {reason_text(c)}" if c.bonus else reason_text(c)
                want.append((s.code, s.agency, c.id, c.points, c.max, why))
        for d, pts in s.deductions:
            want.append((s.code, s.agency, d.id, -pts, None, f"trừ điểm: {d.text}"))
    assert got == want
    reasons = {r[5] for r in got}
    assert "để trống" in reasons and "chưa có link" in reasons and "không" in reasons
    assert any(r and r.startswith("không áp dụng") for r in reasons)
    # A full best-of or manual score is in "Điểm tiêu chí", not here.
    full = {(s.code, c.id) for s in _all_scores(ranking) for c in s.criteria if c.points >= c.max}
    listed = {(r[0], r[2]) for r in got}
    assert all(
        (code, cid) not in listed
        for s in _all_scores(ranking)
        for c in s.criteria
        if (code := s.code, cid := c.id) in full
        and c.reason in ("best_case", "manual")
        and not c.corrected
    )


def got_unranked(s) -> str:  # type: ignore[no-untyped-def]
    return "Không xếp hạng: " + {"late": "gửi phiếu chậm", "missing": "không gửi phiếu"}[s.unranked]


def test_points_sheet_has_every_criterion_of_every_agency_blank_where_a_variant_dropped_it(
    tmp_path: Path,
) -> None:
    ranking = _ranking("binh-dinh-2019-huyen")
    out = write_workbook(ranking, tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(out)["Điểm tiêu chí"]
    header = [c.value for c in ws[3]]
    ids = [h.rsplit(" (", 1)[0] for h in header[3:]]
    rows = {r[1].value: [c.value for c in r[3:]] for r in ws.iter_rows(min_row=4)}
    scores = _all_scores(ranking)
    assert len(rows) == len(scores)
    assert any(s.variant is not None for s in scores)  # some rows have dropped criteria
    for s in scores:
        got = {c.id: c.points for c in s.criteria}
        assert rows[s.code] == [got.get(i) for i in ids], s.code
