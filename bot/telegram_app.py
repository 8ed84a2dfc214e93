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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import Update
from aiohttp import web

from bot.channels.telegram import CHANNEL, TelegramTransport, build_routers, set_commands
from bot.config import ConfigError, Settings
from bot.outbox import OutboxWorker, RateLimiter
from bot.service import Phieu, utcnow
from storage.repository import Storage
from storage.retry import DEFAULT_POLICY

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
# Edits must be asked for: without "edited_message" Telegram drops them and an official who
# corrects a typo in an answer hears nothing.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
START_RETRY_FIRST = 1.0  # seconds before the first retry of a Bot API down at start-up
START_RETRY_MAX = 60.0
T = TypeVar("T")


async def when_reachable(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> T:
    """Run a start-up Bot API call, retrying while the API is down (network error, 5xx, 429).

    Each failure is logged (WARNING, so it shows without -v) with the wait before the next
    try: 1 s, doubling to at most 60 s, or the API's retry_after. A token Telegram refuses
    (401) is not retried: raises ConfigError naming TELEGRAM_BOT_TOKEN.
    """
    delay = START_RETRY_FIRST
    while True:
        try:
            return await call()
        except TelegramUnauthorizedError:
            raise ConfigError(
                "Telegram từ chối TELEGRAM_BOT_TOKEN (401 Unauthorized): kiểm tra token "
                "@BotFather cấp, hoặc tạo token mới bằng /token."
            ) from None
        except TelegramRetryAfter as e:
            wait = float(e.retry_after)
            log.warning("Bot API busy at start-up (%s): retrying in %.0f s", what, wait)
        except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as e:
            wait = delay
            delay = min(delay * 2, START_RETRY_MAX)
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            log.warning(
                "Bot API unreachable at start-up (%s): %s; retrying in %.0f s", what, reason, wait
            )
        await sleep(wait)


# A webhook request retries database trouble this long, then answers 500 (Telegram resends);
# well under the ~60 s after which Telegram gives up on a request and resends anyway.
WEBHOOK_RETRY_S = 20.0


def database_down() -> web.Response:
    """/healthz while the database does not answer: 503, so a load balancer or an uptime
    check sees it (the process itself keeps retrying)."""
    return web.json_response({"status": "error", "database": "unreachable"}, status=503)


def worker_health_app(storage: Storage) -> web.Application:
    """`phieu worker --health-port`: GET /healthz, 200 when the database answers, else 503."""

    async def health(_: web.Request) -> web.Response:
        if not await storage.ping():
            return database_down()
        return web.json_response({"status": "ok", "database": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", health)
    return app


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
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            # Still waiting for the database: a row it delivered but could not mark yet
            # will be sent again after its lease (at-least-once), which beats hanging here.
            log.warning("outbox worker did not stop within 10 s (database away); cancelled")


def polling_phieu(storage: Storage) -> Phieu:
    """The service as polling needs it: a transient database error is retried until the
    database is back. aiogram confirms an update (the next getUpdates offset) as soon as its
    handler returns or raises, so a handler that gave up would drop the update for good;
    blocking instead holds the offset, and a restart gets the update again."""
    return Phieu(storage, retry=DEFAULT_POLICY.forever())


def webhook_phieu(storage: Storage) -> Phieu:
    """The service as webhooks need it: one chat's concurrent updates applied in update_id
    order (several connections or processes), and a bounded retry: after WEBHOOK_RETRY_S the
    request fails with 500 and Telegram resends the update later."""
    return Phieu(storage, retry=DEFAULT_POLICY.bounded(WEBHOOK_RETRY_S), ordered=True)


async def run_polling(settings: Settings, storage: Storage, with_worker: bool = True) -> None:
    bot = make_bot(settings)
    phieu = polling_phieu(storage)
    dp = make_dispatcher(phieu)
    try:
        await when_reachable(
            "deleteWebhook", lambda: bot.delete_webhook(drop_pending_updates=False)
        )
        await when_reachable("setMyCommands", lambda: set_commands(bot))
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
    phieu = webhook_phieu(storage)
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
        if not await storage.ping():
            return database_down()
        try:
            async with storage.unit() as unit:
                counts = await unit.outbox_counts()
        except Exception:
            log.exception("health check failed")
            return web.json_response({"status": "error"}, status=503)
        return web.json_response({"status": "ok", "outbox": counts})

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if register_webhook:
            await when_reachable(
                "setWebhook",
                lambda: bot.set_webhook(
                    url=f"{settings.public_url}{settings.webhook_path}",
                    secret_token=secret,
                    allowed_updates=ALLOWED_UPDATES,
                ),
            )
            await when_reachable("setMyCommands", lambda: set_commands(bot))
        async with running_worker(make_worker(storage, bot) if with_worker else None):
            yield
        await bot.session.close()

    app.router.add_post(settings.webhook_path, webhook)
    app.router.add_get("/healthz", health)
    app.cleanup_ctx.append(lifecycle)
    return app


async def run_worker(
    settings: Settings, storage: Storage, per_second: float, health_port: int | None = None
) -> None:
    """Drain the outbox until SIGINT/SIGTERM; with `health_port`, serve GET /healthz on
    settings.host at that port."""
    bot = make_bot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner: web.AppRunner | None = None
    try:
        if health_port is not None:
            runner = web.AppRunner(worker_health_app(storage), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.host, health_port).start()
            log.info("worker health on http://%s:%d/healthz", settings.host, health_port)
        await make_worker(storage, bot, per_second).run(stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        await bot.session.close()
