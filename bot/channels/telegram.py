"""The Telegram channel (aiogram 3): updates in through routers, messages out via the outbox.

Incoming: one router for invitations (/start <code>), one for the questionnaire (text,
buttons, files). Each update is handed to the service with its update id, so a redelivery is
recognised; callback queries are always answered. Outgoing: `TelegramTransport` renders the
engine's replies (choices and actions as inline keyboards, text over 4096 characters split)
and maps Bot API errors to the outbox's retry rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
)

from bot.invites import Redeem, redeem, refusal_text
from bot.render import TEXT_LIMITS, reply_from_json, split_text
from bot.service import Phieu, Sender
from bot.workers.outbox import PermanentError, RetryAfter, TransientError
from flows.i18n import N_, normalise_language, translate
from flows.state import Choice, Incoming, Reply, Step
from storage.repository import Unit

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = TEXT_LIMITS["telegram"]
_SHORT_LABEL = 16

COMMANDS: dict[str, list[tuple[str, str]]] = {
    "vi": [
        ("start", "Bắt đầu / menu"),
        ("menu", "Về menu"),
        ("tiep", "Trả lời tiếp"),
        ("sua", "Sửa một mục: /sua 3.2.b"),
        ("xem", "Tóm tắt phiếu"),
        ("nop", "Nộp phiếu"),
        ("diem", "Điểm tạm tính"),
        ("help", "Hướng dẫn"),
        ("lang", "Ngôn ngữ: /lang en"),
        ("tatnhac", "Tắt/bật nhắc hạn nộp"),
    ],
    "en": [
        ("start", "Start / menu"),
        ("menu", "Back to the menu"),
        ("tiep", "Continue answering"),
        ("sua", "Edit an item: /sua 3.2.b"),
        ("xem", "Summary of the form"),
        ("nop", "Submit the form"),
        ("diem", "Provisional score"),
        ("help", "Help"),
        ("lang", "Language: /lang vi"),
        ("tatnhac", "Turn deadline reminders off/on"),
    ],
}


# ---- outgoing --------------------------------------------------------------------------------
def _rows(choices: tuple[Choice, ...]) -> list[list[InlineKeyboardButton]]:
    """Short labels two to a row (Có / Không), long ones alone: readable on a small phone."""
    rows: list[list[InlineKeyboardButton]] = []
    for c in choices:
        button = InlineKeyboardButton(text=c.label[:64], callback_data=c.payload)
        if (
            rows
            and len(c.label) <= _SHORT_LABEL
            and len(rows[-1]) == 1
            and len(rows[-1][0].text) <= _SHORT_LABEL
        ):
            rows[-1].append(button)
        else:
            rows.append([button])
    return rows


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = _rows(reply.choices) + _rows(reply.actions)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


class TelegramTransport:
    """Delivers outbox payloads with a Bot; errors become the outbox's retry categories."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def deliver(self, chat_id: str, payload: dict[str, Any]) -> None:
        try:
            if "edit" in payload:
                await self._edit(chat_id, payload["edit"])
                return
            if isinstance(payload.get("file"), dict):
                await self._send_file(chat_id, payload["file"], str(payload.get("text") or ""))
                return
            reply = reply_from_json(payload)
            # Rows queued by the service are split already (render.reply_payloads); this
            # covers a row queued whole by other code.
            chunks = split_text(reply.text, MAX_TEXT)
            for i, chunk in enumerate(chunks):
                markup = keyboard(reply) if i == len(chunks) - 1 else None
                await self.bot.send_message(chat_id=int(chat_id), text=chunk, reply_markup=markup)
        except TelegramEntityTooLarge as e:
            # A subclass of the network error, but retrying cannot make it smaller.
            raise PermanentError(str(e)) from e
        except TelegramRetryAfter as e:
            raise RetryAfter(float(e.retry_after)) from e
        except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as e:
            # A 502 from a proxy arrives as an HTML page aiogram cannot decode.
            raise TransientError(str(e)) from e
        except (TelegramForbiddenError, TelegramBadRequest) as e:
            raise PermanentError(str(e)) from e
        except TelegramAPIError as e:
            # 401, 404, 409…: not about this message; retried with backoff, then given up.
            raise TransientError(str(e)) from e

    async def _send_file(self, chat_id: str, file: dict[str, Any], caption: str) -> None:
        """An official's evidence file, sent again by its file id (review forwards it to the
        reviewer, issue #10); the caption says which item it belongs to."""
        caption = caption[:1024]  # Telegram's caption limit
        if file.get("kind") == "photo":
            await self.bot.send_photo(
                chat_id=int(chat_id), photo=str(file["file_id"]), caption=caption
            )
        else:
            await self.bot.send_document(
                chat_id=int(chat_id), document=str(file["file_id"]), caption=caption
            )

    async def _edit(self, chat_id: str, edit: dict[str, Any]) -> None:
        try:
            await self.bot.edit_message_text(
                chat_id=int(chat_id),
                message_id=int(edit["message_id"]),
                text=split_text(edit["text"], MAX_TEXT)[0],
            )
        except TelegramBadRequest as e:
            # The message may be too old to edit, or already show this text: nothing to do.
            log.info("edit of %s/%s skipped: %s", chat_id, edit.get("message_id"), e.message)


async def set_commands(bot: Bot) -> None:
    """The command menu in Vietnamese, and in English for English-speaking users."""
    for lang, commands in COMMANDS.items():
        await bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in commands],
            scope=BotCommandScopeDefault(),
            language_code=None if lang == "vi" else lang,
        )


# ---- incoming --------------------------------------------------------------------------------
def sender_of(user: Any) -> Sender:
    return Sender(
        external_id=str(user.id),
        display_name=user.full_name,
        language=user.language_code,
    )


def text_with_links(text: str | None, entities: list[MessageEntity] | None) -> str:
    """The text with each hidden link (a `text_link` entity) made visible.

    A link over the whole message ("link", "tại đây") becomes its URL; a link over part of
    it keeps the words and adds the URL after them ("Kế hoạch 12/KH-UBND https://…"), so a
    document number written as the link's text is not lost. Offsets are UTF-16 units.
    """
    if not text or not entities:
        return text or ""
    links = sorted((e for e in entities if e.type == "text_link" and e.url), key=lambda e: e.offset)
    if not links:
        return text
    units = text.encode("utf-16-le")

    def span(e: MessageEntity) -> str:
        return units[e.offset * 2 : (e.offset + e.length) * 2].decode("utf-16-le", "replace")

    if len(links) == 1 and span(links[0]).strip() == text.strip():
        return str(links[0].url)
    pieces: list[str] = []
    pos = 0
    for e in links:
        start, end = e.offset * 2, (e.offset + e.length) * 2
        if start < pos or end > len(units):
            continue  # overlapping or out of range: leave the words as they are
        words = span(e)
        pieces += [units[pos:start].decode("utf-16-le", "replace"), f"{words} {e.url}"]
        pos = end
    pieces.append(units[pos:].decode("utf-16-le", "replace"))
    return "".join(pieces)


def incoming_of(message: Message, *, edited: bool = False) -> Incoming:
    """What the engine needs from a message: its text (hidden links shown, the caption of
    a file), the file, and the facts about the message itself (id, album, send time)."""
    if message.text is not None:
        text = text_with_links(message.text, message.entities)
    else:
        text = text_with_links(message.caption, message.caption_entities)
    return Incoming(
        text=text,
        attachment=attachment_of(message),
        message_id=str(message.message_id),
        edited=edited,
        group=message.media_group_id,
        sent_at=None if edited else message.date,
    )


def attachment_of(message: Message) -> dict[str, Any] | None:
    """Photos and documents are kept by file id with their metadata, as evidence."""
    if message.document is not None:
        d = message.document
        return {
            "kind": "document",
            "file_id": d.file_id,
            "file_unique_id": d.file_unique_id,
            "file_name": d.file_name,
            "mime_type": d.mime_type,
            "file_size": d.file_size,
        }
    if message.photo:
        p = message.photo[-1]
        return {
            "kind": "photo",
            "file_id": p.file_id,
            "file_unique_id": p.file_unique_id,
            "width": p.width,
            "height": p.height,
            "file_size": p.file_size,
        }
    return None


def build_routers(
    phieu: Phieu, update_id_of: Callable[[dict[str, Any]], str | None]
) -> list[Router]:
    """Routers for invitations and for the questionnaire; `update_id_of` reads the update id
    from the handler's data (aiogram passes the Update as `event_update`)."""
    invites = Router(name="invites")
    questionnaire = Router(name="questionnaire")

    @invites.message(CommandStart(deep_link=True), F.chat.type == "private")
    async def start_with_code(message: Message, command: CommandObject, **data: Any) -> None:
        code = (command.args or "").strip()
        sender = sender_of(message.from_user)

        async def bind(unit: Unit, channel: str, chat_id: str, who: Sender, _: Incoming) -> bool:
            result = await redeem(
                unit, code, channel, who.external_id, who.display_name, phieu.clock()
            )
            lang = normalise_language(who.language)
            if result.outcome is Redeem.ALREADY:
                return False
            if result.outcome is Redeem.BOUND:
                await phieu.say(
                    unit,
                    channel,
                    chat_id,
                    lang,
                    N_("Chào mừng! Tài khoản Telegram của anh/chị đã được gắn với cơ quan."),
                )
                return False
            await phieu.say(unit, channel, chat_id, lang, refusal_text(result.outcome))
            return True

        await phieu.handle(
            CHANNEL,
            str(message.chat.id),
            update_id_of(data),
            Incoming(text="/start"),
            sender,
            before=bind,
        )

    @questionnaire.message(F.chat.type == "private")
    async def on_message(message: Message, **data: Any) -> None:
        await phieu.handle(
            CHANNEL,
            str(message.chat.id),
            update_id_of(data),
            incoming_of(message),
            sender_of(message.from_user),
        )

    @questionnaire.edited_message(F.chat.type == "private")
    async def on_edited(message: Message, **data: Any) -> None:
        # Telegram sends the whole message again with edit_date; the engine decides whether
        # it re-answers the latest item or explains how to change an older answer.
        await phieu.handle(
            CHANNEL,
            str(message.chat.id),
            update_id_of(data),
            incoming_of(message, edited=True),
            sender_of(message.from_user),
        )

    @questionnaire.callback_query()
    async def on_button(query: CallbackQuery, **data: Any) -> None:
        message = query.message
        if message is not None and message.chat.id != query.from_user.id:
            # Our questions live in private chats, where the chat is the sender. A press
            # from elsewhere (a group, a forged update) must not answer someone's form.
            log.warning(
                "button refused: chat %s and sender %s disagree",
                message.chat.id,
                query.from_user.id,
            )
            await _refuse_button(query)
            return
        chat_id = str(message.chat.id) if message is not None else str(query.from_user.id)
        chosen = _label_of(query)

        async def mark_pressed(unit: Unit, channel: str, chat: str, step: Step) -> None:
            # Show what was pressed on the question and drop its buttons, unless the press
            # was refused as stale (then the old message is left as it was).
            if any(r.kind == "stale" for r in step.replies):
                return
            if isinstance(message, Message) and message.text and chosen:
                await unit.enqueue(
                    channel,
                    chat,
                    {
                        "edit": {
                            "message_id": message.message_id,
                            "text": f"{message.text}\n\n👉 {chosen}",
                        }
                    },
                )

        duplicate = False
        try:
            outcome = await phieu.handle(
                CHANNEL,
                chat_id,
                update_id_of(data),
                Incoming(payload=query.data or ""),
                sender_of(query.from_user),
                after=mark_pressed,
            )
            duplicate = outcome.duplicate
        finally:
            # A redelivered query was answered by whoever handled it first; a second
            # answer is refused by Telegram ("query is too old ... or query ID is invalid").
            if not duplicate:
                try:
                    await query.answer()
                except TelegramBadRequest as e:
                    log.info("callback %s not answered: %s", query.id, e.message)

    return [invites, questionnaire]


async def _refuse_button(query: CallbackQuery) -> None:
    lang = normalise_language(query.from_user.language_code)
    text = translate(
        lang, N_("Nút này không thuộc cuộc trò chuyện riêng của anh/chị với Phiếu; không ghi nhận.")
    )
    try:
        await query.answer(text=text[:200], show_alert=True)
    except TelegramBadRequest as e:
        log.info("callback %s not answered: %s", query.id, e.message)


def _label_of(query: CallbackQuery) -> str | None:
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None
