"""/tatnhac and /batnhac through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.channels.telegram import COMMANDS
from bot.workers.reminders import ReminderPlanner
from storage import Storage
from tests.integration.test_service import World, make_world

VN = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_tatnhac_toggles_reminders_records_it_and_keeps_the_place(storage: Storage) -> None:
    world: World = await make_world(storage)
    lan = world.chat("telegram", "111")
    await lan.send("/sua 3.1.a", update_id="1")
    off = await lan.send("/tatnhac", update_id="2")
    assert off.startswith("🔕 Đã tắt nhắc hạn nộp của đợt “Năm 2026”. Gõ /batnhac")
    async with storage.unit() as u:
        assert await u.muted_users(world.campaign.id) == {world.lan.id}
    # The muted official gets no reminder at d-3.
    d3 = datetime(2026, 11, 23, 8, tzinfo=VN).astimezone(UTC)
    planner = ReminderPlanner(storage, world.phieu.forms, lambda: d3)
    assert await planner.run_once() == 0
    # Still at the same question: the answer goes to 3.1.a.
    assert "3.1.a" in await lan.send("12", update_id="3")
    assert (await world.answers())["3.1.a"] == 12
    on = await lan.send("/tatnhac", update_id="4")
    assert on.startswith("🔔 Đã bật lại nhắc hạn nộp")
    assert "🔔" in await lan.send("/batnhac", update_id="5")  # on stays on
    assert await planner.run_once() == 1
    async with storage.unit() as u:
        history = await u.mute_history(world.campaign.id, world.lan.id)
    assert [(h["muted"], h["channel"]) for h in history] == [
        (True, "telegram"),
        (False, "telegram"),
        (False, "telegram"),
    ]
    assert all(h["at"] == history[0]["at"] for h in history)  # the service's clock


async def test_mute_in_english_and_a_redelivered_mute_changes_nothing(storage: Storage) -> None:
    world = await make_world(storage)
    lan = world.chat("telegram", "111", language="en")
    await lan.send("/lang en", update_id="1")
    assert (await lan.send("/mute", update_id="2")).startswith("🔕 Deadline reminders for")
    await lan.send("/mute", update_id="2")  # Telegram resends the same update
    async with storage.unit() as u:
        assert len(await u.mute_history(world.campaign.id, world.lan.id)) == 1
        assert await u.muted_users(world.campaign.id) == {world.lan.id}


def test_tatnhac_is_in_the_telegram_command_menu() -> None:
    assert ("tatnhac", "Tắt/bật nhắc hạn nộp") in COMMANDS["vi"]
    assert [c for c, _ in COMMANDS["vi"]] == [c for c, _ in COMMANDS["en"]]
