"""How Bot API requests and answers look on the wire, for the fake Telegram server.

Real clients encode calls in four ways (JSON body, urlencoded form, multipart form, query
string) and upload files as multipart parts, possibly referenced as ``attach://<part>``.
Errors come back in one JSON shape, except the nginx front end's HTML 502 page. Decoding
and encoding live here so the server module is only about Bot API behaviour.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from .telegram_contract import UploadedFile

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_DEFAULT_DESCRIPTIONS = {403: "Forbidden: bot was blocked by the user"}
_ATTACH = re.compile(r"attach://([\w-]+)")
JSON_HEADERS = {"Content-Type": "application/json"}
dumps = partial(json.dumps, ensure_ascii=False)


class ApiError(Exception):
    """An error answer; ``violation`` is set when the bot, not the situation, is at fault."""

    def __init__(self, status: int, description: str, *, violation: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.violation = violation


@dataclass
class Fault:
    """An injected failure (see FakeTelegram.fail_next)."""

    status: int
    retry_after: int
    description: str | None


def json_response(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


def error_body(status: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": status, "description": description}


def fault_body(fault: Fault) -> dict[str, Any] | str:
    """Telegram's answer for an injected failure; a str body is sent as text/html."""
    if fault.status == 502 and fault.description is None:
        return BAD_GATEWAY_HTML
    if fault.status == 429:
        description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
        body = error_body(429, description)
        body["parameters"] = {"retry_after": fault.retry_after}
        return body
    default = _DEFAULT_DESCRIPTIONS.get(fault.status) or HTTPStatus(fault.status).phrase
    return error_body(fault.status, fault.description or default)


async def read_request(request: web.Request) -> tuple[dict[str, Any], set[str]]:
    """Parameters from the query string and a JSON, urlencoded or multipart body.

    Returns the parameters and the names that arrived as strings (to be coerced)."""
    raw: dict[str, Any] = dict(request.query)
    form_keys = set(raw)
    files: dict[str, UploadedFile] = {}
    if request.body_exists:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError as e:
                raise ApiError(400, "Bad Request: can't parse JSON body") from e
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON body must be an object")
            raw |= body
            form_keys -= set(body)
        elif ctype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = UploadedFile(key, value.filename, value.content_type, data)
                elif isinstance(value, str):
                    raw[key] = value
                    form_keys.add(key)
                else:
                    files[key] = UploadedFile(key, None, None, bytes(value))
        else:
            raise ApiError(400, f"Bad Request: unsupported Content-Type {ctype!r}")
    return attach_files(raw, files), form_keys


async def read_webhook_reply(
    resp: aiohttp.ClientResponse,
) -> tuple[dict[str, Any], set[str]] | None:
    """A method call carried in a webhook answer (JSON or aiogram's multipart), if any."""
    raw: dict[str, Any] = {}
    form_keys: set[str] = set()
    files: dict[str, UploadedFile] = {}
    if resp.content_type == "application/json":
        try:
            body = await resp.json()
        except ValueError:
            return None
        raw = dict(body) if isinstance(body, dict) else {}
    elif resp.content_type == "multipart/form-data":
        reader = aiohttp.MultipartReader(resp.headers, resp.content)
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader) and part.name
            data = await part.read(decode=True)
            if part.filename:
                files[part.name] = UploadedFile(part.name, part.filename, None, bytes(data))
            else:
                raw[part.name] = data.decode()
                form_keys.add(part.name)
    if "method" not in raw:
        return None
    return attach_files(raw, files), form_keys


def attach_files(raw: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
    """Resolve ``attach://name`` references; file parts named after a parameter are its value."""
    referenced = {n for v in raw.values() if isinstance(v, str) for n in _ATTACH.findall(v)}
    missing = referenced - set(files)
    if missing:
        raise ApiError(400, f"Bad Request: attach:// names missing file parts {sorted(missing)}")
    for key, value in raw.items():
        if isinstance(value, str) and (m := _ATTACH.fullmatch(value)):
            raw[key] = files[m.group(1)]
    raw |= {name: f for name, f in files.items() if name not in referenced}
    return raw
