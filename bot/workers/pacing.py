"""Send rates: the settings, and one bot's rate shared between all the processes that send.

Telegram allows a bot about 30 messages a second in all, whatever number of processes send
for it. Each sending process (`phieu serve`, `phieu run telegram`, `phieu worker`) writes a
heartbeat row every `heartbeat` seconds and sets its own limiter to `rate / live senders`.

Why a heartbeat and not a shared token-bucket row in the database: the bucket would cost a
write transaction per message on the reply path (on SQLite, a turn of the one write lock
the updates need too) and make every send wait for the database; the heartbeat costs one
small statement per process every few seconds and nothing per message. Its price: while a
process joins or dies the others learn of it at their next heartbeat (a dead one after
`3 × heartbeat`), so for a few seconds the sum can be off by one share — Telegram tolerates
short bursts, and a 429's retry_after is honoured anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import ConfigError
from bot.workers.outbox import RateLimiter
from flows.i18n import N_
from storage.repository import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendSettings:
    """How fast Phiếu sends. Read from the environment (see README, "Sending: the outbox").

    rate: messages a second for the whole bot, shared by all its sending processes.
    chat_interval, chat_burst: the per-chat budget for unsolicited messages (notices,
        reminders); replies to the chat's own message are not held by it.
    poll: seconds between the worker's safety-net polls (wake-ups make them rare).
    keep_sent_days: days a sent outbox row is kept before it is pruned.
    heartbeat: seconds between a sending process's heartbeats.
    parallel: chats the worker sends to at once within a claimed batch (PHIEU_SEND_PARALLEL).
    """

    rate: float = 30.0
    chat_interval: float = 1.0
    chat_burst: int = 3
    poll: float = 1.0
    keep_sent_days: float = 7.0
    heartbeat: float = 5.0
    parallel: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SendSettings:
        """Read PHIEU_SEND_RATE, PHIEU_CHAT_INTERVAL, PHIEU_CHAT_BURST, PHIEU_OUTBOX_POLL,
        PHIEU_OUTBOX_KEEP_DAYS, PHIEU_SEND_PARALLEL; raises ConfigError naming the
        variable and an example."""
        env = os.environ if env is None else env
        return cls(
            rate=_number(env, "PHIEU_SEND_RATE", cls.rate, "30"),
            chat_interval=_number(env, "PHIEU_CHAT_INTERVAL", cls.chat_interval, "1"),
            chat_burst=int(_number(env, "PHIEU_CHAT_BURST", cls.chat_burst, "3", whole=True)),
            poll=_number(env, "PHIEU_OUTBOX_POLL", cls.poll, "1"),
            keep_sent_days=_number(env, "PHIEU_OUTBOX_KEEP_DAYS", cls.keep_sent_days, "7"),
            parallel=int(_number(env, "PHIEU_SEND_PARALLEL", cls.parallel, "4", whole=True)),
        )

    def limiter(self) -> RateLimiter:
        return RateLimiter(
            per_second=self.rate, chat_interval=self.chat_interval, chat_burst=self.chat_burst
        )

    @property
    def keep_sent(self) -> timedelta:
        return timedelta(days=self.keep_sent_days)


def _number(
    env: Mapping[str, str], name: str, default: float, example: str, *, whole: bool = False
) -> float:
    text = env.get(name, "").strip()
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf") or (whole and not value.is_integer()):
        msgid = (
            N_("{name} không hợp lệ: {text}, cần một số nguyên dương. Ví dụ: {name}={example}")
            if whole
            else N_("{name} không hợp lệ: {text}, cần một số dương. Ví dụ: {name}={example}")
        )
        raise ConfigError(msgid, name=name, text=repr(text), example=example)
    return value


def bot_key(token: str) -> str:
    """The bot's numeric id (the token's part before ':'), never the secret part."""
    return token.split(":", 1)[0]


@dataclass
class RateShare:
    """Keeps `limiter.per_second` at `rate / live senders of this bot`; run as a task."""

    storage: Storage
    bot: str
    rate: float
    limiter: RateLimiter
    now: Callable[[], datetime]
    every: float = 5.0
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    live: int = 1

    async def beat(self) -> int:
        """One heartbeat: register, count the live senders, set this process's share."""
        async with self.storage.unit() as unit:
            self.live = await unit.heartbeat(
                self.worker_id, self.bot, self.now(), timedelta(seconds=3 * self.every)
            )
        self.limiter.per_second = self.rate / self.live
        return self.live

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until `stop`, then leave so the others take the share back."""
        try:
            while not stop.is_set():
                try:
                    await self.beat()
                except Exception:
                    log.exception("send heartbeat failed; keeping a share of 1/%d", self.live)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every)
        finally:
            with contextlib.suppress(Exception):
                async with self.storage.unit() as unit:
                    await unit.leave(self.worker_id)
