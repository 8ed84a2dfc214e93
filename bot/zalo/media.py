"""Images sent to Zalo as evidence, kept on our disk: platform URLs expire.

`MediaStore.fetch(url, key)` downloads at most `max_bytes` into `directory` under a name of
our own (a hash of `key`, never a name from the sender), and returns the metadata kept with
the evidence. It never raises: a failed download keeps the URL and says why.

The URL comes in an update, and a forged update could point it anywhere, so the download
goes through the link checker's guard (bot/netguard.py), not a plain session: only http(s)
on the policy's ports, no user name or password, every spelling of a private address and
every name of this machine refused before any lookup, names resolved by the vetting
resolver (a name with any private answer is refused, and the connection uses exactly the
addresses checked), and a socket factory refusing any other destination; no proxy from the
environment, no redirects. A refusal is `{"download_error": "forbidden_address:<why>"}`
(see `forbidden`), which the channel turns into a polite message. Tests allow exactly the
fake Zalo's socket (AddressPolicy.testing), nothing wider.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

log = logging.getLogger(__name__)

FORBIDDEN = "forbidden_address"

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


class Refused(Exception):
    """A URL we will not fetch (scheme, private address, too big)."""


def forbidden(meta: dict[str, Any]) -> bool:
    """Whether `fetch`'s metadata says the URL pointed at a forbidden address (a forged
    update: nothing was fetched, and the URL is not evidence)."""
    return str(meta.get("download_error", "")).startswith(FORBIDDEN)


@dataclass
class MediaStore:
    """Where Zalo images are kept, and the guard their downloads go through.

    `max_bytes` caps one file (bytes); `timeout` the whole download (seconds); `policy`
    and `resolver` are netguard's (tests map names and allow the fake's one socket).
    """

    directory: Path
    max_bytes: int = 5 * 1024 * 1024
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    resolver: NameResolver = system_resolver
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
            refused = forbidden_in(e)
            if refused is not None:
                log.warning("zalo image at a forbidden address: %s", refused)
                return {"download_error": f"{FORBIDDEN}:{refused.reason}"}
            log.warning("zalo image not downloaded: %s", type(e).__name__)
            return {"download_error": type(e).__name__}

    def _vet(self, url: str) -> URL:
        """The URL to download, or Refused: checked before any lookup or connection."""
        try:
            u = URL(url)
            port = u.port
        except (ValueError, TypeError):
            raise Refused("not an http(s) URL") from None
        if u.scheme not in ("http", "https") or not u.host or port is None:
            raise Refused("not an http(s) URL")
        if u.user is not None or u.password is not None:
            raise Refused("a URL with a user name or password")
        if not self.policy.port_allowed(port):
            raise Refused(f"{FORBIDDEN}:port")
        if (why := self.policy.host_refusal(u.host, port)) is not None:
            raise Refused(f"{FORBIDDEN}:{why}")
        return u

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=guarded_connector(VettedResolver(self.policy, self.resolver)),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,  # never a proxy from the environment
        )

    async def _fetch(self, url: str, key: str) -> dict[str, Any]:
        u = self._vet(url)
        async with self._session() as session, session.get(u, allow_redirects=False) as response:
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
