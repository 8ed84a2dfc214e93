"""Review storage (issue #10) on SQLite and PostgreSQL: assignments, verdicts with history,
the review queue, and moves that say who, when and on which channel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from flows.machines import Status
from flows.state import Answer
from storage import Conflict, Storage

NOW = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


async def _seed(storage: Storage) -> tuple[int, int, int, int, int]:
    async with storage.unit() as u:
        so = await u.add_agency("STTTT", "Sở TTTT", "so")
        huyen = await u.add_agency("HAN", "UBND huyện An Nhơn", "huyen")
        reviewer = await u.add_user("Trần Thẩm Định", None, "reviewer")
        campaign = await u.add_campaign("binh-dinh-2019-so", 1, "2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, so.id)
    return so.id, huyen.id, reviewer.id, campaign.id, sub.id


async def test_assignments_by_cohort_agency_and_all(storage: Storage) -> None:
    so, huyen, reviewer, campaign, _ = await _seed(storage)
    async with storage.unit() as u:
        a = await u.assign_reviewer(campaign, reviewer, cohort="huyen")
        again = await u.assign_reviewer(campaign, reviewer, cohort="huyen")
        b = await u.assign_reviewer(campaign, reviewer, agency_id=so)
        everything = await u.assign_reviewer(campaign, reviewer)
    assert again.id == a.id  # assigning twice keeps one row
    async with storage.unit() as u:
        rows = await u.reviewer_assignments(campaign, reviewer)
        assert [(r.cohort, r.agency_id) for r in rows] == [
            ("huyen", None),
            (None, so),
            (None, None),
        ]
        assert [r.id for r in rows] == [a.id, b.id, everything.id]
        assert await u.reviewer_assignments(campaign, reviewer + 999) == []
        assert await u.clear_assignments(campaign, reviewer) == 3
        assert await u.reviewer_assignments(campaign) == []
    del huyen


async def test_unknown_cohort_or_agency_is_refused(storage: Storage) -> None:
    _, _, reviewer, campaign, _ = await _seed(storage)
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.assign_reviewer(campaign, reviewer, cohort="tinh")
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.assign_reviewer(campaign, reviewer, agency_id=987654)


async def test_latest_verdict_stands_and_history_is_kept(storage: Storage) -> None:
    _, _, reviewer, _, sub = await _seed(storage)
    fixed = Answer(value=12, evidence={"number": "12/QĐ-UBND"})
    async with storage.unit() as u:
        await u.record_verdict(
            sub, "3.1", "tra_lai", reviewer, NOW, comment="Link hỏng", channel="telegram"
        )
        await u.record_verdict(sub, "3.2", "dat", reviewer, NOW, channel="telegram")
        await u.record_verdict(
            sub,
            "3.1",
            "sua",
            reviewer,
            NOW + timedelta(minutes=5),
            comment="Theo QĐ 12",
            corrected=fixed,
            channel="console",
        )
    async with storage.unit() as u:
        verdicts = await u.item_verdicts(sub)
        history = await u.item_reviews(sub, "3.1")
        everything = await u.item_reviews(sub)
        assert await u.item_verdicts(sub + 1000) == {}
    assert set(verdicts) == {"3.1", "3.2"}
    assert verdicts["3.1"].verdict == "sua"
    assert verdicts["3.1"].corrected == fixed  # exact numbers and evidence come back
    assert verdicts["3.1"].channel == "console"
    assert verdicts["3.2"].verdict == "dat" and verdicts["3.2"].corrected is None
    assert [h.verdict for h in history] == ["tra_lai", "sua"]
    assert history[0].comment == "Link hỏng" and history[0].at == NOW
    assert len(everything) == 3


async def test_bad_verdicts_are_refused(storage: Storage) -> None:
    _, _, reviewer, _, sub = await _seed(storage)
    async with storage.unit() as u:
        with pytest.raises(ValueError):
            await u.record_verdict(sub, "3.1", "ok", reviewer, NOW)
        with pytest.raises(ValueError):
            await u.record_verdict(sub, "3.1", "sua", reviewer, NOW, comment="x")
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.record_verdict(sub + 1000, "3.1", "dat", reviewer, NOW)


async def test_queue_oldest_first_and_moves_name_their_channel(storage: Storage) -> None:
    so, huyen, reviewer, campaign, sub = await _seed(storage)
    async with storage.unit() as u:
        other = await u.submission(campaign, huyen)
        # The district submits first, the Sở later.
        assert await u.move_submission(other.id, Status.DRAFT, Status.SUBMITTED, None, NOW)
        assert await u.move_submission(
            sub, Status.DRAFT, Status.SUBMITTED, None, NOW + timedelta(hours=1), channel="zalo"
        )
        assert await u.move_submission(
            sub,
            Status.SUBMITTED,
            Status.IN_REVIEW,
            reviewer,
            NOW + timedelta(hours=2),
            channel="telegram",
        )
    async with storage.unit() as u:
        queue = await u.submissions_with_status([Status.SUBMITTED, Status.RESUBMITTED])
        reviewing = await u.submissions_with_status([Status.IN_REVIEW], campaign_id=campaign)
        events = await u.submission_events(sub)
    assert [s.id for s in queue] == [other.id]
    assert [s.id for s in reviewing] == [sub]
    assert [(e.to_status, e.channel, e.user_id) for e in events] == [
        (Status.SUBMITTED, "zalo", None),
        (Status.IN_REVIEW, "telegram", reviewer),
    ]
    del so


async def test_a_dispute_takes_an_accepted_submission_back_to_review(storage: Storage) -> None:
    _, _, reviewer, _, sub = await _seed(storage)
    async with storage.unit() as u:
        for old, new in [
            (Status.DRAFT, Status.SUBMITTED),
            (Status.SUBMITTED, Status.IN_REVIEW),
            (Status.IN_REVIEW, Status.ACCEPTED),
            (Status.ACCEPTED, Status.IN_REVIEW),
        ]:
            assert await u.move_submission(sub, old, new, reviewer, NOW, note="x")
        with pytest.raises(ValueError):
            await u.move_submission(sub, Status.IN_REVIEW, Status.CONFIRMED, reviewer, NOW)
