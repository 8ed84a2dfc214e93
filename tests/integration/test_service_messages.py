"""The service queues one outbox row per message a channel will show.

A reply longer than Telegram's 4096 characters is split when it is queued, into ordered
rows with the buttons on the last, so a failed send of part 2 never sends part 1 again
(the worker side is in tests/e2e/test_telegram_messages.py).
"""

from __future__ import annotations

import json

from bot.render import TEXT_LIMITS, reply_payloads, split_text
from bot.service import Sender
from flows.state import Choice, Incoming, Reply
from storage.repository import Storage
from tests.engine_driver import inline_form
from tests.integration.test_service import make_world

LONG = "Tổng số máy tính được trang bị cho cán bộ, công chức, viên chức. " * 120
FORM = inline_form(
    "sections:\n"
    "  - id: '3'\n"
    "    title: HẠ TẦNG\n"
    "    items:\n"
    f"      - {{id: '3.6', type: yes_no, text: {json.dumps(LONG.strip())}}}\n"
)


async def test_a_long_question_is_queued_as_ordered_parts(storage: Storage) -> None:
    world = await make_world(storage, {FORM.id: FORM})
    sender = Sender("111", "Lan", "vi")
    await world.phieu.handle("telegram", "111", "u1", Incoming(text="/tiep"), sender)
    async with storage.unit() as unit:
        rows = await unit.pending_for_chat("telegram", "111")
    texts = [r.payload["text"] for r in rows]
    assert len(rows) >= 2 and all(len(t) <= TEXT_LIMITS["telegram"] for t in texts)
    assert LONG.strip()[:200] in "\n".join(texts)
    assert [bool(r.payload["choices"]) for r in rows] == [False] * (len(rows) - 1) + [True]
    assert [r.id for r in rows] == sorted(r.id for r in rows)


async def test_the_console_keeps_long_replies_whole(storage: Storage) -> None:
    world = await make_world(storage, {FORM.id: FORM})
    async with storage.unit() as unit:
        await unit.bind_identity(world.lan.id, "console", "c1", "Lan")
    await world.phieu.handle("console", "c1", None, Incoming(text="/tiep"), Sender("c1"))
    async with storage.unit() as unit:
        rows = await unit.pending_for_chat("console", "c1")
    assert len(rows) == 1 and len(rows[0].payload["text"]) > TEXT_LIMITS["telegram"]


def test_reply_payloads_split_at_line_breaks_with_buttons_last() -> None:
    lines = [f"{i:04d}. Mục {i % 8 + 1} — đã kiểm tra" for i in range(400)]
    reply = Reply("\n".join(lines), choices=(Choice("Có", "a|3.6|yes"),), kind="question")
    rows = reply_payloads("telegram", reply)
    assert "\n".join(r["text"] for r in rows).splitlines() == lines
    assert [r["choices"] for r in rows[:-1]] == [[]] * (len(rows) - 1)
    assert rows[-1]["choices"] == [["Có", "a|3.6|yes"]]
    assert all(r["kind"] == "question" for r in rows)
    assert reply_payloads("telegram", Reply("ngắn")) == [
        {"text": "ngắn", "choices": [], "actions": [], "kind": "info", "item": None}
    ]
    assert split_text("x" * 9000, 4096) == ["x" * 4096, "x" * 4096, "x" * 808]
