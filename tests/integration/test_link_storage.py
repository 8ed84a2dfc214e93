"""link_checks storage on SQLite and PostgreSQL (issue #10): latest per URL, newer wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from flows.state import Answer
from storage import Storage
from storage.records import EvidenceRec, LinkCheckRec

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
URL = "https://sotttt.binhdinh.gov.vn/van-ban/kh-12-2025"


def rec(
    at: datetime, status: int | None = 200, error: str | None = None, url: str = URL
) -> LinkCheckRec:
    return LinkCheckRec(
        url=url,
        status=status,
        final_url=url + "/",
        title="Kế hoạch số 12/KH-UBND",
        content_type="text/html",
        size=2**33,  # beyond 32 bits: a large file's declared size
        elapsed_ms=412,
        error=error,
        checked_at=at,
    )


async def test_a_check_is_kept_and_read_back_whole(storage: Storage) -> None:
    async with storage.unit() as u:
        assert await u.link_check(URL) is None
        assert await u.record_link_check(rec(NOW)) is True
    async with storage.unit() as u:
        assert await u.link_check(URL) == rec(NOW)
        assert await u.link_check(URL + "x") is None


async def test_a_newer_check_replaces_an_older_one_never_the_reverse(storage: Storage) -> None:
    later = NOW + timedelta(hours=1)
    async with storage.unit() as u:
        await u.record_link_check(rec(NOW))
        assert await u.record_link_check(rec(later, status=None, error="timeout")) is True
        # A slow check that started earlier finishes last: it does not hide the newer one.
        assert await u.record_link_check(rec(NOW + timedelta(minutes=5), status=404)) is False
        assert await u.record_link_check(rec(later, status=500)) is False  # same time: kept
    async with storage.unit() as u:
        kept = await u.link_check(URL)
    assert kept == rec(later, status=None, error="timeout")
    assert kept is not None and not kept.ok and kept.error_code == "timeout"


async def test_many_checks_are_read_in_one_call(storage: Storage) -> None:
    urls = [f"https://a{i}.gov.vn/" for i in range(620)]
    async with storage.unit() as u:
        for i, url in enumerate(urls):
            await u.record_link_check(rec(NOW, status=200 + i % 2, url=url))
    async with storage.unit() as u:
        found = await u.link_checks([*urls, "https://never.gov.vn/", "x" * 3000])
    assert set(found) == set(urls)
    assert found[urls[1]].status == 201


async def test_a_link_longer_than_the_column_is_refused_plainly(storage: Storage) -> None:
    async with storage.unit() as u:
        with pytest.raises(ValueError, match="2048"):
            await u.record_link_check(rec(NOW, url="https://a.vn/" + "x" * 2100))


async def test_evidence_is_paged_and_read_per_item(storage: Storage) -> None:
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", "Sở TTTT", "so")
        user = await u.add_user("Nguyễn Văn A", agency.id, "official")
        campaign = await u.add_campaign("binh-dinh-2019-so", 1, "2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
        doc = {"number": "12/KH-UBND", "date": "2025-01-15", "title": None, "link": URL}
        await u.apply_changes(
            sub.id,
            {
                "1.1": Answer(5),
                "3.1": Answer(True, evidence=URL),
                "3.2": Answer(True, evidence=doc),
                "4.1": Answer(None, na_reason="không có"),
            },
            user.id,
            "telegram",
            NOW,
        )
    async with storage.unit() as u:
        first = await u.evidence_page(0, 1)
        rest = await u.evidence_page(first[-1].answer_id, 10)
        assert await u.answer_evidence(sub.id, "3.2") == doc
        assert await u.answer_evidence(sub.id, "1.1") is None
        assert await u.answer_evidence(sub.id, "9.9") is None
        assert await u.evidence_page(0, 10, before=NOW) == []  # changed at NOW: not before
        assert len(await u.evidence_page(0, 10, before=NOW + timedelta(seconds=1))) == 2
    assert first == [EvidenceRec(first[0].answer_id, sub.id, "3.1", URL, user.id)]
    assert [(e.item_id, e.evidence) for e in rest] == [("3.2", doc)]


async def test_only_the_first_check_of_a_url_is_added_even_in_a_race(storage: Storage) -> None:
    async def add(at: datetime) -> bool:
        async with storage.unit() as u:
            return await u.add_first_link_check(rec(at, status=404))

    results = await asyncio.gather(add(NOW), add(NOW + timedelta(seconds=1)))
    assert sorted(results) == [False, True]
    async with storage.unit() as u:
        assert await u.add_first_link_check(rec(NOW + timedelta(days=1))) is False
        kept = await u.link_check(URL)
    assert kept is not None and kept.status == 404
