"""Wiring for Telegram: the bot, the dispatcher, long polling, the webhook server, the worker.

`phieu run telegram` polls (one machine); `phieu serve` is an aiohttp server for webhooks that
can run as several processes on one PostgreSQL; `phieu worker` only drains the outbox. No
state lives in these processes between updates. Every process that handles updates sends
its own replies as soon as their transaction commits (bot/workers/sender.py); the worker is the
safety net, woken in process and, on PostgreSQL, by NOTIFY (bot/workers/wakeup.py). All the
processes of one bot share its send rate (bot/workers/pacing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import hmac
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
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
from aiogram.types import TelegramObject, Update
from aiohttp import web

from bot.channels.telegram import CHANNEL, TelegramTransport, build_routers, set_commands
from bot.config import ConfigError, Settings
from bot.review.links import refresh_link
from bot.service import Phieu, utcnow
from bot.workers.linkcheck import LinkChecker
from bot.workers.linkjobs import LinkCheckQueue, LinkSweep, link_queue
from bot.workers.outbox import OutboxWorker, RateLimiter
from bot.workers.pacing import RateShare, SendSettings, bot_key
from bot.workers.sender import ReplySender
from bot.workers.wakeup import listen_for_outbox
from flows.i18n import N_
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
                N_(
                    "Telegram từ chối TELEGRAM_BOT_TOKEN (401 Unauthorized): kiểm tra token "
                    "@BotFather cấp, hoặc tạo token mới bằng /token."
                )
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


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: a long-running command's way to stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every platform's loop
            loop.add_signal_handler(sig, stop.set)
    return stop


def database_down() -> web.Response:
    """/healthz while the database does not answer: 503, so a load balancer or an uptime
    check sees it (the process itself keeps retrying)."""
    return web.json_response({"status": "error", "database": "unreachable"}, status=503)


def outbox_health(storage: Storage) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /healthz of a webhook server: 200 with the outbox backlog, 503 when the database
    does not answer or the count fails."""

    async def health(_: web.Request) -> web.Response:
        if not await storage.ping():
            return database_down()
        try:
            async with storage.unit() as unit:
                # Bounded work, through the status index: never a scan of the outbox.
                backlog = await unit.outbox_backlog(utcnow())
        except Exception:
            log.exception("health check failed")
            return web.json_response({"status": "error"}, status=503)
        return web.json_response({"status": "ok", "outbox": backlog})

    return health


def worker_health_app(storage: Storage) -> web.Application:
    """`phieu worker --health-port`: GET /healthz, 200 when the database answers, else 503."""

    async def health(_: web.Request) -> web.Response:
        if not await storage.ping():
            return database_down()
        return web.json_response({"status": "ok", "database": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", health)
    return app


REPLY_GRACE = 3.0  # seconds the safety-net worker leaves a fresh reply to its own process


def release_startup_memory() -> None:
    """Give back to the system what start-up used and dropped (migrations, parsing the form
    YAML): without it the C heap keeps those pages, and an idle bot looks ~10 MB bigger."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc only; elsewhere a no-op


def make_bot(settings: Settings) -> Bot:
    session = None
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return Bot(token=settings.telegram_token, session=session)


def _update_id(data: dict[str, Any]) -> str | None:
    update = data.get("event_update")
    return str(update.update_id) if update is not None else None


def chat_of(update: Update) -> str | None:
    """The chat an update's replies go to (the private chat of a message, an edited message
    or a pressed button)."""
    message = update.message or update.edited_message
    if message is not None:
        return str(message.chat.id)
    query = update.callback_query
    if query is not None:
        return str(query.message.chat.id) if query.message is not None else str(query.from_user.id)
    return None


def make_dispatcher(phieu: Phieu, sender: ReplySender | None = None) -> Dispatcher:
    """Routers for the questionnaire; with `sender`, each handled update's replies are sent
    as soon as its handler returned (its transaction has committed by then).

    No FSM: Phiếu keeps conversation state in the database, and aiogram's default memory
    storage would keep a record for every chat it ever saw (memory growing with users)."""
    dp = Dispatcher(disable_fsm=True)
    dp.include_routers(*build_routers(phieu, _update_id))
    if sender is not None:

        async def send_on_commit(
            handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
            event: TelegramObject,
            data: dict[str, Any],
        ) -> Any:
            result = await handler(event, data)
            chat = chat_of(event) if isinstance(event, Update) else None
            if chat is not None:
                sender.committed(CHANNEL, chat)
            return result

        dp.update.outer_middleware(send_on_commit)
    return dp


def make_worker(
    storage: Storage,
    bot: Bot,
    per_second: float | None = None,
    send: SendSettings | None = None,
    limiter: RateLimiter | None = None,
) -> OutboxWorker:
    """The outbox worker for Telegram with `send`'s settings (`per_second` overrides the
    rate; `limiter` shares one limiter with this process's reply sender)."""
    send = send or SendSettings()
    if limiter is None:
        limiter = send.limiter()
        if per_second is not None:
            limiter.per_second = per_second
    return OutboxWorker(
        storage=storage,
        transports={CHANNEL: TelegramTransport(bot)},
        now=utcnow,
        limiter=limiter,
        idle_sleep=send.poll,
        keep_sent=send.keep_sent,
        parallel=send.parallel,
    )


def polling_phieu(storage: Storage, links: LinkCheckQueue | None = None) -> Phieu:
    """The service as polling needs it: a transient database error is retried until the
    database is back. aiogram confirms an update (the next getUpdates offset) as soon as its
    handler returns or raises, so a handler that gave up would drop the update for good;
    blocking instead holds the offset, and a restart gets the update again. Evidence links
    go to `links` after each commit; a reviewer's opened links are re-checked."""
    return Phieu(
        storage,
        retry=DEFAULT_POLICY.forever(),
        on_links=links.submit if links is not None else None,
        check_link=partial(refresh_link, storage),
    )


def webhook_phieu(storage: Storage, links: LinkCheckQueue | None = None) -> Phieu:
    """The service as webhooks need it: one chat's concurrent updates applied in update_id
    order (several connections or processes), and a bounded retry: after WEBHOOK_RETRY_S the
    request fails with 500 and Telegram resends the update later. Evidence links go to
    `links` after each commit."""
    return Phieu(
        storage,
        retry=DEFAULT_POLICY.bounded(WEBHOOK_RETRY_S),
        ordered=True,
        on_links=links.submit if links is not None else None,
        check_link=partial(refresh_link, storage),  # a reviewer's re-check (issue #10)
    )


Checkers = Callable[[], LinkChecker] | None  # makes the link checkers (None: the default)


def make_checker(make: Checkers) -> LinkChecker | None:
    """A link checker from `make`, or None for the default one."""
    return make() if make is not None else None


def sweeping(
    storage: Storage, on: bool, checkers: Checkers = None
) -> AbstractAsyncContextManager[object]:
    """The evidence-link sweep for the block, when `on`: beside the outbox worker (none
    without it: `phieu worker` runs it then), and once per process (a Zalo app in
    Telegram's server leaves it to Telegram's)."""
    if not on:
        return contextlib.nullcontext()
    return LinkSweep.running(storage, make_checker(checkers))


@dataclass
class Sending:
    """Everything that sends, for one process, sharing one limiter: the reply sender, the
    safety-net worker (woken by NOTIFY on PostgreSQL) and the heartbeat that sets this
    process's share of the bot's rate."""

    worker: OutboxWorker
    sender: ReplySender
    share: RateShare

    @classmethod
    def build(cls, storage: Storage, bot: Bot, send: SendSettings) -> Sending:
        limiter = send.limiter()
        worker = make_worker(storage, bot, send=send, limiter=limiter)
        # Every process that handles updates sends its own replies at once: the worker
        # leaves fresh ones to it (a crashed process's are taken after the grace).
        worker.reply_grace = REPLY_GRACE
        share = RateShare(storage, bot_key(bot.token), send.rate, limiter, utcnow, send.heartbeat)
        return cls(worker, ReplySender(worker), share)

    @asynccontextmanager
    async def running(self, *, with_worker: bool = True) -> AsyncIterator[None]:
        """Run the sender, the heartbeat and (unless `with_worker` is False) the worker."""
        await self.share.beat()  # know the share before the first send
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(self.share.run(stop), name="send-heartbeat"),
            asyncio.create_task(self.sender.run(stop), name="reply-sender"),
        ]
        if with_worker:
            storage = self.worker.storage
            tasks.append(asyncio.create_task(self.worker.run(stop), name="outbox-worker"))
            tasks.append(
                asyncio.create_task(
                    listen_for_outbox(storage, self.worker.wake, stop), name="outbox-listen"
                )
            )
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


async def run_polling(
    settings: Settings,
    storage: Storage,
    with_worker: bool = True,
    *,
    send: SendSettings | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Long polling until SIGINT/SIGTERM (or `stop`, for benchmarks and tests)."""
    bot = make_bot(settings)
    links = link_queue(storage)
    phieu = polling_phieu(storage, links)
    try:
        await when_reachable(
            "deleteWebhook", lambda: bot.delete_webhook(drop_pending_updates=False)
        )
        await when_reachable("setMyCommands", lambda: set_commands(bot))
        out = Sending.build(storage, bot, send or SendSettings.from_env())
        async with out.running(with_worker=with_worker), sweeping(storage, with_worker):
            dp = make_dispatcher(phieu, out.sender)
            release_startup_memory()
            stopper = None
            if stop is not None:

                async def stop_when_asked() -> None:
                    await stop.wait()
                    await dp.stop_polling()

                stopper = asyncio.create_task(stop_when_asked())
            try:
                # In order, one at a time: one machine, and one chat's updates stay ordered.
                await dp.start_polling(
                    bot,
                    handle_as_tasks=False,
                    allowed_updates=ALLOWED_UPDATES,
                    handle_signals=stop is None,
                    close_bot_session=False,
                )
            finally:
                if stopper is not None:
                    stopper.cancel()
    finally:
        if links is not None:
            await links.close()
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
    send: SendSettings | None = None,
) -> web.Application:
    """The webhook server: POST updates, GET /healthz; graceful start and stop."""
    links = link_queue(storage)
    phieu = webhook_phieu(storage, links)
    out = Sending.build(storage, bot, send or SendSettings.from_env())
    dp = make_dispatcher(phieu, out.sender)
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

    health = outbox_health(storage)

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
        async with out.running(with_worker=with_worker), sweeping(storage, with_worker):
            release_startup_memory()
            yield
        if links is not None:
            await links.close()
        await bot.session.close()

    app.router.add_post(settings.webhook_path, webhook)
    app.router.add_get("/healthz", health)
    app.cleanup_ctx.append(lifecycle)
    return app
