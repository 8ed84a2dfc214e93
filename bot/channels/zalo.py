"""The Zalo channel (Zalo Bot API): updates in as the engine's Incoming, text out via the outbox.

Zalo has no buttons and no editing (shared/zalo-bot-api/FACTS.md). The conversation is the
engine's, unchanged: its choices are shown numbered ("1. Có") and a typed "1" picks them
(engine `_picked_choice`, as on the console); navigation is typed ("bỏ qua", "quay lại",
"menu", "nộp", or the slash commands), see bot/render.typed_navigation. Each update is
handled once: its id is `event_name:message_id`, recorded in the update's own transaction.

Inbound shapes accepted: bare `{"event_name", "message"}` and wrapped
`{"ok": true, "result": {...}}`; a missing `event_name` is inferred from the message's fields;
the sender's name from `display_name`, `first_name` or `name`. Stickers, voice, video, files
and `message.unsupported.received` get a polite reply; GROUP chats and events without a
message are ignored (logged), never an error. An image is kept as evidence with its URL, and
downloaded (bot/zalo/media.py) before the transaction, since platform URLs expire.

The seam for a Zalo Official Account (bot/zalo/seam.py): an OA adapter produces `ZaloEvent`s
and gives `ZaloTransport` a sender of its own; nothing here or in the engine changes.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.invites import Redeem, redeem, refusal_text
from bot.render import as_numbered_text, reply_from_json, split_text, typed_navigation
from bot.service import Outcome, Phieu, Sender
from bot.workers.outbox import PermanentError, RetryAfter, TransientError
from bot.zalo.client import TEXT_LIMIT, ZaloPermanent, ZaloTransient, ZaloUnauthorized
from bot.zalo.media import MediaStore, forbidden
from bot.zalo.seam import ZaloSender
from flows.i18n import N_, normalise_language
from flows.state import Incoming
from storage.repository import Unit
from storage.retry import retrying

log = logging.getLogger(__name__)

CHANNEL = "zalo"
TEXT = "message.text.received"
IMAGE = "message.image.received"
STICKER = "message.sticker.received"
VOICE = "message.voice.received"
UNSUPPORTED = "message.unsupported.received"
RETRY_AFTER_429 = 5.0  # seconds: Zalo's 429 says no retry_after; wait this long
_START = re.compile(r"^/start(?:@\w+)?(?:\s+(\S+))?\s*$", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_UNSUPPORTED = N_(
    "Phiếu chỉ đọc được tin nhắn chữ và ảnh. Vui lòng gõ câu trả lời (ví dụ: 1, "
    "Có, 25) hoặc gửi ảnh khi Phiếu hỏi minh chứng."
)
_REFUSED_IMAGE = N_(
    "Phiếu không tải được ảnh này nên chưa lưu. Vui lòng chụp và gửi lại ảnh ngay trong "
    "Zalo, hoặc gõ số hiệu và link minh chứng (ví dụ: 12/KH-UBND; 15/01/2019; "
    "https://sotttt.binhdinh.gov.vn/kh-12)."
)


# ---- inbound ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ZaloEvent:
    """One Zalo event, whichever shape it came in. Ids are opaque strings; `sent_at` from
    the message's `date` in milliseconds (None if absent)."""

    name: str
    message_id: str | None
    chat_id: str | None
    chat_type: str
    user_id: str | None
    user_name: str | None
    text: str | None = None
    photo_url: str | None = None
    caption: str | None = None
    sent_at: datetime | None = None

    @property
    def update_id(self) -> str | None:
        """What makes a redelivery recognisable: event name + message id (FACTS.md)."""
        if self.message_id:
            return f"{self.name}:{self.message_id}"[:128]
        if self.sent_at is not None and self.chat_id:
            stamp = int(self.sent_at.timestamp() * 1000)
            return f"{self.name}:{self.chat_id}:{stamp}"[:128]
        return None


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _infer(message: dict[str, Any]) -> str:
    """The event name of a message that came without one (the documented polling sample)."""
    if message.get("photo_url") or message.get("photo"):
        return IMAGE
    if message.get("sticker"):
        return STICKER
    if message.get("voice") or message.get("audio"):
        return VOICE
    if isinstance(message.get("text"), str):
        return TEXT
    return UNSUPPORTED


def _sent_at(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        ms = float(value)
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def parse_update(data: Any) -> ZaloEvent | None:
    """The event in a getUpdates result or a webhook body; None when there is no message
    to act on (logged by the caller). Never raises on odd shapes."""
    if not isinstance(data, dict):
        return None
    if "result" in data and isinstance(data.get("result"), dict) and "message" not in data:
        data = data["result"]
    message = data.get("message")
    if not isinstance(message, dict):
        return None
    name = _str(data.get("event_name")) or _infer(message)
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    user_id = _str(sender.get("id"))
    display = next(
        (n for k in ("display_name", "first_name", "name") if (n := _str(sender.get(k)))), None
    )
    photo = message.get("photo_url") or message.get("photo")
    return ZaloEvent(
        name=name,
        message_id=_str(message.get("message_id")),
        chat_id=_str(chat.get("id")) or user_id,
        chat_type=(_str(chat.get("chat_type")) or "PRIVATE").upper(),
        user_id=user_id,
        user_name=display,
        text=message.get("text") if isinstance(message.get("text"), str) else None,
        photo_url=photo if isinstance(photo, str) else None,
        caption=message.get("caption") if isinstance(message.get("caption"), str) else None,
        sent_at=_sent_at(message.get("date")),
    )


def invite_code(text: str) -> str | None:
    """The invitation code in `/start <code>` or sent alone as a message; else None."""
    text = text.strip()
    match = _START.match(text)
    if match:
        return match.group(1)
    return text if _CODE.match(text) else None


class ZaloChannel:
    """Hands Zalo events to the service. `committed(channel, chat_id)` is told after each
    handled (not duplicate) event, so the reply sender sends at once."""

    def __init__(
        self,
        phieu: Phieu,
        media: MediaStore | None = None,
        committed: Callable[[str, str], None] | None = None,
        typing: ZaloSender | None = None,
    ) -> None:
        self.phieu = phieu
        self.media = media
        self.committed = committed
        self.typing = typing

    async def handle_update(self, data: Any) -> Outcome | None:
        """Handle a raw update (either shape); None when it was ignored."""
        event = parse_update(data)
        if event is None:
            log.info("zalo update without a message ignored")
            return None
        return await self.handle_event(event)

    async def handle_event(self, event: ZaloEvent) -> Outcome | None:
        if event.chat_type != "PRIVATE":
            # Bots from Zalo Bot Creator chat one to one; a group's messages are nobody's form.
            log.info("zalo %s event in a %s chat ignored", event.name, event.chat_type)
            return None
        if not event.user_id or not event.chat_id:
            log.info("zalo %s event without a sender ignored", event.name)
            return None
        sender = Sender(external_id=event.user_id, display_name=event.user_name)
        before = None
        if event.name == TEXT:
            text = event.text or ""
            code = invite_code(text)
            # A code sent alone: from a bound official it is an answer like any other
            # ("KH-UBND_2019_so12"), never a reason to show the menu instead.
            alone = code is not None and not _START.match(text.strip())
            if alone and await self._bound(event.user_id):
                code = None
            if code is not None:
                before = self._bind(code)
                incoming = Incoming(text="/start")
            else:
                incoming = Incoming(
                    text=typed_navigation(text) or text,
                    message_id=event.message_id,
                    sent_at=event.sent_at,
                )
        elif event.name == IMAGE and event.photo_url:
            attachment = await self._photo(event)
            if forbidden(attachment):
                # A forged update pointing inside our network: nothing was fetched, and the
                # URL is no evidence; the official is asked to send the photo again.
                before = self._say_only(_REFUSED_IMAGE)
                incoming = Incoming(text="")
            else:
                incoming = Incoming(
                    text=event.caption or "",
                    attachment=attachment,
                    message_id=event.message_id,
                    sent_at=event.sent_at,
                )
        else:
            before = self._say_only(_UNSUPPORTED)
            incoming = Incoming(text="")
        # With webhooks (Phieu.ordered) one chat's concurrent events are applied in the order
        # of their send time in milliseconds (Zalo's ids are opaque, not sequence numbers).
        seq = round(event.sent_at.timestamp() * 1000) if event.sent_at is not None else None
        outcome = await self.phieu.handle(
            CHANNEL, event.chat_id, event.update_id, incoming, sender, before=before, seq=seq
        )
        if not outcome.duplicate and self.committed is not None:
            self.committed(CHANNEL, event.chat_id)
        return outcome

    async def _bound(self, user_id: str) -> bool:
        """Whether this Zalo account is already someone's (a read, retried like the unit)."""

        async def look() -> bool:
            async with self.phieu.storage.unit() as unit:
                return await unit.identity(CHANNEL, user_id) is not None

        return await retrying(look, what=f"zalo identity {user_id}", policy=self.phieu.retry)

    async def _photo(self, event: ZaloEvent) -> dict[str, Any]:
        assert event.photo_url is not None
        attachment: dict[str, Any] = {
            "kind": "photo",
            "url": event.photo_url,
            "file_unique_id": event.photo_url,
            "message_id": event.message_id,
        }
        if self.media is not None:
            if self.typing is not None:
                with contextlib.suppress(ZaloTransient, ZaloPermanent):  # a courtesy only
                    await self.typing.send_chat_action(event.chat_id or "", "typing")
            key = f"{event.chat_id}:{event.message_id or event.photo_url}"
            attachment |= await self.media.fetch(event.photo_url, key)
        return attachment

    def _bind(self, code: str) -> Callable[[Unit, str, str, Sender, Incoming], Any]:
        async def bind(unit: Unit, channel: str, chat_id: str, who: Sender, _: Incoming) -> bool:
            result = await redeem(
                unit, code, channel, who.external_id, who.display_name, self.phieu.clock()
            )
            lang = normalise_language(who.language)
            if result.outcome is Redeem.ALREADY:
                return False  # a bound official: the code-like text goes on as /start
            if result.outcome is Redeem.BOUND:
                await self.phieu.say(
                    unit,
                    channel,
                    chat_id,
                    lang,
                    N_(
                        "Chào mừng! Tài khoản Zalo của anh/chị đã được gắn với cơ quan.\n"
                        "Trên Zalo, chọn bằng cách gõ số (1, 2, …); gõ “bỏ qua”, “quay lại”, "
                        "“menu” hoặc “nộp” thay cho các nút."
                    ),
                )
                return False
            await self.phieu.say(unit, channel, chat_id, lang, refusal_text(result.outcome))
            return True

        return bind

    def _say_only(self, msgid: str) -> Callable[[Unit, str, str, Sender, Incoming], Any]:
        """A `before` that answers `msgid` in the chat's language and stops there: nothing
        else changes (stickers, voice, files; images that could not be taken)."""

        async def say(unit: Unit, channel: str, chat_id: str, who: Sender, _: Incoming) -> bool:
            _, state, _ = await unit.lock_conversation(channel, chat_id)  # locked already
            await self.phieu.say(unit, channel, chat_id, normalise_language(state.lang), msgid)
            return True

        return say


# ---- outbound ---------------------------------------------------------------------------
class ZaloTransport:
    """Delivers any outbox row of channel "zalo" (a reply or a notice, render.reply_to_json)
    as plain text: numbered choices, typed commands, parts of at most 2,000 characters split
    at line breaks. Errors become the outbox's retry categories. `sender` is the Bot API
    client today, an OA sender later (bot/zalo/seam.py)."""

    def __init__(self, sender: ZaloSender) -> None:
        self.sender = sender

    async def deliver(self, chat_id: str, payload: dict[str, Any]) -> None:
        if "edit" in payload:
            # Zalo cannot edit a sent message; such rows come from Telegram-only code.
            log.info("zalo cannot edit a message; row for %s skipped", chat_id)
            return
        text = as_numbered_text(reply_from_json(payload))
        try:
            photo = payload.get("photo")
            if isinstance(photo, str) and photo:
                await self.sender.send_photo(chat_id, photo)
            # Rows are split by the service already (render.reply_payloads keeps room for
            # the numbered choices); this covers a row queued whole by other code.
            for chunk in split_text(text, TEXT_LIMIT):
                await self.sender.send_message(chat_id, chunk)
        except ZaloUnauthorized as e:
            # The token, not this message: retried with backoff, then given up (as Telegram).
            raise TransientError(str(e)) from e
        except ZaloPermanent as e:
            raise PermanentError(str(e)) from e
        except ZaloTransient as e:
            if e.code == 429:
                raise RetryAfter(RETRY_AFTER_429) from e
            raise TransientError(str(e)) from e
