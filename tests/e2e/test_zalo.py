"""End to end over real HTTP: the Zalo adapter (our client, channel, transport, outbox
worker) against the fake Zalo Bot API, on SQLite and PostgreSQL. Every test ends with no
contract violation (`zalo.violations == []`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.netguard import AddressPolicy, static_resolver
from bot.render import reply_to_json
from flows.state import Choice, Reply
from storage.repository import Storage
from tests.e2e.telegram_support import (
    AGENCY_NAME,
    answers_of,
    assert_section_3,
    new_invite,
    outbox_counts,
    seed_campaign,
)
from tests.e2e.zalo_support import ZChat, ZRig, number_of, zalo_rig
from tests.fakes.link_pages import Site, start_site
from tests.fakes.zalo_api import (
    FakeZalo,
    image_update,
    sticker_update,
    text_update,
    unsupported_update,
    update,
    voice_update,
)
from tests.integration.conftest import storage as storage  # the fixture, re-exported

LAN = "e4ea2cd5189df1c3a88c"
STRANGER = "77aa00bb11cc22dd33ee"
CHANNEL = "zalo"


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


@pytest.fixture
async def rig(zalo: FakeZalo, storage: Storage, tmp_path: Path) -> AsyncIterator[ZRig]:
    async with zalo_rig(zalo, storage, tmp_path) as r:
        yield r


def joined(shown: list[str]) -> str:
    return "\n---\n".join(shown)


def expect(shown: list[str], *parts: str) -> None:
    text = joined(shown)
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


async def invited(rig: ZRig, user: str = LAN) -> tuple[ZChat, int, int]:
    agency, campaign = await seed_campaign(rig.storage)
    code = await new_invite(rig.storage, agency.id)
    chat = rig.chat(user, "Lan")
    shown = await chat.say(code)
    assert shown[0].startswith("Chào mừng! Tài khoản Zalo của anh/chị đã được gắn với cơ quan.\n")
    return chat, campaign.id, agency.id


# ------------------------------------------------------------- an official, a whole section
async def test_invited_official_completes_section_3_typing_numbers_and_words(
    rig: ZRig, storage: Storage
) -> None:
    zalo = rig.zalo
    agency, campaign = await seed_campaign(storage)
    code = await new_invite(storage, agency.id)
    lan = rig.chat(LAN, "Lan")

    shown = await lan.say(f"/start {code}")
    assert shown[0] == (
        "Chào mừng! Tài khoản Zalo của anh/chị đã được gắn với cơ quan.\n"
        "Trên Zalo, chọn bằng cách gõ số (1, 2, …); gõ “bỏ qua”, “quay lại”, “menu” hoặc "
        "“nộp” thay cho các nút."
    )
    assert shown[1].startswith("Xin chào Lan!") and AGENCY_NAME in shown[1]
    menu = shown[1]
    assert "1. ▶ Tiếp tục" in menu and "◻ Mục 3 — 0/33 · HẠ TẦNG KỸ THUẬT" in menu

    expect(await lan.say(number_of(menu, "Mục 3")), "Mục 3 · 3.1.a · câu 1/33")
    assert "[⏭ Bỏ qua · ↩ Quay lại · ☰ Menu]" in lan.last()
    # wrong inputs mixed in: words in a number field, a negative count, an unknown number
    expect(await lan.say("nhiều lắm"), "❗ Câu này cần một con số", "3.1.a · câu 1/33")
    expect(await lan.say("-5"), "không nhập số âm", "3.1.a · câu 1/33")
    expect(await lan.say("40"), "✅ Đã lưu 3.1.a: 40 người", "3.1.b · câu 2/33")
    # typed navigation: "quay lại" goes back, "bỏ qua" skips, the answer is kept
    expect(await lan.say("Quay lại"), "3.1.a")
    expect(await lan.say("bỏ qua"), "3.1.b")
    expect(await lan.say("10"), "✅ Đã lưu 3.1.b: 10 người", "3.2.a")
    expect(await lan.say("45"), "3.2.b.1")
    # "1.5" could be 1,5 or 15: the bot asks, the official answers with the number shown
    shown = await lan.say("1.5")
    expect(shown, "Ý anh/chị là 1,5?", "1. ✅ Đúng", "2. ✏️ Nhập lại")
    expect(await lan.say("1"), "✅ Đã lưu 3.2.b.1: 1,5 Mbps", "3.2.b.2")
    expect(await lan.say("100"), "3.2.b.3")
    expect(await lan.say("8"), "3.2.b.4")
    expect(await lan.say("0"), "Giá trị tính được: 515,5")
    expect(await lan.say("1"), "✅ Đã lưu 3.2.b: 515,5 Mbps", "3.2.c")
    expect(await lan.say("Đúng"), "✅ Đã lưu 3.2.c: 5,155 Mbps", "3.3")
    expect(await lan.say("3"), "3.4")
    expect(await lan.say("5"), "3.5")
    expect(await lan.say("2"), "3.6 · câu 13/33")
    shown = await lan.say("9")  # no choice 9 here: a polite refusal, the question again
    expect(shown, "3.6 · câu 13/33")
    expect(await lan.say(number_of(lan.last(), "Có")), "✅ Đã lưu 3.6: Có", "3.6.a")
    expect(await lan.say("Mạng truyền số liệu chuyên dùng"), "3.7.a")
    expect(await lan.say("Có"), "3.7.a.1")
    expect(await lan.say("0"), "từ 1 trở lên", "3.7.a.1")
    expect(await lan.say("2"), "3.7.b")
    expect(await lan.say(number_of(lan.last(), "Không")), "✅ Đã lưu 3.7.b: Không", "3.7.c")
    expect(await lan.say("có"), "3.7.d")
    expect(await lan.say("Có"), "3.7.đ")
    expect(await lan.say("50"), "3.8 · câu 21/32")
    expect(await lan.say("Có"), "3.8.1 (Có)")
    expect(await lan.say("Có"), "3.8.1 (Số lượng)")
    expect(await lan.say("1"), "3.8.2 (Có)")
    expect(await lan.say("Không"), "3.8.3 (Có)")
    expect(await lan.say("Có"), "3.8.3 (Số lượng)")
    expect(await lan.say("2"), "3.8.4 (Có)")
    expect(await lan.say("Không"), "3.8.5 (Có)")
    expect(await lan.say("Không"), "3.8.6", "Giải pháp khác")
    expect(await lan.say("Ổ đĩa quang; 3"), "Thêm dòng nữa?")
    expect(await lan.say("Xong"), "🎉 Đã xong Mục 3.", "Mục 4 ·")
    shown = await lan.say("menu")
    expect(shown, "Xin chào Lan!", "✅ Mục 3 — 29/29")

    answers = await answers_of(storage, campaign.id, agency.id)
    assert_section_3(answers)
    # plain text only, every message within Zalo's limit, nothing failed
    assert all(1 <= len(t) <= 2000 for t in zalo.texts_to(LAN))
    assert (await outbox_counts(storage))["failed"] == 0
    assert zalo.violations == []


# ------------------------------------------------------------------------ strangers
async def test_uninvited_user_is_refused_and_guessing_is_throttled(
    rig: ZRig, storage: Storage
) -> None:
    agency, _ = await seed_campaign(storage, staff=None)
    code = await new_invite(storage, agency.id)
    stranger = rig.chat(STRANGER, "Khách")
    for attempt in ("Xin chào", "/start", "1", "menu"):
        shown = await stranger.say(attempt)
        assert len(shown) == 1 and "chỉ dành cho cán bộ được mời" in shown[0], shown
    wrong = ["A" * 32, "khong-co-ma-nay-0123456789", "/start sai", f"/start {'x' * 70}"]
    wrong.append("0123456789abcdef0123")
    for bad in wrong:
        shown = await stranger.say(bad)
        assert shown == [
            "Mã mời không đúng, đã dùng hết hoặc đã hết hạn. Vui lòng liên hệ Sở TTTT để "
            "nhận mã mới."
        ], (bad, shown)
    shown = await stranger.say(code)  # right, but five failures this hour
    assert len(shown) == 1 and "thử quá nhiều lần" in shown[0]
    async with storage.unit() as unit:
        assert await unit.identity(CHANNEL, STRANGER) is None
        assert await unit.users_with_role("official") == []
        (invite,) = await unit.list_invites()
        assert invite.uses_left == 1
    assert rig.zalo.violations == []


async def test_a_code_is_spent_once_and_a_bound_official_typing_one_just_answers(
    rig: ZRig, storage: Storage
) -> None:
    lan, _, _ = await invited(rig)
    other = rig.chat(STRANGER, "Khách")
    async with storage.unit() as unit:
        (invite,) = await unit.list_invites()
        assert invite.uses_left == 0
    # Lan types a code-shaped answer: an answer like any other, not a binding nor the menu
    await lan.say("/sua 1.2")  # the agency's name, a text
    shown = await lan.say("KH-UBND_2019_so12")
    assert not any("Mã mời" in s for s in shown) and "Xin chào" not in joined(shown)
    assert "✅ Đã lưu 1.2: KH-UBND_2019_so12" in joined(shown), shown
    # /start with a code from a bound official: the menu, as on Telegram
    assert "Xin chào Lan!" in joined(await lan.say("/start " + "B" * 20))
    async with storage.unit() as unit:
        who = await unit.identity(CHANNEL, LAN)
        assert who is not None and who[0].role == "official"
    assert "chỉ dành cho cán bộ được mời" in joined(await other.say("chào"))


# ------------------------------------------------------------------------ repeats
async def test_the_same_event_twice_changes_nothing(rig: ZRig, storage: Storage) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    menu = lan.last()
    await lan.say(number_of(menu, "Mục 3"))
    event = text_update(LAN, "40", name="Lan")
    first = await lan.act(event)
    assert "✅ Đã lưu 3.1.a: 40 người" in joined(first)
    sent = len(rig.zalo.sent)
    assert await lan.act(event) == []  # redelivered: no reply, no change
    # the same event wrapped, or without its event name inferred, is the same event
    wrapped = {"ok": True, "result": event}
    assert await lan.act(wrapped) == []
    bare = {"message": event["message"]}
    assert await lan.act(bare) == []
    assert len(rig.zalo.sent) == sent
    assert (await answers_of(storage, campaign_id, agency_id))["3.1.a"] == 40
    # a new message with the same text is a new event: answers 3.1.b
    assert "✅ Đã lưu 3.1.b: 40 người" in joined(await lan.say("40"))
    assert rig.zalo.violations == []


# ------------------------------------------------------------------------ odd events
async def test_stickers_voice_unsupported_and_groups_never_break_the_conversation(
    rig: ZRig, storage: Storage
) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say(number_of(lan.last(), "Mục 3"))
    polite = "Phiếu chỉ đọc được tin nhắn chữ và ảnh"
    for event in (sticker_update(LAN), voice_update(LAN), unsupported_update(LAN)):
        shown = await lan.act(event)
        assert len(shown) == 1 and polite in shown[0], shown
    # an unknown event name with a message, and a message with no known field
    assert polite in joined(
        await lan.act(
            update(
                "message.video.received",
                {
                    "message_id": "v1",
                    "date": 1766619597466,
                    "chat": {"id": LAN, "chat_type": "PRIVATE"},
                    "from": {"id": LAN, "name": "Lan"},
                },
            )
        )
    )
    # ignored, silently: a group chat, an event without a message, junk
    group = text_update(LAN, "40", chat_type="GROUP", chat="group-1")
    for junk in (group, {"event_name": "user.follow"}, {"ok": True, "result": []}, [], "x"):
        assert await rig.channel.handle_update(junk) is None
    await rig.drain()
    assert rig.zalo.texts_to("group-1") == []
    # the conversation is where it was: 40 answers 3.1.a
    assert "✅ Đã lưu 3.1.a: 40 người" in joined(await lan.say("40"))
    assert (await answers_of(storage, campaign_id, agency_id))["3.1.a"] == 40
    assert rig.zalo.violations == []


async def test_sender_name_variants_and_missing_event_name_are_read(
    rig: ZRig, storage: Storage
) -> None:
    agency, _ = await seed_campaign(storage)
    for i, key in enumerate(("first_name", "name", "display_name")):
        code = await new_invite(storage, agency.id)
        user = f"u{i}"
        chat = rig.chat(user)
        shown = await chat.act(text_update(user, code, name_key=key, name=f"Tên {i}", event=None))
        assert shown[0].startswith("Chào mừng!"), shown
        async with storage.unit() as unit:
            who = await unit.identity(CHANNEL, user)
            assert who is not None and who[0].name == f"Tên {i}"
    assert rig.zalo.violations == []


# ------------------------------------------------------------------------ images
async def evidence_of(storage: Storage, campaign_id: int, agency_id: int, item: str) -> dict:
    async with storage.unit() as unit:
        sub = await unit.submission(campaign_id, agency_id)
        return (await unit.load_answers(sub.id))[item].evidence


async def test_an_image_at_an_evidence_prompt_is_kept_and_downloaded(
    rig: ZRig, storage: Storage
) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 8.2")
    await lan.say("Có")
    jpeg = b"\xff\xd8\xff\xe0" + b"x" * 2000
    url = rig.zalo.put_media("kh-12.jpg", jpeg)
    caption = "12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/kh-12"
    shown = await lan.act(image_update(LAN, url, caption, name="Lan"))
    assert shown[0].startswith("📎 Đã lưu minh chứng cho 8.2"), shown
    evidence = await evidence_of(storage, campaign_id, agency_id, "8.2")
    assert evidence["number"] == "12/KH-UBND"
    sent = evidence["file"]
    assert sent["kind"] == "photo" and sent["url"] == url
    assert sent["file_size"] == len(jpeg) and sent["mime_type"] == "image/jpeg"
    stored = rig.settings.media_dir / sent["stored"]
    assert stored.read_bytes() == jpeg
    # a safe name of our own: a hash, never the sender's
    assert "/" not in sent["stored"] and sent["stored"].endswith(".jpg")
    assert "kh-12" not in sent["stored"]
    assert rig.zalo.violations == []


async def test_an_image_over_the_size_cap_keeps_its_url_only(rig: ZRig, storage: Storage) -> None:
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 8.2")
    await lan.say("Có")
    url = rig.zalo.put_media("big.jpg", b"x" * (rig.settings.media_max_bytes + 1))
    shown = await lan.act(image_update(LAN, url, name="Lan"))
    assert shown[0].startswith("📎 Đã lưu minh chứng cho 8.2"), shown
    sent = (await evidence_of(storage, campaign_id, agency_id, "8.2"))["file"]
    assert sent["url"] == url and "stored" not in sent and "larger than" in sent["download_error"]
    assert not rig.settings.media_dir.exists() or not any(rig.settings.media_dir.iterdir())


@pytest.fixture
async def inside() -> AsyncIterator[Site]:
    """A server on loopback that counts requests: where a forged image URL points."""
    site = await start_site("127.0.0.1")
    yield site
    await site.server.close()


async def test_a_forged_image_url_to_a_private_address_is_refused_and_nothing_fetched(
    rig: ZRig, storage: Storage, inside: Site
) -> None:
    """A forged update whose photo URL names our own network (127.0.0.1 in several
    spellings, a name resolving to it, a private range): refused before any connection,
    nothing stored, the official asked politely for the photo again; a real one still works."""
    lan, campaign_id, agency_id = await invited(rig)
    await lan.say("/sua 8.2")
    await lan.say("Có")
    assert rig.channel.media is not None
    # the counting server's port allowed: only the address rule stands in the way
    rig.channel.media.policy = AddressPolicy.testing(rig.zalo.socket, ports=[inside.port])
    rig.channel.media.resolver = static_resolver(
        {"anh.zalo.example.test": ["127.0.0.1"], "lan.example.test": ["192.168.1.20"]}
    )
    for host in (
        f"127.0.0.1:{inside.port}",
        f"2130706433:{inside.port}",
        f"localhost:{inside.port}",
        f"anh.zalo.example.test:{inside.port}",
        "lan.example.test",
        "10.1",
    ):
        shown = await lan.act(image_update(LAN, f"http://{host}/kh-12.jpg", "12/KH", name="Lan"))
        expect(shown, "Phiếu không tải được ảnh này nên chưa lưu")
        assert "Traceback" not in "".join(shown)
    assert inside.hits == [] and rig.zalo.media_hits == []
    assert not rig.settings.media_dir.exists() or not any(rig.settings.media_dir.iterdir())
    assert not (await evidence_of(storage, campaign_id, agency_id, "8.2") or {}).get("file")
    url = rig.zalo.put_media("kh-12.jpg", b"\xff\xd8\xff\xe0jpeg")
    shown = await lan.act(image_update(LAN, url, name="Lan"))
    assert shown[0].startswith("📎 Đã lưu minh chứng cho 8.2"), shown
    assert rig.zalo.media_hits == ["/media/kh-12.jpg"]


async def test_an_image_where_no_evidence_is_asked_is_refused_politely(rig: ZRig) -> None:
    lan, _, _ = await invited(rig)
    await lan.say(number_of(lan.last(), "Mục 3"))
    url = rig.zalo.put_media("a.png", b"\x89PNG....", "image/png")
    shown = await lan.act(image_update(LAN, url, name="Lan"))
    expect(shown, "tệp chỉ dùng làm minh chứng khi Phiếu hỏi", "3.1.a")


# ------------------------------------------------------------------------ notices
async def test_a_notice_for_a_zalo_only_person_is_delivered_as_numbered_text(
    rig: ZRig, storage: Storage
) -> None:
    """Reviewer notifications and reminders are queued as outbox rows of kind "notice" to
    every identity of a person; a person who uses only Zalo gets them as plain text."""
    await seed_campaign(storage)
    async with storage.unit() as unit:
        reviewer = await unit.add_user("Thẩm định viên", None, "reviewer")
        await unit.bind_identity(reviewer.id, CHANNEL, "rev-zalo-1", "Thẩm định viên")
        for ident in await unit.identities(reviewer.id):
            reply = Reply(
                "📥 Sở A đã nộp phiếu. Mời thẩm định.",
                choices=(Choice("Thẩm định ngay", "x:1"), Choice("Để sau", "x:2")),
                kind="notice",
            )
            await unit.enqueue(
                ident.channel, ident.external_id, reply_to_json(reply), kind="notice"
            )
        await unit.enqueue(
            CHANNEL,
            "rev-zalo-1",
            reply_to_json(Reply("⏰ Nhắc: còn 3 ngày.", kind="notice")),
            kind="notice",
        )
    await rig.drain()
    assert rig.zalo.texts_to("rev-zalo-1") == [
        "📥 Sở A đã nộp phiếu. Mời thẩm định.\n\n1. Thẩm định ngay\n2. Để sau",
        "⏰ Nhắc: còn 3 ngày.",
    ]
    assert (await outbox_counts(storage))["sent"] >= 2
    assert rig.zalo.violations == []


# ------------------------------------------------------------------------ delivery errors
async def test_outbox_retries_5xx_and_html_and_gives_up_on_a_refused_message(
    rig: ZRig, storage: Storage
) -> None:
    lan, _, _ = await invited(rig)
    rig.zalo.fail("sendMessage", 500, times=2)
    rig.zalo.fail_html("sendMessage", times=1)
    rig.zalo.fail("sendMessage", 429, times=1)
    shown = await lan.say(number_of(lan.last(), "Mục 3"))
    assert len(shown) == 1 and "3.1.a" in shown[0]  # sent once, after the retries
    assert rig.clock.slept or rig.clock.seconds > 0  # backoff waited (virtual time)
    # a chat Zalo refuses for good (400): failed, not retried forever, the next goes
    async with storage.unit() as unit:
        await unit.enqueue(CHANNEL, "gone-user", reply_to_json(Reply("Xin chào")), kind="notice")
    rig.zalo.fail("sendMessage", 400, description="user not found")
    await rig.drain()
    counts = await outbox_counts(storage)
    assert counts["failed"] == 1 and counts["pending"] == 0
    assert rig.zalo.texts_to("gone-user") == []
    assert rig.zalo.violations == []


async def test_a_long_reply_is_split_at_lines_within_2000_characters(
    rig: ZRig, storage: Storage
) -> None:
    await invited(rig)
    lines = [f"Dòng {i}: " + " ".join(["chữ"] * 30) for i in range(60)]
    reply = Reply("\n".join(lines), choices=(Choice("Có", "a"), Choice("Không", "b")))
    from bot.render import reply_payloads

    async with storage.unit() as unit:
        await unit.enqueue_many(CHANNEL, LAN, reply_payloads(CHANNEL, reply))
    before = len(rig.zalo.texts_to(LAN))
    await rig.drain()
    parts = rig.zalo.texts_to(LAN)[before:]
    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
    assert "\n".join(p.removesuffix("\n\n1. Có\n2. Không") for p in parts) == reply.text
    assert parts[-1].endswith("\n\n1. Có\n2. Không")
    assert all(p.split("\n")[0].startswith("Dòng ") for p in parts)  # whole lines
    assert rig.zalo.violations == []
