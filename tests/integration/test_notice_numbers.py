"""A number typed right after a review notice picks the notice's choice on every channel that
shows choices as numbers (bot/render.py NUMBERED_CHANNELS: the console and Zalo), through
Phieu.handle on SQLite and PostgreSQL; a number after a reminder, or once the person has
spoken since the notice, stays the conversation's.

The bug this pins: in `phieu chat` a reviewer whose queue listed another agency first typed
"1" under a submission notice and opened that other agency's submission.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.render import as_numbered_text, as_plain_text, reply_from_json, reply_to_json
from bot.service import _notice_pick
from flows.machines import Status
from flows.payload import Act, pack
from flows.review import rpack
from flows.state import Answer, Choice, Incoming, Reply
from storage import Storage
from tests.integration.conftest import storage as storage  # the fixture, re-exported
from tests.integration.test_review_loop import (
    START,
    Chat,
    World,
    decided,
    make_world,
    submit,
)

CHANNELS = ["console", "zalo"]
OPENED_STTTT = "🔎 Thẩm định phiếu của Sở Thông tin và Truyền thông"
OPENED_SYT = "🔎 Thẩm định phiếu của Sở Y tế"


async def _bind(world: World, channel: str) -> tuple[Chat, Chat]:
    """Hoà (reviewer) and Lan (official) on `channel`: (reviewer chat, official chat)."""
    async with world.storage.unit() as u:
        if channel != "console":  # make_world binds Hoà's console account already
            await u.bind_identity(world.ids["hoa"], channel, "hoa-z", "Hoà")
        await u.bind_identity(world.ids["lan"], channel, f"{channel}:lan", "Lan")
    hoa_chat = "console:hoa" if channel == "console" else "hoa-z"
    return Chat(world.phieu, channel, hoa_chat), Chat(world.phieu, channel, f"{channel}:lan")


async def _syt_waiting(world: World) -> None:
    """Sở Y tế submitted earlier: first in the reviewer's queue."""
    async with world.storage.unit() as u:
        sub = await u.submission(world.ids["campaign"], world.ids["other"])
        await u.apply_changes(sub.id, {"1.8": Answer(12)}, world.ids["nam"], "telegram", START)
        moved = await u.move_submission(
            sub.id, Status.DRAFT, Status.SUBMITTED, None, START - timedelta(days=1)
        )
        assert moved


def _shown(channel: str, payload: dict[str, object]) -> str:
    reply = reply_from_json(payload)
    return as_plain_text(reply) if channel == "console" else as_numbered_text(reply)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_one_after_a_submission_notice_opens_that_submission(
    storage: Storage, channel: str
) -> None:
    world = await make_world(storage)
    await _syt_waiting(world)
    hoa, _ = await _bind(world, channel)
    assert "1. Sở Y tế" in await hoa.send("/thamdinh")  # the queue: Sở Y tế is its 1
    await submit(world)  # then Sở TTTT submits: the notice is the newest list on screen
    assert "Sở Thông tin và Truyền thông đã nộp phiếu" in await hoa.read()
    assert "1. 🔎 Bắt đầu thẩm định" in _shown(channel, hoa.last[-1])
    text = await hoa.send("1")
    assert OPENED_STTTT in text and OPENED_SYT not in text
    assert (await world.sub()).status is Status.IN_REVIEW


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_number_once_the_reviewer_spoke_is_the_conversations(
    storage: Storage, channel: str
) -> None:
    world = await make_world(storage)
    await _syt_waiting(world)
    hoa, _ = await _bind(world, channel)
    await submit(world)
    await hoa.read()
    # The reviewer spoke after the notice: the queue is the newest list, Sở Y tế its 1.
    queue = await hoa.send("/thamdinh")
    assert "1. Sở Y tế" in queue and "2. Sở Thông tin và Truyền thông" in queue
    assert OPENED_SYT in await hoa.send("1")
    assert (await world.sub()).status is Status.SUBMITTED


@pytest.mark.parametrize("channel", CHANNELS)
async def test_two_after_the_accepted_notice_disputes(storage: Storage, channel: str) -> None:
    world = await make_world(storage)
    _, lan = await _bind(world, channel)
    await lan.send("/menu")  # Lan's chat has spoken before the notice
    await decided(world, accept=True)
    assert "Mời anh/chị xác nhận số liệu" in await lan.read()
    shown = _shown(channel, lan.last[-1])
    assert "1. ✅ Xác nhận số liệu" in shown and "2. ❗ Không đồng ý" in shown
    text = await lan.send("2")
    assert "lý do" in text.lower()
    assert (await world.sub()).status is Status.ACCEPTED  # not confirmed


@pytest.mark.parametrize("channel", CHANNELS)
async def test_one_on_the_returned_form_notice_starts_the_fix(
    storage: Storage, channel: str
) -> None:
    world = await make_world(storage)
    _, lan = await _bind(world, channel)
    await lan.send("/menu")
    await decided(world, accept=False)
    assert "• 1.10: Link không mở được" in await lan.read()
    assert "1. ✏️ Sửa các mục bị trả lại" in _shown(channel, lan.last[-1])
    text = await lan.send("1")
    assert "1.10. Có cổng thông tin điện tử" in text
    assert "Nhận xét của Sở: Link không mở được" in text


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_number_after_a_reminder_stays_an_answer(storage: Storage, channel: str) -> None:
    world = await make_world(storage)
    _, lan = await _bind(world, channel)
    assert "Cơ quan có mạng LAN" in await lan.send("/sua 1.9")
    async with storage.unit() as u:
        # A stale review notice, then a reminder (newer, its own choice not a review one).
        for reply in (
            Reply("Mời xác nhận", (Choice("✅", rpack(world.ids["sub"], "confirm")),)),
            Reply("⏰ Còn 3 ngày", (Choice("▶️ Tiếp tục", pack(Act.COMMAND, "", "continue")),)),
        ):
            await u.enqueue(channel, lan.chat_id, reply_to_json(reply), kind="notice")
    await lan.read()
    await lan.send("2")  # the question's "2. Không", not a button of a notice
    async with storage.unit() as u:
        answers = await u.load_answers(world.ids["sub"])
    assert answers["1.9"].value is False
    assert (await world.sub()).status is Status.DRAFT


async def test_telegram_has_buttons_so_a_typed_number_is_the_conversations(
    storage: Storage,
) -> None:
    world = await make_world(storage)
    await _syt_waiting(world)
    hoa = Chat(world.phieu, "telegram", "501")
    await hoa.send("/thamdinh")
    await submit(world)
    await hoa.read()
    assert OPENED_SYT in await hoa.send("1")  # the queue's, as the reviewer's state holds


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_chats_first_message_picks_the_notice(storage: Storage, channel: str) -> None:
    """No conversation row yet when the notice came: the row the "1" makes (under the lock)
    counts as never saved, so the notice is still the newest list."""
    world = await make_world(storage)
    _, lan = await _bind(world, channel)  # Lan's chat on this channel has never spoken
    await decided(world, accept=True)
    assert "🔒 Đã xác nhận số liệu" in await lan.send("1")
    assert (await world.sub()).status is Status.CONFIRMED


class _NoQuery:
    """A unit that fails the test if the notice is read."""

    async def newest_notice_choices(self, channel: str, chat_id: str) -> list[str] | None:
        raise AssertionError("the notice was read for an update that cannot pick from it")


@pytest.mark.parametrize(
    ("channel", "incoming"),
    [
        ("console", Incoming(text="Đạt")),
        ("zalo", Incoming(text="123")),
        ("zalo", Incoming(text="1.5")),
        ("telegram", Incoming(text="1")),
        ("console", Incoming(payload=rpack(1, "open"))),
        ("zalo", Incoming(text=None)),
    ],
)
async def test_no_query_unless_a_short_number_on_a_numbered_channel(
    channel: str, incoming: Incoming
) -> None:
    assert await _notice_pick(_NoQuery(), channel, "c", incoming) is incoming  # type: ignore[arg-type]
