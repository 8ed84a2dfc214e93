"""A number typed on Zalo right after a review notice picks the notice's choice (bot/service.py
`_notice_pick`, storage `newest_notice_choices`), on SQLite and PostgreSQL — and only then:
not on Telegram (it has buttons), not for a reminder's choices (an official's "1" stays an
answer), not once the chat has spoken since the notice, not for a number out of range."""

from __future__ import annotations

import asyncio

from bot.render import reply_to_json
from bot.service import _notice_pick
from flows.payload import Act, pack
from flows.review import rpack
from flows.state import Choice, ConversationState, Incoming, Reply
from storage.repository import Storage
from tests.integration.conftest import storage as storage  # the fixture, re-exported

CHAT = "c0ffee00c0ffee00c0ff"


async def notice(storage: Storage, channel: str, *choices: Choice) -> None:
    async with storage.unit() as u:
        reply = Reply("📥 Sở TTTT đã nộp phiếu. Mời thẩm định.", choices, kind="notice")
        await u.enqueue(channel, CHAT, reply_to_json(reply), kind="notice")


async def pick(storage: Storage, text: str, channel: str = "zalo") -> Incoming:
    async with storage.unit() as u:
        return await _notice_pick(u, channel, CHAT, Incoming(text=text))


async def test_a_typed_number_after_a_review_notice_is_its_choice(storage: Storage) -> None:
    await notice(storage, "zalo", Choice("🔎 Bắt đầu thẩm định", rpack(7, "open")))
    assert await pick(storage, " 1 ") == Incoming(payload=rpack(7, "open"))
    assert await pick(storage, "2") == Incoming(text="2")  # out of range: an ordinary text
    assert await pick(storage, "Đạt") == Incoming(text="Đạt")
    # Telegram has buttons: a typed 1 there is just text
    await notice(storage, "telegram", Choice("🔎 Bắt đầu thẩm định", rpack(7, "open")))
    assert await pick(storage, "1", "telegram") == Incoming(text="1")


async def test_once_the_chat_spoke_numbers_are_the_conversations_again(
    storage: Storage,
) -> None:
    await notice(storage, "zalo", Choice("🔎 Bắt đầu thẩm định", rpack(7, "open")))
    await asyncio.sleep(0.01)  # the save is later than the notice
    async with storage.unit() as u:
        conv_id, _, _ = await u.lock_conversation("zalo", CHAT)
        await u.save_conversation(conv_id, ConversationState())
    assert await pick(storage, "1") == Incoming(text="1")


async def test_a_reminders_choices_never_take_an_officials_typed_answer(
    storage: Storage,
) -> None:
    await notice(storage, "zalo", Choice("▶️ Tiếp tục", pack(Act.COMMAND, "", "tiep")))
    assert await pick(storage, "1") == Incoming(text="1")
