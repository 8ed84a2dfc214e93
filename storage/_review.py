"""Review (issue #10): who reviews which agencies, and the verdicts on items, with history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from flows.machines import Status
from flows.state import Answer
from storage._base import UnitBase, fields
from storage._submissions import _submission
from storage.models import VERDICTS, ItemReview, ManualScore, ReviewerAssignment, Submission
from storage.records import ItemReviewRec, ManualScoreRec, ReviewerAssignmentRec, SubmissionRec


def _item_review(row: Any) -> ItemReviewRec:
    data = fields(row)
    corrected = data["corrected"]
    data["corrected"] = Answer.from_json(corrected) if corrected is not None else None
    return ItemReviewRec(**data)


class ReviewUnit(UnitBase):
    # -- assignments ------------------------------------------------------------------------

    async def assign_reviewer(
        self,
        campaign_id: int,
        user_id: int,
        *,
        cohort: str | None = None,
        agency_id: int | None = None,
    ) -> ReviewerAssignmentRec:
        """Give a reviewer a cohort, an agency, or (neither) every target of the campaign.

        Assigning the same share twice returns the row already there. Raises Conflict for
        an unknown campaign, user, agency or cohort.
        """
        same = select(ReviewerAssignment).where(
            ReviewerAssignment.campaign_id == campaign_id,
            ReviewerAssignment.user_id == user_id,
            ReviewerAssignment.cohort.is_(None)
            if cohort is None
            else ReviewerAssignment.cohort == cohort,
            ReviewerAssignment.agency_id.is_(None)
            if agency_id is None
            else ReviewerAssignment.agency_id == agency_id,
        )
        row = (await self._exec(same)).first()
        if row is None:
            stmt = (
                insert(ReviewerAssignment)
                .values(
                    campaign_id=campaign_id, user_id=user_id, cohort=cohort, agency_id=agency_id
                )
                .returning(*ReviewerAssignment.__table__.c)
            )
            row = (await self._exec(stmt)).one()
        return ReviewerAssignmentRec(**fields(row))

    async def reviewer_assignments(
        self, campaign_id: int, user_id: int | None = None
    ) -> list[ReviewerAssignmentRec]:
        """The campaign's assignments (of one reviewer if `user_id`), oldest first."""
        stmt = select(ReviewerAssignment).where(ReviewerAssignment.campaign_id == campaign_id)
        if user_id is not None:
            stmt = stmt.where(ReviewerAssignment.user_id == user_id)
        rows = await self._exec(stmt.order_by(ReviewerAssignment.id))
        return [ReviewerAssignmentRec(**fields(r)) for r in rows]

    async def clear_assignments(self, campaign_id: int, user_id: int) -> int:
        """Remove every share of one reviewer in a campaign; returns how many rows went."""
        stmt = delete(ReviewerAssignment).where(
            ReviewerAssignment.campaign_id == campaign_id, ReviewerAssignment.user_id == user_id
        )
        return (await self._exec(stmt)).rowcount or 0

    async def drop_agency_assignments(self, agency_id: int) -> list[ReviewerAssignmentRec]:
        """Remove the shares that name one agency (before it is deleted: they refer to it);
        returns the rows removed, oldest first ([] if none)."""
        stmt = (
            delete(ReviewerAssignment)
            .where(ReviewerAssignment.agency_id == agency_id)
            .returning(*ReviewerAssignment.__table__.c)
        )
        rows = [ReviewerAssignmentRec(**fields(r)) for r in await self._exec(stmt)]
        return sorted(rows, key=lambda r: r.id)

    # -- verdicts ---------------------------------------------------------------------------

    async def record_verdict(
        self,
        submission_id: int,
        item_id: str,
        verdict: str,
        reviewer_id: int | None,
        now: datetime,
        *,
        comment: str | None = None,
        corrected: Answer | None = None,
        channel: str | None = None,
    ) -> ItemReviewRec:
        """Append a verdict (the newest row per item stands; older ones are history).

        Raises ValueError for a verdict outside VERDICTS or a 'sua' without `corrected`;
        Conflict for an unknown submission or reviewer.
        """
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}; expected one of {VERDICTS}")
        if verdict == "sua" and corrected is None:
            raise ValueError("a 'sua' verdict needs the corrected answer")
        stmt = (
            insert(ItemReview)
            .values(
                submission_id=submission_id,
                item_id=item_id,
                verdict=verdict,
                comment=comment,
                corrected=corrected.to_json() if corrected is not None else None,
                reviewer_id=reviewer_id,
                channel=channel,
                at=now,
            )
            .returning(*ItemReview.__table__.c)
        )
        return _item_review((await self._exec(stmt)).one())

    async def item_verdicts(self, submission_id: int) -> dict[str, ItemReviewRec]:
        """The standing verdict per item (the latest row of each), by item id."""
        stmt = (
            select(ItemReview)
            .where(ItemReview.submission_id == submission_id)
            .order_by(ItemReview.id)
        )
        latest: dict[str, ItemReviewRec] = {}
        for row in await self._exec(stmt):
            rec = _item_review(row)
            latest[rec.item_id] = rec
        return latest

    async def item_reviews(
        self, submission_id: int, item_id: str | None = None
    ) -> list[ItemReviewRec]:
        """Every verdict ever given, oldest first (of one item if `item_id`)."""
        stmt = select(ItemReview).where(ItemReview.submission_id == submission_id)
        if item_id is not None:
            stmt = stmt.where(ItemReview.item_id == item_id)
        return [_item_review(r) for r in await self._exec(stmt.order_by(ItemReview.id))]

    # -- reviewer-scored criteria (issue #12) ------------------------------------------------

    async def record_manual_score(
        self,
        submission_id: int,
        criterion_id: str,
        points: float,
        reviewer_id: int | None,
        now: datetime,
        *,
        channel: str | None = None,
    ) -> ManualScoreRec:
        """Append the points of a reviewer-scored criterion (the newest row stands; older
        ones are history). The caller checks them against the scale (0..max). Raises
        ValueError for negative points; Conflict for an unknown submission or reviewer."""
        if points < 0:
            raise ValueError(f"points must not be negative, got {points}")
        stmt = (
            insert(ManualScore)
            .values(
                submission_id=submission_id,
                criterion_id=criterion_id,
                points=float(points),
                reviewer_id=reviewer_id,
                channel=channel,
                at=now,
            )
            .returning(*ManualScore.__table__.c)
        )
        return ManualScoreRec(**fields((await self._exec(stmt)).one()))

    async def manual_scores(self, submission_id: int) -> dict[str, float]:
        """The standing points per reviewer-scored criterion (the latest row of each)."""
        stmt = (
            select(ManualScore.criterion_id, ManualScore.points)
            .where(ManualScore.submission_id == submission_id)
            .order_by(ManualScore.id)
        )
        return {row.criterion_id: float(row.points) for row in await self._exec(stmt)}

    async def manual_score_history(
        self, submission_id: int, criterion_id: str | None = None
    ) -> list[ManualScoreRec]:
        """Every entry ever made, oldest first (of one criterion if `criterion_id`)."""
        stmt = select(ManualScore).where(ManualScore.submission_id == submission_id)
        if criterion_id is not None:
            stmt = stmt.where(ManualScore.criterion_id == criterion_id)
        rows = await self._exec(stmt.order_by(ManualScore.id))
        return [ManualScoreRec(**fields(r)) for r in rows]

    # -- queues -----------------------------------------------------------------------------

    async def submissions_with_status(
        self, statuses: Collection[Status], campaign_id: int | None = None
    ) -> list[SubmissionRec]:
        """Submissions in any of `statuses`, oldest submitted first (then by id)."""
        stmt = select(Submission).where(Submission.status.in_([Status(s).value for s in statuses]))
        if campaign_id is not None:
            stmt = stmt.where(Submission.campaign_id == campaign_id)
        stmt = stmt.order_by(Submission.submitted_at, Submission.id)
        return [_submission(r) for r in await self._exec(stmt)]
