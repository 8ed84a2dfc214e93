"""Last year's answers are read once per agency and campaign, not on every update (issue #8),
and what is offered stays right: a change in storage is offered after the cache's ttl.
Both databases (the `storage` fixture)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bot.service import Phieu
from flows.state import Answer
from storage import Storage, Unit
from tests.integration.test_fewer_messages import FORM, NOW, Official, setup


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _second_year(storage: Storage) -> tuple[int, int, int]:
    agency_id, first = await setup(storage)
    async with storage.unit() as u:
        sub = await u.submission(first, agency_id)
        await u.apply_changes(sub.id, {"3.1.a": Answer(40)}, None, "telegram", NOW)
        await u.close_campaign(first, NOW)
        second = await u.add_campaign(FORM.id, FORM.version, "Năm 2027", date(2027, 11, 26))
    return agency_id, first, second.id


async def test_last_years_answers_are_read_once_and_reread_after_the_ttl(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency_id, first, _ = await _second_year(storage)
    reads: list[int] = []
    original = Unit.previous_answers

    async def counted(self: Unit, *args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Unit, "previous_answers", counted)
    phieu = Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW)
    clock = Clock()
    phieu.previous.clock = clock
    lan = Official(phieu)
    await lan.send("/sua 3.1.a")
    [question] = await lan.rows()
    assert "Năm trước: 40 người" in question["text"]
    await lan.send("/xem")
    await lan.send("/sua 3.1.a")
    [*_, again] = await lan.rows()
    assert "Năm trước: 40 người" in again["text"]
    assert len(reads) == 1, "last year's answers were read again within the ttl"

    # Another process corrects last year's answer: offered once the ttl has run out.
    async with storage.unit() as u:
        sub = await u.submission(first, agency_id)
        await u.apply_changes(sub.id, {"3.1.a": Answer(45)}, None, "console", NOW)
    clock.now += phieu.previous.ttl + 1
    await lan.send("/sua 3.1.a")
    [*_, fresh] = await lan.rows()
    assert "Năm trước: 45 người" in fresh["text"]
    assert len(reads) == 2
