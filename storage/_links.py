"""Evidence link checks: the latest result per URL, and the evidence still to check.

What a check found is written by the link worker (bot/workers/linkjobs.py) and read by the
reviewer's screens; one row per URL, shared by every answer giving that URL (issue #10).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage._base import UnitBase, fields
from storage.models import AnswerRow, LinkCheck
from storage.records import EvidenceRec, LinkCheckRec

MAX_URL = 2048  # link_checks.url's length; longer links are refused by the checker


def _values(rec: LinkCheckRec) -> dict[str, Any]:
    return {
        "url": rec.url,
        "status": rec.status,
        "final_url": rec.final_url,
        "title": rec.title,
        "content_type": rec.content_type,
        "size": rec.size,
        "elapsed_ms": rec.elapsed_ms,
        "error": rec.error,
        "checked_at": rec.checked_at,
    }


class LinksUnit(UnitBase):
    async def record_link_check(self, rec: LinkCheckRec) -> bool:
        """Keep `rec` as the URL's latest check; False (nothing written) when a check at
        least as recent is already stored, so a slow check never hides a newer one.
        Raises ValueError for a URL longer than MAX_URL characters."""
        if len(rec.url) > MAX_URL:
            raise ValueError(f"link of {len(rec.url)} characters: at most {MAX_URL}")
        values = _values(rec)
        stmt = self._insert(LinkCheck).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LinkCheck.url],
            set_={k: stmt.excluded[k] for k in values if k != "url"},
            where=LinkCheck.checked_at < stmt.excluded.checked_at,
        ).returning(LinkCheck.url)
        return (await self._exec(stmt)).first() is not None

    async def add_first_link_check(self, rec: LinkCheckRec) -> bool:
        """Keep `rec` only if `url` was never checked; True if it was written. Two units
        racing on one URL cannot both get True (the primary key decides: on PostgreSQL the
        second waits for the first to commit), so whoever gets True may announce the result
        once (bot/workers/linkjobs.py LinkSweep)."""
        if len(rec.url) > MAX_URL:
            raise ValueError(f"link of {len(rec.url)} characters: at most {MAX_URL}")
        stmt = (
            self._insert(LinkCheck)
            .values(**_values(rec))
            .on_conflict_do_nothing(index_elements=[LinkCheck.url])
            .returning(LinkCheck.url)
        )
        return (await self._exec(stmt)).first() is not None

    async def link_check(self, url: str) -> LinkCheckRec | None:
        """The latest check of `url`, or None if it was never checked."""
        row = (await self._exec(select(LinkCheck).where(LinkCheck.url == url))).first()
        return None if row is None else LinkCheckRec(**fields(row))

    async def link_checks(self, urls: Iterable[str]) -> dict[str, LinkCheckRec]:
        """The latest check of each of `urls` that was checked, by URL (one query)."""
        wanted = sorted({u for u in urls if len(u) <= MAX_URL})
        found: dict[str, LinkCheckRec] = {}
        for start in range(0, len(wanted), 500):  # bounded IN lists
            chunk = wanted[start : start + 500]
            for row in await self._exec(select(LinkCheck).where(LinkCheck.url.in_(chunk))):
                rec = LinkCheckRec(**fields(row))
                found[rec.url] = rec
        return found

    async def evidence_page(
        self, after_id: int, limit: int, before: datetime | None = None
    ) -> list[EvidenceRec]:
        """Answers with evidence, by id after `after_id`, at most `limit` (a paging scan);
        with `before`, only answers last changed before then."""
        stmt = (
            select(
                AnswerRow.id.label("answer_id"),
                AnswerRow.submission_id,
                AnswerRow.item_id,
                AnswerRow.evidence,
                AnswerRow.updated_by,
            )
            .where(AnswerRow.evidence.is_not(None), AnswerRow.id > after_id)
            .order_by(AnswerRow.id)
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(AnswerRow.updated_at < before)
        return [EvidenceRec(**fields(r)) for r in await self._exec(stmt)]

    async def answer_evidence(self, submission_id: int, item_id: str) -> Any:
        """The evidence an item's answer holds now (None when none, or no answer)."""
        stmt = select(AnswerRow.evidence).where(
            AnswerRow.submission_id == submission_id, AnswerRow.item_id == item_id
        )
        return (await self._exec(stmt)).scalar_one_or_none()
