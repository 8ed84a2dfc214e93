"""The scored ranking workbook and `phieu score` in one language per run (`--lang en`).

English runs: every word the workbook adds (sheet names, title rows, headers, notes,
reasons, band, scale and variant names) is English; what officials and reviewers typed
(agency names, "không áp dụng" reasons, review comments) is quoted as typed, so it is taken
out before looking for Vietnamese letters. Vietnamese runs: the workbook is written as it
always was (the literals below were read from it before it could speak English)."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from scoring.model import AgencyScore
from scoring.scales import builtin_scales
from scoring.texts import group_text, provisional_text, reason_text
from scoring.workbook import write_workbook
from tests.integration.test_scoring_e2e import seed_file
from tests.unit.test_cli_config_english import UNSET, VIETNAMESE
from tests.unit.test_scoring_workbook import _all_scores, _ranking

SHEETS_VI = ["Xếp hạng", "Điểm tiêu chí", "Lý do", "Biểu đồ"]
SHEETS_EN = ["Ranking", "Criterion points", "Reason", "Chart"]


def _typed(scores: Iterable[AgencyScore], extra: Iterable[str] = ()) -> list[str]:
    """What people typed and the workbook quotes: names, codes, cohorts, the text
    parameters of reasons (not `case`, a scale's own wording), and the criterion ids (the
    official form's numbering: "3.8.đ"), longest first."""
    said = set(extra)
    for s in scores:
        said.update((s.agency, s.code, s.cohort))
        for c in s.criteria:
            said.add(c.id)
            said.update(str(v) for k, v in c.params.items() if isinstance(v, str) and k != "case")
    return sorted((x for x in said if x), key=len, reverse=True)


def _texts(path: Path) -> list[str]:
    """Every text of the workbook: sheet names, cells, the title property, chart XML."""
    wb = openpyxl.load_workbook(path)
    out = [*wb.sheetnames, wb.properties.title or ""]
    for ws in wb.worksheets:
        out += [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    with zipfile.ZipFile(path) as z:  # openpyxl does not read charts back
        out += [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    return out


def _vietnamese_left(texts: Iterable[str], typed: list[str]) -> list[str]:
    left = []
    for text in texts:
        for t in typed:
            text = text.replace(t, "")
        if VIETNAMESE.search(text):
            left.append(text)
    return left


@pytest.mark.parametrize("form_id", sorted(builtin_scales()))
def test_the_workbook_is_english_in_an_english_run(form_id: str, tmp_path: Path) -> None:
    ranking = _ranking(form_id)
    out = write_workbook(ranking, tmp_path / "en.xlsx", "en")
    texts = _texts(out)
    assert texts[:4] == SHEETS_EN
    assert _vietnamese_left(texts, _typed(_all_scores(ranking))) == []


def test_english_names_come_from_the_scale_file(tmp_path: Path) -> None:
    """Variants ranked apart, variant notes, best_of cases, deductions: English in English,
    the Vietnamese of the file in Vietnamese."""
    ranking = _ranking("binh-dinh-2019-huyen", 60)
    scores = _all_scores(ranking)
    apart = [s for s in scores if s.variant is not None and s.variant.rank == "apart"]
    assert apart, "the generated data has a variant ranked apart"
    assert group_text(apart[0], "en").endswith(" / Unit providing no public services")
    assert group_text(apart[0], "vi") == apart[0].group
    wb = openpyxl.load_workbook(write_workbook(ranking, tmp_path / "en.xlsx", "en"))
    ws = wb["Ranking"]
    assert ws["A1"].value == (
        "Ranking — E-government scoring scale for districts — Binh Dinh 2019 (illustrative)"
    )
    notes = {r[-1].value for r in ws.iter_rows(min_row=4)}
    assert "Scored out of 750 points: Unit providing no public services" in notes
    cases = [
        c
        for s in scores
        for c in s.criteria
        if c.reason == "best_case" and c.params.get("case") == "Có cán bộ chuyên trách"
    ]
    assert cases and reason_text(cases[0], "en", ranking.scale).startswith(
        "best case: Has full-time IT staff"
    )
    # without the scale (as before) the case is quoted as the file writes it
    assert "Có cán bộ chuyên trách" in reason_text(cases[0], "en")
    so = _ranking("binh-dinh-2019-so", 60)
    deducted = [s for s in _all_scores(so) if s.deductions]
    assert deducted, "the generated data has a deduction"
    rows = openpyxl.load_workbook(write_workbook(so, tmp_path / "so.xlsx", "en"))["Reason"]
    said = {r[5].value for r in rows.iter_rows(min_row=4)}
    assert "deduction: Computers connected to the Internet but the agency has no firewall" in said


def test_the_provisional_score_says_section_titles_and_variants_in_english() -> None:
    ranking = _ranking("binh-dinh-2019-so", 60)
    s = next(s for s in _all_scores(ranking) if s.variant is not None)
    text = provisional_text(ranking.scale, s, "en")
    assert "Section 3. Technical infrastructure:" in text
    assert "Unit providing no public services" in text
    assert "Hạ tầng kỹ thuật" in provisional_text(ranking.scale, s, "vi")


def test_the_vietnamese_workbook_is_as_it_was(tmp_path: Path) -> None:
    ranking = _ranking("binh-dinh-2019-so", 60)
    default = write_workbook(ranking, tmp_path / "default.xlsx")
    assert _texts(default) == _texts(write_workbook(ranking, tmp_path / "vi.xlsx", "vi"))
    wb = openpyxl.load_workbook(default)
    assert wb.sheetnames == SHEETS_VI
    ws = wb["Xếp hạng"]
    name = "Thang điểm ứng dụng CNTT sở, ban, ngành — Bình Định 2019 (minh họa)"
    assert ws["A1"].value == f"Xếp hạng — {name}"
    assert ws["A2"].value == (
        "Phiếu: binh-dinh-2019-so · thang điểm v1 · tối đa 1000 · THANG ĐIỂM MINH HỌA "
        "(không phải thang điểm chính thức)"
    )
    header = [c.value for c in ws[3]]
    assert header[:4] == ["Khối", "Hạng", "Mã", "Cơ quan"] and "Mục 6 (400)" in header
    assert header[-7:] == [
        "Trừ điểm",
        "Tổng",
        "Tối đa",
        "Chỉ số (0–1)",
        "Điểm /100",
        "Xếp loại",
        "Ghi chú",
    ]
    notes = {r[-1].value for r in ws.iter_rows(min_row=4)}
    assert "Tính trên 750 điểm: Đơn vị không cung cấp dịch vụ công" in notes
    assert any(n and n.startswith("Số liệu đã điều chỉnh khi thẩm định: ") for n in notes)
    bands = {r[-2].value for r in ws.iter_rows(min_row=4)}
    assert bands and bands <= {"Tốt", "Khá", "Trung bình", "Yếu", None}
    assert wb["Điểm tiêu chí"]["A1"].value == f"Điểm từng tiêu chí — {name}"
    assert [c.value for c in wb["Lý do"][3]] == [
        "Mã",
        "Cơ quan",
        "Tiêu chí",
        "Điểm",
        "Tối đa",
        "Lý do",
    ]
    reasons = {r[5].value for r in wb["Lý do"].iter_rows(min_row=4)}
    assert any(r.startswith("trừ điểm: Máy tính kết nối Internet") for r in reasons)
    chart = wb["Biểu đồ"]
    assert chart["A1"].value == f"Tổng điểm (trên 100) theo khối — {name}"
    assert chart["A3"].value == "Khối: so" and chart["B4"].value == "Điểm /100"
    with zipfile.ZipFile(default) as z:
        xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/charts/chart"))
    assert "Tổng điểm — so".encode() in xml


# ---- `phieu score --out` on a seeded campaign ------------------------------------------------


def _score(db: Path, campaign: int, out: Path, lang: str) -> Any:
    result = CliRunner().invoke(
        cli_app,
        ["--lang", lang, "score", "--campaign", str(campaign), "--db", str(db), "--out", str(out)],
        env={**UNSET, "LANG": "C.UTF-8", "COLUMNS": "400"},  # names not wrapped in the table
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    db = tmp_path_factory.mktemp("score") / "phieu.db"
    return db, asyncio.run(seed_file(db))


# What the seed typed and the output quotes as typed (tests/integration/test_scoring_e2e.py).
SEEDED = [
    "Sở Thông tin và Truyền thông",
    "=Sở Tư pháp",
    "Sở Nội vụ",
    "Sở Y tế",
    "UBND huyện An Nhơn",
    "UBND huyện Tuy Phước",
    "UBND thị xã Hoài Nhơn",
    "Đợt so 2019",
    "Đợt huyen 2019",
    "link không mở được",
    "Không có tin bài trong năm",
    "đếm lại",
    "Đơn vị không có thủ tục hành chính",
]
IDS = sorted(  # the official forms' numbering ("6.2.2.đ"): quoted as the form writes it
    {c.id for scale in builtin_scales().values() for top in scale.criteria() for c in top.walk()}
)


@pytest.mark.parametrize("cohort", ["so", "huyen"])
def test_phieu_score_writes_an_english_workbook_in_an_english_run(
    seeded: tuple[Path, dict[str, Any]], cohort: str, tmp_path: Path
) -> None:
    db, ids = seeded
    out = tmp_path / "ranking.xlsx"
    result = _score(db, ids[cohort], out, "en")
    typed = sorted(SEEDED + IDS, key=len, reverse=True)
    assert _vietnamese_left([result.output], typed) == [], result.output
    assert "Illustrative scale" in result.output and "Wrote " in result.output
    texts = _texts(out)
    assert texts[:4] == SHEETS_EN
    assert _vietnamese_left(texts, typed) == []
    wb = openpyxl.load_workbook(out)
    header = [c.value for c in wb["Ranking"][3]]
    assert header[:4] == ["Cohort", "Rank", "Code", "Agency"] and "Score /100" in header
    notes = " ".join(str(r[-1].value) for r in wb["Ranking"].iter_rows(min_row=4))
    if cohort == "so":  # SO-C: 6.4 not applicable; SO-B: corrected by the reviewer
        assert "Scored out of 750 points: Unit providing no public services" in notes
        assert "Figures corrected in review: 3.1, 4.1.5" in notes
        assert "Not ranked: form not sent" in notes
    else:
        assert "Not ranked: " in notes


def test_phieu_score_writes_the_vietnamese_workbook_by_default(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    db, ids = seeded
    out = tmp_path / "xep-hang.xlsx"
    _score(db, ids["so"], out, "vi")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS_VI
    notes = " ".join(str(r[-1].value) for r in wb["Xếp hạng"].iter_rows(min_row=4))
    assert "Tính trên 750 điểm: Đơn vị không cung cấp dịch vụ công" in notes
    assert "Số liệu đã điều chỉnh khi thẩm định: 3.1, 4.1.5" in notes
    assert "Không xếp hạng: không gửi phiếu" in notes
