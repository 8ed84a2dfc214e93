"""Wiring for Telegram: the bot, the dispatcher, long polling, the webhook server, the worker.

`phieu run telegram` polls (one machine); `phieu serve` is an aiohttp server for webhooks that
can run as several processes on one PostgreSQL; `phieu worker` only drains the outbox. No
state lives in these processes between updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from aiohttp import web

from bot.channels.telegram import CHANNEL, TelegramTransport, build_routers, set_commands
from bot.config import Settings
from bot.outbox import OutboxWorker, RateLimiter
from bot.service import Phieu, utcnow
from storage.repository import Storage

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
ALLOWED_UPDATES = ["message", "callback_query"]


def make_bot(settings: Settings) -> Bot:
    session = None
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return Bot(token=settings.telegram_token, session=session)


def _update_id(data: dict[str, Any]) -> str | None:
    update = data.get("event_update")
    return str(update.update_id) if update is not None else None


def make_dispatcher(phieu: Phieu) -> Dispatcher:
    dp = Dispatcher()
    dp.include_routers(*build_routers(phieu, _update_id))
    return dp


def make_worker(storage: Storage, bot: Bot, per_second: float = 25.0) -> OutboxWorker:
    return OutboxWorker(
        storage=storage,
        transports={CHANNEL: TelegramTransport(bot)},
        now=utcnow,
        limiter=RateLimiter(per_second=per_second),
    )


@asynccontextmanager
async def running_worker(worker: OutboxWorker | None) -> AsyncIterator[None]:
    """Run the outbox worker beside the update intake; stop it cleanly on exit."""
    if worker is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="outbox-worker")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


async def run_polling(settings: Settings, storage: Storage, with_worker: bool = True) -> None:
    bot = make_bot(settings)
    phieu = Phieu(storage)
    dp = make_dispatcher(phieu)
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await set_commands(bot)
        async with running_worker(make_worker(storage, bot) if with_worker else None):
            # In order, one at a time: one machine, and one chat's updates stay ordered.
            await dp.start_polling(bot, handle_as_tasks=False, allowed_updates=ALLOWED_UPDATES)
    finally:
        await bot.session.close()


def secret_ok(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the secret cannot be guessed byte by byte."""
    return hmac.compare_digest((given or "").encode(), expected.encode())


def make_web_app(
    settings: Settings,
    storage: Storage,
    bot: Bot,
    *,
    with_worker: bool = True,
    register_webhook: bool = True,
) -> web.Application:
    """The webhook server: POST updates, GET /healthz; graceful start and stop."""
    phieu = Phieu(storage)
    dp = make_dispatcher(phieu)
    secret = settings.webhook_secret or ""
    app = web.Application(client_max_size=1024 * 1024)

    async def webhook(request: web.Request) -> web.Response:
        if not secret or not secret_ok(request.headers.get(SECRET_HEADER), secret):
            log.warning("webhook request refused: wrong or missing secret from %s", request.remote)
            return web.json_response({"ok": False}, status=401)
        try:
            data = await request.json()
            update = Update.model_validate(data, context={"bot": bot})
        except Exception:
            log.warning("webhook body is not a Telegram update")
            return web.json_response({"ok": False}, status=400)
        # Errors propagate as 500: Telegram redelivers, and the update id makes that safe.
        await dp.feed_update(bot, update)
        return web.json_response({"ok": True})

    async def health(_: web.Request) -> web.Response:
        try:
            async with storage.unit() as unit:
                counts = await unit.outbox_counts()
        except Exception:
            log.exception("health check failed")
            return web.json_response({"status": "error"}, status=503)
        return web.json_response({"status": "ok", "outbox": counts})

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if register_webhook:
            await bot.set_webhook(
                url=f"{settings.public_url}{settings.webhook_path}",
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            await set_commands(bot)
        async with running_worker(make_worker(storage, bot) if with_worker else None):
            yield
        await bot.session.close()

    app.router.add_post(settings.webhook_path, webhook)
    app.router.add_get("/healthz", health)
    app.cleanup_ctx.append(lifecycle)
    return app


async def run_worker(settings: Settings, storage: Storage, per_second: float) -> None:
    bot = make_bot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await make_worker(storage, bot, per_second).run(stop)
    finally:
        await bot.session.close()
