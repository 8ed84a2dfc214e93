"""Telegram as it really behaves, end to end over HTTP against the fake Bot API.

Officials edit sent messages, send links hidden behind words, albums of photos, files with
captions, paste texts longer than one message, and buttons can arrive from the wrong chat.
Each test drives the real adapter (long polling, the outbox worker) with updates the fake
builds and checks against the Bot API contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.render import reply_payloads
from flows.state import Choice, Reply
from storage.repository import Storage
from tests.e2e.telegram_support import (
    CHANNEL,
    TOKEN,
    Chat,
    Rig,
    VirtualClock,
    drain,
    outbox_counts,
    polling_rig,
    virtual_worker,
)
from tests.e2e.test_telegram import LAN, invited
from tests.fakes import FakeTelegram
from tests.fakes.telegram_users import split_like_the_app, utf16_len
from tests.integration.conftest import storage as storage  # the fixture, re-exported

MINH = 1002


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def rig(tg: FakeTelegram, storage: Storage) -> AsyncIterator[Rig]:
    async with polling_rig(tg, storage) as r:
        yield r


async def act_all(chat: Chat, updates: list[dict[str, Any]]) -> list[str]:
    """Several updates at once (an album, a split text): wait for the last, then send."""
    before = len(chat.tg.sent(chat.user.chat_id))
    await chat.polling.handled(updates[-1])
    await drain(chat.storage, chat.clock, chat.worker)
    return [m["text"] for m in chat.tg.sent(chat.user.chat_id)[before:]]


async def evidence_of(storage: Storage, campaign_id: int, agency_id: int, item: str) -> Any:
    async with storage.unit() as unit:
        sub = await unit.submission(campaign_id, agency_id)
        return (await unit.load_answers(sub.id))[item].evidence


async def value_of(storage: Storage, campaign_id: int, agency_id: int, item: str) -> Any:
    async with storage.unit() as unit:
        sub = await unit.submission(campaign_id, agency_id)
        answer = (await unit.load_answers(sub.id)).get(item)
        return None if answer is None else answer.value


# ------------------------------------------------------------------------------- edits
async def test_editing_the_latest_answer_re_answers_and_older_edits_explain(
    rig: Rig, storage: Storage
) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 3.1.a")
    typed = await lan.user.send_text("40")
    shown = await lan.act(typed)
    assert shown[0].startswith("✅ Đã lưu 3.1.a: 40 người\n")  # with the next question

    shown = await lan.act(await lan.user.edit(typed, "45"))
    assert shown[0].startswith("✅ Đã lưu 3.1.a: 45 người\n") and "3.1.b" in shown[-1]
    assert await value_of(storage, campaign_id, agency_id, "3.1.a") == 45

    await lan.say("10")  # 3.1.b: the latest answer now
    shown = await lan.act(await lan.user.edit(typed, "50"))
    assert len(shown) == 1 and shown[0].startswith("✏️ Phiếu không đổi câu trả lời")
    assert "/sua" in shown[0]
    assert await value_of(storage, campaign_id, agency_id, "3.1.a") == 45
    async with storage.unit() as unit:
        sub = await unit.submission(campaign_id, agency_id)
        history = [h.new.value for h in await unit.answer_history(sub.id, "3.1.a") if h.new]
    assert history == [40, 45]
    assert rig.tg.violations == []


def test_polling_and_webhook_ask_telegram_for_edited_messages() -> None:
    from bot.telegram_app import ALLOWED_UPDATES

    assert "edited_message" in ALLOWED_UPDATES  # the fake drops what was not asked for
    assert {"message", "callback_query"} <= set(ALLOWED_UPDATES)


# ------------------------------------------------------------------------ hidden links
async def test_a_hidden_link_counts_as_its_url(rig: Rig, storage: Storage) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 1.5")  # the agency's website (a URL item)
    shown = await lan.act(await lan.user.send_link("link", "https://sotttt.binhdinh.gov.vn"))
    assert "✅ Đã lưu 1.5: https://sotttt.binhdinh.gov.vn" in shown[0]

    await lan.say("/sua 8.1")
    await lan.press("Có")
    text = "Kế hoạch 12/KH-UBND; 15/01/2019; xem tại đây"
    url = "https://sotttt.binhdinh.gov.vn/ke-hoach-12"
    shown = await lan.act(await lan.user.send_link(text, url, words="đây"))
    assert any(
        s.startswith("📎 Đã lưu minh chứng cho 8.1: số 12/KH-UBND, ngày 15/01/2019") and url in s
        for s in shown
    )
    evidence = await evidence_of(storage, campaign_id, agency_id, "8.1")
    assert evidence["link"] == url and evidence["number"] == "12/KH-UBND"
    assert rig.tg.violations == []


# ------------------------------------------------------------------- captions, albums
async def test_a_file_with_a_caption_fills_number_date_and_link(rig: Rig, storage: Storage) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 8.2")
    await lan.press("Có")
    caption = "12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/kh-12"
    update = await lan.user.send_document(
        file_id="BQACAgIAAxkDOC1", file_name="kh-12.pdf", mime_type="application/pdf",
        caption=caption,
    )  # fmt: skip
    shown = await lan.act(update)
    assert shown[0].startswith(
        "📎 Đã lưu minh chứng cho 8.2: kh-12.pdf, số 12/KH-UBND, ngày 15/01/2019, "
        "https://sotttt.binhdinh.gov.vn/kh-12\n"
    )
    evidence = await evidence_of(storage, campaign_id, agency_id, "8.2")
    assert evidence["file"]["file_name"] == "kh-12.pdf"
    assert evidence["number"] == "12/KH-UBND"
    assert evidence["link"] == "https://sotttt.binhdinh.gov.vn/kh-12"
    assert "15" in str(evidence["date"]) and "2019" in str(evidence["date"])
    assert rig.tg.violations == []


async def test_an_album_at_an_evidence_prompt_is_kept_whole_with_one_reply(
    rig: Rig, storage: Storage
) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 8.1")
    await lan.press("Có")
    files = [{"photo": f"AgACAgIAAxkBAAIB{n}"} for n in range(1, 4)]
    files.append({"document": "BQACAgIAAxkBAAIB9", "file_name": "kh.pdf"})
    updates = await lan.user.send_album(files, caption="12/KH-UBND; 15/01/2019")
    assert len(updates) == 4 and len({u["message"]["media_group_id"] for u in updates}) == 1
    shown = await act_all(lan, updates)
    acks = [s for s in shown if s.startswith("📎 Đã lưu minh chứng cho 8.1: ")]
    # Acknowledged with the first file (the others join it silently, kept below).
    assert len(acks) == 1 and ": photo, số 12/KH-UBND, ngày 15/01/2019\n" in acks[0]
    # One message: the acknowledgement with the next question.
    assert "8.2" in shown[-1] and len(shown) == 1
    evidence = await evidence_of(storage, campaign_id, agency_id, "8.1")
    kept = [f["file_id"] for f in evidence["files"]]
    assert kept == [*(f["photo"] for f in files[:3]), files[3]["document"]]
    assert evidence["number"] == "12/KH-UBND"
    assert await value_of(storage, campaign_id, agency_id, "8.2") is None
    assert rig.tg.violations == []


# ---------------------------------------------------------------- long text, split
async def test_the_second_part_of_a_text_split_by_the_app_is_not_saved_alone(
    rig: Rig, storage: Storage
) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 3.6")
    await lan.press("Có")  # 3.6.a: free text
    pasted = "Hệ thống mạng nội bộ kết nối các phòng ban và đơn vị trực thuộc. " * 70
    pasted += "Mạng truyền số liệu chuyên dùng"
    parts = split_like_the_app(pasted)
    assert len(parts) == 2 and utf16_len(parts[0]) <= 4096 < utf16_len(pasted)
    shown = await act_all(lan, await lan.user.send_long_text(pasted))
    assert sum(s.startswith("✂️") for s in shown) == 1
    assert any(s.startswith("❗") for s in shown)  # part 1: too long for an answer
    assert await value_of(storage, campaign_id, agency_id, "3.6.a") is None
    shown = await lan.say("Mạng truyền số liệu chuyên dùng")  # a fresh, short answer after
    assert shown[0].startswith("✅ Đã lưu 3.6.a: Mạng truyền số liệu chuyên dùng\n")
    assert rig.tg.violations == []


# ------------------------------------------------------------------ split replies
async def test_a_429_on_part_2_of_a_long_reply_does_not_resend_part_1(
    tg: FakeTelegram, storage: Storage
) -> None:
    from bot.telegram_app import make_bot
    from tests.e2e.telegram_support import settings_for

    bot = make_bot(settings_for(tg))
    clock = VirtualClock()
    worker = virtual_worker(storage, bot, clock)
    tg.user(3401, "Lan")
    lines = [f"{i:04d}. Tổng hợp câu trả lời của mục {i % 8 + 1} — đã kiểm tra" for i in range(200)]
    reply = Reply("\n".join(lines), choices=(Choice("📤 Nộp phiếu", "c||submit"),))
    payloads = reply_payloads(CHANNEL, reply)  # what the service queues for one reply
    assert len(payloads) == 3
    async with storage.unit() as unit:
        await unit.enqueue_many(CHANNEL, "3401", payloads)
    transport = worker.transports[CHANNEL]
    deliver, calls = transport.deliver, 0

    async def flaky(chat_id: str, payload: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # part 2: Telegram is busy
            tg.fail_next("sendMessage", status=429, retry_after=3)
        if calls == 4:  # part 3: the connection drops
            tg.drop_connections_next("sendMessage")
        await deliver(chat_id, payload)

    transport.deliver = flaky  # type: ignore[method-assign]
    try:
        await drain(storage, clock, worker)
    finally:
        await bot.session.close()
    statuses = [c.status for c in tg.call_log if c.method == "sendMessage"]
    assert statuses == [200, 429, 200, 0, 200]
    parts = tg.sent(3401)
    assert [p["text"] for p in parts] == [p["text"] for p in payloads]  # each once, in order
    assert "\n".join(p["text"] for p in parts).splitlines() == lines
    assert [p["reply_markup"] is not None for p in parts] == [False, False, True]
    assert (await outbox_counts(storage))["sent"] == 3
    assert tg.violations == []


# ------------------------------------------------------------ a button from elsewhere
async def test_a_button_whose_chat_and_sender_disagree_is_refused(
    rig: Rig, storage: Storage
) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 3.6")
    lan_before = rig.tg.sent(LAN)
    minh = rig.chat(MINH, "Minh")
    update = await minh.user.press_in_chat(LAN, "Có")  # Lan's question, Minh's press
    await minh.polling.handled(update)
    await drain(storage, rig.clock, rig.worker)
    query_id = update["callback_query"]["id"]
    answer = rig.tg.callback_answers[query_id]
    assert answer.get("show_alert") is True and "không thuộc" in answer["text"]
    assert rig.tg.sent(LAN) == lan_before and rig.tg.sent(MINH) == []
    assert await value_of(storage, campaign_id, agency_id, "3.6") is None
    assert rig.tg.violations == []
