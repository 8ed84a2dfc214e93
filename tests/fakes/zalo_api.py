"""A fake Zalo Bot API on 127.0.0.1, refusing every request that breaks the contract.

Contract: shared/zalo-bot-api/FACTS.md. Every method is POST with a JSON body of exactly the
documented fields and types (`timeout` a string of digits, `chat_id` a string, `text` 1–2,000
characters, `action` "typing"); anything else answers the error envelope with 400 and is
kept in `violations`, so a test ends with `assert zalo.violations == []`. getUpdates answers
one update (not an array) or, after its timeout, the 408 envelope; it refuses to work while a
webhook is set. Updates are built in the shapes seen (`text_update`, `image_update`, …)
with the variants FACTS.md lists: no event_name, `{"ok","result"}` wrapping, the sender's name
as display_name / first_name / name, GROUP chats. Faults are injected per method
(`fail(method, code, times)`), a 502 as an HTML page like a proxy's (`fail_html`).
GET /media/<name> serves bytes put with `put_media`, for image downloads.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

TEXT_LIMIT = 2000
_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # method: (required fields, optional fields)
    "getMe": (set(), set()),
    "getUpdates": (set(), {"timeout"}),
    "setWebhook": ({"url", "secret_token"}, set()),
    "deleteWebhook": (set(), set()),
    "getWebhookInfo": (set(), set()),
    "sendMessage": ({"chat_id", "text"}, set()),
    "sendPhoto": ({"chat_id", "photo"}, {"caption"}),
    "sendSticker": ({"chat_id", "sticker"}, set()),
    "sendChatAction": ({"chat_id", "action"}, set()),
}
_ids = itertools.count(1)


def _hex_id() -> str:
    return secrets.token_hex(10)


@dataclass
class Sent:
    method: str
    chat_id: str
    text: str | None = None
    photo: str | None = None
    at: float = field(default_factory=time.monotonic)


class FakeZalo:
    """Start with `async with FakeZalo() as zalo:`; `zalo.base_url` is ZALO_API_BASE."""

    def __init__(self, token: str = "1234567890:" + "a" * 24, *, bot_name: str = "Bot Phiếu"):
        self.token = token
        self.bot_name = bot_name
        self.violations: list[str] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[Sent] = []
        self.updates: deque[dict[str, Any]] = deque()
        self.webhook_url = ""
        self.webhook_secret = ""
        self._faults: dict[str, deque[tuple[int, str, bool]]] = {}
        self._media: dict[str, tuple[bytes, str]] = {}
        self.media_hits: list[str] = []  # every media request that reached the fake
        self._arrived = asyncio.Event()
        self._server: TestServer | None = None
        self.send_delay = 0.0  # seconds each send takes (benchmarks)
        self.on_send = asyncio.Event()  # set on every message sent (benchmarks wait on it)

    # ---- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> FakeZalo:
        app = web.Application()
        app.router.add_route("*", r"/bot{token}/{method}", self._api)
        app.router.add_get(r"/media/{name}", self._serve_media)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    @property
    def socket(self) -> tuple[str, int]:
        """The (address, port) this fake listens on: what a test's netguard policy allows."""
        assert self._server is not None and self._server.port is not None
        return ("127.0.0.1", self._server.port)

    # ---- test controls ---------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self.updates.append(update)
        self._arrived.set()

    def fail(self, method: str, code: int, times: int = 1, description: str = "") -> None:
        """The next `times` calls of `method` answer the error envelope with `code`."""
        queue = self._faults.setdefault(method, deque())
        queue.extend([(code, description or f"error {code}", False)] * times)

    def fail_html(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` answer a proxy's 502 HTML page."""
        self._faults.setdefault(method, deque()).extend([(502, "", True)] * times)

    def put_media(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        self._media[name] = (data, content_type)
        return f"{self.base_url}/media/{name}"

    def texts_to(self, chat_id: str) -> list[str]:
        return [s.text or "" for s in self.sent if s.chat_id == chat_id and s.text is not None]

    # ---- the API ---------------------------------------------------------------------------
    def _refuse(self, why: str, code: int = 400) -> web.Response:
        self.violations.append(why)
        return web.json_response({"ok": False, "error_code": code, "description": why}, status=code)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        if request.method != "POST":
            return self._refuse(f"{method}: {request.method} instead of POST", 405)
        if method not in _FIELDS:
            return self._refuse(f"unknown method {method}", 404)
        if request.content_type != "application/json":
            return self._refuse(f"{method}: body is {request.content_type}, not JSON")
        try:
            body = await request.json()
        except ValueError:
            return self._refuse(f"{method}: body is not JSON")
        if not isinstance(body, dict):
            return self._refuse(f"{method}: body is not an object")
        required, optional = _FIELDS[method]
        missing, extra = required - body.keys(), body.keys() - required - optional
        if missing or extra:
            return self._refuse(f"{method}: missing {sorted(missing)}, unknown {sorted(extra)}")
        problem = self._check(method, body)
        if problem:
            return self._refuse(f"{method}: {problem}")
        self.calls.append((method, body))
        faults = self._faults.get(method)
        if faults:
            code, description, html = faults.popleft()
            if html:
                return web.Response(
                    text="<html><body>502 Bad Gateway</body></html>",
                    status=code,
                    content_type="text/html",
                )
            return web.json_response(
                {"ok": False, "error_code": code, "description": description}, status=code
            )
        return await getattr(self, f"_m_{method}")(body)

    def _check(self, method: str, body: dict[str, Any]) -> str | None:
        for key in ("chat_id", "url", "secret_token", "photo", "caption", "sticker", "action"):
            if key in body and not isinstance(body[key], str):
                return f"{key} must be a string, got {type(body[key]).__name__}"
        if "timeout" in body:
            t = body["timeout"]
            if not isinstance(t, str) or not t.isdigit():
                return f"timeout must be a string of digits, got {t!r}"
        if "text" in body:
            text = body["text"]
            if not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT:
                n = len(text) if isinstance(text, str) else type(text).__name__
                return f"text must be 1–{TEXT_LIMIT} characters, got {n}"
        if "chat_id" in body and not body["chat_id"]:
            return "chat_id is empty"
        if method == "setWebhook" and not 8 <= len(body["secret_token"]) <= 256:
            return "secret_token must be 8–256 characters"
        if method == "setWebhook" and not body["url"].startswith("https://"):
            return "url must be https"
        if method == "sendChatAction" and body["action"] != "typing":
            return f"action {body['action']!r} is not supported"
        return None

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, _: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "id": self.token.split(":")[0],
                "account_name": self.bot_name,
                "account_type": "BASIC",
                "can_join_groups": False,
            }
        )

    async def _m_getUpdates(self, body: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            return web.json_response(
                {"ok": False, "error_code": 409, "description": "webhook is active"}, status=409
            )
        deadline = time.monotonic() + int(body.get("timeout", "30"))
        while not self.updates:
            left = deadline - time.monotonic()
            if left <= 0:
                return web.json_response(
                    {"ok": False, "error_code": 408, "description": "Request timeout"},
                    status=408,
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                continue
        return self._ok(self.updates.popleft())

    async def _m_setWebhook(self, body: dict[str, Any]) -> web.Response:
        self.webhook_url, self.webhook_secret = body["url"], body["secret_token"]
        return self._ok({"url": self.webhook_url, "updated_at": int(time.time() * 1000)})

    async def _m_deleteWebhook(self, _: dict[str, Any]) -> web.Response:
        self.webhook_url = self.webhook_secret = ""
        return self._ok({"url": "", "updated_at": int(time.time() * 1000)})

    async def _m_getWebhookInfo(self, _: dict[str, Any]) -> web.Response:
        return self._ok({"url": self.webhook_url, "updated_at": int(time.time() * 1000)})

    async def _sent(self, item: Sent) -> web.Response:
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        self.sent.append(item)
        self.on_send.set()
        return self._ok({"message_id": _hex_id(), "date": int(time.time() * 1000)})

    async def _m_sendMessage(self, body: dict[str, Any]) -> web.Response:
        return await self._sent(Sent("sendMessage", body["chat_id"], text=body["text"]))

    async def _m_sendPhoto(self, body: dict[str, Any]) -> web.Response:
        return await self._sent(Sent("sendPhoto", body["chat_id"], photo=body["photo"]))

    async def _m_sendSticker(self, body: dict[str, Any]) -> web.Response:
        return await self._sent(Sent("sendSticker", body["chat_id"]))

    async def _m_sendChatAction(self, _: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _serve_media(self, request: web.Request) -> web.Response:
        self.media_hits.append(request.path)
        item = self._media.get(request.match_info["name"])
        if item is None:
            return web.Response(status=404)
        return web.Response(body=item[0], content_type=item[1])


# ---- update shapes (FACTS.md, "Updates") -------------------------------------------------
def _message(
    user: str,
    extra: dict[str, Any],
    *,
    name_key: str = "display_name",
    name: str = "Nguyen Van A",
    chat_type: str = "PRIVATE",
    chat: str | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    return {
        "message_id": message_id or _hex_id(),
        "date": int(time.time() * 1000),
        "chat": {"id": chat or user, "chat_type": chat_type},
        "from": {"id": user, name_key: name, "is_bot": False},
        **extra,
    }


def update(event: str | None, message: dict[str, Any], *, wrapped: bool = False) -> dict[str, Any]:
    """An update; `event=None` leaves event_name out (the documented polling sample),
    `wrapped` puts it in {"ok": true, "result": …} (seen in webhook bodies)."""
    body: dict[str, Any] = {"message": message}
    if event is not None:
        body = {"event_name": event, **body}
    return {"ok": True, "result": body} if wrapped else body


def text_update(user: str, text: str, **kw: Any) -> dict[str, Any]:
    event = kw.pop("event", "message.text.received")
    wrapped = kw.pop("wrapped", False)
    return update(event, _message(user, {"text": text}, **kw), wrapped=wrapped)


def image_update(user: str, url: str, caption: str | None = None, **kw: Any) -> dict[str, Any]:
    event = kw.pop("event", "message.image.received")
    extra: dict[str, Any] = {"photo_url": url}
    if caption is not None:
        extra["caption"] = caption
    return update(event, _message(user, extra, **kw))


def sticker_update(user: str, **kw: Any) -> dict[str, Any]:
    return update("message.sticker.received", _message(user, {"sticker": "abc123"}, **kw))


def voice_update(user: str, **kw: Any) -> dict[str, Any]:
    return update("message.voice.received", _message(user, {"voice": "https://x/v.aac"}, **kw))


def unsupported_update(user: str, **kw: Any) -> dict[str, Any]:
    return update("message.unsupported.received", _message(user, {}, **kw))
