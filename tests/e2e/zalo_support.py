"""Helpers for the Zalo tests: the real adapter over HTTP against FakeZalo.

Production pieces run unchanged: the client (bot/zalo/client.py), the channel
(bot/channels/zalo.py), the transport and the outbox worker (bot/zalo/app.zalo_sending);
only the worker's time is virtual, so retries and backoffs cost no real time.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.channels.zalo import ZaloChannel
from bot.netguard import AddressPolicy
from bot.service import Phieu
from bot.workers.outbox import OutboxWorker, RateLimiter
from bot.workers.pacing import SendSettings
from bot.zalo.app import make_client, make_media, zalo_sending
from bot.zalo.client import ZaloBotClient
from bot.zalo.config import ZaloSettings, load_zalo_settings
from storage.repository import Storage
from tests.e2e.telegram_support import VirtualClock, drain
from tests.fakes.zalo_api import FakeZalo, text_update

TOKEN = "1234567890:" + "a" * 24
SECRET = "zalo_webhook_Secret-0123456789"
PUBLIC_URL = "https://phieu.sotttt.example.vn"


def settings_for(zalo: FakeZalo, tmp: Path | None = None, **env: str) -> ZaloSettings:
    base = {"ZALO_BOT_TOKEN": zalo.token, "ZALO_API_BASE": zalo.base_url}
    if tmp is not None:
        base["PHIEU_ZALO_MEDIA_DIR"] = str(tmp / "media")
    return load_zalo_settings({**base, **env}, webhook="PUBLIC_URL" in env)


def virtual_zalo_worker(
    storage: Storage, client: ZaloBotClient, settings: ZaloSettings, clock: VirtualClock
) -> OutboxWorker:
    """The production Zalo worker with its clocks and sleep made virtual."""
    worker = zalo_sending(storage, client, settings, SendSettings(), client.bot_id).worker
    worker.now = clock.utcnow
    worker.sleep = clock.sleep
    worker.reply_grace = 0.0
    worker.limiter = RateLimiter(per_second=settings.send_rate, clock=clock.monotonic)
    return worker


@dataclass
class ZChat:
    """One Zalo user talking to the bot: each `say` is one update, handled, then the outbox
    drained; returns the texts the bot sent in answer."""

    rig: ZRig
    user: str
    name: str = "Nguyen Van A"

    async def act(self, update: dict[str, Any]) -> list[str]:
        before = len(self.rig.zalo.texts_to(self.user))
        await self.rig.channel.handle_update(update)
        await self.rig.drain()
        return self.rig.zalo.texts_to(self.user)[before:]

    async def say(self, text: str, **kw: Any) -> list[str]:
        return await self.act(text_update(self.user, text, name=self.name, **kw))

    def last(self) -> str:
        return self.rig.zalo.texts_to(self.user)[-1]


@dataclass
class ZRig:
    zalo: FakeZalo
    storage: Storage
    client: ZaloBotClient
    channel: ZaloChannel
    worker: OutboxWorker
    clock: VirtualClock
    settings: ZaloSettings

    def chat(self, user: str, name: str = "Nguyen Van A") -> ZChat:
        return ZChat(self, user, name)

    async def drain(self) -> None:
        await drain(self.storage, self.clock, self.worker)


@asynccontextmanager
async def zalo_rig(
    zalo: FakeZalo, storage: Storage, tmp: Path, phieu: Phieu | None = None
) -> AsyncIterator[ZRig]:
    settings = settings_for(zalo, tmp)
    client = make_client(settings)
    clock = VirtualClock()
    worker = virtual_zalo_worker(storage, client, settings, clock)
    media = make_media(settings, AddressPolicy.testing(zalo.socket))
    channel = ZaloChannel(phieu or Phieu(storage), media, None, client)
    try:
        yield ZRig(zalo, storage, client, channel, worker, clock, settings)
    finally:
        await client.close()


_NUMBERED = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)


def number_of(text: str, fragment: str) -> str:
    """The number shown before the choice holding `fragment` ("Mục 3" → "4")."""
    hits = [n for n, label in _NUMBERED.findall(text) if fragment in label]
    assert len(hits) == 1, f"{fragment!r} among {_NUMBERED.findall(text)}"
    return hits[0]
