"""A fake Telegram Bot API server that the Telegram adapter's tests talk to over real HTTP.

Telegram cannot be reached from CI, and mocking aiogram would hide encoding bugs, so the
adapter runs unchanged against this aiohttp server on 127.0.0.1. Every request is checked
against the published contract (``telegram_contract``); violations answer 400 like Telegram
and are also collected in ``FakeTelegram.violations`` so a test can end with
``assert tg.violations == []``.

Webhook delivery: with ``auto_webhook=True`` (default) a background task POSTs queued
updates, in order, to the URL given to setWebhook as soon as they are queued; a non-2xx
answer or a connection error keeps the update queued and it is retried with a short
backoff. With ``auto_webhook=False`` nothing is pushed until the test calls
``await tg.deliver_webhook_once()``. A JSON or multipart webhook answer carrying a
``method`` field (aiogram's "reply into webhook") is executed and validated like a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from .telegram_chats import ChatStore
from .telegram_contract import Contract, UploadedFile
from .telegram_users import FakeUser, file_unique_id
from .telegram_wire import (
    JSON_HEADERS,
    NOT_MODIFIED,
    POLL_CONFLICT,
    QUERY_INVALID,
    WEBHOOK_ACTIVE,
    ApiError,
    Fault,
    dumps,
    error_body,
    fault_body,
    json_response,
    read_request,
    read_webhook_reply,
)

log = logging.getLogger(__name__)

_API_PATH = re.compile(r"/bot([^/]+)/([^/]+)/?")
_FILE_PATH = re.compile(r"/file/bot([^/]+)/(.+)")
_NOT_KEPT_BY_WEBHOOK = {"certificate", "drop_pending_updates"}
_COMPARED_ON_EDIT = ("text", "entities", "caption", "caption_entities", "reply_markup")


@dataclass
class Call:
    """One request to a known method; ``status`` is 0 when its connection was dropped."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    status: int = 200
    via_webhook_reply: bool = False
    answered: bool = False  # False while e.g. a long poll is still parked


class _Dropped(Exception):
    """Raised to make the HTTP layer abort the connection instead of answering."""


@dataclass
class _Pending:
    update: dict[str, Any]
    forced: bool = False  # queue_raw_update: deliver even if its update_id was confirmed
    delivered: bool = False


class _Signal:
    """Wake-all notification: usable from sync code, awaited with a timeout, no polling."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class FakeTelegram:
    """In-process Bot API server with scripted users, fault injection and call recording."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        auto_webhook: bool = True,
        first_update_id: int = 100_000,
        contract: Contract | None = None,
        rate_limit: float | None = None,
    ) -> None:
        self.token = token
        # Flood control, off unless asked for (set_rate_limit): messages sent by the bot are
        # counted in a token bucket; beyond it the call is answered 429 with retry_after.
        self.rate_limit: float | None = None
        self.rate_burst = 0.0
        self._bucket = 0.0
        self._bucket_at = 0.0
        self.rate_limited = 0  # 429s answered by flood control (not fail_next ones)
        self.contract = contract or Contract()
        self.auto_webhook = auto_webhook
        self.base_url = ""
        self.violations: list[str] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.call_log: list[Call] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.webhook_deliveries: list[dict[str, Any]] = []
        bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 123
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Phiếu Test Bot",
            "username": "phieu_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._next_update_id = first_update_id
        self._pending: list[_Pending] = []
        self._allowed: set[str] | None = None
        self._signal = _Signal()
        self._poll_generation = 0
        self.chats = ChatStore()
        self._callback_ids: set[str] = set()
        self._counter = 0
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self._file_bytes: dict[str, bytes] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._drops: dict[str, deque[bool]] = {}
        self._stubs: dict[str, Any] = {}
        self._webhook: dict[str, Any] | None = None
        self._webhook_lock = asyncio.Lock()
        self._webhook_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._closed = False
        if rate_limit is not None:
            self.set_rate_limit(rate_limit)
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": partial(self._edit_message, part="text"),
            "editMessageCaption": partial(self._edit_message, part="caption"),
            "editMessageReplyMarkup": partial(self._edit_message, part="reply_markup"),
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._true,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getFile": self._get_file,
        }

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1 (never on other interfaces)."""
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        self._client = aiohttp.ClientSession()
        log.debug("fake Telegram (%s) listening on %s", self.contract.version, self.base_url)

    async def close(self) -> None:
        self._closed = True
        self._signal.notify()  # releases long polls so shutdown does not wait for them
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --------------------------------------------------------------- test controls
    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Lan",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> FakeUser:
        """A scripted user whose private chat id equals ``user_id``."""
        user = FakeUser(self, user_id, first_name, last_name, username, language_code)
        self.chats.register(user.as_chat())
        return user

    def queue_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update verbatim (not validated); it is delivered once even if its
        update_id was already confirmed, which is how tests simulate Telegram re-sending."""
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._pending.append(_Pending(copy.deepcopy(update), forced=True))
        self._signal.notify()
        return update

    def add_file(
        self, file_id: str, content: bytes, *, file_path: str | None = None
    ) -> dict[str, Any]:
        """Make ``file_id`` known to getFile and its bytes downloadable; returns the File."""
        path = file_path or f"documents/file_{len(self._files)}"
        self._files[file_id] = {
            "file_id": file_id,
            "file_unique_id": file_unique_id(file_id),
            "file_size": len(content),
            "file_path": path,
        }
        self._file_bytes[path] = content
        return dict(self._files[file_id])

    def set_rate_limit(self, per_second: float | None, burst: float | None = None) -> None:
        """Answer like Telegram's flood control: the bot may send about `per_second` messages
        a second in all (Telegram: ≈30), with a burst of `burst` (default: one second's
        worth); a message beyond that gets 429 "Too Many Requests: retry after N" (N ≥ 1, the
        seconds until a message fits again) and is not sent. Counted: every call that sends
        a message (sendMessage, sendPhoto, …; not edits, not sendChatAction). None: off."""
        self.rate_limit = per_second
        self.rate_burst = float(burst if burst is not None else (per_second or 0.0))
        self._bucket = self.rate_burst
        self._bucket_at = time.monotonic()

    def _flood_wait(self, method: str) -> int | None:
        """Seconds to wait when `method` now would exceed the bot's rate, else None (taken)."""
        if self.rate_limit is None or not method.startswith("send") or method == "sendChatAction":
            return None
        now = time.monotonic()
        self._bucket = min(
            self.rate_burst, self._bucket + (now - self._bucket_at) * self.rate_limit
        )
        self._bucket_at = now
        if self._bucket >= 1.0:
            self._bucket -= 1.0
            return None
        self.rate_limited += 1
        return max(1, math.ceil((1.0 - self._bucket) / self.rate_limit))

    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``count`` valid calls of ``method`` with an error instead.

        429 carries ``parameters.retry_after``; 502 answers an nginx HTML page like the real
        front end does; other statuses answer Telegram's JSON error shape."""
        queue = self._faults.setdefault(self._method(method), deque())
        queue.extend(Fault(status, retry_after, description) for _ in range(count))

    def drop_connections_next(
        self, method: str, count: int = 1, *, after_processing: bool = False
    ) -> None:
        """Abort the connection of the next ``count`` valid calls of ``method``; with
        ``after_processing`` the call takes effect first (e.g. the message is sent)."""
        self._drops.setdefault(self._method(method), deque()).extend([after_processing] * count)

    def stub_result(self, method: str, result: Any) -> None:
        """Answer a method the fake does not implement with ``result`` instead of True."""
        self._stubs[self._method(method)] = result

    async def deliver_webhook_once(self) -> int:
        """POST every queued update to the webhook now; returns how many were accepted."""
        delivered, _ = await self._deliver_pending()
        return delivered

    async def wait_for_call(
        self, method: str, *, count: int = 1, answered: bool = True, timeout: float = 5.0
    ) -> Call:
        """Wait, event-driven, until ``count`` calls of ``method`` were answered (or, with
        ``answered=False``, merely arrived, e.g. a long poll now parked on the server)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            calls = [
                c for c in self.call_log if c.method == method and (c.answered or not answered)
            ]
            if len(calls) >= count:
                return calls[count - 1]
            if (remaining := deadline - loop.time()) <= 0:
                raise AssertionError(f"{len(calls)} of {count} {method} calls after {timeout}s")
            await self._signal.wait(remaining)

    # ------------------------------------------------------------------ inspection
    def sent(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Bot messages still in the chat, oldest first, with edits applied; ``text`` and
        ``reply_markup`` (as sent: inline, reply keyboard, ...) are always present."""
        return self.chats.sent(chat_id)

    def last_sent(self, chat_id: int | str) -> dict[str, Any]:
        messages = self.sent(chat_id)
        assert messages, f"the bot sent nothing to chat {chat_id}"
        return messages[-1]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[Any]:
        return copy.deepcopy(self._commands.get(_scope_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(p.update) for p in self._pending]

    def requests_per_second_peak(
        self, method: str, chat_id: int | str | None = None, *, window: float = 1.0
    ) -> int:
        """Most calls of ``method`` (to ``chat_id``, if given) seen within any ``window``."""
        times = [
            c.at
            for c in self.call_log
            if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]
        peak = start = 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            peak = max(peak, end - start + 1)
        return peak

    # ----------------------------------------------------------------- HTTP layer
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if m := _FILE_PATH.fullmatch(request.path):
            return self._serve_file(*m.groups())
        m = _API_PATH.fullmatch(request.path)
        if m is None:
            return json_response(404, error_body(404, "Not Found"))
        token, name = m.groups()
        if token != self.token:
            return json_response(401, error_body(401, "Unauthorized"))
        method = self.contract.canonical_method(name)
        if method is None:
            self._violate(f"{name}: unknown method (not in {self.contract.version})")
            return json_response(404, error_body(404, "Not Found"))
        try:
            raw, form_keys = await read_request(request)
            status, body = await self._process(method, raw, form_keys, can_drop=True)
        except ApiError as e:
            self._violate(e.violation or f"{method}: {e.description}")
            return json_response(e.status, error_body(e.status, e.description))
        except _Dropped:
            log.info("fake Telegram: dropping the connection of %s", method)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return json_response(status, body)

    async def _process(
        self, method: str, raw: dict[str, Any], form_keys: set[str], *, can_drop: bool = False
    ) -> tuple[int, dict[str, Any] | str]:
        """Validate, record, inject faults, then run the method; returns (status, body)."""
        params, problems = self.contract.check_request(method, raw, form_keys=form_keys)
        call = Call(method, params, time.monotonic(), via_webhook_reply=not can_drop)
        self.calls.append((method, params))
        self.call_log.append(call)
        self._signal.notify()
        log.debug("fake Telegram: %s %s", method, params)
        try:
            call.status, body = await self._answer(call, problems, can_drop)
        except _Dropped:
            call.status = 0
            raise
        finally:
            call.answered = True
            self._signal.notify()
        return call.status, body

    async def _answer(
        self, call: Call, problems: list[str], can_drop: bool
    ) -> tuple[int, dict[str, Any] | str]:
        for problem in problems:
            self._violate(problem)
        if problems:
            return 400, error_body(400, "Bad Request: " + "; ".join(problems))
        drops = self._drops.get(call.method)
        drop_after = drops.popleft() if can_drop and drops else None
        if drop_after is False:
            raise _Dropped
        if faults := self._faults.get(call.method):
            fault = faults.popleft()
            return fault.status, fault_body(fault)
        if (wait := self._flood_wait(call.method)) is not None:
            return 429, fault_body(Fault(429, wait, None))
        try:
            result = await self._dispatch(call.method, call.params)
        except ApiError as e:
            if e.violation:
                self._violate(e.violation)
            return e.status, error_body(e.status, e.description)
        if drop_after:
            raise _Dropped
        return 200, {"ok": True, "result": result}

    async def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        handler = self._handlers.get(method)
        if handler is not None:
            result = await handler(params)
        elif method in self._stubs:
            result = copy.deepcopy(self._stubs[method])
        elif self.contract.returns(method) == ["Message"]:
            result = self._store_bot_message(method, params)
        else:
            return True
        if method == "getUpdates":  # queued updates were checked already (raw ones on purpose not)
            return result
        errors = self.contract.check(result, self.contract.returns(method), "result").errors
        assert not errors, f"fake Telegram built an invalid {method} result: {errors}"
        return result

    def _serve_file(self, token: str, path: str) -> web.Response:
        if token != self.token:
            return json_response(401, error_body(401, "Unauthorized"))
        if path not in self._file_bytes:
            return json_response(404, error_body(404, "Not Found"))
        return web.Response(body=self._file_bytes[path], content_type="application/octet-stream")

    # --------------------------------------------------------------------- methods
    async def _true(self, p: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self.bot_user)

    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        if "allowed_updates" in p:
            self._allowed = set(p["allowed_updates"]) or None
        self._confirm(p.get("offset"))
        self._poll_generation += 1
        generation = self._poll_generation
        self._signal.notify()  # an older long poll, if any, now ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + p.get("timeout", 0)
        while not (ready := self._ready(p.get("limit", 100))) and not self._closed:
            if (remaining := deadline - loop.time()) <= 0:
                break
            await self._signal.wait(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            if self._webhook is not None:
                raise ApiError(409, WEBHOOK_ACTIVE)
        for entry in ready:
            entry.delivered = True
        return [copy.deepcopy(entry.update) for entry in ready]

    async def _send_message(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._store_bot_message("sendMessage", p)

    async def _edit_message(self, p: dict[str, Any], *, part: str) -> dict[str, Any] | bool:
        """editMessageText/Caption/ReplyMarkup; ``part`` is what the method replaces."""
        if "inline_message_id" in p:
            return True
        stored = self.chats.find(p["chat_id"], p["message_id"])
        if stored is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        new = copy.deepcopy(stored.message)
        if part == "text":
            if "text" not in new:
                raise ApiError(400, "Bad Request: there is no text in the message to edit")
            new["text"] = p["text"]
            _set_or_drop(new, "entities", p.get("entities"))
        elif part == "caption":
            _set_or_drop(new, "caption", p.get("caption"))
            _set_or_drop(new, "caption_entities", p.get("caption_entities"))
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        markup = p.get("reply_markup")
        _set_or_drop(new, "reply_markup", markup if markup and markup["inline_keyboard"] else None)
        if all(new.get(k) == stored.message.get(k) for k in _COMPARED_ON_EDIT):
            raise ApiError(400, NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        stored.message, stored.markup = new, new.get("reply_markup")
        return copy.deepcopy(new)

    async def _delete_message(self, p: dict[str, Any]) -> bool:
        stored = self.chats.find(p["chat_id"], p["message_id"])
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        stored.deleted = True
        return True

    async def _answer_callback_query(self, p: dict[str, Any]) -> bool:
        query_id = p["callback_query_id"]
        if query_id not in self._callback_ids:
            violation = f"answerCallbackQuery: unknown callback_query_id {query_id!r}"
            raise ApiError(400, QUERY_INVALID, violation=violation)
        if query_id in self.callback_answers:
            violation = f"answerCallbackQuery: callback query {query_id!r} answered twice"
            raise ApiError(400, QUERY_INVALID, violation=violation)
        self.callback_answers[query_id] = p
        return True

    async def _set_webhook(self, p: dict[str, Any]) -> bool:
        if not p["url"]:
            return await self._delete_webhook(p)
        self._webhook = {k: v for k, v in p.items() if k not in _NOT_KEPT_BY_WEBHOOK}
        self._webhook["has_custom_certificate"] = "certificate" in p
        if p.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in p:
            self._allowed = set(p["allowed_updates"]) or None
        if self.auto_webhook and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.create_task(self._webhook_worker())
        self._signal.notify()
        return True

    async def _delete_webhook(self, p: dict[str, Any]) -> bool:
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._pending.clear()
        self._signal.notify()
        return True

    async def _get_webhook_info(self, p: dict[str, Any]) -> dict[str, Any]:
        hook = self._webhook or {}
        info: dict[str, Any] = {
            "url": hook.get("url", ""),
            "has_custom_certificate": hook.get("has_custom_certificate", False),
            "pending_update_count": len(self._pending),
        }
        keys = ("ip_address", "last_error_date", "last_error_message", "max_connections")
        info |= {k: hook[k] for k in (*keys, "allowed_updates") if k in hook}
        return info

    async def _set_my_commands(self, p: dict[str, Any]) -> bool:
        key = _scope_key(p.get("scope"), p.get("language_code", ""))
        self._commands[key] = p["commands"]
        return True

    async def _get_my_commands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        key = _scope_key(p.get("scope"), p.get("language_code", ""))
        return copy.deepcopy(self._commands.get(key, []))

    async def _delete_my_commands(self, p: dict[str, Any]) -> bool:
        self._commands.pop(_scope_key(p.get("scope"), p.get("language_code", "")), None)
        return True

    async def _get_file(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["file_id"] not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return dict(self._files[p["file_id"]])

    # ------------------------------------------------------------- chats, messages
    def _store_bot_message(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        sender = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        content = {k: p[k] for k in ("text", "entities", "caption", "caption_entities") if k in p}
        markup = p.get("reply_markup")
        if markup and markup.get("inline_keyboard"):  # Message.reply_markup is inline only
            content["reply_markup"] = markup
        content |= self._media_of(method, p)
        return self.chats.add(p["chat_id"], sender, content, from_bot=True, markup=markup)

    def _media_of(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        """Document/photo objects for sendDocument/sendPhoto; uploads become real file_ids."""
        kind = {"sendDocument": "document", "sendPhoto": "photo"}.get(method)
        if kind is None:
            return {}
        value = p[kind]
        if isinstance(value, UploadedFile):
            self._counter += 1
            file_id = f"BQACAgIAAxk{self._counter:06d}"
            file = self.add_file(file_id, value.data)
            media = {"file_id": file_id, "file_unique_id": file["file_unique_id"]}
            media["file_size"] = len(value.data)
            if kind == "document" and value.filename:
                media["file_name"] = value.filename
        else:
            media = {"file_id": value, "file_unique_id": file_unique_id(value)}
        if kind == "photo":
            return {"photo": [media | {"width": 1280, "height": 960}]}
        return {"document": media}

    # --------------------------------------------------------------------- updates
    def _queue(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, **copy.deepcopy(payload)}
        errors = self.contract.check_object(update, "Update")
        assert not errors, f"fake Telegram built an invalid Update: {errors}"
        self._next_update_id += 1
        self._pending.append(_Pending(update))
        self._signal.notify()
        return copy.deepcopy(update)

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
            return
        self._pending = [
            e
            for e in self._pending
            if e.update["update_id"] >= offset or (e.forced and not e.delivered)
        ]

    def _ready(self, limit: int) -> list[_Pending]:
        if self._allowed is not None:  # Telegram does not keep updates the bot opted out of
            self._pending = [e for e in self._pending if _kind(e.update) in self._allowed]
        return self._pending[:limit]

    def _user_message(self, user: FakeUser, content: dict[str, Any]) -> dict[str, Any]:
        message = self.chats.add(user.user_id, user.as_user(), content, from_bot=False)
        return self._queue({"message": message})

    def _user_edit(self, user: FakeUser, message_id: int, key: str, text: str) -> dict[str, Any]:
        """The user edits their message: stored anew, and an edited_message update queued."""
        stored = self.chats.find(user.user_id, message_id)
        if stored is None or stored.from_bot:
            raise AssertionError(f"no message {message_id} of user {user.user_id} to edit")
        new = copy.deepcopy(stored.message)
        new[key] = text
        new.pop("entities" if key == "text" else "caption_entities", None)
        new["edit_date"] = max(int(time.time()), new["date"])
        stored.message = new
        return self._queue({"edited_message": copy.deepcopy(new)})

    def _callback(self, user: FakeUser, message: dict[str, Any], data: str) -> dict[str, Any]:
        self._counter += 1
        query_id = str(4_400_000_000_000_000_000 + self._counter)
        self._callback_ids.add(query_id)
        query = {
            "id": query_id,
            "from": user.as_user(),
            "message": message,
            "chat_instance": str(-7_000_000_000 - user.user_id),
            "data": data,
        }
        return self._queue({"callback_query": query})

    # --------------------------------------------------------------------- webhook
    async def _webhook_worker(self) -> None:
        backoff = 0.05
        while not self._closed and self._webhook is not None:
            if not self._pending:
                await self._signal.wait(None)
                continue
            _, drained = await self._deliver_pending()
            if drained:
                backoff = 0.05
            else:  # the receiver failed; retry later, or sooner if something changes
                await self._signal.wait(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _deliver_pending(self) -> tuple[int, bool]:
        async with self._webhook_lock:
            delivered = 0
            while self._webhook is not None and (ready := self._ready(1)):
                entry = ready[0]
                if not await self._post_update(self._webhook, entry.update):
                    return delivered, False
                with contextlib.suppress(ValueError):
                    self._pending.remove(entry)
                delivered += 1
            return delivered, True

    async def _post_update(self, hook: dict[str, Any], update: dict[str, Any]) -> bool:
        assert self._client is not None
        secret = hook.get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        record: dict[str, Any] = {"update_id": update["update_id"], "url": hook["url"]}
        self.webhook_deliveries.append(record)
        try:
            timeout = aiohttp.ClientTimeout(total=30)
            async with self._client.post(
                hook["url"], data=dumps(update), headers=headers | JSON_HEADERS, timeout=timeout
            ) as resp:
                record["status"] = resp.status
                if not 200 <= resp.status < 300:
                    hook["last_error_message"] = f"Wrong response from the webhook: {resp.status}"
                    hook["last_error_date"] = int(time.time())
                    return False
                await self._run_webhook_reply(resp)
                return True
        except (aiohttp.ClientError, TimeoutError) as e:
            record["status"] = 0
            hook["last_error_message"] = f"Connection failed: {type(e).__name__}"
            hook["last_error_date"] = int(time.time())
            return False

    async def _run_webhook_reply(self, resp: aiohttp.ClientResponse) -> None:
        """Execute a method the receiver answered with, as Telegram does (result unseen)."""
        try:
            reply = await read_webhook_reply(resp)
        except ApiError as e:
            self._violate(f"webhook reply: {e.description}")
            return
        if reply is None:
            return
        raw, form_keys = reply
        name = str(raw.pop("method"))
        method = self.contract.canonical_method(name)
        if method is None:
            self._violate(f"webhook reply: unknown method {name!r}")
            return
        await self._process(method, raw, form_keys)

    # --------------------------------------------------------------------- helpers
    def _method(self, name: str) -> str:
        method = self.contract.canonical_method(name)
        if method is None:
            raise ValueError(f"{name!r} is not a Bot API method")
        return method

    def _violate(self, problem: str) -> None:
        log.warning("Bot API contract violation: %s", problem)
        self.violations.append(problem)


# ------------------------------------------------------------------------ functions
def _scope_key(scope: dict[str, Any] | None, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


def _kind(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


def _set_or_drop(target: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
