"""Answers kept by a process between units (storage/answer_cache.py) are never stale.

A unit that read a submission's token under its lock uses the answers the process kept for
that token instead of reading them; a write by another process, a unit rolled back, a
submission never answered or a caller changing its dict never make it use wrong answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from flows.loader import builtin_forms
from flows.state import Answer
from storage import Storage

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
FORM = "binh-dinh-2019-so"
FORMS: dict[str, tuple[str, ...]] = {f.id: f.cohorts for f in builtin_forms().values()}


class Reads:
    """How many times the answers table was read while counting."""

    def __init__(self, storage: Storage) -> None:
        self.count = 0

        @event.listens_for(storage.engine.sync_engine, "before_cursor_execute")
        def _statement(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            flat = " ".join(statement.split())
            # A read of answers selects their columns; the standing statement's EXISTS (is
            # an archived agency still asked: storage/_campaigns.py still_asked) reads none.
            if flat.startswith("SELECT answers.") and "FROM answers" in flat:
                self.count += 1


async def _submission(storage: Storage) -> tuple[int, int]:
    """(submission id, user id) of an official bound to chat "id-A", in an open campaign."""
    async with storage.unit() as u:
        agency = await u.add_agency("A", "Cơ quan A", "so")
        user = await u.add_user("Cán bộ A", agency.id, "official")
        await u.bind_identity(user.id, "telegram", "id-A", None)
        campaign = await u.add_campaign(FORM, 1, "2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
    return sub.id, user.id


async def _load(storage: Storage) -> dict[str, Answer]:
    """What an update reads: standing (the token, under the lock), then the answers."""
    async with storage.unit() as u:
        got = await u.standing("telegram", "id-A", FORMS)
        assert got is not None and got.submission is not None
        return await u.load_answers(got.submission.id)


async def _write(storage: Storage, changes: dict[str, Answer | None], user: int) -> None:
    async with storage.unit() as u:
        got = await u.standing("telegram", "id-A", FORMS)
        assert got is not None and got.submission is not None
        await u.load_answers(got.submission.id)
        await u.apply_changes(got.submission.id, changes, user, "telegram", NOW)


async def test_answers_written_are_not_read_again(storage: Storage) -> None:
    _, user = await _submission(storage)
    await _write(storage, {"1.1": Answer(2026)}, user)
    reads = Reads(storage)
    assert await _load(storage) == {"1.1": Answer(2026)}
    await _write(storage, {"1.8": Answer(3), "1.1": None}, user)
    assert await _load(storage) == {"1.8": Answer(3)}
    assert reads.count == 0


async def test_a_write_by_another_process_is_read(storage: Storage) -> None:
    """Another process (its own cache) writes: the token changed, the answers are read, and
    the history's `old` is the other process's answer."""
    sub, user = await _submission(storage)
    await _write(storage, {"1.1": Answer(2025)}, user)
    assert await _load(storage) == {"1.1": Answer(2025)}  # kept by this process
    other = Storage(storage.engine)  # another process on the same database
    await _write(other, {"1.1": Answer(2026), "1.8": Answer(7)}, user)
    reads = Reads(storage)
    assert await _load(storage) == {"1.1": Answer(2026), "1.8": Answer(7)}
    assert reads.count == 1
    await _write(storage, {"1.1": Answer(2027)}, user)
    async with storage.unit() as u:
        history = await u.answer_history(sub, "1.1")
    assert [(h.old, h.new) for h in history][-1] == (Answer(2026), Answer(2027))


async def test_a_write_without_the_token_read_is_seen(storage: Storage) -> None:
    """A writer that never read the answers (the desk, a script through apply_changes)
    still changes the token: the next update reads what it wrote."""
    sub, user = await _submission(storage)
    await _write(storage, {"1.1": Answer(2025)}, user)
    assert await _load(storage) == {"1.1": Answer(2025)}
    async with Storage(storage.engine).unit() as u:  # no standing, no load_answers
        await u.apply_changes(sub, {"1.1": Answer(1999)}, user, "cli", NOW)
    assert await _load(storage) == {"1.1": Answer(1999)}


async def test_a_unit_rolled_back_keeps_nothing(storage: Storage) -> None:
    _, user = await _submission(storage)
    await _write(storage, {"1.1": Answer(2025)}, user)
    with pytest.raises(RuntimeError):
        async with storage.unit() as u:
            got = await u.standing("telegram", "id-A", FORMS)
            assert got is not None and got.submission is not None
            await u.load_answers(got.submission.id)
            await u.apply_changes(got.submission.id, {"1.1": Answer(1)}, user, "t", NOW)
            raise RuntimeError("the update failed after its write")
    assert await _load(storage) == {"1.1": Answer(2025)}


async def test_a_submission_never_answered_is_not_kept(storage: Storage) -> None:
    """No token yet (NULL): nothing is kept, every update reads (an empty set) again."""
    sub, _ = await _submission(storage)
    reads = Reads(storage)
    assert await _load(storage) == {}
    assert await _load(storage) == {}
    assert reads.count == 2
    assert len(storage.answers) == 0
    async with storage.unit() as u:
        row = (await u._exec(text(f"SELECT answers_rev FROM submissions WHERE id = {sub}"))).one()
    assert row[0] is None


async def test_the_callers_dict_is_its_own(storage: Storage) -> None:
    _, user = await _submission(storage)
    await _write(storage, {"1.1": Answer(2025)}, user)
    mine = await _load(storage)
    mine["1.1"] = Answer(1)
    mine["9.9"] = Answer(2)
    assert await _load(storage) == {"1.1": Answer(2025)}


async def test_an_update_after_an_answer_reads_no_answers(storage: Storage) -> None:
    """Through the service: once an answer is stored, the next updates of the chat take the
    answers from the process (8 statements for an answer, BEGIN aside), and what they show
    is what is stored."""
    from bot.service import Phieu, Sender
    from flows.state import Incoming

    await _submission(storage)
    phieu = Phieu(storage, clock=lambda: NOW)
    sender = Sender("id-A", "Lan", "vi")
    seen: list[str] = []

    @event.listens_for(storage.engine.sync_engine, "before_cursor_execute")
    def _statement(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    await phieu.handle("telegram", "id-A", "1", Incoming(text="/tiep"), sender)
    await phieu.handle("telegram", "id-A", "2", Incoming(text="2026"), sender)  # 1.1 stored
    seen.clear()
    outcome = await phieu.handle("telegram", "id-A", "3", Incoming(text="/tiep"), sender)
    assert outcome.step is not None
    reads = [s for s in seen if s.startswith("SELECT answers.")]  # (see Reads)
    assert reads == [], seen
    assert len([s for s in seen if s != "BEGIN IMMEDIATE"]) <= 8, seen
    assert await _load(storage) == {"1.1": Answer(2026)}
