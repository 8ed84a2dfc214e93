"""`phieu worker`: the senders of every configured channel (Telegram, Zalo) in one process,
the reminder planner (issue #11) and the evidence-link sweep (issue #10) beside them.

Each channel keeps its own worker, limiter and rate share (bot/telegram_app.Sending,
bot/zalo/app.zalo_sending): one channel's 429 pause never holds the other's messages.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import replace

from aiohttp import web

from bot.config import Settings
from bot.service import utcnow
from bot.telegram_app import Sending, make_bot, stop_on_signals, worker_health_app
from bot.workers.linkjobs import LinkSweep
from bot.workers.pacing import SendSettings
from bot.workers.reminders import ReminderPlanner, every_from_env
from bot.zalo.config import ZaloSettings
from flows.loader import builtin_forms
from flows.model import Form
from storage.repository import Storage

log = logging.getLogger(__name__)


async def run_workers(
    telegram: Settings | None,
    zalo: ZaloSettings | None,
    storage: Storage,
    per_second: float | None = None,
    health_port: int | None = None,
    host: str = "0.0.0.0",  # noqa: S104 - a server listens
    stop: asyncio.Event | None = None,
    forms: dict[str, Form] | None = None,
) -> None:
    """Send for each configured channel, plan reminders every PHIEU_REMIND_EVERY seconds
    and sweep evidence links, until SIGINT/SIGTERM (or `stop`, for tests; `forms`: the forms
    already loaded, default the built-in ones). `per_second` overrides PHIEU_SEND_RATE
    (Telegram, the whole bot's rate shared by all senders) — Zalo's rate is
    PHIEU_ZALO_SEND_RATE; with `health_port`, GET /healthz on `host`."""
    from bot.zalo.app import make_client, zalo_sending

    every = every_from_env()  # a bad setting stops start-up before anything runs

    stop = stop if stop is not None else stop_on_signals()
    send = SendSettings.from_env()
    runner: web.AppRunner | None = None
    wakes: list[asyncio.Event] = []
    async with AsyncExitStack() as stack:
        if health_port is not None:
            runner = web.AppRunner(worker_health_app(storage), access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, host, health_port).start()
            log.info("worker health on http://%s:%d/healthz", host, health_port)
        if telegram is not None:
            bot = make_bot(telegram)
            stack.push_async_callback(bot.session.close)
            tsend = replace(send, rate=per_second) if per_second is not None else send
            sending = Sending.build(storage, bot, tsend)
            await stack.enter_async_context(sending.running(with_worker=True))
            wakes.append(sending.worker.wake)
        if zalo is not None:
            client = make_client(zalo)
            stack.push_async_callback(client.close)
            out = zalo_sending(storage, client, zalo, send, client.bot_id)
            await stack.enter_async_context(out.running(with_worker=True))
            wakes.append(out.worker.wake)
        await stack.enter_async_context(LinkSweep.running(storage))  # never checked, stale
        # Reminders are queued here, where the senders run: the first channel's worker is
        # woken at once, the others find the rows at their next poll (a few seconds).
        planner = ReminderPlanner(
            storage, forms or builtin_forms(), utcnow, every=every, wake=wakes[0] if wakes else None
        )
        plan = asyncio.create_task(planner.run(stop), name="reminder-planner")
        await stop.wait()
        await plan
