"""The storage contract bot/ relies on, checked on SQLite and PostgreSQL alike.

Races are real: two units on two connections. On PostgreSQL the racers first open their
transactions and meet at a barrier, so both really are inside at once; on SQLite a unit holds
the write lock from BEGIN IMMEDIATE, so racers queue (a barrier there would deadlock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from flows.machines import Mode, Status
from flows.state import Answer, ConversationState
from storage import (
    AgencyRec,
    CampaignRec,
    Conflict,
    NotFound,
    Storage,
    SubmissionRec,
    Unit,
    UserRec,
)
from storage.database import resolve_url, safe_url
from storage.models import Base

T = TypeVar("T")
NOW = datetime(2025, 11, 20, 8, 30, tzinfo=UTC)


def is_pg(storage: Storage) -> bool:
    return storage.engine.dialect.name == "postgresql"


async def race(storage: Storage, action: Callable[[Unit], Awaitable[T]], n: int = 2) -> list[T]:
    """Run `action` in `n` units at once (see the module docstring for what "at once" is)."""
    barrier = asyncio.Barrier(n) if is_pg(storage) else None

    async def one() -> T:
        async with storage.unit() as unit:
            if barrier is not None:
                await unit.list_campaigns()  # the transaction is open before anyone writes
                await barrier.wait()
            return await action(unit)

    return await asyncio.gather(*(one() for _ in range(n)))


async def seed(storage: Storage) -> tuple[AgencyRec, UserRec, CampaignRec, SubmissionRec]:
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
        user = await u.add_user("Nguyễn Văn A", agency.id, "official")
        campaign = await u.add_campaign("binh-dinh-2019-so", 1, "2025", date(2025, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
    return agency, user, campaign, sub


# -- schema -----------------------------------------------------------------------------------


async def test_migrations_match_models(storage: Storage) -> None:
    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))

    async with storage.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_reopening_a_migrated_database_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'again.db'}"
    for _ in range(2):
        store = await Storage.open(url)
        async with store.unit() as u:
            assert await u.list_agencies() == []
        await store.close()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000
    finally:
        await store.close()


def test_urls() -> None:
    assert resolve_url("postgres://u:pw@h/db").drivername == "postgresql+asyncpg"
    assert resolve_url("postgresql://u:pw@h/db").drivername == "postgresql+asyncpg"
    assert resolve_url("postgresql+asyncpg://u@h/db").drivername == "postgresql+asyncpg"
    assert "pw" not in safe_url("postgresql://u:pw@h/db")
    assert "***" in safe_url("postgresql://u:pw@h/db")


def test_default_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert str(resolve_url()) == "sqlite+aiosqlite:///phieu.db"
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@h:5433/x")
    assert resolve_url().render_as_string(False) == "postgresql+asyncpg://u:pw@h:5433/x"


# -- units ------------------------------------------------------------------------------------


async def test_rollback_on_exception_leaves_nothing(storage: Storage) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with storage.unit() as u:
            agency = await u.add_agency("X", "X", "xa")
            await u.add_user("B", agency.id, "official")
            await u.enqueue("telegram", "1", {"text": "hi"})
            assert await u.mark_processed("telegram", "99")
            raise Boom
    async with storage.unit() as u:
        assert await u.agency_by_code("X") is None
        assert await u.outbox_counts() == {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
        assert await u.mark_processed("telegram", "99")


async def test_unit_cannot_be_used_after_it_ends(storage: Storage) -> None:
    async with storage.unit() as u:
        pass
    with pytest.raises(RuntimeError):
        await u.list_agencies()


async def test_conflict_on_duplicate_and_unknown_references(storage: Storage) -> None:
    async with storage.unit() as u:
        await u.add_agency("A", "A", "so")
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.add_agency("A", "again", "so")
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.add_user("nobody's", 12345, "official")
    with pytest.raises(ValueError):
        async with storage.unit() as u:
            await u.add_agency("B", "B", "tinh")


async def test_datetimes_are_aware_utc_and_naive_ones_refused(storage: Storage) -> None:
    async with storage.unit() as u:
        ict = datetime(2025, 11, 26, 23, 59, tzinfo=UTC) + timedelta(hours=7)
        c = await u.add_campaign("f", 1, "n", date(2025, 11, 26), opened_at=ict)
        assert c.opened_at == ict and c.opened_at.tzinfo is not None
        assert c.opened_at.utcoffset() == timedelta(0)
        assert c.deadline == date(2025, 11, 26)
    with pytest.raises(Exception, match="naive"):
        async with storage.unit() as u:
            await u.add_campaign("f", 1, "n", date(2025, 11, 26), opened_at=datetime(2025, 1, 1))


# -- agencies, users, identities -------------------------------------------------------------


async def test_agencies(storage: Storage) -> None:
    async with storage.unit() as u:
        h = await u.add_agency("H1", "UBND huyện Tuy Phước", "huyen")
        s = await u.add_agency("S1", "Sở Y tế", "so")
        assert await u.agency_by_code("H1") == h
        assert await u.agency(s.id) == s
        assert await u.agency_by_code("nope") is None
        assert {a.code for a in await u.list_agencies()} == {"H1", "S1"}


async def test_users_identities_and_roles(storage: Storage) -> None:
    async with storage.unit() as u:
        so = await u.add_agency("STTTT", "Sở TTTT", "so")
        official = await u.add_user("An", so.id, "official")
        reviewer = await u.add_user("Bình", so.id, "reviewer", lang="en")
        admin = await u.add_user("Chi", None, "admin")
        assert official.lang == "vi" and reviewer.lang == "en"
        tg = await u.bind_identity(reviewer.id, "telegram", "111", "binh_tg")
        zl = await u.bind_identity(reviewer.id, "zalo", "z-111", None)
        await u.bind_identity(admin.id, "console", "admin", "admin")

    async with storage.unit() as u:
        found = await u.identity("telegram", "111")
        assert found is not None
        user, agency = found
        assert user == reviewer and agency == so
        assert await u.identity("console", "admin") == (admin, None)
        assert await u.identity("telegram", "999") is None
        assert await u.identity("zalo", "111") is None

        assert await u.set_user_lang(official.id, "en")
        assert (await u.user(official.id)).lang == "en"  # type: ignore[union-attr]
        assert not await u.set_user_lang(424242, "en")

        reviewers = await u.users_with_role("reviewer")
        assert reviewers == [(reviewer, [tg, zl])]
        assert await u.users_with_role("reviewer", agency_id=so.id) == reviewers
        assert await u.users_with_role("reviewer", agency_id=so.id + 1) == []
        assert [x.id for x, _ in await u.users_with_role("official")] == [official.id]

        # One chat account belongs to one user: binding it again moves it.
        moved = await u.bind_identity(official.id, "telegram", "111", "an_tg")
        assert moved.id == tg.id and moved.user_id == official.id
        assert (await u.identity("telegram", "111"))[0].id == official.id  # type: ignore[index]
        assert await u.identities(reviewer.id) == [zl]


# -- campaigns and submissions ----------------------------------------------------------------


async def test_campaigns(storage: Storage) -> None:
    async with storage.unit() as u:
        old = await u.add_campaign("so-2019", 1, "2024", date(2024, 11, 26), opened_at=NOW)
        new = await u.add_campaign(
            "so-2019", 2, "2025", date(2025, 11, 26), opened_at=NOW + timedelta(days=1)
        )
        other = await u.add_campaign("huyen-2019", 1, "2025 huyện", date(2025, 7, 15))
        assert new.timezone == "Asia/Ho_Chi_Minh" and new.is_open
        assert await u.list_campaigns() == [old, new, other]
        assert await u.campaign(new.id) == new
        assert await u.campaign(9999) is None
        assert await u.open_campaign_for_form_ids(["so-2019", "x"]) == new
        assert await u.open_campaign_for_form_ids(["huyen-2019"]) == other
        assert await u.open_campaign_for_form_ids([]) is None
        assert await u.close_campaign(new.id, NOW)
        assert not await u.close_campaign(new.id, NOW)
        assert await u.open_campaign_for_form_ids(["so-2019"]) == old
        assert (await u.campaign(new.id)).closed_at == NOW  # type: ignore[union-attr]


async def test_submission_is_created_once(storage: Storage) -> None:
    agency, _, campaign, sub = await seed(storage)
    assert sub.status is Status.DRAFT and sub.version == 1 and sub.submitted_at is None
    async with storage.unit() as u:
        assert await u.submission(campaign.id, agency.id) == sub
        assert await u.submission_by_id(sub.id) == sub
        assert await u.list_submissions(campaign.id) == [sub]
        other = await u.add_agency("H2", "UBND huyện", "huyen")
        assert await u.submission(campaign.id, other.id, create=False) is None
    # Two first messages at once still make one submission.
    created = await race(storage, lambda u: u.submission(campaign.id, other.id))
    assert created[0] == created[1]


async def test_move_submission_compare_and_set(storage: Storage) -> None:
    _, user, _, sub = await seed(storage)
    async with storage.unit() as u:
        assert not await u.move_submission(sub.id, Status.RETURNED, Status.RESUBMITTED, None, NOW)
        with pytest.raises(ValueError):
            await u.move_submission(sub.id, Status.DRAFT, Status.ACCEPTED, None, NOW)
        assert await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, user.id, NOW)
        moved = await u.submission_by_id(sub.id)
        assert moved is not None
        assert moved.status is Status.SUBMITTED
        assert moved.version == sub.version + 1
        assert moved.submitted_at == NOW
        later = NOW + timedelta(hours=1)
        assert await u.move_submission(sub.id, Status.SUBMITTED, Status.IN_REVIEW, None, later)
        events = await u.submission_events(sub.id)
    assert [(e.from_status, e.to_status, e.user_id) for e in events] == [
        (Status.DRAFT, Status.SUBMITTED, user.id),
        (Status.SUBMITTED, Status.IN_REVIEW, None),
    ]


async def test_concurrent_submit_exactly_one_wins(storage: Storage) -> None:
    _, user, _, sub = await seed(storage)
    results = await race(
        storage,
        lambda u: u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, user.id, NOW),
    )
    assert sorted(results) == [False, True]
    async with storage.unit() as u:
        final = await u.submission_by_id(sub.id)
        assert final is not None and final.status is Status.SUBMITTED
        assert final.version == 2
        assert len(await u.submission_events(sub.id)) == 1


# -- answers ----------------------------------------------------------------------------------


async def test_apply_changes_keeps_full_history(storage: Storage) -> None:
    _, official, _, sub = await seed(storage)
    async with storage.unit() as u:
        reviewer = await u.add_user("Reviewer", None, "reviewer")
    t1, t2, t3 = NOW, NOW + timedelta(minutes=5), NOW + timedelta(days=1)
    link = {"url": "https://stttt.binhdinh.gov.vn/qd-1"}

    async with storage.unit() as u:
        n = await u.apply_changes(
            sub.id,
            {"1.1": Answer(5), "3.2.a": Answer(None, na_reason="không có"), "6.1": Answer("có")},
            official.id,
            "telegram",
            t1,
        )
        assert n == 3
    async with storage.unit() as u:
        n = await u.apply_changes(
            sub.id,
            {
                "1.1": Answer(7, evidence=link),
                "6.1": None,
                "9.9": None,
                "3.2.a": Answer(None, "không có"),
            },
            reviewer.id,
            "zalo",
            t2,
        )
        assert n == 2  # deleting an absent answer and rewriting the same one change nothing
        assert await u.load_answers(sub.id) == {
            "1.1": Answer(7, evidence=link),
            "3.2.a": Answer(None, na_reason="không có"),
        }
    async with storage.unit() as u:
        await u.apply_changes(sub.id, {"1.1": Answer(8)}, official.id, "telegram", t3)
        history = await u.answer_history(sub.id, "1.1")
        everything = await u.answer_history(sub.id)
        touched = await u.submission_by_id(sub.id)

    assert [(h.old, h.new, h.user_id, h.channel, h.at) for h in history] == [
        (None, Answer(5), official.id, "telegram", t1),
        (Answer(5), Answer(7, evidence=link), reviewer.id, "zalo", t2),
        (Answer(7, evidence=link), Answer(8), official.id, "telegram", t3),
    ]
    deleted = [h for h in everything if h.item_id == "6.1"]
    assert [(h.old, h.new) for h in deleted] == [(None, Answer("có")), (Answer("có"), None)]
    assert len(everything) == 6
    assert touched is not None and touched.updated_at == t3


async def test_apply_changes_json_values_round_trip(storage: Storage) -> None:
    _, user, _, sub = await seed(storage)
    rows = [{"giải pháp": "Tường lửa", "có": True, "số lượng": 2}, {"giải pháp": "IDS"}]
    values = {"3.8.t": Answer(rows), "2.5": Answer(2.5), "4.1": Answer(False), "1.2": Answer("")}
    async with storage.unit() as u:
        await u.apply_changes(sub.id, values, user.id, "console", NOW)
    async with storage.unit() as u:
        assert await u.load_answers(sub.id) == values


async def test_apply_changes_unknown_submission(storage: Storage) -> None:
    with pytest.raises(NotFound):
        async with storage.unit() as u:
            await u.apply_changes(4242, {"1": Answer(1)}, None, "console", NOW)


async def test_concurrent_edits_last_write_wins_and_history_chains(storage: Storage) -> None:
    _, user, _, sub = await seed(storage)
    async with storage.unit() as u:
        await u.apply_changes(sub.id, {"1.1": Answer(1)}, user.id, "telegram", NOW)

    def edit(value: int, channel: str) -> Callable[[Unit], Awaitable[int]]:
        async def action(u: Unit) -> int:
            return await u.apply_changes(sub.id, {"1.1": Answer(value)}, user.id, channel, NOW)

        return action

    tg, zl = edit(2, "telegram"), edit(3, "zalo")
    barrier = asyncio.Barrier(2) if is_pg(storage) else None

    async def one(action: Callable[[Unit], Awaitable[int]]) -> int:
        async with storage.unit() as u:
            if barrier is not None:
                await u.load_answers(sub.id)
                await barrier.wait()
            return await action(u)

    await asyncio.gather(one(tg), one(zl))
    async with storage.unit() as u:
        history = await u.answer_history(sub.id, "1.1")
        final = (await u.load_answers(sub.id))["1.1"]
    # Each writer saw the other's committed value as `old`: no change is lost from history.
    assert history[0].new == Answer(1)
    assert history[1].old == history[0].new
    assert history[2].old == history[1].new
    assert final == history[2].new
    assert {history[1].new, history[2].new} == {Answer(2), Answer(3)}


# -- conversations ----------------------------------------------------------------------------


async def test_conversation_state_round_trip(storage: Storage) -> None:
    _, user, _, _ = await seed(storage)
    async with storage.unit() as u:
        conv_id, state, bound = await u.lock_conversation("telegram", "42")
        assert state == ConversationState() and bound is None
        state.mode, state.item, state.trail = Mode.ANSWERING, "3.2.a", ["1.1", "2.1"]
        state.pending = {"value": 12}
        await u.save_conversation(conv_id, state, user_id=user.id)
    async with storage.unit() as u:
        again_id, again, bound = await u.lock_conversation("telegram", "42")
        assert (again_id, again, bound) == (conv_id, state, user.id)
        await u.save_conversation(conv_id, ConversationState(lang="en"))  # keeps the user
        other_id, other, _ = await u.lock_conversation("zalo", "42")
        assert other_id != conv_id and other == ConversationState()
    async with storage.unit() as u:
        _, latest, bound = await u.lock_conversation("telegram", "42")
        assert latest.lang == "en" and bound == user.id
        with pytest.raises(NotFound):
            await u.save_conversation(999_999, latest)


async def _wait_for_lock_wait(storage: Storage, needle: str) -> None:
    """Return once some PostgreSQL backend is waiting for a lock while running `needle`."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE :needle"
    )
    async with storage.engine.connect() as conn:
        for _ in range(2000):  # a bound so a broken lock fails the test instead of hanging
            waiting = (await conn.execute(query, {"needle": f"%{needle}%"})).scalar_one()
            await conn.rollback()  # pg_stat_activity is a per-transaction snapshot
            if waiting:
                return
            await asyncio.sleep(0.005)
    pytest.fail(f"no backend ever waited for a lock on {needle!r}")


async def test_lock_conversation_serialises_a_chat(storage: Storage) -> None:
    async with storage.unit() as u:  # the row exists: the wait is on FOR UPDATE itself
        await u.lock_conversation("telegram", "7")
    order: list[str] = []
    first_holds = asyncio.Event()
    second_trying = asyncio.Event()

    async def first() -> None:
        async with storage.unit() as u:
            conv_id, state, _ = await u.lock_conversation("telegram", "7")
            order.append("first locked")
            first_holds.set()
            await second_trying.wait()
            if is_pg(storage):
                await _wait_for_lock_wait(storage, "FOR UPDATE")
            else:
                await asyncio.sleep(0.05)  # SQLite: the second is queued at BEGIN IMMEDIATE
            state.item = "first was here"
            await u.save_conversation(conv_id, state)
            order.append("first commits")

    async def second() -> ConversationState:
        await first_holds.wait()
        second_trying.set()
        async with storage.unit() as u:
            _, state, _ = await u.lock_conversation("telegram", "7")
            order.append("second locked")
            return state

    _, seen = await asyncio.gather(first(), second())
    assert order == ["first locked", "first commits", "second locked"]
    assert seen.item == "first was here"


# -- processed updates ------------------------------------------------------------------------


async def test_mark_processed(storage: Storage) -> None:
    async with storage.unit() as u:
        assert await u.mark_processed("telegram", "1001")
        assert not await u.mark_processed("telegram", "1001")
        assert await u.mark_processed("zalo", "1001")
    async with storage.unit() as u:
        assert not await u.mark_processed("telegram", "1001")


async def test_mark_processed_concurrently_exactly_one(storage: Storage) -> None:
    results = await race(storage, lambda u: u.mark_processed("telegram", "555"))
    assert sorted(results) == [False, True]


# -- outbox -----------------------------------------------------------------------------------


async def test_outbox_lifecycle(storage: Storage) -> None:
    now = NOW  # a fake clock in the past: messages without not_before are still due
    async with storage.unit() as u:
        a = await u.enqueue("telegram", "1", {"text": "một"})
        b = await u.enqueue("telegram", "2", {"text": "hai"})
        later = await u.enqueue(
            "telegram", "3", {"text": "sau"}, not_before=now + timedelta(hours=1)
        )
        z = await u.enqueue("zalo", "1", {"text": "khác"})
        pending = await u.pending_for_chat("telegram", "1")
        assert [(r.id, r.payload, r.attempts, r.status) for r in pending] == [
            (a, {"text": "một"}, 0, "pending")
        ]
    async with storage.unit() as u:
        claimed = await u.claim_outbox(now, limit=2, lease_seconds=30)
        assert [r.id for r in claimed] == [a, b]
        assert all(r.status == "sending" and r.attempts == 1 for r in claimed)
        assert claimed[0].claimed_until == now + timedelta(seconds=30)
        assert await u.pending_for_chat("telegram", "1") == []
    async with storage.unit() as u:
        await u.mark_sent(a, now)
        await u.retry_later(b, now + timedelta(seconds=5), "429 retry_after=5")
        rest = await u.claim_outbox(now, limit=10)
        assert [r.id for r in rest] == [z]
        await u.mark_failed(z, "403 blocked by user")
        assert await u.outbox_counts() == {"pending": 2, "sending": 0, "sent": 1, "failed": 1}
        sent = await u.outbox_row(a)
        assert sent is not None and sent.sent_at == now and sent.claimed_until is None
        failed = await u.outbox_row(z)
        assert failed is not None and failed.last_error == "403 blocked by user"
    async with storage.unit() as u:
        retried = await u.claim_outbox(now + timedelta(seconds=5), limit=10)
        assert [(r.id, r.attempts, r.last_error) for r in retried] == [(b, 2, "429 retry_after=5")]
        await u.mark_sent(b, now + timedelta(seconds=6))
        assert await u.claim_outbox(now + timedelta(minutes=59), limit=10) == []
        assert [r.id for r in await u.claim_outbox(now + timedelta(hours=1), limit=10)] == [later]
        with pytest.raises(NotFound):
            await u.mark_sent(123_456, now)


async def test_outbox_hands_out_each_chat_in_order(storage: Storage) -> None:
    async with storage.unit() as u:
        first, second, third = [await u.enqueue("telegram", "42", {"n": n}) for n in (1, 2, 3)]
        other = await u.enqueue("telegram", "43", {"n": 1})
    async with storage.unit() as u:
        # Only the head of each chat's queue, however large the batch.
        assert [r.id for r in await u.claim_outbox(NOW, 10)] == [first, other]
        assert await u.claim_outbox(NOW, 10) == []  # the head is in flight
        await u.retry_later(first, NOW + timedelta(seconds=30), "429")
        assert await u.claim_outbox(NOW, 10) == []  # put back: still holds the rest back
        assert [r.id for r in await u.claim_outbox(NOW + timedelta(seconds=30), 10)] == [first]
        await u.mark_sent(first, NOW)
        assert [r.id for r in await u.claim_outbox(NOW, 10)] == [second]
        await u.mark_failed(second, "400 bad request")  # a failed message blocks nothing
        assert [r.id for r in await u.claim_outbox(NOW, 10)] == [third]


async def test_outbox_claims_only_the_workers_channels(storage: Storage) -> None:
    async with storage.unit() as u:
        tg = await u.enqueue("telegram", "1", {})
        zl = await u.enqueue("zalo", "1", {})
        assert [r.id for r in await u.claim_outbox(NOW, 10, channels=("zalo",))] == [zl]
        assert await u.claim_outbox(NOW, 10, channels=()) == []
        assert [r.id for r in await u.claim_outbox(NOW, 10, channels=["telegram"])] == [tg]


async def test_expired_lease_is_claimed_again(storage: Storage) -> None:
    async with storage.unit() as u:
        msg = await u.enqueue("telegram", "42", {"text": "x"})
        queued = await u.enqueue("telegram", "42", {"text": "y"})
    async with storage.unit() as u:
        assert [r.id for r in await u.claim_outbox(NOW, 10, lease_seconds=60)] == [msg]
    # The worker died without marking it: nobody gets it (or what follows) while the lease
    # runs…
    async with storage.unit() as u:
        assert await u.claim_outbox(NOW + timedelta(seconds=59), 10) == []
    # …and the next worker gets it once the lease is over.
    async with storage.unit() as u:
        again = await u.claim_outbox(NOW + timedelta(seconds=61), 10)
        assert [(r.id, r.attempts) for r in again] == [(msg, 2)]
        await u.mark_sent(msg, NOW + timedelta(seconds=62))
        assert [r.id for r in await u.claim_outbox(NOW + timedelta(seconds=62), 10)] == [queued]


async def test_two_workers_never_claim_the_same_row(storage: Storage) -> None:
    async with storage.unit() as u:  # one message per chat: every row is a queue head
        ids = {await u.enqueue("telegram", str(i), {"n": i}) for i in range(200)}

    async def worker() -> list[int]:
        got: list[int] = []
        while True:
            async with storage.unit() as u:
                batch = await u.claim_outbox(NOW, limit=10)
                await asyncio.sleep(0)  # hold the row locks while the other worker runs
            if not batch:
                return got
            got.extend(r.id for r in batch)

    first, second = await asyncio.gather(worker(), worker())
    assert not set(first) & set(second)
    assert len(first) + len(second) == 200
    assert set(first) | set(second) == ids
    async with storage.unit() as u:
        assert (await u.outbox_counts())["sending"] == 200


async def test_two_workers_never_claim_one_chat_at_once(storage: Storage) -> None:
    async with storage.unit() as u:
        for i in range(60):
            await u.enqueue("telegram", str(i % 3), {"n": i})
    claims = await race(storage, lambda u: u.claim_outbox(NOW, limit=10))
    chats = [r.chat_id for batch in claims for r in batch]
    assert sorted(chats) == ["0", "1", "2"]  # one head per chat, across both workers


# -- invites ----------------------------------------------------------------------------------


async def test_invites(storage: Storage) -> None:
    agency, admin, _, _ = await seed(storage)
    async with storage.unit() as u:
        once = await u.add_invite("a" * 64, agency.id, "official", 1, None, created_by=admin.id)
        unlimited = await u.add_invite("b" * 64, agency.id, "reviewer", None, None)
        expiring = await u.add_invite("c" * 64, None, "admin", 5, NOW + timedelta(days=1))
        assert await u.invite_by_hash("a" * 64) == once
        assert await u.invite_by_hash("d" * 64) is None
        assert once.usable(NOW) and expiring.agency_id is None

        assert await u.use_invite(once.id, NOW)
        assert not await u.use_invite(once.id, NOW)
        for _ in range(3):
            assert await u.use_invite(unlimited.id, NOW)
        assert (await u.invite_by_hash("b" * 64)).uses_left is None  # type: ignore[union-attr]
        assert not await u.use_invite(expiring.id, NOW + timedelta(days=2))
        assert await u.use_invite(expiring.id, NOW)
        assert (await u.invite_by_hash("c" * 64)).uses_left == 4  # type: ignore[union-attr]

        assert await u.revoke_invite(unlimited.id, NOW)
        assert not await u.revoke_invite(unlimited.id, NOW)
        assert not await u.use_invite(unlimited.id, NOW)
        listed = await u.list_invites()
        assert [i.id for i in listed] == [once.id, unlimited.id, expiring.id]
        assert [i.id for i in await u.list_invites(agency_id=agency.id)] == [once.id, unlimited.id]
        assert not listed[1].usable(NOW) and listed[1].revoked_at == NOW
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.add_invite("a" * 64, agency.id, "official", 1, None)


async def test_last_use_of_an_invite_goes_to_one(storage: Storage) -> None:
    agency, _, _, _ = await seed(storage)
    async with storage.unit() as u:
        invite = await u.add_invite("e" * 64, agency.id, "official", 1, None)
    results = await race(storage, lambda u: u.use_invite(invite.id, NOW))
    assert sorted(results) == [False, True]
    async with storage.unit() as u:
        assert (await u.invite_by_hash("e" * 64)).uses_left == 0  # type: ignore[union-attr]


async def test_invite_failures_are_counted_per_account(storage: Storage) -> None:
    async with storage.unit() as u:
        for minutes in (0, 10, 70):
            await u.record_invite_failure("telegram", "9", NOW - timedelta(minutes=minutes))
        await u.record_invite_failure("zalo", "9", NOW)
    async with storage.unit() as u:
        assert await u.count_invite_failures("telegram", "9", NOW - timedelta(hours=1)) == 2
        assert await u.count_invite_failures("telegram", "9", NOW - timedelta(hours=2)) == 3
        assert await u.count_invite_failures("telegram", "8", NOW - timedelta(hours=2)) == 0


async def test_prune_forgets_old_update_ids_and_invite_failures(storage: Storage) -> None:
    async with storage.unit() as u:
        assert await u.mark_processed("telegram", "1")
        await u.record_invite_failure("telegram", "99", NOW)
    later = datetime.now(UTC) + timedelta(days=8)
    async with storage.unit() as u:
        assert await u.prune(later) == 2
        assert await u.count_processed("telegram") == 0
        assert await u.count_invite_failures("telegram", "99", NOW - timedelta(days=1)) == 0
        assert await u.mark_processed("telegram", "1")


async def test_retry_after_429_gives_the_attempt_back(storage: Storage) -> None:
    async with storage.unit() as u:
        row_id = await u.enqueue("telegram", "1", {"text": "x"})
    for refund, expected in ((True, 0), (False, 1)):
        async with storage.unit() as u:
            (row,) = await u.claim_outbox(NOW, 10)
            assert row.id == row_id
            await u.retry_later(row.id, NOW - timedelta(seconds=1), "429", refund_attempt=refund)
            assert (await u.outbox_row(row_id)).attempts == expected


async def test_enqueue_many_keeps_order_in_one_statement(storage: Storage) -> None:
    async with storage.unit() as u:
        assert await u.enqueue_many("telegram", "7", []) == []
        ids = await u.enqueue_many("telegram", "7", [{"n": 1}, {"n": 2}, {"n": 3}])
        assert ids == sorted(ids) and len(ids) == 3
    async with storage.unit() as u:
        rows = await u.pending_for_chat("telegram", "7")
    assert [r.payload["n"] for r in rows] == [1, 2, 3]


async def test_mark_sent_marks_only_its_row(storage: Storage) -> None:
    async with storage.unit() as u:
        ids = await u.enqueue_many("telegram", "8", [{"n": 1}, {"n": 2}])
        await u.enqueue("telegram", "9", {"n": 3})
    async with storage.unit() as u:
        claimed = await u.claim_outbox(NOW, 10)
        assert {r.id for r in claimed} == {ids[0], *(r.id for r in claimed if r.chat_id == "9")}
        await u.mark_sent(ids[0], NOW)
        counts = await u.outbox_counts()
    assert counts["sent"] == 1 and counts["sending"] == 1 and counts["pending"] == 1
