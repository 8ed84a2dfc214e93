"""Chat /progress and `phieu progress` give the same figures (issues #9, #10), on SQLite and
PostgreSQL: one campaign with an agency in every stage, read both ways."""

from __future__ import annotations

from datetime import UTC, date, datetime

from rich.console import Console

from bot.desk.progress import campaign_progress, print_progress
from flows.machines import Status
from flows.progress import STAGES, stage_label
from flows.state import Answer
from storage import Storage
from tests.integration.test_review_loop import FORM, START, Chat, make_world

PATHS: dict[str, list[Status]] = {
    "submitted": [Status.SUBMITTED],
    "in_review": [Status.SUBMITTED, Status.IN_REVIEW],
    "returned": [Status.SUBMITTED, Status.IN_REVIEW, Status.RETURNED],
    "resubmitted": [Status.SUBMITTED, Status.IN_REVIEW, Status.RETURNED, Status.RESUBMITTED],
    "accepted": [Status.SUBMITTED, Status.IN_REVIEW, Status.ACCEPTED],
    "confirmed": [Status.SUBMITTED, Status.IN_REVIEW, Status.ACCEPTED, Status.CONFIRMED],
}


async def test_chat_progress_and_phieu_progress_agree(storage: Storage) -> None:
    world = await make_world(storage)  # STTTT answering 3/3, SYT not started
    late = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # two days after 26/11 in Việt Nam
    async with storage.unit() as u:
        cid = world.ids["campaign"]
        for n, (stage, path) in enumerate(PATHS.items()):
            agency = await u.add_agency(f"X{n}", f"Cơ quan {stage}", "huyen" if n % 2 else "so")
            sub = await u.submission(cid, agency.id)
            await u.apply_changes(sub.id, {"1.8": Answer(n)}, None, "telegram", START)
            when = late if stage == "submitted" else START
            for old, new in zip([Status.DRAFT, *path], path, strict=False):
                assert await u.move_submission(sub.id, old, new, None, when)
        partly = await u.add_agency("P1", "Cơ quan trả lời một phần", "xa")
        sub = await u.submission(cid, partly.id)
        await u.apply_changes(sub.id, {"1.8": Answer(3)}, None, "telegram", START)
        campaign = await u.campaign(cid)
        assert campaign is not None
        rows = await campaign_progress(u, campaign, FORM, date(2026, 11, 30))
    assert {r.stage for r in rows} == set(STAGES), [(r.name, r.stage) for r in rows]  # all seeded

    chat = await Chat(world.phieu, "telegram", "900").send("/tiendo")
    console = Console(record=True, width=250)
    print_progress(console, "vi", campaign, rows)
    table = console.export_text()
    for r in rows:
        shown = stage_label("vi", r.stage)
        if r.stage == "answering":
            shown += f" ({r.percent}%)"
        if r.days_late:
            shown += f" (trễ {r.days_late} ngày)"
        assert f"• {r.name}: {shown}\n" in chat + "\n", (r.name, shown)
        (line,) = [x for x in table.splitlines() if f" {r.name} " in x]
        assert stage_label("vi", r.stage) in line
    assert "• Cơ quan trả lời một phần: đang trả lời (33%)" in chat
    assert "• Cơ quan submitted: đã nộp (trễ 2 ngày)" in chat
    assert "• Cơ quan resubmitted: đã nộp lại" in chat  # not folded into "đã nộp"
    total = " · ".join(f"{stage_label('vi', s)} {sum(r.stage == s for r in rows)}" for s in STAGES)
    assert f"Tổng {len(rows)} cơ quan: {total}" in chat
