"""Scripted Telegram users for the fake Bot API server.

A test drives the conversation from the user's side (type text, press a button, send a
file); each action queues the Update Telegram would produce, for the bot to fetch by
getUpdates or receive by webhook.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .telegram_api import FakeTelegram


APP_SPLIT = 4096  # UTF-16 units: Telegram apps send a longer text as several messages
_BREAK = re.compile(r"\s")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_like_the_app(text: str, limit: int = APP_SPLIT) -> list[str]:
    """How a Telegram app sends a pasted text over `limit` UTF-16 units: parts of at most
    `limit`, each cut after the last whitespace before the limit (anywhere if none)."""
    parts: list[str] = []
    while utf16_len(text) > limit:
        head = text.encode("utf-16-le")[: limit * 2].decode("utf-16-le", "ignore")
        spaces = [m.end() for m in _BREAK.finditer(head)]
        cut = spaces[-1] if spaces and spaces[-1] > len(head) // 2 else len(head)
        parts.append(head[:cut])
        text = text[cut:]
    parts.append(text)
    return [p for p in parts if p]


def file_unique_id(file_id: str) -> str:
    """Stable across runs (unlike ``hash``), so failures reproduce."""
    return f"AgAD{zlib.crc32(file_id.encode()):08x}"


class FakeUser:
    """A Telegram user in a private chat with the bot; chat id == user id."""

    def __init__(
        self,
        tg: FakeTelegram,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.tg = tg
        self.user_id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    @property
    def chat_id(self) -> int:
        return self.user_id

    def as_user(self) -> dict[str, Any]:
        """The User object Telegram attaches to this user's messages and callbacks."""
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        extra = {
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
        }
        return user | {k: v for k, v in extra.items() if v is not None}

    def as_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.user_id, "type": "private"}
        extra = {"first_name": self.first_name, "last_name": self.last_name}
        return chat | {k: v for k, v in (extra | {"username": self.username}).items() if v}

    async def send_text(
        self, text: str, *, entities: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Queue a text message; a leading /command gets its bot_command entity, and
        `entities` (offsets in UTF-16 units) are added as given."""
        return self.tg._user_message(self, _text_content(text, entities))

    async def send_link(self, text: str, url: str, words: str | None = None) -> dict[str, Any]:
        """Text where `words` (default: all of it) is a hidden link to `url` (text_link)."""
        words = text if words is None else words
        start = text.index(words)
        entity = {
            "type": "text_link",
            "offset": utf16_len(text[:start]),
            "length": utf16_len(words),
            "url": url,
        }
        return await self.send_text(text, entities=[entity])

    async def send_long_text(self, text: str) -> list[dict[str, Any]]:
        """Paste a text as the app sends it: over 4096 UTF-16 units, several messages sent
        at the same second, one update each (see split_like_the_app)."""
        return [await self.send_text(part) for part in split_like_the_app(text)]

    async def edit(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        """Edit one of this user's messages (from an update this user produced): Telegram
        sends an `edited_message` update with the whole message, new text and edit_date."""
        sent = message.get("message") or message
        key = "caption" if "caption" in sent or "text" not in sent else "text"
        return self.tg._user_edit(self, sent["message_id"], key, text)

    async def send_album(
        self, files: list[dict[str, Any]], *, caption: str | None = None
    ) -> list[dict[str, Any]]:
        """A media group: one message per file, sharing a media_group_id, the caption on the
        first (as apps send it). Each file is {"photo": file_id} or {"document": file_id,
        "file_name": …}."""
        self.tg._counter += 1
        group = str(13_000_000_000_000_000 + self.tg._counter)
        updates = []
        for i, f in enumerate(files):
            if "photo" in f:
                size = {"file_id": f["photo"], "file_unique_id": file_unique_id(f["photo"])}
                content: dict[str, Any] = {"photo": [size | {"width": 1280, "height": 960}]}
            else:
                document = {
                    "file_id": f["document"],
                    "file_unique_id": file_unique_id(f["document"]),
                }
                extra = {k: f[k] for k in ("file_name", "mime_type") if k in f}
                content = {"document": document | extra}
            content["media_group_id"] = group
            if i == 0 and caption is not None:
                content["caption"] = caption
            updates.append(self.tg._user_message(self, content))
        return updates

    async def start(self, payload: str | None = None) -> dict[str, Any]:
        """``/start <payload>``, as a t.me/<bot>?start=<payload> deep link produces."""
        return await self.send_text(f"/start {payload}" if payload else "/start")

    async def send_document(
        self,
        *,
        file_id: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        content: bytes | None = None,
        file_size: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Queue a document message; with ``content`` the file can also be downloaded."""
        if content is not None:
            self.tg.add_file(file_id, content)
            file_size = len(content) if file_size is None else file_size
        extra = {"file_name": file_name, "mime_type": mime_type, "file_size": file_size}
        document = {"file_id": file_id, "file_unique_id": file_unique_id(file_id)}
        document |= {k: v for k, v in extra.items() if v is not None}
        return self.tg._user_message(self, _with_caption({"document": document}, caption))

    async def send_photo(
        self,
        *,
        file_id: str,
        content: bytes | None = None,
        width: int = 1280,
        height: int = 960,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Queue a photo message (one PhotoSize); with ``content`` it can be downloaded."""
        if content is not None:
            self.tg.add_file(file_id, content)
        size = {"file_id": file_id, "file_unique_id": file_unique_id(file_id)}
        size |= {"width": width, "height": height}
        return self.tg._user_message(self, _with_caption({"photo": [size]}, caption))

    async def press(self, label: str) -> dict[str, Any]:
        """Press a button on the latest bot message in this chat that has inline buttons.

        ``label`` matches a button text exactly, else as a unique substring."""
        return self._press(self.tg.chats.pressable(self.user_id, None), label)

    async def press_in_chat(self, chat_id: int, label: str) -> dict[str, Any]:
        """Press a button on the latest bot message of ANOTHER chat (a group, someone else's
        private chat): the callback's chat and sender then disagree."""
        return self._press(self.tg.chats.pressable(chat_id, None), label)

    async def press_on(self, message_id: int, label: str) -> dict[str, Any]:
        """Press a button on a specific, possibly stale, bot message."""
        return self._press(self.tg.chats.pressable(self.user_id, message_id), label)

    def _press(self, message: dict[str, Any], label: str) -> dict[str, Any]:
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        buttons = [button for row in rows for button in row]
        matches = [b for b in buttons if b["text"] == label] or [
            b for b in buttons if label in b["text"]
        ]
        if len(matches) != 1:
            labels = [b["text"] for b in buttons]
            problem = "ambiguous" if matches else "not found"
            raise AssertionError(
                f"button {label!r} {problem} on message {message['message_id']}; "
                f"available: {labels}"
            )
        if "callback_data" not in matches[0]:
            raise AssertionError(f"button {label!r} is not a callback button: {matches[0]}")
        return self.tg._callback(self, message, matches[0]["callback_data"])


def _text_content(text: str, entities: list[dict[str, Any]] | None) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    found: list[dict[str, Any]] = []
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
    found += entities or []
    if found:
        content["entities"] = sorted(found, key=lambda e: e["offset"])
    return content


def _with_caption(content: dict[str, Any], caption: str | None) -> dict[str, Any]:
    return content | ({"caption": caption} if caption is not None else {})
