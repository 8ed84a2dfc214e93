"""The cheaper unit of work keeps its promises, on SQLite and PostgreSQL alike.

An answer costs a bounded number of statements and one commit; Unit.standing says in one
statement what identity(), open_campaign_for_form_ids() and submission() say in three, and
locks the submission; answers read under that lock are not read again, yet history stays
exact; SQLite units of one process take turns without SQLite's busy handler.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.service import Phieu, Sender
from flows.loader import builtin_forms
from flows.machines import Status
from flows.state import Answer, Incoming
from storage import Storage

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
FORM = "binh-dinh-2019-so"
# Every form id the service would pass, with the cohorts each is for.
FORMS: dict[str, tuple[str, ...]] = {f.id: f.cohorts for f in builtin_forms().values()}


def is_pg(storage: Storage) -> bool:
    return storage.engine.dialect.name == "postgresql"


class Counted:
    """Statements and commits the engine runs while `on`."""

    def __init__(self, storage: Storage) -> None:
        self.statements: list[str] = []
        self.full: list[str] = []  # the same, whole
        self.commits = 0
        self.on = False
        sync = storage.engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _statement(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            if self.on:
                self.full.append(" ".join(statement.split()))
                self.statements.append(self.full[-1][:80])

        @event.listens_for(sync, "commit")
        def _commit(*_: Any) -> None:
            if self.on:
                self.commits += 1


async def _official(storage: Storage, code: str = "STTTT", cohort: str = "so") -> Any:
    async with storage.unit() as u:
        agency = await u.add_agency(code, f"Cơ quan {code}", cohort)
        user = await u.add_user(f"Cán bộ {code}", agency.id, "official")
        ident = await u.bind_identity(user.id, "telegram", f"id-{code}", None)
    return agency, user, ident


# -- statements per update ----------------------------------------------------------------------


async def test_an_answer_costs_at_most_nine_statements_and_one_commit(storage: Storage) -> None:
    """The regression guard for issue #8's capacity: 13 statements before, then 10, 9 now
    (+ BEGIN IMMEDIATE on SQLite): last year's answers ("Giữ nguyên") are read once per
    agency and campaign (bot/service.py PreviousAnswers), not on every update, and on
    PostgreSQL the wake-up of other processes (pg_notify) travels in the outbox INSERT
    instead of a NOTIFY of its own. A redelivered update costs its update-id check only."""
    async with storage.unit() as u:
        await u.add_campaign(FORM, 1, "2026", date(2026, 11, 26))
    await _official(storage)
    phieu = Phieu(storage, clock=lambda: NOW)
    sender = Sender("id-STTTT", "Lan", "vi")

    async def send(text: str, update_id: str) -> Any:
        return await phieu.handle("telegram", "id-STTTT", update_id, Incoming(text=text), sender)

    await send("/tiep", "1")  # creates the conversation and the submission
    counted = Counted(storage)
    counted.on = True
    outcome = await send("2026", "2")  # 1.1 Năm báo cáo: an answer stored
    counted.on = False
    assert outcome.step is not None and outcome.step.changes == {"1.1": Answer(2026)}
    # On PostgreSQL a unit that queued replies also wakes other processes' workers
    # (bot/workers/wakeup.py): pg_notify in the outbox INSERT's RETURNING, no NOTIFY.
    ran = [s for s in counted.statements if s != "BEGIN IMMEDIATE"]
    assert not [s for s in ran if s.startswith("NOTIFY")], ran
    whole = counted.full
    notifying = [s for s in whole if s.startswith("INSERT INTO outbox") and "pg_notify" in s]
    assert len(notifying) == (1 if storage.engine.dialect.name == "postgresql" else 0), whole
    # Last year's answers (Unit.previous_answers) are not read again on this update. (The
    # standing statement's EXISTS over answers — is an archived agency still asked,
    # storage/_campaigns.py still_asked — is one row looked up, not a read of answers.)
    previous = "SELECT answers.item_id, answers.value, answers.na_reason, answers.evidence"
    assert not any(s.startswith(previous) and "JOIN campaigns" in s for s in whole), whole
    assert len(ran) <= 9, ran
    assert counted.commits == 1

    counted.statements.clear()
    counted.on = True
    assert (await send("2026", "2")).duplicate
    counted.on = False
    assert [s for s in counted.statements if s != "BEGIN IMMEDIATE"] == [
        s for s in counted.statements if s.startswith("INSERT INTO processed_updates")
    ]
    assert len(counted.statements) <= 2


async def test_an_answer_with_a_message_id_costs_one_statement_more(storage: Storage) -> None:
    """Issue #9 keeps a person's place per campaign (`positions`) apart from the chat row:
    an answer from a message Telegram numbers (the chat remembers it, so an edit of that
    message re-answers the item) writes both rows, 11 statements instead of 10. Without a
    message id (the console) the chat row is unchanged and not written (the test above)."""
    async with storage.unit() as u:
        await u.add_campaign(FORM, 1, "2026", date(2026, 11, 26))
    await _official(storage)
    phieu = Phieu(storage, clock=lambda: NOW)
    sender = Sender("id-STTTT", "Lan", "vi")

    async def send(text: str, update_id: str) -> Any:
        incoming = Incoming(text=text, message_id=update_id)
        return await phieu.handle("telegram", "id-STTTT", update_id, incoming, sender)

    await send("/tiep", "1")
    counted = Counted(storage)
    counted.on = True
    outcome = await send("2026", "2")
    counted.on = False
    assert outcome.step is not None and outcome.step.changes == {"1.1": Answer(2026)}
    ran = [s for s in counted.statements if s != "BEGIN IMMEDIATE" and not s.startswith("NOTIFY")]
    assert len(ran) <= 11, ran
    assert any(s.startswith("INSERT INTO positions") for s in ran), ran
    assert any(s.startswith("UPDATE conversations") for s in ran), ran
    assert counted.commits == 1


# -- Unit.standing -------------------------------------------------------------------------------


async def _three_calls(storage: Storage, channel: str, external_id: str) -> Any:
    """What the three older calls say, one after the other."""
    async with storage.unit() as u:
        found = await u.identity(channel, external_id)
        if found is None:
            return None
        user, agency = found
        if agency is None:
            return user, None, None, None
        ids = [f for f, cohorts in FORMS.items() if not cohorts or agency.cohort in cohorts]
        campaign = await u.open_campaign_for_form_ids(ids)
        if campaign is None:
            return user, agency, None, None
        return user, agency, campaign, await u.submission(campaign.id, agency.id, create=False)


async def _standing(storage: Storage, channel: str, external_id: str) -> Any:
    async with storage.unit() as u:
        got = await u.standing(channel, external_id, FORMS)
    return None if got is None else (got.user, got.agency, got.campaign, got.submission)


async def test_standing_says_what_the_three_calls_say(storage: Storage) -> None:
    so, _, _ = await _official(storage, "SO", "so")
    huyen, _, _ = await _official(storage, "HUYEN", "huyen")
    await _official(storage, "XA", "xa")
    async with storage.unit() as u:
        loose = await u.add_user("Không cơ quan", None, "reviewer")
        await u.bind_identity(loose.id, "zalo", "z-1", None)
    accounts = [("telegram", "id-SO"), ("telegram", "id-HUYEN"), ("telegram", "id-XA")]
    accounts += [("zalo", "z-1"), ("telegram", "nobody"), ("zalo", "id-SO")]

    async def agree() -> list[Any]:
        out = []
        for channel, external_id in accounts:
            expected = await _three_calls(storage, channel, external_id)
            assert await _standing(storage, channel, external_id) == expected, external_id
            out.append(expected)
        return out

    # No campaign yet; then an old and a newer campaign for the Sở form, one for huyện, a
    # closed one, a campaign of a form nobody serves; then the submissions exist.
    first = await agree()
    assert first[4] is None and first[5] is None and first[3][1] is None
    assert first[0][2] is None
    async with storage.unit() as u:
        old = await u.add_campaign(FORM, 1, "2025", date(2025, 11, 26), opened_at=NOW)
        new = await u.add_campaign(FORM, 1, "2026", date(2026, 11, 26), opened_at=NOW)
        await u.add_campaign("binh-dinh-2019-huyen", 1, "H", date(2026, 11, 26), opened_at=NOW)
        shut = await u.add_campaign("binh-dinh-2019-huyen", 1, "X", date(2026, 11, 26))
        await u.close_campaign(shut.id, NOW)
        await u.add_campaign("no-such-form", 1, "N", date(2026, 11, 26))
    second = await agree()
    assert second[0][2] == new and second[0][2] != old
    assert second[1][2] is not None and second[1][2].form_id == "binh-dinh-2019-huyen"
    assert second[0][3] is None  # not created by reading
    async with storage.unit() as u:
        await u.submission(new.id, so.id)
        assert second[1][2] is not None
        await u.submission(second[1][2].id, huyen.id)
    third = await agree()
    assert third[0][3] is not None and third[0][3].status is Status.DRAFT
    assert third[1][3] is not None and third[1][3].agency_id == huyen.id


async def test_standing_locks_the_submission_until_the_unit_ends(storage: Storage) -> None:
    """A second unit reading the same submission waits for the first, then sees its move."""
    agency, user, _ = await _official(storage)
    async with storage.unit() as u:
        campaign = await u.add_campaign(FORM, 1, "2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with storage.unit() as u:
            got = await u.standing("telegram", "id-STTTT", FORMS)
            assert got is not None and got.submission == sub
            first_in.set()
            await release.wait()
            moved = await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, user.id, NOW)
            assert moved

    async def second() -> Status:
        await first_in.wait()
        async with storage.unit() as u:
            got = await u.standing("telegram", "id-STTTT", FORMS)
            assert got is not None and got.submission is not None
            return got.submission.status

    one = asyncio.create_task(first())
    two = asyncio.create_task(second())
    try:
        await first_in.wait()
        await asyncio.sleep(0.3)
        waited = not two.done()  # waiting for the first unit's lock (the row, or the file)
    finally:
        release.set()
        await one
    assert waited
    assert await two is Status.SUBMITTED  # the newest version, not a stale snapshot


# -- answers read under the lock ----------------------------------------------------------------


async def test_history_is_exact_when_answers_are_not_read_again(storage: Storage) -> None:
    """load_answers under the lock, then several apply_changes in the same unit: each history
    row's `old` is what the previous change stored; a no-op change is not recorded."""
    agency, user, _ = await _official(storage)
    async with storage.unit() as u:
        campaign = await u.add_campaign(FORM, 1, "2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
        await u.apply_changes(sub.id, {"1.1": Answer(2025), "1.8": Answer(3)}, user.id, "t", NOW)
    async with storage.unit() as u:
        got = await u.standing("telegram", "id-STTTT", FORMS)
        assert got is not None and got.submission is not None
        answers = await u.load_answers(got.submission.id)
        answers["1.1"] = Answer(1999)  # the caller's dict is its own: storage is not fooled
        assert await u.apply_changes(sub.id, {"1.1": Answer(2026)}, user.id, "t", NOW) == 1
        assert await u.apply_changes(sub.id, {"1.1": Answer(2027)}, user.id, "t", NOW) == 1
        assert await u.apply_changes(sub.id, {"1.1": Answer(2027)}, user.id, "t", NOW) == 0
        assert await u.apply_changes(sub.id, {"1.8": None, "1.9": Answer(4)}, user.id, "t", NOW)
        assert await u.apply_changes(sub.id, {"1.8": Answer(5)}, user.id, "t", NOW) == 1
        history = await u.answer_history(sub.id)
        stored = await u.load_answers(sub.id)
    assert [(h.item_id, h.old, h.new) for h in history] == [
        ("1.1", None, Answer(2025)),
        ("1.8", None, Answer(3)),
        ("1.1", Answer(2025), Answer(2026)),
        ("1.1", Answer(2026), Answer(2027)),
        ("1.8", Answer(3), None),
        ("1.9", None, Answer(4)),
        ("1.8", None, Answer(5)),
    ]
    assert stored == {"1.1": Answer(2027), "1.8": Answer(5), "1.9": Answer(4)}


async def test_answers_read_without_the_lock_are_read_again(storage: Storage) -> None:
    """On PostgreSQL answers loaded without the submission lock may be stale by the time of
    the write: apply_changes reads them again under its own lock (history stays exact)."""
    if not is_pg(storage):
        pytest.skip("SQLite: every unit holds the whole database, answers are never stale")
    agency, user, _ = await _official(storage)
    async with storage.unit() as u:
        campaign = await u.add_campaign(FORM, 1, "2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
    async with storage.unit() as mine:
        assert await mine.load_answers(sub.id) == {}  # no lock taken: submission() reads
        async with storage.unit() as other:
            await other.apply_changes(sub.id, {"1.1": Answer(2025)}, user.id, "zalo", NOW)
        await mine.apply_changes(sub.id, {"1.1": Answer(2026)}, user.id, "telegram", NOW)
        history = await mine.answer_history(sub.id, "1.1")
    assert [(h.old, h.new) for h in history] == [(None, Answer(2025)), (Answer(2025), Answer(2026))]


# -- SQLite: units of one process take turns ------------------------------------------------------


async def test_sqlite_units_of_one_process_queue_without_the_busy_handler(
    tmp_path: Path,
) -> None:
    """With SQLite's own busy wait switched off, a second unit started while the first holds
    the database still succeeds: it waited in the process, in order, not on the file lock."""
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}")

    @event.listens_for(storage.engine.sync_engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    await storage.engine.dispose()  # connections made from now on have no busy timeout
    order: list[str] = []
    try:

        async def unit(name: str, hold: float) -> None:
            async with storage.unit() as u:
                order.append(f"{name} in")
                await u.add_agency(name, name, "so")
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        first = asyncio.create_task(unit("A", 0.3))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, unit("B", 0), unit("C", 0))
        async with storage.unit() as u:
            codes = [a.code for a in await u.list_agencies()]
    finally:
        await storage.close()
    assert order == ["A in", "A out", "B in", "B out", "C in", "C out"]
    assert sorted(codes) == ["A", "B", "C"]
