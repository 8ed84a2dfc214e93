"""A small aiohttp client of the Zalo Bot API (contract: shared/zalo-bot-api/FACTS.md).

Every method is `POST <base>/bot<TOKEN>/<method>` with a JSON body; every answer is the
envelope `{"ok": true, "result": …}` or `{"ok": false, "error_code": N, "description": …}`.
The envelope's errors become typed exceptions the callers sort by what to do next:

- `ZaloTransient`: network trouble, a timeout, 5xx, 429, a body that is not the envelope
  (an HTML page from a proxy): try again later.
- `ZaloUnauthorized` (401, 403 on the bot itself): the token is wrong; a setting to fix.
- `ZaloPermanent`: any other 4xx: the request itself is refused; retrying cannot help.

A poll that times out answers 408: `get_update` returns None for it (an empty poll, not an
error). The token is part of every URL, so no exception message and no log line carries the
URL: only the method name and Zalo's description.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_BASE = "https://bot-api.zaloplatforms.com"
TEXT_LIMIT = 2000  # characters in one sendMessage (FACTS.md)
POLL_TIMEOUT = 30  # seconds a getUpdates waits for an update
_SLACK = 15.0  # seconds the HTTP request may outlive the poll's own timeout


class ZaloError(Exception):
    """An answer other than `ok: true`. `code` is the envelope's error_code (or the HTTP
    status when the body has none); `description` is Zalo's text, never the URL."""

    def __init__(self, method: str, code: int | None, description: str) -> None:
        super().__init__(f"{method}: {code if code is not None else '-'} {description}".strip())
        self.method = method
        self.code = code
        self.description = description


class ZaloTransient(ZaloError):
    """Network trouble, timeout, 5xx, 429 or a garbled answer: worth trying again."""


class ZaloPermanent(ZaloError):
    """The API refused this request (400, 404, a chat that cannot be reached): do not retry."""


class ZaloUnauthorized(ZaloPermanent):
    """The token was refused (401): fix ZALO_BOT_TOKEN."""


def classify(method: str, code: int | None, description: str) -> ZaloError:
    """The exception for an error envelope or an HTTP status (see the module docstring)."""
    if code is None or code >= 500 or code in (408, 429):
        return ZaloTransient(method, code, description)
    if code == 401:
        return ZaloUnauthorized(method, code, description)
    return ZaloPermanent(method, code, description)


@dataclass(frozen=True, slots=True)
class BotInfo:
    """getMe's answer, whichever of its two seen shapes (account_name or name) arrived."""

    id: str
    name: str | None
    raw: dict[str, Any]


class ZaloBotClient:
    """One bot's client. Reuses one aiohttp session; `close()` when done.

    `base` is ZALO_API_BASE (default the official host); `request_timeout` bounds every call
    but getUpdates, which waits its poll timeout plus a margin."""

    def __init__(
        self,
        token: str,
        base: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 20.0,
    ) -> None:
        self._token = token
        self.base = (base or DEFAULT_BASE).rstrip("/")
        self._session = session
        self._own_session = session is None
        self.request_timeout = request_timeout

    @property
    def bot_id(self) -> str:
        """The token's part before ':' (never the secret part): safe to log and to key on."""
        return self._token.split(":", 1)[0]

    def _url(self, method: str) -> str:
        return f"{self.base}/bot{self._token}/{method}"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def call(self, method: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        """POST `body` to `method`; the envelope's result, or a ZaloError (see classify)."""
        limit = aiohttp.ClientTimeout(total=timeout or self.request_timeout)
        try:
            async with self._get_session().post(
                self._url(method), json=body, timeout=limit
            ) as response:
                status = response.status
                try:
                    data = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    data = None
        except TimeoutError as e:
            raise ZaloTransient(method, None, "timeout") from e
        except aiohttp.ClientError as e:
            # str(e) of some client errors holds the URL, hence the token: name the type only.
            raise ZaloTransient(method, None, type(e).__name__) from e
        if not isinstance(data, dict) or "ok" not in data:
            raise classify(method, status if status >= 400 else None, f"HTTP {status}, no envelope")
        if data.get("ok") is True:
            return data.get("result")
        code = data.get("error_code")
        code = code if isinstance(code, int) else (status if status >= 400 else None)
        raise classify(method, code, str(data.get("description") or "")[:300])

    # ---- methods (FACTS.md, "Methods") ---------------------------------------------------
    async def get_me(self) -> BotInfo:
        result = await self.call("getMe", {})
        result = result if isinstance(result, dict) else {}
        name = result.get("account_name") or result.get("name")
        return BotInfo(str(result.get("id", "")), str(name) if name else None, result)

    async def get_update(self, timeout: int = POLL_TIMEOUT) -> dict[str, Any] | None:
        """One long poll: the one update Zalo returns, or None when the poll timed out (408)
        or answered nothing. The timeout travels as a string, as the API requires."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": str(int(timeout))}, timeout=timeout + _SLACK
            )
        except ZaloTransient as e:
            if e.code == 408:
                return None
            raise
        return result if isinstance(result, dict) and result else None

    async def set_webhook(self, url: str, secret_token: str) -> dict[str, Any]:
        return dict(await self.call("setWebhook", {"url": url, "secret_token": secret_token}))

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook", {})

    async def get_webhook_info(self) -> dict[str, Any]:
        result = await self.call("getWebhookInfo", {})
        return result if isinstance(result, dict) else {}

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        """Send plain text (1–2,000 characters; longer is the caller's to split)."""
        if not 1 <= len(text) <= TEXT_LIMIT:
            raise ZaloPermanent("sendMessage", None, f"text of {len(text)} characters")
        result = await self.call("sendMessage", {"chat_id": str(chat_id), "text": text})
        return result if isinstance(result, dict) else {}

    async def send_photo(self, chat_id: str, photo: str, caption: str | None = None) -> Any:
        body: dict[str, Any] = {"chat_id": str(chat_id), "photo": photo}
        if caption:
            body["caption"] = caption[:TEXT_LIMIT]
        return await self.call("sendPhoto", body)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", {"chat_id": str(chat_id), "action": action})
