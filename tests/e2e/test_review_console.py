"""The review loop through `phieu chat` subprocesses (issue #10): an official submits, the
reviewer (a console account, `--user`) is notified, verifies, returns one item; the official
fixes just that item and resubmits; the reviewer sees old → new and accepts; the official
confirms the final data. Assignments are made with `phieu review assign`.

The questionnaire is the real Sở form, answered beforehand by the simulated official of
bench/official_bench.py, except 1.8, which the official types in the console before /nop.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.official_bench import run_engine
from bot.channels.console import demo_deadline
from bot.cli.score import load_facts
from flows.loader import builtin_forms
from flows.machines import Status
from flows.model import Evidence
from flows.review import items_to_verify
from scoring.scales import scale_for
from scoring.score import score_submission
from storage import Storage
from storage.records import ManualScoreRec
from tests.e2e.test_console_chat import all_replies, chat, run_phieu

FORM_ID = "binh-dinh-2019-so"


async def _seed(db: Path) -> tuple[int, str, int, int]:
    """Agency STTTT with its console official, the campaign, every answer but 1.8, and a
    reviewer. Returns (reviewer id, the returned item, how many items to verify, 1.8)."""
    form = builtin_forms()[FORM_ID]
    due = demo_deadline(datetime.now(UTC).date())
    _, answers = run_engine(form, due.year, {}, limit=1_000_000)
    staff = answers.pop("1.8")
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            agency = await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
            lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
            await u.bind_identity(lan.id, "console", "console:STTTT", "console")
            campaign = await u.add_campaign(form.id, form.version, "Năm thử", due)
            sub = await u.submission(campaign.id, agency.id)
            await u.apply_changes(sub.id, answers, lan.id, "console", datetime.now(UTC))
            hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
    finally:
        await storage.close()
    todo = items_to_verify(form, {**answers, "1.8": staff})
    linked = next(i for i in todo if (q := form.question(i)) and q.evidence is Evidence.LINK)
    return hoa.id, linked, len(todo), int(staff.value)


def phieu(db: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


async def _status(db: Path) -> Status:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            [sub] = await u.list_submissions(1)
        return sub.status
    finally:
        await storage.close()


async def _manual(db: Path, criterion: str) -> tuple[list[ManualScoreRec], float]:
    """The criterion's entries and its points as `phieu score` computes them."""
    form = builtin_forms()[FORM_ID]
    scale = scale_for(FORM_ID)
    assert scale is not None
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            [sub] = await u.list_submissions(1)
            history = await u.manual_score_history(sub.id, criterion)
            _, [facts] = await load_facts(u, 1)
    finally:
        await storage.close()
    [scored] = [c for c in score_submission(scale, form, facts).criteria if c.id == criterion]
    return history, scored.points


def status(db: Path) -> Status:
    return asyncio.run(_status(db))


def test_the_review_loop_in_the_console(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    reviewer, item, n, staff = asyncio.run(_seed(db))
    assert "Đã giao thẩm định — Trần Văn Hoà: khối so" in phieu(
        db, "review", "assign", "--campaign", "1", "--reviewer", "Trần Văn Hoà", "--cohort", "so"
    )
    assert f"{reviewer} Trần Văn Hoà: khối so" in phieu(db, "review", "list", "--campaign", "1")

    # The reviewer's console account exists before anything is submitted.
    said = all_replies(chat(db, ["/thamdinh", "/help"], "--user", str(reviewer)))
    assert "Không có phiếu nào chờ thẩm định." in said and "/progress (/tiendo)" in said

    # The official answers the last item and submits.
    said = all_replies(chat(db, ["/sua 1.8", str(staff), "/nop", "Nộp phiếu"], "--agency", "STTTT"))
    assert "📤 Đã nộp phiếu." in said
    assert "Mời thẩm định" not in said  # the reviewer's notice is not printed to the official
    assert status(db) is Status.SUBMITTED

    # The reviewer: notified, opens, returns one item with a comment, passes the rest.
    lines = ["/thamdinh", "1", item, "Trả lại", "Link không mở được"]
    lines += ["Đạt"] * (n - 1) + ["1"]
    said = all_replies(chat(db, lines, "--user", str(reviewer)))
    assert "📥 Sở Thông tin và Truyền thông đã nộp phiếu" in said
    assert (
        f"🔎 Thẩm định phiếu của Sở Thông tin và Truyền thông (Năm thử): {n} mục cần xem." in said
    )
    assert "↩️ Đã trả phiếu của Sở Thông tin và Truyền thông với 1 mục cần sửa" in said
    assert status(db) is Status.RETURNED

    # The official gets one message with just that item, fixes it and resubmits.
    said = all_replies(
        chat(db, ["https://moi.binhdinh.gov.vn/bang-chung", "/nop"], "--agency", "STTTT")
    )
    assert said.count("↩️ Sở TTTT trả lại phiếu") == 1
    assert f"• {item}: Link không mở được" in said
    assert "Nhận xét của Sở: Link không mở được" in said
    assert "https://moi.binhdinh.gov.vn/bang-chung" in said
    assert "📤 Đã nộp lại phiếu" in said
    assert status(db) is Status.RESUBMITTED

    # The reviewer sees what changed, passes it, scores the reviewer-scored criterion 4.3
    # (a word refused with an example, then "15 điểm"), accepts.
    lines = ["/thamdinh", "1", "Đạt", "mười lăm", "15 điểm", "1"]
    said = all_replies(chat(db, lines, "--user", str(reviewer)))
    assert "🔁 Sở Thông tin và Truyền thông đã nộp lại phiếu" in said
    assert "🔁 Đã sửa:" in said and "Minh chứng cũ:" in said
    assert "🧮 Chấm điểm tiêu chí 4.3: Hiệu quả đầu tư CNTT" in said
    assert "Điểm phải là một số từ 0 đến 20.\nVí dụ: 15" in said
    assert "Đã ghi điểm tiêu chí 4.3: 15/20." in said
    assert "🧮 Tiêu chí 4.3 (thẩm định chấm): 15/20 điểm." in said
    assert "✅ Đã chấp nhận phiếu của Sở Thông tin và Truyền thông" in said
    assert status(db) is Status.ACCEPTED

    # The official confirms the final data: locked.
    said = all_replies(chat(db, ["/xacnhan"], "--agency", "STTTT"))
    assert "Mời anh/chị xác nhận số liệu" in said and "Sở không sửa giá trị nào." in said
    assert "🔒 Đã xác nhận số liệu" in said
    assert status(db) is Status.CONFIRMED
    assert "chỉ xem được" in all_replies(chat(db, ["/sua 1.8"], "--agency", "STTTT"))
    # Stored with who, when and the channel; `phieu score` reads them (its load_facts).
    history, points = asyncio.run(_manual(db, "4.3"))
    assert [(h.points, h.reviewer_id, h.channel) for h in history] == [(15, reviewer, "console")]
    assert points == 15
    assert run_phieu  # the same harness as the official's console tests
