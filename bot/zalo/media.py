"""Images sent to Zalo as evidence, kept on our disk: platform URLs expire.

`MediaStore.fetch(url, key)` downloads at most `max_bytes` into `directory` under a name of
our own (a hash of `key`, never a name from the sender), and returns the metadata kept with
the evidence. It never raises: a failed download keeps the URL and says why. The host is
resolved first and private, loopback and link-local addresses are refused (no requests to
our own network on a sender's say-so) unless `allow_private` (tests on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger(__name__)

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


class Refused(Exception):
    """A URL we will not fetch (scheme, private address, too big)."""


async def public_host(host: str) -> None:
    """Raise Refused unless every address `host` resolves to is a public one."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as e:
        raise Refused(f"host not found: {host}") from e
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global or addr.is_multicast:
            raise Refused(f"not a public address: {host}")


@dataclass
class MediaStore:
    directory: Path
    max_bytes: int = 5 * 1024 * 1024
    allow_private: bool = False
    timeout: float = 20.0

    async def fetch(self, url: str, key: str) -> dict[str, Any]:
        """Download `url`; the metadata: {"stored": relative file name, "file_size",
        "mime_type"} or {"download_error": why}. Never raises."""
        try:
            return await self._fetch(url, key)
        except Refused as e:
            log.warning("zalo image not downloaded: %s", e)
            return {"download_error": str(e)[:200]}
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            log.warning("zalo image not downloaded: %s", type(e).__name__)
            return {"download_error": type(e).__name__}

    async def _fetch(self, url: str, key: str) -> dict[str, Any]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused("not an http(s) URL")
        if not self.allow_private:
            await public_host(parts.hostname)
        limit = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=limit) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise Refused(f"HTTP {response.status}")
            if (response.content_length or 0) > self.max_bytes:
                raise Refused(f"larger than {self.max_bytes} bytes")
            mime = (response.content_type or "").lower()
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > self.max_bytes:
                    raise Refused(f"larger than {self.max_bytes} bytes")
        name = hashlib.sha256(key.encode()).hexdigest()[:32] + _EXTENSIONS.get(mime, ".bin")
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / name
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(bytes(data))
        os.replace(tmp, target)  # whole or absent: a reader never sees half a file
        return {"stored": name, "file_size": len(data), "mime_type": mime or None}
