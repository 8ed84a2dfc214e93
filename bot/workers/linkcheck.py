"""Open an evidence link the way a reviewer would, safely, and say what was found.

    async with LinkChecker() as checker:          # one aiohttp session, shared limits
        rec = await checker.check("https://sotttt.binhdinh.gov.vn/kh-12")
    rec = await check_link(url)                   # one-off (own session, closed after)

`check` never raises (only cancellation goes through): every failure is a LinkCheckRec with
an `error` code (ERRORS). What is recorded (issue #10): final HTTP status, final URL after
redirects, the page <title> (HTML only, from at most `Limits.max_bytes` bytes, in the page's
charset), content type, size, time taken, when.

Safe by construction (issue #10; COMMON "no requests to private addresses"):
- only http and https; URLs with a user name or password are refused (credentials have no
  place in evidence, and they would be sent to whoever the link points at); only the ports
  of AddressPolicy (80, 443, 8080, 8443) are tried;
- every connection's address is checked before connecting, on the first request and after
  EVERY redirect (redirects are followed by hand, at most `Limits.max_redirects`): names go
  through netguard.VettedResolver, which returns only allowed addresses — the very ones the
  connection then uses, so a DNS answer that changes between check and connect cannot
  reach a private host — and netguard.vetting_socket_factory refuses any other destination
  when the socket is made (IP literals included);
- the whole check is bounded in time (`total`, redirects included) and in bytes read;
  per-host and global concurrency are bounded; no proxy from the environment, no cookies.
The session's connector is what enforces this, so no ready-made session can be injected:
tests and benches inject the name `resolver` and the `policy` instead.
"""

from __future__ import annotations

import asyncio
import codecs
import html
import logging
import re
import socket
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import aiohttp
from yarl import URL

from bot.netguard import (
    AddressPolicy,
    NameResolver,
    VettedResolver,
    forbidden_in,
    guarded_connector,
    system_resolver,
)
from flows.i18n import N_
from storage.records import LinkCheckRec

log = logging.getLogger(__name__)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Mozilla/5.0 (compatible; Phieu-linkcheck/1.0; kiem tra minh chung)"

# Error codes kept in link_checks.error (before any ":detail"), with what a person is told.
ERRORS: dict[str, str] = {
    "bad_url": N_("địa chỉ không hợp lệ"),
    "too_long": N_("địa chỉ quá dài"),
    "scheme": N_("chỉ mở được link http hoặc https"),
    "userinfo": N_("link có tên đăng nhập/mật khẩu"),
    "port": N_("cổng không được phép"),
    "forbidden_address": N_("địa chỉ nội bộ, không công khai"),
    "dns": N_("không tìm thấy tên miền"),
    "connect": N_("không kết nối được máy chủ"),
    "tls": N_("chứng chỉ bảo mật (HTTPS) không hợp lệ"),
    "timeout": N_("máy chủ không trả lời kịp"),
    "too_many_redirects": N_("chuyển hướng quá nhiều lần"),
    "redirect_loop": N_("chuyển hướng vòng lặp"),
    "bad_redirect": N_("chuyển hướng tới địa chỉ không hợp lệ"),
    "http": N_("máy chủ trả lời sai giao thức"),
    "internal": N_("lỗi khi kiểm tra"),
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one checker. Seconds, bytes and counts."""

    total: float = 15.0  # the whole check, every redirect included
    connect: float = 5.0  # one TCP (+TLS) connection
    read: float = 10.0  # silence between two reads
    max_redirects: int = 5
    max_bytes: int = 256 * 1024  # read of an HTML body, to find its <title>
    max_url: int = 2048
    per_host: int = 2  # checks talking to one host at once
    concurrency: int = 20  # checks at once, all hosts


class _Stop(Exception):
    """A check ends without a final response, with this error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(slots=True)
class _Found:
    status: int | None = None
    final_url: str | None = None
    title: str | None = None
    content_type: str | None = None
    size: int | None = None
    error: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


class LinkChecker:
    """Checks links with one aiohttp session whose connector only reaches allowed addresses.

    `policy` says where connections may go (netguard.AddressPolicy; tests allow one local
    socket); `resolver` turns names into addresses (the system's by default; tests map
    made-up names). Use as an async context manager, or call `close()`.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy | None = None,
        resolver: NameResolver = system_resolver,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.policy = policy or AddressPolicy()
        self.limits = limits or Limits()
        self.clock = clock
        self.resolver = VettedResolver(self.policy, resolver)
        self._session: aiohttp.ClientSession | None = None
        self._global = asyncio.Semaphore(self.limits.concurrency)
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}

    async def __aenter__(self) -> LinkChecker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = guarded_connector(
                self.resolver, limit=self.limits.concurrency, limit_per_host=self.limits.per_host
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.limits.connect, sock_read=self.limits.read
                ),
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                    "Accept-Language": "vi,en;q=0.8",
                },
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # never a proxy from the environment
            )
        return self._session

    @asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        """At most `limits.per_host` checks talk to one host at once (the slot is freed and
        forgotten when the last user leaves, so the table does not grow with hosts seen)."""
        sem, users = self._hosts.get(host) or (asyncio.Semaphore(self.limits.per_host), 0)
        self._hosts[host] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._hosts[host]
            if users <= 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (sem, users - 1)

    async def check(self, url: str) -> LinkCheckRec:
        """Open `url` (following redirects by hand) and record what came back. Never raises
        except on cancellation; `elapsed_ms` counts from the first connection slot taken."""
        checked_at = self.clock()
        found = _Found(final_url=url)
        started: list[float] = []
        async with self._global:
            try:
                await self._follow(url, found, started)
            except _Stop as stop:
                found.error = stop.code
            except TimeoutError:
                found.error = "timeout"
            except aiohttp.ClientError as exc:
                found.error = _client_error(exc)
                log.info("link %s: %s (%s)", url, found.error, type(exc).__name__)
            except OSError as exc:
                found.error = _client_error(exc)
            except Exception:  # a bug here must not take the conversation down
                log.exception("link check of %s failed", url)
                found.error = "internal"
        elapsed = time.monotonic() - started[0] if started else 0.0
        return LinkCheckRec(
            url=url,
            status=found.status,
            final_url=found.final_url,
            title=found.title,
            content_type=found.content_type,
            size=found.size,
            elapsed_ms=round(elapsed * 1000),
            error=found.error,
            checked_at=checked_at,
        )

    def _vet(self, text: str) -> URL:
        """The URL to request, or _Stop with why it may not be: checked before any lookup."""
        if len(text) > self.limits.max_url:
            raise _Stop("too_long")
        try:
            u = URL(text)
            port = u.port
        except (ValueError, TypeError):
            raise _Stop("bad_url") from None
        if u.scheme not in ("http", "https"):
            raise _Stop("scheme")
        if not u.host or port is None:
            raise _Stop("bad_url")
        if u.user is not None or u.password is not None:
            raise _Stop("userinfo")
        if not self.policy.port_allowed(port):
            raise _Stop("port")
        # Any spelling of an address (2130706433, 0x7f.1, 127.1, [fe80::1%25eth0]) or of
        # this machine's name (LOCALHOST, localhost.) is refused here, before any lookup.
        if (why := self.policy.host_refusal(u.host, port)) is not None:
            raise _Stop(f"forbidden_address:{why}")
        return u.with_fragment(None)

    async def _follow(self, url: str, found: _Found, started: list[float]) -> None:
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        seen: set[str] = set()
        current = url
        for hop in range(self.limits.max_redirects + 1):
            # What is recorded is about the URL being tried, even if it is refused.
            found.final_url, found.status = current, None
            u = self._vet(current)
            seen.add(str(u))
            found.final_url = str(u)
            async with self._host_slot((u.host or "").lower()):
                if deadline is None:
                    started.append(time.monotonic())
                    deadline = loop.time() + self.limits.total
                async with asyncio.timeout_at(deadline):
                    target = await self._request(u, found)
            if target is None:
                return
            if target in seen:
                raise _Stop("redirect_loop")
            current = target
            log.debug("link %s: redirect %d to %s", url, hop + 1, target)
        raise _Stop("too_many_redirects")

    async def _request(self, u: URL, found: _Found) -> str | None:
        """One GET without following redirects; the next URL, or None when this is final."""
        response = await self._client().get(u, allow_redirects=False)
        try:
            found.status = response.status
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location:
                try:
                    return str(u.join(URL(location)).with_fragment(None))
                except (ValueError, TypeError):
                    raise _Stop("bad_redirect") from None
            header = response.headers.get("Content-Type")
            found.content_type = response.content_type if header else None
            found.size = response.content_length
            if found.content_type in (None, "text/html", "application/xhtml+xml"):
                body, complete = await _head_of(response.content, self.limits.max_bytes)
                if found.size is None and complete:
                    found.size = len(body)
                found.title = page_title(body, response.charset)
            return None
        finally:
            # Drops the connection if the body was not read to its end: nothing more is read.
            response.close()


async def _head_of(stream: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of a body, stopping early once the title has closed; and
    whether the body ended within them."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = await stream.read(min(64 * 1024, limit - len(buf)))
        if not chunk:
            return bytes(buf), True
        buf += chunk
        if b"</title" in buf or b"</TITLE" in buf:
            break
    return bytes(buf), False


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
MAX_TITLE = 300


def _charset(body: bytes, declared: str | None) -> str | None:
    for name in (declared, *(m.decode("ascii") for m in _META_CHARSET.findall(body[:4096]))):
        if not name:
            continue
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return None


def page_title(body: bytes, declared_charset: str | None = None) -> str | None:
    """The <title> of an HTML page's first bytes, whitespace collapsed, entities decoded,
    cut at MAX_TITLE characters; None when there is none. The charset is the header's, else
    a <meta charset>, else UTF-8 if the bytes are UTF-8, else windows-1258 (Vietnamese)."""
    charset = _charset(body, declared_charset)
    text: str | None = None
    if charset is not None:
        text = body.decode(charset, errors="replace")
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A body cut by the cap may end inside a character: still UTF-8.
            if exc.start >= len(body) - 3:
                text = body.decode("utf-8", errors="ignore")
            else:
                text = body.decode("cp1258", errors="replace")
    m = _TITLE.search(text)
    if m is None:
        return None
    # NFC: windows-1258 (and some UTF-8 pages) write tones as combining marks.
    title = unicodedata.normalize("NFC", " ".join(html.unescape(m.group(1)).split()))
    return title[:MAX_TITLE] or None


def _client_error(exc: BaseException) -> str:
    """The error code of a failed request (see ERRORS)."""
    forbidden = forbidden_in(exc)
    if forbidden is not None:
        return f"forbidden_address:{forbidden.reason}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "bad_url"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return "dns"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "tls"
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionError):
        return "connect"
    return "http"


async def check_link(
    url: str,
    *,
    checker: LinkChecker | None = None,
    policy: AddressPolicy | None = None,
    resolver: NameResolver = system_resolver,
    limits: Limits | None = None,
) -> LinkCheckRec:
    """Check one link: with `checker` (its session and limits shared with other checks),
    else with a checker of its own for this one call. Never raises (see LinkChecker.check)."""
    if checker is not None:
        return await checker.check(url)
    async with LinkChecker(policy=policy, resolver=resolver, limits=limits) as own:
        return await own.check(url)
