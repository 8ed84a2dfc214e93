"""Reminder storage on SQLite and PostgreSQL: keyed outbox rows, plans, mutes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from storage import Storage

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def _campaign_and_user(storage: Storage) -> tuple[int, int]:
    async with storage.unit() as u:
        agency = await u.add_agency("SYT", "Sở Y tế", "so")
        user = await u.add_user("Lan", agency.id, "official")
        campaign = await u.add_campaign("binh-dinh-2019-so", 1, "2026", date(2026, 11, 26))
    return campaign.id, user.id


async def test_a_key_is_queued_once_and_plain_rows_never_collide(storage: Storage) -> None:
    async with storage.unit() as u:
        first = await u.enqueue_once("telegram", "7", {"text": "a"}, "remind:1:1:1:d-3")
        again = await u.enqueue_once("telegram", "7", {"text": "b"}, "remind:1:1:1:d-3")
        await u.enqueue("telegram", "7", {"text": "reply 1"})
        await u.enqueue("telegram", "7", {"text": "reply 2"})
    assert first is not None and again is None
    async with storage.unit() as u:
        rows = await u.keyed_rows("remind:1:")
        assert [(r["payload"]["text"], r["kind"]) for r in rows] == [("a", "notice")]
        assert (await u.outbox_counts())["pending"] == 3
        new = await u.enqueue_once_many(
            [
                {"channel": "telegram", "chat_id": "7", "payload": {"t": 1}, "dedupe_key": k}
                for k in ("remind:1:1:1:d-3", "remind:1:1:1:d-1", "remind:1:1:2:d-1")
            ]
        )
        assert sorted(new) == ["remind:1:1:1:d-1", "remind:1:1:2:d-1"]
        assert await u.taken_keys("remind:1:1:1:") == {"remind:1:1:1:d-3", "remind:1:1:1:d-1"}
        # A prefix with LIKE wildcards is taken literally.
        assert await u.taken_keys("remind:1:1:_") == set()


async def test_prune_keeps_sent_keyed_rows(storage: Storage) -> None:
    async with storage.unit() as u:
        keyed = await u.enqueue_once("telegram", "7", {"text": "a"}, "remind:9:1:1:d-7")
        plain = await u.enqueue("telegram", "7", {"text": "b"})
        assert keyed is not None
        await u.mark_sent(keyed, NOW - timedelta(days=30))
        await u.mark_sent(plain, NOW - timedelta(days=30))
    async with storage.unit() as u:
        await u.prune(NOW)
        assert await u.outbox_row(keyed) is not None
        assert await u.outbox_row(plain) is None


async def test_plan_is_stored_and_replaced(storage: Storage) -> None:
    campaign_id, _ = await _campaign_and_user(storage)
    settings = {
        "days_before": [10, 3, 1],
        "at": "08:00",
        "on_deadline": True,
        "overdue": True,
        "quiet_start": "21:00",
        "quiet_end": "07:00",
        "no_weekends": False,
        "overdue_to_head": True,
        "overdue_to_reviewer": False,
    }
    async with storage.unit() as u:
        assert await u.reminder_plan(campaign_id) is None
        await u.set_reminder_plan(campaign_id, settings, NOW)
    async with storage.unit() as u:
        await u.set_reminder_plan(campaign_id, {**settings, "no_weekends": True}, NOW)
    async with storage.unit() as u:
        row = await u.reminder_plan(campaign_id)
    assert row is not None
    assert row["days_before"] == [10, 3, 1] and row["no_weekends"] is True
    assert row["overdue_to_reviewer"] is False and row["updated_at"] == NOW


async def test_mutes_toggle_and_keep_their_history(storage: Storage) -> None:
    campaign_id, user_id = await _campaign_and_user(storage)
    async with storage.unit() as u:
        assert await u.muted_users(campaign_id) == set()
        assert await u.set_reminder_mute(campaign_id, user_id, None, NOW, "telegram") is True
        assert await u.muted_users(campaign_id) == {user_id}
        later = NOW + timedelta(hours=1)
        assert await u.set_reminder_mute(campaign_id, user_id, None, later, "zalo") is False
        assert await u.muted_users(campaign_id) == set()
        assert await u.set_reminder_mute(campaign_id, user_id, False, later, "telegram") is False
        history = await u.mute_history(campaign_id, user_id)
    assert [(h["muted"], h["channel"], h["at"]) for h in history] == [
        (True, "telegram", NOW),
        (False, "zalo", NOW + timedelta(hours=1)),
        (False, "telegram", NOW + timedelta(hours=1)),
    ]


async def test_concurrent_units_queue_each_key_once(storage: Storage) -> None:
    keys = [f"remind:5:{i}:1:d-1" for i in range(200)]
    rows = [
        {"channel": "telegram", "chat_id": str(i), "payload": {"i": i}, "dedupe_key": k}
        for i, k in enumerate(keys)
    ]

    async def planner(order: list[dict[str, object]]) -> list[str]:
        async with storage.unit() as u:
            return await u.enqueue_once_many(order)

    a, b = await asyncio.gather(planner(rows), planner(list(reversed(rows))))
    assert sorted(a + b) == sorted(keys)
    async with storage.unit() as u:
        assert len(await u.keyed_rows("remind:5:")) == 200
