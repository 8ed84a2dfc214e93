"""The chat one update is handled for, inside its unit of work (bot/service.py opens it,
bot/review/desk.py acts in it too): what every step of handling that update needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.render import reply_payloads
from flows.state import Reply
from storage.repository import Unit


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """The unit of work, the channel and chat, and the chat's conversation row (locked by
    the service for the whole unit)."""

    unit: Unit
    channel: str
    chat_id: str
    conv_id: int

    async def send(self, replies: Iterable[Reply]) -> None:
        """Queue `replies` to this chat: one outbox row per message the channel shows
        (bot/render.py reply_payloads), sent after the commit."""
        payloads = [p for r in replies for p in reply_payloads(self.channel, r)]
        await self.unit.enqueue_many(self.channel, self.chat_id, payloads)
