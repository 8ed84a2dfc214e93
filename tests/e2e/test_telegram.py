"""End to end over real HTTP: our Telegram adapter (aiogram) against the fake Bot API.

The production pieces run unchanged (make_bot, make_dispatcher, make_web_app, run_polling,
the outbox worker, the admin CLI); only the outbox worker's time is virtual where retries
would otherwise make a test wait. Every test ends with no Bot API contract violation.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestServer
from typer.testing import CliRunner

import bot.telegram_app as telegram_app
from bot.channels.telegram import COMMANDS, set_commands
from bot.cli import app as cli_app
from bot.invites import hash_code
from bot.render import reply_to_json
from bot.service import Phieu
from bot.telegram_app import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    make_bot,
    make_dispatcher,
    make_web_app,
    run_polling,
)
from bot.workers.outbox import OutboxWorker
from flows.state import Choice, Reply
from storage.repository import Storage
from tests.e2e.telegram_support import (
    AGENCY_NAME,
    CHANNEL,
    FORM_ID,
    TOKEN,
    WAIT,
    Chat,
    Rig,
    VirtualClock,
    answers_of,
    assert_section_3,
    drain,
    new_invite,
    outbox_counts,
    polling_rig,
    seed_campaign,
    settings_for,
    virtual_worker,
)
from tests.fakes import FakeTelegram
from tests.integration.conftest import PG_URL, _create_schema, _drop_schema
from tests.integration.conftest import storage as storage  # the fixture, re-exported

LAN = 1001
STRANGER = 2002
SECRET = "phieu_webhook_Secret-0123456789"
PUBLIC_URL = "https://phieu.sotttt.example.vn"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def rig(tg: FakeTelegram, storage: Storage) -> AsyncIterator[Rig]:
    async with polling_rig(tg, storage) as r:
        yield r


def pressed_marks(tg: FakeTelegram, chat_id: int) -> list[str]:
    """The "👉 label" lines that button presses added to the bot's messages."""
    return [
        m["text"].rsplit("👉 ", 1)[1] for m in tg.sent(chat_id) if "\n\n👉 " in (m["text"] or "")
    ]


async def invited(rig: Rig, user_id: int = LAN) -> tuple[Chat, int, int]:
    """An official bound through an invite; returns (chat, campaign id, agency id)."""
    agency, campaign = await seed_campaign(rig.storage)
    code = await new_invite(rig.storage, agency.id)
    chat = rig.chat(user_id)
    shown = await chat.start(code)
    assert shown[0].startswith("Chào mừng!"), shown
    return chat, campaign.id, agency.id


# ------------------------------------------------------------------------ 1: section 3
async def test_invited_official_completes_section_3_by_buttons_and_text(
    rig: Rig, storage: Storage
) -> None:
    tg = rig.tg
    agency, campaign = await seed_campaign(storage)
    code = await new_invite(storage, agency.id)
    lan = rig.chat(LAN)

    shown = await lan.start(code)
    assert shown[0] == "Chào mừng! Tài khoản Telegram của anh/chị đã được gắn với cơ quan."
    assert shown[1].startswith("Xin chào Lan!") and AGENCY_NAME in shown[1]
    menu = lan.buttons()
    assert "▶ Tiếp tục" in menu and "◻ Mục 3 — 0/33 · HẠ TẦNG KỸ THUẬT" in menu

    async def expect(shown: list[str], *parts: str) -> None:
        joined = "\n---\n".join(shown)
        for part in parts:
            assert part in joined, f"{part!r} not in {joined!r}"

    await expect(await lan.press("Mục 3"), "Mục 3 · 3.1.a · câu 1/33")
    # wrong inputs: words in a number field, a negative count
    await expect(await lan.say("nhiều lắm"), "❗ Câu này cần một con số", "3.1.a · câu 1/33")
    await expect(await lan.say("-5"), "không nhập số âm", "3.1.a · câu 1/33")
    await expect(await lan.say("40"), "✅ Đã lưu 3.1.a: 40 người", "3.1.b · câu 2/33")
    await expect(await lan.say("10"), "✅ Đã lưu 3.1.b: 10 người", "3.2.a")
    await expect(await lan.say("45"), "3.2.b.1")
    # "1.5" could be 1,5 or 15: the bot asks, the official confirms by button
    await expect(await lan.say("1.5"), "Ý anh/chị là 1,5?")
    assert lan.buttons() == ["✅ Đúng", "✏️ Nhập lại"]
    confirm_id = lan.last()["message_id"]
    await expect(await lan.press("Đúng"), "✅ Đã lưu 3.2.b.1: 1,5 Mbps", "3.2.b.2")
    edited = next(m for m in tg.sent(LAN) if m["message_id"] == confirm_id)
    assert edited["text"].endswith("\n\n👉 ✅ Đúng") and edited["reply_markup"] is None
    await expect(await lan.say("100"), "3.2.b.3")
    await expect(await lan.say("8"), "3.2.b.4")
    await expect(await lan.say("0"), "Giá trị tính được: 515,5")
    await expect(await lan.press("Đúng"), "✅ Đã lưu 3.2.b: 515,5 Mbps", "3.2.c")
    await expect(await lan.press("Đúng"), "✅ Đã lưu 3.2.c: 5,155 Mbps", "3.3")
    await expect(await lan.say("3"), "3.4")
    await expect(await lan.say("5"), "3.5")
    await expect(await lan.say("2"), "3.6 · câu 13/33")
    await expect(await lan.press("Có"), "✅ Đã lưu 3.6: Có", "3.6.a")
    await expect(await lan.say("Mạng truyền số liệu chuyên dùng"), "3.7.a")
    await expect(await lan.press("Có"), "3.7.a.1")
    await expect(await lan.say("0"), "từ 1 trở lên", "3.7.a.1")
    await expect(await lan.say("2"), "3.7.b")
    await expect(await lan.press("Không"), "✅ Đã lưu 3.7.b: Không", "3.7.c")
    await expect(await lan.press("Có"), "3.7.d")
    await expect(await lan.press("Có"), "3.7.đ")
    await expect(await lan.say("50"), "3.8 · câu 21/32")
    await expect(await lan.press("Có"), "3.8.1 (Có)")
    await expect(await lan.press("Có"), "3.8.1 (Số lượng)")
    await expect(await lan.say("1"), "3.8.2 (Có)")
    await expect(await lan.press("Không"), "3.8.3 (Có)")
    await expect(await lan.press("Có"), "3.8.3 (Số lượng)")
    await expect(await lan.say("2"), "3.8.4 (Có)")
    await expect(await lan.press("Không"), "3.8.5 (Có)")
    # The open list 3.8.6 is optional, but it is still asked in Mục 3: no 🎉 before it.
    shown = await lan.press("Không")
    await expect(shown, "3.8.6", "Giải pháp khác")
    assert not any("🎉" in x for x in shown)
    await expect(await lan.say("Ổ đĩa quang; 3"), "Thêm dòng nữa?")
    await expect(await lan.press("Xong"), "🎉 Đã xong Mục 3.", "Mục 4 ·")
    await expect(await lan.press("Menu"), "Xin chào Lan!")
    assert any(b.startswith("✅ Mục 3 — 29/29") for b in lan.buttons()), lan.buttons()

    answers = await answers_of(storage, campaign.id, agency.id)
    assert_section_3(answers)
    # scenario 4 on the way: every press answered, every pressed message marked
    assert len(tg.callback_answers) == lan.presses == 17
    assert len(pressed_marks(tg, LAN)) == lan.presses
    assert (await outbox_counts(storage))["failed"] == 0
    assert tg.violations == []


# ------------------------------------------------------------ 2: strangers and wrong codes
async def test_uninvited_user_is_refused_and_guessing_is_throttled(
    rig: Rig, storage: Storage
) -> None:
    agency, campaign = await seed_campaign(storage, staff=None)
    code = await new_invite(storage, agency.id)
    stranger = rig.chat(STRANGER, "Khách")

    for attempt in ("Xin chào", "/start"):
        shown = await stranger.say(attempt)
        assert len(shown) == 1 and "chỉ dành cho cán bộ được mời" in shown[0]
        assert "Sở Thông tin và Truyền thông" in shown[0] and "mã mời" in shown[0]

    wrong = ["sai", "A" * 32, "khong-co-ma-nay-0123456789", "x" * 70, hash_code(code)[:32]]
    for bad in wrong:
        shown = await stranger.start(bad)
        assert shown == [
            "Mã mời không đúng, đã dùng hết hoặc đã hết hạn. Vui lòng liên hệ Sở TTTT để "
            "nhận mã mới."
        ]
    shown = await stranger.start(code)  # right, but too late: five failures this hour
    assert len(shown) == 1 and "thử quá nhiều lần" in shown[0] and "Sở TTTT" in shown[0]

    async with storage.unit() as unit:
        assert await unit.identity(CHANNEL, str(STRANGER)) is None
        assert await unit.users_with_role("official") == []
        assert await unit.list_submissions(campaign.id) == []
        (invite,) = await unit.list_invites()
        assert invite.uses_left == 1  # the throttled right code was not spent
    assert rig.tg.violations == []


# ------------------------------------------------------------------- 3: a stale button
async def test_stale_button_is_answered_politely_and_changes_nothing(
    rig: Rig, storage: Storage
) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    shown = await lan.say("/sua 3.6")
    assert "3.6 · câu 13/33" in shown[-1] and lan.buttons()[:2] == ["Có", "Không"]
    old = lan.last()
    shown = await lan.say("có")  # typed, so the question keeps its buttons
    # one message per answer: the ack and the next question together
    assert shown[0].startswith("✅ Đã lưu 3.6: Có\n\n") and "3.6.a" in shown[-1]

    answered_before = len(rig.tg.callback_answers)
    shown = await lan.press_on(old["message_id"], "Không")
    assert shown[0].startswith("Nút này thuộc một tin nhắn cũ. Đây là câu hỏi hiện tại:\n\n")
    assert "3.6.a" in shown[-1]
    assert len(rig.tg.callback_answers) == answered_before + 1
    still = next(m for m in rig.tg.sent(LAN) if m["message_id"] == old["message_id"])
    assert still["text"] == old["text"] and still["reply_markup"] == old["reply_markup"]
    assert (await answers_of(storage, campaign_id, agency_id))["3.6"] is True
    async with storage.unit() as unit:
        sub = await unit.submission(campaign_id, agency_id)
        assert [h.new.value for h in await unit.answer_history(sub.id, "3.6") if h.new] == [True]
    assert rig.tg.violations == []


# ------------------------------------------------------- 4: answered and marked presses
async def test_every_press_is_answered_and_marks_the_pressed_message(rig: Rig) -> None:
    lan, _, _ = await invited(rig)
    tg = rig.tg
    for label in ("Mục 7", "Menu", "Mục 3", "Quay lại", "Bỏ qua", "Menu", "❓ Trợ giúp"):
        pressed = lan.tg.chats.pressable(LAN, None)
        await lan.press(label)
        after = next(m for m in tg.sent(LAN) if m["message_id"] == pressed["message_id"])
        assert after["text"].startswith(pressed["text"]) and "\n\n👉 " in after["text"]
        assert label in after["text"].rsplit("👉 ", 1)[1]
        assert after["reply_markup"] is None  # the pressed keyboard is gone
    assert len(tg.callback_answers) == lan.presses == 7
    edits = tg.calls_to("editMessageText")
    assert len(edits) == 7 and all("👉" in e["text"] for e in edits)
    assert tg.violations == []


# -------------------------------------------------------------------- 5: 429 storm
async def test_outbox_rides_out_429_502_and_dropped_connections(
    tg: FakeTelegram, storage: Storage
) -> None:
    bot = make_bot(settings_for(tg))
    clock = VirtualClock()
    worker = virtual_worker(storage, bot, clock)
    chats = {
        3001: [f"Tin {i} cho Lan" for i in range(1, 7)],
        3002: [f"Tin {i} cho Minh" for i in range(1, 7)],
    }
    tg.user(3001, "Lan")
    tg.user(3002, "Minh")
    async with storage.unit() as unit:
        for i in range(6):  # interleaved, as two busy chats would queue them
            for chat_id, texts in chats.items():
                await unit.enqueue(CHANNEL, str(chat_id), reply_to_json(Reply(texts[i])))
    tg.drop_connections_next("sendMessage")
    tg.fail_next("sendMessage", count=5, status=429, retry_after=1)
    tg.fail_next("sendMessage", status=502)
    transport = worker.transports[CHANNEL]
    deliver, sent_at = transport.deliver, []  # virtual time of each attempt

    async def timed(chat_id: str, payload: dict[str, Any]) -> None:
        sent_at.append(clock.seconds)
        await deliver(chat_id, payload)

    transport.deliver = timed  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await drain(storage, clock, worker)
    finally:
        await bot.session.close()

    statuses = [c.status for c in tg.call_log if c.method == "sendMessage"]
    assert statuses[:7] == [0, 429, 429, 429, 429, 429, 502]
    assert statuses.count(200) == 12
    for chat_id, texts in chats.items():
        assert [m["text"] for m in tg.sent(chat_id)] == texts  # once each, in order
    counts = await outbox_counts(storage)
    assert counts["sent"] == 12 and counts["failed"] == 0 and counts["pending"] == 0
    # after each 429 the worker kept quiet for retry_after (virtual) seconds
    assert len(sent_at) == len(statuses)
    for i, status in enumerate(statuses[:-1]):
        if status == 429:
            assert sent_at[i + 1] - sent_at[i] >= 1.0, (i, sent_at)
    assert loop.time() - started < 5
    assert tg.violations == []


# --------------------------------------------------------------------- 6: webhook
async def test_webhook_server_checks_secret_and_answers_updates(storage: Storage) -> None:
    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        settings = settings_for(tg, webhook=True, PUBLIC_URL=PUBLIC_URL, WEBHOOK_SECRET=SECRET)
        bot = make_bot(settings)
        clock = VirtualClock()
        worker = virtual_worker(storage, bot, clock)
        server = TestServer(
            make_web_app(settings, storage, bot, with_worker=False), host="127.0.0.1"
        )
        await server.start_server()
        try:
            await run_webhook_scenario(tg, storage, server, worker, clock)
        finally:
            await server.close()
        assert tg.violations == []


async def run_webhook_scenario(
    tg: FakeTelegram,
    storage: Storage,
    server: TestServer,
    worker: OutboxWorker,
    clock: VirtualClock,
) -> None:
    (hook,) = tg.calls_to("setWebhook")
    assert hook["url"] == f"{PUBLIC_URL}/telegram/webhook"
    assert hook["secret_token"] == SECRET
    assert hook["allowed_updates"] == ALLOWED_UPDATES
    assert [c["command"] for c in tg.commands()] == [c for c, _ in COMMANDS["vi"]]
    assert [c["command"] for c in tg.commands(language_code="en")] == [c for c, _ in COMMANDS["en"]]

    # The TLS front end forwards PUBLIC_URL to this server: point the fake's pushes at it.
    local = str(server.make_url("/telegram/webhook"))
    async with admin_bot(tg) as admin:
        assert await admin.set_webhook(local, secret_token=SECRET, allowed_updates=ALLOWED_UPDATES)

    agency, _ = await seed_campaign(storage)
    code = await new_invite(storage, agency.id)
    lan = tg.user(LAN, "Lan")
    await lan.start(code)
    assert await tg.deliver_webhook_once() == 1
    await drain(storage, clock, worker)
    texts = [m["text"] for m in tg.sent(LAN)]
    assert texts[0].startswith("Chào mừng!") and texts[1].startswith("Xin chào Lan!")

    await lan.press("Mục 3")
    assert await tg.deliver_webhook_once() == 1
    await drain(storage, clock, worker)
    assert len(tg.callback_answers) == 1
    assert tg.last_sent(LAN)["text"].startswith("Mục 3 · 3.1.a")
    assert all(d["status"] == 200 for d in tg.webhook_deliveries)

    # Forged requests: same URL, a wrong or no secret → 401, nothing handled or queued.
    update = await lan.send_text("42")
    before = (await outbox_counts(storage), len(tg.sent(LAN)))
    async with aiohttp.ClientSession() as http:
        for headers in ({SECRET_HEADER: SECRET[:-1] + "x"}, {SECRET_HEADER: ""}, {}):
            async with http.post(local, json=update, headers=headers) as resp:
                assert resp.status == 401
        async with http.get(server.make_url("/healthz")) as resp:
            assert resp.status == 200
            health = await resp.json()
            assert health["status"] == "ok" and health["outbox"]["pending"] == 0
    await drain(storage, clock, worker)
    assert (await outbox_counts(storage), len(tg.sent(LAN))) == before
    # The genuine delivery of that very update is still new to the bot, so it is handled.
    assert await tg.deliver_webhook_once() == 1
    await drain(storage, clock, worker)
    assert any(m["text"].startswith("✅ Đã lưu 3.1.a: 42 người") for m in tg.sent(LAN))


def admin_bot(tg: FakeTelegram) -> Bot:
    return Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))


# ------------------------------------------------------- 7: two workers on PostgreSQL
@pytest.fixture
async def pg_pair() -> AsyncIterator[tuple[Storage, Storage]]:
    """Two Storage objects (two connection pools, as two processes) on one schema."""
    schema = await _create_schema()
    opts: dict[str, Any] = {"connect_args": {"server_settings": {"search_path": schema}}}
    try:
        first = await Storage.open(PG_URL, **opts)
        second = await Storage.open(PG_URL, **opts)
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()
    finally:
        await _drop_schema(schema)


@pytest.mark.postgres
async def test_two_processes_on_postgresql_handle_and_send_everything_once(
    tg: FakeTelegram, pg_pair: tuple[Storage, Storage]
) -> None:
    stores = pg_pair
    bots = [make_bot(settings_for(tg)) for _ in stores]
    dps = [make_dispatcher(Phieu(s)) for s in stores]
    clock = VirtualClock()
    workers = [virtual_worker(s, b, clock) for s, b in zip(stores, bots, strict=True)]
    for w in workers:
        w.batch = 2  # small batches, so both workers take part in every drain
    try:
        await _two_processes(tg, stores, bots, dps, workers, clock)
    finally:
        for b in bots:
            await b.session.close()
    assert tg.violations == []


async def _two_processes(
    tg: FakeTelegram,
    stores: tuple[Storage, Storage],
    bots: list[Bot],
    dps: list[Any],
    workers: list[OutboxWorker],
    clock: VirtualClock,
) -> None:
    main = stores[0]
    _, campaign = await seed_campaign(main, staff=None)
    users, agencies, codes = [], [], []
    async with main.unit() as unit:
        for n in range(3):
            agencies.append(await unit.add_agency(f"SO{n}", f"Sở số {n}", "so"))
    for n, agency in enumerate(agencies):
        codes.append(await new_invite(main, agency.id))
        users.append(tg.user(4001 + n, f"Cán bộ {n}"))

    offset = 0

    async def both_handle() -> int:
        """Fetch what Telegram holds, feed the SAME updates to both processes at once."""
        nonlocal offset
        updates = await bots[0].get_updates(offset=offset, timeout=0)
        assert updates
        offset = updates[-1].update_id + 1

        async def process(i: int) -> None:
            for update in updates:
                await dps[i].feed_update(bots[i], update)

        await asyncio.gather(process(0), process(1))
        await drain(main, clock, *workers)
        return len(updates)

    rounds: list[tuple[str, Any]] = [
        ("start", None),
        ("press", "Mục 3"),
        ("say", "40"),
        ("say", "nhiều"),
        ("say", "10"),
        ("say", "45"),
        ("say", "1.5"),
        ("press", "Đúng"),
    ]
    for kind, arg in rounds:
        for n, user in enumerate(users):
            if kind == "start":
                await user.start(codes[n])
            elif kind == "press":
                await user.press(arg)
            else:
                await user.send_text(arg)
        assert await both_handle() == len(users)
    await bots[0].get_updates(offset=offset, timeout=0)  # confirm the last batch

    for n, (user, agency) in enumerate(zip(users, agencies, strict=True)):
        texts = [m["text"] for m in tg.sent(user.chat_id)]
        assert texts[0].startswith("Chào mừng!") and texts[1].startswith(f"Xin chào Cán bộ {n}!")
        assert sum(t.startswith("✅ Đã lưu 3.1.a: 40 người") for t in texts) == 1
        assert sum("Câu này cần một con số" in t for t in texts) == 1
        assert "\n\nMục 3 · 3.2.b.2" in texts[-1], texts[-1]
        # welcome, menu, then one message per update (an answer with the next question)
        assert len(texts) == 9, texts
        assert len(pressed_marks(tg, user.chat_id)) == 2
        async with main.unit() as unit:
            sub = await unit.submission(campaign.id, agency.id)
            history = await unit.answer_history(sub.id)
            assert [h.item_id for h in history] == ["3.1.a", "3.1.b", "3.2.a", "3.2.b.1"]
            assert [h.new.value for h in history if h.new] == [40, 10, 45, 1.5]
    async with main.unit() as unit:
        officials = await unit.users_with_role("official")
    assert sorted(len(ids) for _, ids in officials) == [1, 1, 1]
    counts = await outbox_counts(main)
    sent_or_edited = [c for c in tg.call_log if c.method in ("sendMessage", "editMessageText")]
    assert counts["sent"] == len(sent_or_edited) == 3 * (9 + 2)  # 9 messages, 2 edits each
    assert len(tg.callback_answers) == 2 * len(users)  # each press answered exactly once

    # A burst for several chats, drained by both workers at once: once each, in order.
    burst = {4001 + n: [f"Thông báo {n}.{i}" for i in range(8)] for n in range(3)}
    async with main.unit() as unit:
        for i in range(8):
            for chat_id, texts in burst.items():
                await unit.enqueue(CHANNEL, str(chat_id), reply_to_json(Reply(texts[i])))
    claimed_by = [0, 0]

    async def counting(i: int) -> int:
        n = await OutboxWorker.run_once(workers[i])
        claimed_by[i] += n
        return n

    for i, w in enumerate(workers):
        w.run_once = lambda i=i: counting(i)  # type: ignore[method-assign]
    await drain(main, clock, *workers)
    for chat_id, texts in burst.items():
        got = [m["text"] for m in tg.sent(chat_id) if m["text"].startswith("Thông báo")]
        assert got == texts
    assert all(claimed_by), claimed_by  # both workers really sent some
    assert (await outbox_counts(main))["failed"] == 0


# ------------------------------------------------------------- 8: commands, run_polling
async def test_set_commands_in_vietnamese_and_english(tg: FakeTelegram) -> None:
    async with admin_bot(tg) as bot:
        await set_commands(bot)
    vi = tg.commands()
    en = tg.commands(language_code="en")
    assert [(c["command"], c["description"]) for c in vi] == COMMANDS["vi"]
    assert [(c["command"], c["description"]) for c in en] == COMMANDS["en"]
    assert any(c["description"] == "Nộp phiếu" for c in vi)
    assert any(c["description"] == "Submit the form" for c in en)
    assert tg.violations == []


async def test_run_polling_wires_commands_polling_and_worker(
    tg: FakeTelegram, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatchers = []

    def capture(phieu: Phieu, *sender: Any) -> Any:
        dp = make_dispatcher(phieu, *sender)
        dispatchers.append(dp)
        return dp

    monkeypatch.setattr(telegram_app, "make_dispatcher", capture)
    task = asyncio.create_task(run_polling(settings_for(tg), storage))
    try:
        first_poll = await tg.wait_for_call("getUpdates", answered=False, timeout=WAIT)
        assert first_poll.params.get("allowed_updates") == ALLOWED_UPDATES
        assert tg.calls_to("deleteWebhook") == [{"drop_pending_updates": False}]
        assert [c for c, _ in COMMANDS["en"]] == [
            c["command"] for c in tg.commands(language_code="en")
        ]
        assert len(tg.commands()) == len(COMMANDS["vi"])
        stranger = tg.user(STRANGER, "Khách")
        await stranger.send_text("Xin chào")
        await tg.wait_for_call("sendMessage", timeout=WAIT)  # the real reply sender sent it
        assert "Sở Thông tin và Truyền thông" in tg.last_sent(STRANGER)["text"]
    finally:
        try:
            await asyncio.wait_for(dispatchers[0].stop_polling(), WAIT)
        except (IndexError, RuntimeError):  # it failed before polling started
            task.cancel()
        await asyncio.wait_for(task, WAIT)
    assert (await outbox_counts(storage))["sent"] == 1
    assert tg.violations == []


# ------------------------------------------------------------------- 9: the admin CLI
def invoke(*args: str, env: dict[str, str | None] | None = None) -> Any:
    result = CliRunner().invoke(cli_app, list(args), env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_admin_cli_agencies_campaigns_and_invites(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    year = datetime.now(UTC).year + 1
    r = invoke("agencies", "add", "--code", "STTTT", "--name", AGENCY_NAME, "--cohort", "so",
               "--db", str(db))  # fmt: skip
    assert r.exit_code == 0 and "Đã thêm STTTT" in r.output
    r = invoke("agencies", "list", "--db", str(db))
    assert r.exit_code == 0 and r.output.strip() == f"STTTT\tso\t{AGENCY_NAME}"

    r = invoke(
        "campaign", "open", "--form", FORM_ID, "--deadline", f"26/11/{year}", "--year", str(year),
        "--db", str(db),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"{FORM_ID} v1, năm báo cáo {year}, hạn 26/11/{year}" in r.output
    r = invoke("campaign", "list", "--db", str(db))
    assert r.exit_code == 0
    assert r.output.startswith(f"#1\t{FORM_ID} v1\tnăm {year}\thạn 26/11/{year}\tđang mở")

    r = invoke(
        "invite", "create", "--agency", "STTTT", "--role", "official", "--uses", "2",
        "--expires", f"31/12/{year}", "--bot", "phieu_bot", "--db", str(db),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    code = re.search(r"Mã mời: (\S+)", r.output).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", code)  # ≥ 128 bits, deep-link safe
    assert f"Link: https://t.me/phieu_bot?start={code}" in r.output
    assert f"hết hạn 31/12/{year} 23:59" in r.output
    files = [p for p in tmp_path.iterdir() if p.name.startswith("phieu.db")]
    assert files and all(code.encode() not in p.read_bytes() for p in files)
    invites = asyncio.run(_invites(db))
    assert [i.code_hash for i in invites] == [hashlib.sha256(code.encode()).hexdigest()]

    r = invoke("invite", "list", "--db", str(db))
    assert r.exit_code == 0
    assert r.output.startswith(f"#1\t{invites[0].code_hash[:8]}…\tSTTTT\tofficial")
    assert "còn 2 lần" in r.output and "còn hiệu lực" in r.output and code not in r.output

    # The code works in Telegram until it is revoked.
    assert asyncio.run(_use_code(db, code, 5001))[0].startswith("Chào mừng!")
    r = invoke("invite", "revoke", "1", "--db", str(db))
    assert r.exit_code == 0 and r.output.strip() == "Đã thu hồi mã mời #1."
    assert asyncio.run(_use_code(db, code, 5002)) == [
        "Mã mời không đúng, đã dùng hết hoặc đã hết hạn. Vui lòng liên hệ Sở TTTT để nhận mã mới."
    ]
    r = invoke("invite", "list", "--db", str(db))
    assert "còn 1 lần" in r.output and "đã thu hồi" in r.output
    r = invoke("invite", "revoke", "1", "--db", str(db))
    assert r.exit_code == 1 and "Không có mã mời #1 còn hiệu lực." in r.output


async def _invites(db: Path) -> list[Any]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as unit:
            return await unit.list_invites()
    finally:
        await storage.close()


async def _use_code(db: Path, code: str, user_id: int) -> list[str]:
    """Someone opens the invite link in Telegram: what the bot answers."""
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        # a new fake would restart update ids, which the database has seen: start elsewhere
        fake = FakeTelegram(token=TOKEN, first_update_id=user_id * 1000)
        async with fake as tg, polling_rig(tg, storage) as rig:
            shown = await rig.chat(user_id, "Hoa").start(code)
            assert tg.violations == []
            return shown
    finally:
        await storage.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("agencies", "add", "--code", "X", "--name", "Y", "--cohort", "abc"),
            "Nhóm «abc» không có; ghi Sở, Huyện hoặc Xã.",
        ),
        (
            ("campaign", "open", "--form", FORM_ID, "--deadline", "31/02/2026"),
            "--deadline: Ngày không hợp lệ: '31/02/2026'",
        ),
        (
            ("campaign", "open", "--form", "khong-co", "--deadline", "26/11/2026"),
            "Không có mẫu phiếu 'khong-co'",
        ),
        (("invite", "create", "--agency", "KHONGCO"), "Không có cơ quan mã 'KHONGCO'"),
        (("invite", "create", "--agency", "STTTT", "--expires", "31/02/2026"), "Ngày không hợp lệ"),
        (("invite", "create", "--agency", "STTTT", "--role", "vua"), "--role phải là một trong"),
        (("invite", "create", "--agency", "STTTT", "--uses", "0"), "--uses phải ≥ 1"),
        (
            ("agencies", "add", "--code", "STTTT", "--name", "Trùng", "--cohort", "so"),
            "Không thêm: mã STTTT đã có cơ quan STTTT",
        ),
    ],
)
def test_admin_cli_refuses_bad_input_in_vietnamese(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    db = str(tmp_path / "phieu.db")
    invoke(
        "agencies", "add", "--code", "STTTT", "--name", AGENCY_NAME, "--cohort", "so", "--db", db
    )
    r = invoke(*args, "--db", db)
    assert r.exit_code != 0 and message in r.output, r.output
    assert asyncio.run(_invites(Path(db))) == []


_NO_ENV: dict[str, str | None] = dict.fromkeys(
    (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_BASE",
        "PUBLIC_URL",
        "WEBHOOK_SECRET",
        "DATABASE_URL",
        "PORT",
    )
)


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        (["run", "telegram"], {}, "Thiếu TELEGRAM_BOT_TOKEN"),
        (
            ["run", "telegram"],
            {"TELEGRAM_BOT_TOKEN": "123:abc"},
            "TELEGRAM_BOT_TOKEN sai định dạng",
        ),
        (["serve"], {}, "Thiếu TELEGRAM_BOT_TOKEN"),
        (["serve"], {"TELEGRAM_BOT_TOKEN": "bad token"}, "TELEGRAM_BOT_TOKEN sai định dạng"),
        (["serve"], {"TELEGRAM_BOT_TOKEN": TOKEN, "WEBHOOK_SECRET": SECRET}, "Thiếu PUBLIC_URL"),
        (
            ["serve"],
            {"TELEGRAM_BOT_TOKEN": TOKEN, "PUBLIC_URL": PUBLIC_URL},
            "Thiếu WEBHOOK_SECRET",
        ),
        (
            ["serve"],
            {"TELEGRAM_BOT_TOKEN": TOKEN, "PUBLIC_URL": "http://x.vn", "WEBHOOK_SECRET": SECRET},
            "PUBLIC_URL không hợp lệ",
        ),
        (["worker"], {"TELEGRAM_BOT_TOKEN": ""}, "Thiếu TELEGRAM_BOT_TOKEN"),
    ],
)
def test_cli_configuration_errors_exit_2_without_traceback(
    command: list[str], env: dict[str, str], message: str
) -> None:
    r = invoke(*command, env=_NO_ENV | env)
    assert r.exit_code == 2, r.output
    assert "Lỗi cấu hình" in r.output and message in r.output
    assert TOKEN not in r.output and SECRET not in r.output  # secrets never echoed


async def test_unexpected_api_errors_are_retried_not_fatal(
    tg: FakeTelegram, storage: Storage
) -> None:
    """401/404 (a token being rotated, a proxy misrouting) must not crash the batch or leave
    rows stuck in "sending": they are retried with backoff like other transient errors."""
    bot = make_bot(settings_for(tg))
    clock = VirtualClock()
    worker = virtual_worker(storage, bot, clock)
    texts = {3101: ["Một", "Hai"], 3102: ["Ba", "Bốn"]}
    async with storage.unit() as unit:
        for chat_id, chat_texts in texts.items():
            tg.user(chat_id, "Lan")
            for text in chat_texts:
                await unit.enqueue(CHANNEL, str(chat_id), reply_to_json(Reply(text)))
    tg.fail_next("sendMessage", status=404)
    tg.fail_next("sendMessage", status=401)
    try:
        await drain(storage, clock, worker)
    finally:
        await bot.session.close()
    for chat_id, chat_texts in texts.items():
        assert [m["text"] for m in tg.sent(chat_id)] == chat_texts
    assert (await outbox_counts(storage))["sent"] == 4
    assert tg.violations == []


async def test_a_broken_outbox_row_fails_alone_after_retries(
    tg: FakeTelegram, storage: Storage
) -> None:
    bot = make_bot(settings_for(tg))
    clock = VirtualClock()
    worker = virtual_worker(storage, bot, clock)
    tg.user(3201, "Lan")
    tg.user(3202, "Minh")
    async with storage.unit() as unit:
        broken = await unit.enqueue(CHANNEL, "3201", {"edit": {"text": "no message id"}})
        await unit.enqueue(CHANNEL, "3201", reply_to_json(Reply("Sau tin hỏng")))
        await unit.enqueue(CHANNEL, "3202", reply_to_json(Reply("Chat khác")))
    try:
        await drain(storage, clock, worker)
    finally:
        await bot.session.close()
    assert [m["text"] for m in tg.sent(3202)] == ["Chat khác"]
    assert [m["text"] for m in tg.sent(3201)] == ["Sau tin hỏng"]
    async with storage.unit() as unit:
        row = await unit.outbox_row(broken)
    assert row is not None and row.status == "failed" and "KeyError" in (row.last_error or "")
    assert tg.violations == []


async def test_long_reply_is_split_with_the_keyboard_on_the_last_part(
    tg: FakeTelegram, storage: Storage
) -> None:
    bot = make_bot(settings_for(tg))
    clock = VirtualClock()
    worker = virtual_worker(storage, bot, clock)
    tg.user(3301, "Lan")
    lines = [f"{i:04d}. Tổng hợp câu trả lời của mục {i % 8 + 1} — đã kiểm tra" for i in range(200)]
    reply = Reply("\n".join(lines), choices=(Choice("📤 Nộp phiếu", "c||submit"),))
    async with storage.unit() as unit:
        await unit.enqueue(CHANNEL, "3301", reply_to_json(reply))
    try:
        await drain(storage, clock, worker)
    finally:
        await bot.session.close()
    parts = tg.sent(3301)
    assert len(parts) == 3 and all(len(p["text"]) <= 4096 for p in parts)
    assert "\n".join(p["text"] for p in parts).splitlines() == lines  # cut at line breaks
    assert [p["reply_markup"] is not None for p in parts] == [False, False, True]
    assert tg.violations == []
