"""The fake Bot API server must accept what real clients send and reject contract breaches.

These tests talk to ``tests.fakes.FakeTelegram`` over real HTTP: the happy paths through a
real aiogram ``Bot`` (so the adapter's encoding is what gets checked) and the negative
cases through raw aiohttp, because aiogram's own models would refuse to send most of them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.fakes import Call, FakeTelegram, FakeUser

TOKEN = "123:ABC"
LAN = 1001
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text="Tiếp tục", callback_data="next")],
        [
            InlineKeyboardButton(text="Có", callback_data="yes"),
            InlineKeyboardButton(text="Không", callback_data="no"),
            InlineKeyboardButton(text="Không rõ", callback_data="unknown"),
        ],
    ]
)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
    yield Bot(TOKEN, session=session)
    await session.close()


@pytest.fixture
def lan(tg: FakeTelegram) -> FakeUser:
    return tg.user(user_id=LAN, first_name="Lan", language_code="vi")


def _form_value(value: Any) -> str:
    """Encode like real clients do in form bodies: JSON for objects, lowercase booleans."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


async def raw_call(
    tg: FakeTelegram,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    encoding: str = "json",
    token: str = TOKEN,
) -> tuple[int, dict[str, Any]]:
    """Call the fake bypassing aiogram, in one of the encodings Bot API clients use."""
    url = f"{tg.base_url}/bot{token}/{method}"
    params = params or {}
    strings = {k: _form_value(v) for k, v in params.items()}
    async with aiohttp.ClientSession() as session:
        if encoding == "json":
            request = session.post(url, json=params)
        elif encoding == "form":
            request = session.post(url, data=strings)
        elif encoding == "multipart":
            form = aiohttp.FormData()
            for key, value in strings.items():
                form.add_field(key, value, content_type="text/plain")
            request = session.post(url, data=form)
        elif encoding == "query":
            request = session.get(url, params=strings)
        else:
            raise ValueError(encoding)
        async with request as response:
            return response.status, await response.json()


@dataclass
class Receiver:
    """A local webhook endpoint: records (headers, update), answers scripted replies or {}."""

    url: str = ""
    received: asyncio.Queue[tuple[dict[str, str], Any]] = field(default_factory=asyncio.Queue)
    replies: list[tuple[int, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        await self.received.put((dict(request.headers), await request.json()))
        status, body = self.replies.pop(0) if self.replies else (200, {})
        return web.json_response(body, status=status)

    async def next_update(self) -> tuple[dict[str, str], Any]:
        return await asyncio.wait_for(self.received.get(), timeout=5)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    hook.url = f"http://{host}:{port}/hook"
    yield hook
    await runner.cleanup()


# --------------------------------------------------------------------- aiogram happy paths
async def test_aiogram_conversation_round_trip(tg: FakeTelegram, bot: Bot, lan: FakeUser) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123

    sent = await bot.send_message(LAN, "Câu 1: Đơn vị có cổng thông tin?", reply_markup=KEYBOARD)
    assert sent.message_id == 1
    assert tg.sent(LAN)[0]["reply_markup"] == KEYBOARD.model_dump(exclude_none=True)

    pressed = await lan.press("Tiếp tục")
    updates = await bot.get_updates()
    query = updates[0].callback_query
    assert query is not None and query.data == "next" and query.message is not None
    assert query.message.message_id == sent.message_id
    assert updates[0].update_id == pressed["update_id"]

    assert await bot.answer_callback_query(query.id, text="Đã ghi nhận")
    edited = await bot.edit_message_text("Câu 2", chat_id=LAN, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "Câu 2"
    assert [m["text"] for m in tg.sent(LAN)] == ["Câu 2"]
    assert tg.sent(LAN)[0]["reply_markup"] is None  # an edit without markup drops the keyboard
    assert await bot.send_chat_action(LAN, "typing")
    assert await bot.delete_message(LAN, sent.message_id)
    assert tg.sent(LAN) == []
    assert tg.violations == []


async def test_edit_with_identical_content_is_not_modified(
    tg: FakeTelegram, bot: Bot, lan: FakeUser
) -> None:
    sent = await bot.send_message(LAN, "Câu 1", reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Câu 1", chat_id=LAN, message_id=sent.message_id, reply_markup=KEYBOARD
        )
    assert tg.violations == []  # Telegram's own answer to a legal request, not a breach


async def test_commands_are_kept_per_scope_and_language(tg: FakeTelegram, bot: Bot) -> None:
    scope = BotCommandScopeChat(chat_id=LAN)
    commands = [
        BotCommand(command="start", description="Bắt đầu"),
        BotCommand(command="huy", description="Hủy phiếu"),
    ]
    assert await bot.set_my_commands(commands, scope=scope, language_code="vi")
    got = await bot.get_my_commands(scope=scope, language_code="vi")
    assert [(c.command, c.description) for c in got] == [("start", "Bắt đầu"), ("huy", "Hủy phiếu")]
    assert await bot.get_my_commands() == []
    assert tg.commands({"type": "chat", "chat_id": LAN}, "vi")[0]["command"] == "start"
    assert tg.violations == []


async def test_get_updates_offset_limit_and_long_polling(
    tg: FakeTelegram, bot: Bot, lan: FakeUser
) -> None:
    first = await lan.start("phieu-42")
    second = await lan.send_text("3")
    assert second["update_id"] == first["update_id"] + 1
    assert first["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    assert [u.update_id for u in await bot.get_updates(limit=1)] == [first["update_id"]]
    remaining = await bot.get_updates(offset=first["update_id"] + 1)
    assert [u.message.text for u in remaining if u.message] == ["3"]
    assert await bot.get_updates(offset=second["update_id"] + 1) == []

    poll = asyncio.create_task(bot.get_updates(offset=second["update_id"] + 1, timeout=30))
    await tg.wait_for_call("getUpdates", count=4, answered=False)  # the poll is now parked
    third = await lan.send_text("Có")
    updates = await asyncio.wait_for(poll, timeout=5)  # far sooner than the 30 s poll timeout
    assert [u.update_id for u in updates] == [third["update_id"]]
    assert tg.violations == []


async def test_a_second_poller_terminates_the_first(tg: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for_call("getUpdates", answered=False)
    assert await bot.get_updates() == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, timeout=5)


async def test_get_file_and_download(tg: FakeTelegram, bot: Bot, lan: FakeUser) -> None:
    content = "Phiếu đánh giá".encode() * 100
    await lan.send_document(
        file_id="doc-1",
        file_name="phieu.xlsx",
        mime_type="application/vnd.ms-excel",
        content=content,
    )
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.document is not None
    file = await bot.get_file(update.message.document.file_id)
    assert file.file_path and file.file_size == len(content)
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == content
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("missing")
    assert tg.violations == []


async def test_aiogram_upload_uses_attach_references(tg: FakeTelegram, bot: Bot) -> None:
    upload = BufferedInputFile(b"a;b\n1;2\n", filename="ket-qua.csv")
    message = await bot.send_document(LAN, upload, caption="Kết quả")
    assert message.document is not None and message.document.file_name == "ket-qua.csv"
    assert tg.sent(LAN)[0]["caption"] == "Kết quả"
    assert tg.violations == []


async def test_every_client_encoding_is_accepted(tg: FakeTelegram) -> None:
    params = {
        "chat_id": LAN,
        "text": "Xin chào",
        "disable_notification": True,
        "reply_markup": {"inline_keyboard": [[{"text": "Bắt đầu", "callback_data": "go"}]]},
    }
    for encoding in ("json", "form", "multipart", "query"):
        status, body = await raw_call(tg, "sendMessage", params, encoding=encoding)
        assert status == 200, body
        assert body["result"]["reply_markup"] == params["reply_markup"]
    assert tg.calls_to("sendMessage")[1]["disable_notification"] is True  # "true" coerced
    assert [m["message_id"] for m in tg.sent(LAN)] == [1, 2, 3, 4]
    assert tg.violations == []


def _echo_dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> Any:
        # Returning (not awaiting) a method makes aiogram answer it inside the webhook reply.
        return message.answer(f"Mã phiếu: {command.args}", reply_markup=KEYBOARD)

    return dp


async def test_aiogram_dispatcher_polling(tg: FakeTelegram, bot: Bot, lan: FakeUser) -> None:
    dp = _echo_dispatcher()
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    await lan.start("phieu-42")
    call = await tg.wait_for_call("sendMessage")
    assert call.params["text"] == "Mã phiếu: phieu-42"
    await dp.stop_polling()
    await asyncio.wait_for(polling, timeout=5)
    assert tg.violations == []


async def test_aiogram_webhook_handler_with_method_reply(
    tg: FakeTelegram, bot: Bot, lan: FakeUser
) -> None:
    app = web.Application()
    SimpleRequestHandler(
        _echo_dispatcher(), bot, secret_token="phieu_secret", handle_in_background=False
    ).register(app, path="/webhook")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        await bot.set_webhook(f"http://{host}:{port}/webhook", secret_token="phieu_secret")
        await lan.start("phieu-7")
        call = await tg.wait_for_call("sendMessage")
        assert call.via_webhook_reply  # multipart reply body, executed by the fake
        assert tg.last_sent(LAN)["text"] == "Mã phiếu: phieu-7"
        assert tg.last_sent(LAN)["reply_markup"] == KEYBOARD.model_dump(exclude_none=True)
    finally:
        await runner.cleanup()
    assert tg.violations == []


# ------------------------------------------------------------------------- contract breaches
CALLBACK_65_BYTES = "ab" + "ệ" * 21  # 23 characters, but "ệ" is 3 bytes in UTF-8
BREACHES = [
    ("sendMessage", {"chat_id": LAN, "text": "hi", "colour": "red"}, "json", "unknown parameter"),
    ("sendMessage", {"chat_id": LAN}, "form", "missing required parameter 'text'"),
    (
        "editMessageText",
        {"chat_id": LAN, "message_id": "x", "text": "t"},
        "form",
        "expected Integer",
    ),
    (
        "sendMessage",
        {"chat_id": LAN, "text": "hi", "disable_notification": "maybe"},
        "multipart",
        "disable_notification: expected Boolean",
    ),
    ("sendMessage", {"chat_id": LAN, "text": 42}, "json", "text: expected String"),
    ("sendMessage", {"chat_id": LAN, "text": "a" * 4097}, "json", "1-4096"),
    ("sendMessage", {"chat_id": LAN, "text": " \n "}, "query", "1-4096"),
    (
        "sendMessage",
        {
            "chat_id": LAN,
            "text": "Chọn",
            "reply_markup": {
                "inline_keyboard": [[{"text": "X", "callback_data": CALLBACK_65_BYTES}]]
            },
        },
        "form",
        "1-64 bytes in UTF-8, got 65 bytes",
    ),
    (
        "sendMessage",
        {"chat_id": LAN, "text": "Chọn", "reply_markup": {"inline_keyboard": [[{"text": "X"}]]}},
        "json",
        "exactly one button action",
    ),
    ("sendMessage", {"chat_id": LAN, "text": "x", "reply_markup": "{oops"}, "form", "JSON"),
    ("editMessageText", {"text": "Câu 2"}, "json", "inline_message_id is required"),
    ("answerCallbackQuery", {"callback_query_id": "1", "text": "x" * 201}, "json", "0-200"),
    ("answerCallbackQuery", {"callback_query_id": "nope"}, "json", "unknown callback_query_id"),
    (
        "setMyCommands",
        {"commands": [{"command": "Bat-dau", "description": "Bắt đầu"}]},
        "json",
        "[a-z0-9_]",
    ),
    (
        "setMyCommands",
        {"commands": [{"command": "start", "description": "x"}] * 101},
        "json",
        "at most 100",
    ),
    (
        "setMyCommands",
        {"commands": [], "scope": {"type": "chat"}},
        "form",
        "scope.chat_id: missing required field of BotCommandScopeChat",
    ),
    ("setMyCommands", {"commands": [], "scope": {"type": "everyone"}}, "json", "is not one of"),
    (
        "setWebhook",
        {"url": "https://x.invalid/h", "secret_token": "s3cret token!"},
        "json",
        "secret_token",
    ),
    ("sendChatAction", {"chat_id": LAN, "action": "thinking"}, "json", "is not one of"),
]


@pytest.mark.parametrize(("method", "params", "encoding", "expected"), BREACHES)
async def test_contract_breach_is_rejected_and_recorded(
    tg: FakeTelegram, method: str, params: dict[str, Any], encoding: str, expected: str
) -> None:
    status, body = await raw_call(tg, method, params, encoding=encoding)
    assert status == 400
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: ")
    assert len(tg.violations) == 1 and expected in tg.violations[0], tg.violations
    assert tg.sent(LAN) == []


async def test_unknown_method_and_wrong_token(tg: FakeTelegram) -> None:
    status, body = await raw_call(tg, "sendMessageToEveryone", {"text": "x"})
    assert (status, body["error_code"]) == (404, 404)
    assert "unknown method" in tg.violations[0]
    status, body = await raw_call(tg, "getMe", token="999:WRONG")
    assert (status, body["description"]) == (401, "Unauthorized")
    assert len(tg.violations) == 1  # a wrong token is a configuration error, not a breach


async def test_callback_answered_twice(tg: FakeTelegram, bot: Bot, lan: FakeUser) -> None:
    await bot.send_message(LAN, "Câu 1", reply_markup=KEYBOARD)
    query_id = (await lan.press("Có"))["callback_query"]["id"]
    assert (await raw_call(tg, "answerCallbackQuery", {"callback_query_id": query_id}))[0] == 200
    status, body = await raw_call(tg, "answerCallbackQuery", {"callback_query_id": query_id})
    assert status == 400 and "query is too old" in body["description"]
    assert tg.violations == [f"answerCallbackQuery: callback query {query_id!r} answered twice"]


async def test_aiogram_deprecated_arguments_are_caught(tg: FakeTelegram, bot: Bot) -> None:
    """aiogram still sends parameters that the current Bot API no longer has."""
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(LAN, "x", reply_to_message_id=1)
    assert tg.violations == ["sendMessage: unknown parameter 'reply_to_message_id'"]

    # DefaultBotProperties(link_preview_is_disabled=True) adds disable_web_page_preview to
    # every sendMessage; DefaultBotProperties(link_preview=LinkPreviewOptions(...)) does not.
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
    legacy = Bot(
        TOKEN, session=session, default=DefaultBotProperties(link_preview_is_disabled=True)
    )
    with pytest.raises(TelegramBadRequest):
        await legacy.send_message(LAN, "x")
    await session.close()
    assert tg.violations[-1] == "sendMessage: unknown parameter 'disable_web_page_preview'"


async def test_aiogram_drops_empty_strings(tg: FakeTelegram, bot: Bot) -> None:
    """aiogram omits falsy values, so set_webhook("") arrives without its required url."""
    with pytest.raises(TelegramBadRequest):
        await bot.set_webhook("")
    assert tg.violations == ["setWebhook: missing required parameter 'url'"]


async def test_other_methods_are_validated_recorded_and_answered(
    tg: FakeTelegram, bot: Bot
) -> None:
    assert await bot.set_my_description("Thu thập phiếu đánh giá", language_code="vi")
    assert (
        "setMyDescription",
        {"description": "Thu thập phiếu đánh giá", "language_code": "vi"},
    ) in tg.calls
    photo = await bot.send_photo(LAN, "AgACAgIAAxkBAAI", caption="Biểu đồ")
    assert photo.photo and tg.last_sent(LAN)["caption"] == "Biểu đồ"
    tg.stub_result("getChatMemberCount", 42)
    assert await bot.get_chat_member_count(-1001234567890) == 42
    assert tg.violations == []
    status, _ = await raw_call(tg, "setMyDescription", {"description": 5})
    assert status == 400
    assert tg.violations == ["setMyDescription: description: expected String, got int 5"]


# ----------------------------------------------------------------------------- users
async def test_press_matching_rules(tg: FakeTelegram, bot: Bot, lan: FakeUser) -> None:
    with pytest.raises(AssertionError, match="no bot message with inline buttons"):
        await lan.press("Có")
    old = await bot.send_message(LAN, "Câu 1", reply_markup=KEYBOARD)
    assert (await lan.press("Không"))["callback_query"]["data"] == "no"  # exact beats partial
    assert (await lan.press("rõ"))["callback_query"]["data"] == "unknown"  # unique substring
    with pytest.raises(AssertionError, match="ambiguous"):
        await lan.press("Kh")
    with pytest.raises(AssertionError, match=r"available: \['Tiếp tục', 'Có'"):
        await lan.press("Có lẽ")

    new_markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Gửi", callback_data="submit")]]
    )
    await bot.send_message(LAN, "Câu 2", reply_markup=new_markup)
    with pytest.raises(AssertionError, match="not found"):
        await lan.press("Có")  # only the latest message with buttons counts
    stale = await lan.press_on(old.message_id, "Có")
    assert stale["callback_query"]["message"]["message_id"] == old.message_id
    assert tg.violations == []


async def test_duplicate_update_is_delivered_again(
    tg: FakeTelegram, bot: Bot, lan: FakeUser
) -> None:
    update = await lan.send_text("5")
    assert [u.update_id for u in await bot.get_updates()] == [update["update_id"]]
    after = update["update_id"] + 1
    assert await bot.get_updates(offset=after) == []
    tg.queue_raw_update(update)
    assert [u.update_id for u in await bot.get_updates(offset=after)] == [update["update_id"]]
    assert await bot.get_updates(offset=after) == []


async def test_photo_update_and_user_fields(tg: FakeTelegram, bot: Bot) -> None:
    minh = tg.user(user_id=2002, first_name="Minh", username="minh_ubnd", language_code="en")
    await minh.send_photo(file_id="photo-1", caption="Ảnh chụp")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.photo
    assert update.message.from_user is not None
    assert update.message.from_user.username == "minh_ubnd"
    assert update.message.chat.id == 2002 and update.message.caption == "Ảnh chụp"


# ---------------------------------------------------------------------- fault injection
async def test_fault_injection(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(LAN, "x")
    assert retry.value.retry_after == 3

    tg.fail_next("sendMessage", status=429, retry_after=7)
    status, body = await raw_call(tg, "sendMessage", {"chat_id": LAN, "text": "x"})
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }

    tg.fail_next("sendMessage", status=500)
    with pytest.raises(TelegramServerError):
        await bot.send_message(LAN, "x")
    tg.fail_next("sendMessage", status=502)
    with pytest.raises(ClientDecodeError):  # an nginx HTML page, as in production
        await bot.send_message(LAN, "x")
    tg.drop_connections_next("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(LAN, "x")
    assert tg.sent(LAN) == []

    tg.drop_connections_next("sendMessage", after_processing=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(LAN, "sent, but the answer was lost")
    assert [m["text"] for m in tg.sent(LAN)] == ["sent, but the answer was lost"]
    assert [c.status for c in tg.call_log] == [429, 429, 500, 502, 0, 0]
    assert tg.violations == []


async def test_requests_per_second_peak(tg: FakeTelegram, bot: Bot) -> None:
    for i in range(5):
        await bot.send_message(LAN, f"Tin {i}")
    assert tg.requests_per_second_peak("sendMessage", chat_id=LAN, window=3600) == 5
    assert tg.requests_per_second_peak("sendMessage", chat_id=999, window=3600) == 0

    tg.call_log[:] = [
        Call("sendMessage", {"chat_id": LAN}, at) for at in (0.0, 0.5, 0.9, 1.0, 1.95, 2.0)
    ]
    assert tg.requests_per_second_peak("sendMessage") == 3


# ------------------------------------------------------------------------------ webhook
async def test_webhook_pushes_updates_with_secret(
    tg: FakeTelegram, bot: Bot, lan: FakeUser, receiver: Receiver
) -> None:
    assert await bot.set_webhook(receiver.url, secret_token="phieu_S3cret-token")
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()

    update = await lan.send_text("Xin chào")
    headers, body = await receiver.next_update()
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == "phieu_S3cret-token"
    assert body == update
    info = await bot.get_webhook_info()
    assert info.url == receiver.url and info.pending_update_count == 0

    receiver.replies.append((500, {}))  # the first attempt fails; the fake retries by itself
    retried = await lan.send_text("Lần hai")
    assert (await receiver.next_update())[1] == (await receiver.next_update())[1] == retried

    assert await bot.delete_webhook()
    later = await lan.send_text("Sau khi tắt webhook")
    assert [u.update_id for u in await bot.get_updates()] == [later["update_id"]]
    assert receiver.received.empty()
    assert tg.violations == []


async def test_webhook_manual_delivery_and_method_replies(receiver: Receiver) -> None:
    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        lan = tg.user(user_id=LAN)
        assert (await raw_call(tg, "setWebhook", {"url": receiver.url}))[0] == 200
        await lan.send_text("1")
        await lan.send_text("2")
        assert receiver.received.empty()  # nothing is pushed until the test asks

        receiver.replies.append((502, {}))
        assert await tg.deliver_webhook_once() == 0
        _, info = await raw_call(tg, "getWebhookInfo")
        assert info["result"]["pending_update_count"] == 2
        assert "502" in info["result"]["last_error_message"]
        assert "X-Telegram-Bot-Api-Secret-Token" not in (await receiver.next_update())[0]

        # aiogram can answer a webhook with a method call; the fake runs and validates it
        receiver.replies += [(200, {"method": "sendMessage", "chat_id": LAN, "text": "pong"})]
        receiver.replies += [(200, {"method": "sendMessage", "chat_id": LAN})]
        assert await tg.deliver_webhook_once() == 2
        texts = [(await receiver.next_update())[1]["message"]["text"] for _ in range(2)]
        assert texts == ["1", "2"]
        assert [m["text"] for m in tg.sent(LAN)] == ["pong"]
        assert tg.violations == ["sendMessage: missing required parameter 'text'"]
