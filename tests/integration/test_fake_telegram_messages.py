"""The fake Bot API's user actions for real-life messages produce contract-valid updates.

Edits (edited_message with edit_date), hidden links (text_link entities, UTF-16 offsets),
albums (media_group_id), captions and texts split by the app; each update is checked
against api.json when queued (the fake asserts it) and read back here through aiogram.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tests.fakes import FakeTelegram
from tests.fakes.telegram_users import utf16_len

TOKEN = "123:ABC"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    api = TelegramAPIServer.from_base(tg.base_url)
    async with Bot(TOKEN, session=AiohttpSession(api=api)) as b:
        yield b


async def test_an_edit_is_delivered_only_when_asked_for(tg: FakeTelegram, bot: Bot) -> None:
    lan = tg.user(1001, "Lan")
    sent = await lan.send_text("40")
    await lan.edit(sent, "45")
    updates = await bot.get_updates(allowed_updates=["message"], timeout=0)
    assert [u.message.text for u in updates if u.message] == ["40"]
    assert all(u.edited_message is None for u in updates)  # dropped: not asked for

    sent = await lan.send_text("10")
    await lan.edit(sent, "12")
    offset = updates[-1].update_id + 1
    updates = await bot.get_updates(
        offset=offset, allowed_updates=["message", "edited_message"], timeout=0
    )
    edited = [u.edited_message for u in updates if u.edited_message]
    assert len(edited) == 1 and edited[0].text == "12" and edited[0].edit_date is not None
    assert edited[0].message_id == sent["message"]["message_id"]
    assert tg.violations == []


async def test_hidden_links_albums_captions_and_split_texts(tg: FakeTelegram, bot: Bot) -> None:
    lan = tg.user(1001, "Lan")
    await lan.send_link("😀 xem tại đây", "https://a.gov.vn/x", words="đây")
    album = await lan.send_album(
        [{"photo": "P1"}, {"document": "D1", "file_name": "kh.pdf"}], caption="12/KH-UBND"
    )
    long = await lan.send_long_text("Mạng nội bộ. " * 700)
    updates = await bot.get_updates(timeout=0)
    link = updates[0].message
    assert link is not None and link.entities is not None
    (entity,) = link.entities
    assert entity.type == "text_link" and entity.url == "https://a.gov.vn/x"
    assert entity.offset == utf16_len("😀 xem tại ") and entity.length == 3
    pics = [u.message for u in updates[1:3]]
    assert [m.media_group_id for m in pics if m] == [album[0]["message"]["media_group_id"]] * 2
    assert pics[0] is not None and pics[0].caption == "12/KH-UBND" and pics[0].photo
    assert pics[1] is not None and pics[1].document and pics[1].caption is None
    parts = [u.message.text for u in updates[3:] if u.message]
    assert len(parts) == len(long) == 3 and "".join(parts) == "Mạng nội bộ. " * 700
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert tg.violations == []


async def test_a_press_in_another_chat_has_a_chat_and_sender_that_disagree(
    tg: FakeTelegram, bot: Bot
) -> None:
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    tg.user(1001, "Lan")
    minh = tg.user(1002, "Minh")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Có", callback_data="a|3.6|yes")]]
    )
    await bot.send_message(1001, "3.6?", reply_markup=markup)
    await minh.press_in_chat(1001, "Có")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.message is not None
    assert query.message.chat.id == 1001 and query.from_user.id == 1002
    assert tg.violations == []
