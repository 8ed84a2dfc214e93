"""Chats and messages as the fake Telegram server remembers them.

Tests assert on what the user would see (``sent()``: bot messages with edits applied and
deleted ones gone) and press buttons on stored messages, so the store keeps each message as
the current Message object plus the markup exactly as the bot sent it.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class StoredMessage:
    message: dict[str, Any]  # the current Message object (reply_markup: inline only)
    from_bot: bool
    markup: dict[str, Any] | None = None  # as sent, of any kind (inline, reply, remove...)
    deleted: bool = False


class ChatStore:
    """Chats by id (created on first use) and their messages with per-chat message ids."""

    def __init__(self) -> None:
        self._chats: dict[int, dict[str, Any]] = {}
        self._usernames: dict[str, int] = {}
        self._messages: dict[int, dict[int, StoredMessage]] = {}

    def register(self, chat: dict[str, Any]) -> None:
        self._chats[chat["id"]] = chat

    def chat(self, chat_id: int | str) -> dict[str, Any]:
        """The Chat object for a chat_id parameter: an id (also as a string) or @username."""
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@").lower()
            cid = self._usernames.setdefault(name, -1_001_000_000_000 - len(self._usernames))
            channel = {"id": cid, "type": "channel", "title": name, "username": name}
            return self._chats.setdefault(cid, channel)
        if chat_id not in self._chats:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            elif str(chat_id).startswith("-100"):
                chat = {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
            else:
                chat = {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}
            self._chats[chat_id] = chat
        return self._chats[chat_id]

    def add(
        self,
        chat_id: int | str,
        sender: dict[str, Any],
        content: dict[str, Any],
        *,
        from_bot: bool,
        markup: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a new message (next message_id of its chat) and return a copy of it."""
        chat = copy.deepcopy(self.chat(chat_id))
        messages = self._messages.setdefault(chat["id"], {})
        message_id = max(messages, default=0) + 1
        message = {"message_id": message_id, "from": sender, "chat": chat}
        message |= {"date": int(time.time())} | copy.deepcopy(content)
        messages[message_id] = StoredMessage(message, from_bot=from_bot, markup=markup)
        return copy.deepcopy(message)

    def find(self, chat_id: int | str, message_id: int) -> StoredMessage | None:
        return self._messages.get(self.chat(chat_id)["id"], {}).get(message_id)

    def live_bot_messages(self, chat_id: int | str) -> list[StoredMessage]:
        stored = self._messages.get(self.chat(chat_id)["id"], {}).values()
        return [s for s in stored if s.from_bot and not s.deleted]

    def sent(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Bot messages still in the chat, oldest first; ``text`` and ``reply_markup``
        (as sent: inline, reply keyboard, ...) are always present."""
        views = []
        for stored in self.live_bot_messages(chat_id):
            view = copy.deepcopy(stored.message)
            view["reply_markup"] = copy.deepcopy(stored.markup)
            view.setdefault("text", None)
            views.append(view)
        return views

    def pressable(self, chat_id: int, message_id: int | None) -> dict[str, Any]:
        """For FakeUser.press: the given live bot message, or the latest one with buttons."""
        live = {s.message["message_id"]: s.message for s in self.live_bot_messages(chat_id)}
        if message_id is not None:
            if message_id not in live:
                raise AssertionError(f"no live bot message {message_id} in chat {chat_id}")
            return copy.deepcopy(live[message_id])
        with_buttons = [m for m in live.values() if m.get("reply_markup")]
        if not with_buttons:
            texts = [m.get("text") for m in live.values()]
            raise AssertionError(f"no bot message with inline buttons in {chat_id}; sent: {texts}")
        return copy.deepcopy(with_buttons[-1])
