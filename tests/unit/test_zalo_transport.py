"""ZaloTransport over the seam (bot/zalo/seam.py): any ZaloSender — the Bot API client
today, an Official Account sender later — gets plain numbered text, and its errors become the
outbox's retry categories."""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels.zalo import RETRY_AFTER_429, ZaloTransport
from bot.render import reply_to_json
from bot.workers.outbox import PermanentError, RetryAfter, TransientError
from bot.zalo.client import ZaloError, ZaloPermanent, ZaloTransient, ZaloUnauthorized
from flows.state import Choice, Reply


class RecordingSender:
    """An OA-like sender: records what it is asked to send, or raises `error`."""

    def __init__(self, error: ZaloError | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.photos: list[tuple[str, str]] = []
        self.error = error

    async def send_message(self, chat_id: str, text: str) -> Any:
        if self.error is not None:
            raise self.error
        self.sent.append((chat_id, text))

    async def send_photo(self, chat_id: str, photo: str, caption: str | None = None) -> Any:
        self.photos.append((chat_id, photo))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return True


async def test_any_sender_gets_numbered_plain_text() -> None:
    sender = RecordingSender()
    notice = Reply("📥 Có phiếu mới.", (Choice("Xem", "a"), Choice("Để sau", "b")), kind="notice")
    await ZaloTransport(sender).deliver("u1", reply_to_json(notice))
    assert sender.sent == [("u1", "📥 Có phiếu mới.\n\n1. Xem\n2. Để sau")]


async def test_a_row_too_long_for_one_message_is_split_and_an_edit_is_skipped() -> None:
    sender = RecordingSender()
    text = "\n".join(f"dòng {i} " + "x" * 90 for i in range(50))
    await ZaloTransport(sender).deliver("u1", reply_to_json(Reply(text)))
    assert len(sender.sent) == 3 and all(len(t) <= 2000 for _, t in sender.sent)
    assert "\n".join(t for _, t in sender.sent) == text
    await ZaloTransport(sender).deliver("u1", {"edit": {"message_id": 1, "text": "x"}})
    assert len(sender.sent) == 3  # Zalo cannot edit: nothing sent, nothing raised


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ZaloTransient("sendMessage", 500, "x"), TransientError),
        (ZaloTransient("sendMessage", None, "ClientConnectorError"), TransientError),
        (ZaloTransient("sendMessage", 429, "slow down"), RetryAfter),
        (ZaloPermanent("sendMessage", 400, "user blocked"), PermanentError),
        (ZaloPermanent("sendMessage", -216, "token expired"), PermanentError),
        (ZaloUnauthorized("sendMessage", 401, "bad token"), TransientError),
    ],
)
async def test_sender_errors_become_the_outboxs_categories(
    error: ZaloError, expected: type[Exception]
) -> None:
    with pytest.raises(expected) as caught:
        await ZaloTransport(RecordingSender(error)).deliver("u1", reply_to_json(Reply("x")))
    if expected is RetryAfter:
        assert caught.value.seconds == RETRY_AFTER_429  # type: ignore[attr-defined]
