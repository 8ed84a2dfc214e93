"""Scoring end to end (issue #12): officials of several agencies answer both Bình Định forms
through the engine, the answers and submissions are stored, reviewers record verdicts in
storage, and `phieu score` ranks them and writes the workbook, read back with openpyxl.

The storage → scoring adapter runs on SQLite and PostgreSQL; the CLI on a SQLite file
(`--db`), as an administrator runs it.
"""

from __future__ import annotations

import asyncio
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from typer.testing import CliRunner

from bot.cli.app import app
from bot.cli.score import import_manual, load_facts
from flows.loader import builtin_forms
from flows.machines import Status
from flows.state import Answer
from scoring.ranking import rank
from scoring.scales import scale_for
from scoring.score import score_submission
from scoring.texts import reason_text, unranked_text
from storage import Storage
from tests.engine_driver import Chat

SUBMIT = datetime(2019, 11, 20, 3, 0, tzinfo=UTC)
LATE = datetime(2019, 11, 28, 3, 0, tzinfo=UTC)
LINK = "https://stttt.binhdinh.gov.vn"

# What each official types, item by item (/sua ID then the answer, then the evidence asked).
COMMON = [
    ("3.1.a", "30"),
    ("3.1.b", "0"),
    ("3.2.a", "28"),
    ("6.1.a.1", "120", f"{LINK}/tin-tuc"),
    ("6.1.a.2.a", "5"),  # no link: scores 0, "chưa có link"
    ("6.2.1.a", "hoàn chỉnh"),
    ("6.2.1.b", "đang thử nghiệm"),
    ("7.1", "có"),
    ("8.1", "có", f"số 12/KH-UBND ngày 15/01/2019, {LINK}/kh.pdf"),
]
SO = [("1.7", "0"), ("1.8", "40"), ("1.9", "0"), ("3.6", "có"), ("5.1", "tất cả"), *COMMON]
HUYEN = [("1.9", "40"), ("1.10", "0"), ("3.7", "có"), ("5.6.a", "3"), ("5.6.b", "0"), *COMMON]


def answer_through_engine(form_id: str, script: list[tuple[str, ...]], na_64: bool) -> dict:
    chat = Chat(builtin_forms()[form_id])
    for step in script:
        chat.say(f"/sua {step[0]}")
        reply = chat.say(step[1])
        assert "Đã lưu" in reply, (step, reply)
        if len(step) > 2:
            assert "minh chứng" in chat.say(step[2])
        elif "cần minh chứng" in reply:
            chat.say("/bo")
    if na_64:
        chat.say("/kad 6.4")
        assert "Đã ghi “không áp dụng”" in chat.say("Đơn vị không có thủ tục hành chính")
    return dict(chat.answers)


async def seed(storage: Storage) -> dict[str, Any]:
    """Two campaigns (one per form), three sở and three huyện, one reviewer; answers typed
    through the engine; verdicts recorded in storage."""
    ids: dict[str, Any] = {}
    async with storage.unit() as u:
        reviewer = await u.add_user("Trần Thẩm Định", None, "reviewer")
        for form_id, cohort in (("binh-dinh-2019-so", "so"), ("binh-dinh-2019-huyen", "huyen")):
            c = await u.add_campaign(
                form_id,
                1,
                f"Đợt {cohort} 2019",
                date(2019, 11, 26),
                reporting_year=2019,
                cohorts=[cohort],
            )
            ids[cohort] = c.id
        agencies = {
            "SO-A": ("Sở Thông tin và Truyền thông", "so"),
            "SO-B": ("=Sở Tư pháp", "so"),  # formula-like name: written as text
            "SO-C": ("Sở Nội vụ", "so"),
            "SO-D": ("Sở Y tế", "so"),  # never sends its form
            "H-A": ("UBND huyện An Nhơn", "huyen"),
            "H-B": ("UBND huyện Tuy Phước", "huyen"),
            "H-C": ("UBND thị xã Hoài Nhơn", "huyen"),
        }
        for code, (name, cohort) in agencies.items():
            ids[code] = (await u.add_agency(code, name, cohort)).id
    for code, form_id, script, na, at in (
        ("SO-A", "binh-dinh-2019-so", SO, False, SUBMIT),
        ("SO-B", "binh-dinh-2019-so", SO, False, SUBMIT),
        ("SO-C", "binh-dinh-2019-so", SO, True, SUBMIT),
        ("H-A", "binh-dinh-2019-huyen", HUYEN, False, SUBMIT),
        ("H-B", "binh-dinh-2019-huyen", [*HUYEN, ("5.6.a", "4")], False, SUBMIT),
        ("H-C", "binh-dinh-2019-huyen", HUYEN, False, LATE),
    ):
        answers = answer_through_engine(form_id, script, na)
        cohort = "so" if code.startswith("SO") else "huyen"
        async with storage.unit() as u:
            sub = await u.submission(ids[cohort], ids[code])
            await u.apply_changes(sub.id, answers, None, "console", at)
            note = "late" if at is LATE else None
            assert await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, None, at, note)
            ids[f"sub:{code}"] = sub.id
    async with storage.unit() as u:
        await u.record_verdict(
            ids["sub:SO-A"], "8.1", "khong_dat", reviewer.id, SUBMIT, comment="link không mở được"
        )
        await u.record_verdict(
            ids["sub:SO-B"],
            "1.8",
            "sua",
            reviewer.id,
            SUBMIT,
            comment="đếm lại",
            corrected=Answer(60),
        )
        await u.record_verdict(
            ids["sub:SO-B"],
            "6.1.a.1",
            "khong_dat",
            reviewer.id,
            SUBMIT,
            comment="Không có tin bài trong năm",
        )
        await u.record_verdict(ids["sub:SO-A"], "7.1", "dat", reviewer.id, SUBMIT)
    return ids


def by_id(score: Any) -> dict[str, Any]:
    return {c.id: c for c in score.criteria}


async def test_both_forms_answered_reviewed_and_scored(storage: Storage) -> None:
    ids = await seed(storage)
    so_form = builtin_forms()["binh-dinh-2019-so"]
    so_scale = scale_for(so_form.id)
    assert so_scale is not None
    async with storage.unit() as u:
        stored, skipped = await import_manual(
            u, ids["so"], {"SO-A": {"4.3": 15}, "SO-X": {"4.3": 1}}, datetime.now(UTC)
        )
        assert (stored, skipped) == (1, ["SO-X"])
        _, facts = await load_facts(u, ids["so"])
    assert [f.code for f in facts] == ["SO-A", "SO-B", "SO-C", "SO-D"]
    scores = {f.code: score_submission(so_scale, so_form, f) for f in facts}
    a, b, c, d = (by_id(scores[k]) for k in ("SO-A", "SO-B", "SO-C", "SO-D"))
    # The reviewer's "không đạt" on an item needing a link: 0, said.
    assert a["8.1"].points == 0
    assert reason_text(a["8.1"]) == "thẩm định: minh chứng không đạt (link không mở được)"
    assert b["8.1"].points == 15  # the same answer, not rejected
    # Linkless answer: 0 "chưa có link"; with a link: counted.
    assert (a["6.1.a.2.a"].points, reason_text(a["6.1.a.2.a"])) == (0, "chưa có link")
    assert a["6.1.a.1"].points == 10
    # Reviewer "không có tin bài trong năm" → 0; corrected 1.8 (40 → 60) used and said.
    assert (b["6.1.a.1"].points, b["6.1.a.1"].reason) == (0, "no_posts")
    assert a["3.1"].points == 22.5 and b["3.1"].points == 15  # 30/40 × 30 vs 30/60 × 30
    assert b["3.1"].corrected and "điều chỉnh" in reason_text(b["3.1"])
    assert a["4.3"].points == 15 and b["4.3"].reason == "manual_missing"
    # Blank → 0; all of 6.4 "không áp dụng" → scored out of 750 instead of 1,000.
    assert a["7.4"].reason == "blank"
    assert scores["SO-C"].maximum == 750 and "6.4.a.3" not in c
    assert scores["SO-A"].maximum == 1000 and a["6.4.a.3"].reason == "blank"
    assert {x.reason for x in d.values()} <= {"blank", "manual_missing"}
    assert scores["SO-D"].unranked == "missing" and scores["SO-D"].total == 0
    ranking = rank(so_scale, scores.values())
    assert [r.score.code for r in ranking.groups["so"]] == ["SO-C", "SO-A", "SO-B"]
    assert [unranked_text(s) for s in ranking.unranked] == ["không gửi phiếu"]


async def seed_file(db: Path) -> dict[str, Any]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        return await seed(storage)
    finally:
        await storage.close()


def run_score(db: Path, campaign: int, out: Path, *extra: str) -> Any:
    result = CliRunner().invoke(
        app,
        ["score", "--campaign", str(campaign), "--db", str(db), "--out", str(out), *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result


def test_phieu_score_prints_the_ranking_and_writes_the_workbook(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    ids = asyncio.run(seed_file(db))
    manual = tmp_path / "diem.yaml"
    manual.write_text("H-A:\n  '4.3': 20\n", encoding="utf-8")
    out = tmp_path / "xep-hang.xlsx"
    result = run_score(db, ids["huyen"], out, "--manual", str(manual))
    assert "minh họa" in result.output
    assert "Khối huyen" in result.output and "Không xếp hạng" in result.output
    assert "gửi phiếu chậm" in result.output  # H-C sent after 26/11
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Xếp hạng", "Điểm tiêu chí", "Lý do", "Biểu đồ"]
    ws = wb["Xếp hạng"]
    assert "minh họa" in ws["A1"].value and "MINH HỌA" in ws["A2"].value
    header = [c.value for c in ws[3]]
    assert header[:4] == ["Khối", "Hạng", "Mã", "Cơ quan"]
    assert "Mục 6 (400)" in header and header[-3:] == ["Điểm /100", "Xếp loại", "Ghi chú"]
    assert ws.freeze_panes == "E4" and ws.auto_filter.ref.startswith("A3:")
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    col = {h: i for i, h in enumerate(header)}
    ranked = [r for r in rows if r[col["Hạng"]] is not None]
    # H-A: 3 meetings (15 of 20) but 20 manual points; H-B: 4 meetings (20), no manual.
    assert [r[col["Mã"]] for r in ranked] == ["H-A", "H-B"]
    assert ranked[0][col["Tổng"]] - ranked[1][col["Tổng"]] == 15
    assert [r[col["Hạng"]] for r in ranked] == [1, 2]
    late = [r for r in rows if r[col["Hạng"]] is None]
    assert [(r[col["Mã"]], r[col["Ghi chú"]]) for r in late] == [
        ("H-C", "Không xếp hạng: gửi phiếu chậm")
    ]
    total_cell = ws.cell(row=4, column=col["Tổng"] + 1)
    assert total_cell.number_format == "0.00" and isinstance(total_cell.value, float | int)
    index = ranked[0][col["Chỉ số (0–1)"]]
    assert 0 <= index <= 1 and ranked[0][col["Xếp loại"]] in ("Tốt", "Khá", "Trung bình", "Yếu")
    points = wb["Điểm tiêu chí"]
    pheader = [c.value for c in points[3]]
    assert "5.6 (20)" in pheader and points.freeze_panes == "D4"
    prow = {r[1].value: r for r in points.iter_rows(min_row=4)}
    assert prow["H-B"][pheader.index("5.6 (20)")].value == 20
    assert prow["H-A"][pheader.index("5.6 (20)")].value == 15
    reasons = [[c.value for c in r] for r in wb["Lý do"].iter_rows(min_row=4)]
    assert ["H-A", "UBND huyện An Nhơn", "6.1.a.2.a", 0, 6, "chưa có link"] in reasons
    assert ["H-C", "UBND thị xã Hoài Nhơn", None, None, None, "Không xếp hạng: gửi phiếu chậm"] in (
        reasons
    )
    assert wb["Lý do"].freeze_panes == "D4"
    with zipfile.ZipFile(out) as z:  # openpyxl does not read charts back: look in the file
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert charts and b"barChart" in z.read(charts[0])


def test_formula_like_text_is_written_as_text(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    ids = asyncio.run(seed_file(db))
    out = tmp_path / "so.xlsx"
    run_score(db, ids["so"], out)
    ws = openpyxl.load_workbook(out)["Xếp hạng"]
    cells = [r[3] for r in ws.iter_rows(min_row=4) if r[2].value == "SO-B"]
    assert cells[0].value == "=Sở Tư pháp" and cells[0].data_type == "s"
    assert cells[0].quotePrefix


def test_score_refuses_an_unknown_campaign_politely(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["score", "--campaign", "99", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "Không có đợt #99" in result.output
