"""Wiring for Zalo: long polling (`phieu run zalo`), the webhook route (`phieu serve`), and
the Zalo sender set (reply sender, safety-net worker, rate heartbeat) that `phieu serve`,
`phieu run zalo` and `phieu worker` run beside Telegram's.

Zalo gets its own OutboxWorker and limiter: its rate (PHIEU_ZALO_SEND_RATE, default 10 a
second — Zalo publishes no limit) is not Telegram's, and a pause after a Zalo 429 must not
hold Telegram's messages. The worker claims only rows of channel "zalo".

getUpdates has no offset: Zalo hands each update out once. So the polling handler retries
database trouble until the database is back (as Telegram's polling does), and an update
whose handling fails otherwise is logged and dropped, never crashing the loop. With a
webhook an error answers 500 and Zalo may redeliver; the event id makes that safe.

The service is built as Telegram's is (bot/telegram_app.py polling_phieu/webhook_phieu):
evidence links given over Zalo are checked in the background (a LinkCheckQueue fed by
`on_links` after each commit), reviewers' opened links re-checked, and the LinkSweep runs
wherever this process runs the outbox worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from bot.channels.zalo import CHANNEL, ZaloChannel, ZaloTransport, parse_update
from bot.config import ConfigError
from bot.netguard import AddressPolicy
from bot.service import Phieu, utcnow
from bot.telegram_app import (
    REPLY_GRACE,
    START_RETRY_FIRST,
    START_RETRY_MAX,
    Checkers,
    Sending,
    make_checker,
    outbox_health,
    polling_phieu,
    release_startup_memory,
    secret_ok,
    stop_on_signals,
    sweeping,
    webhook_phieu,
)
from bot.workers.linkjobs import LinkCheckQueue, link_queue
from bot.workers.outbox import OutboxWorker
from bot.workers.pacing import RateShare, SendSettings
from bot.workers.sender import ReplySender
from bot.zalo.client import POLL_TIMEOUT, ZaloBotClient, ZaloError, ZaloUnauthorized
from bot.zalo.config import ZaloSettings
from bot.zalo.media import MediaStore
from flows.i18n import N_
from storage.repository import Storage

log = logging.getLogger(__name__)

ZALO_REFUSED = N_("Zalo từ chối ZALO_BOT_TOKEN (401): kiểm tra token Zalo Bot Creator cấp.")

SECRET_HEADER = "X-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
T = TypeVar("T")


async def _close(links: LinkCheckQueue | None) -> None:
    if links is not None:
        await links.close()


def make_client(settings: ZaloSettings) -> ZaloBotClient:
    return ZaloBotClient(settings.token, settings.api_base)


def make_media(settings: ZaloSettings, policy: AddressPolicy | None = None) -> MediaStore:
    """Where images are kept, downloads guarded by `policy` (netguard's real rules unless a
    test allows its fake's socket)."""
    return MediaStore(settings.media_dir, settings.media_max_bytes, policy or AddressPolicy())


async def when_reachable(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> T:
    """A start-up call retried while Zalo is unreachable (1 s doubling to 60 s, logged);
    a refused token raises ConfigError naming ZALO_BOT_TOKEN."""
    delay = START_RETRY_FIRST
    while True:
        try:
            return await call()
        except ZaloUnauthorized:
            raise ConfigError(ZALO_REFUSED) from None
        except ZaloError as e:
            log.warning(
                "Zalo Bot API unreachable at start-up (%s): %s; retry in %.0f s", what, e, delay
            )
        await sleep(delay)
        delay = min(delay * 2, START_RETRY_MAX)


def zalo_sending(
    storage: Storage, client: Any, settings: ZaloSettings, send: SendSettings, bot_id: str
) -> Sending:
    """The Zalo sender set: its own limiter at PHIEU_ZALO_SEND_RATE (shared by every process
    sending for this bot through the heartbeat), the reply sender, the safety-net worker."""
    limiter = send.limiter()
    limiter.per_second = settings.send_rate
    worker = OutboxWorker(
        storage=storage,
        transports={CHANNEL: ZaloTransport(client)},
        now=utcnow,
        limiter=limiter,
        idle_sleep=send.poll,
        keep_sent=send.keep_sent,
    )
    worker.reply_grace = REPLY_GRACE
    share = RateShare(
        storage, f"zalo:{bot_id}"[:64], settings.send_rate, limiter, utcnow, send.heartbeat
    )
    return Sending(worker, ReplySender(worker), share)


class InOrder:
    """Runs handlers concurrently across chats and one at a time, in arrival order, within a
    chat; at most `limit` in flight (`submit` waits for room: polling slows down rather than
    piling up updates in memory). A handler's failure is logged, never raised."""

    def __init__(self, limit: int = 16) -> None:
        self._room = asyncio.Semaphore(limit)
        self._last: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: str, work: Callable[[], Awaitable[Any]]) -> None:
        await self._room.acquire()
        previous = self._last.get(key)

        async def run() -> None:
            try:
                if previous is not None:
                    await asyncio.wait({previous})  # its outcome is its own (logged there)
                await work()
            except Exception:
                log.exception("zalo update could not be handled; dropped")
            finally:
                self._room.release()
                if self._last.get(key) is task:
                    del self._last[key]

        task = asyncio.create_task(run(), name=f"zalo-update-{key}")
        self._last[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every handler in flight (at shutdown: updates taken are not dropped)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def poll_updates(
    client: ZaloBotClient,
    channel: ZaloChannel,
    stop: asyncio.Event,
    *,
    timeout: int = POLL_TIMEOUT,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    in_flight: int = 16,
) -> None:
    """getUpdates until `stop`. Zalo returns one update per call, so the next poll goes out
    while the update is handled: different chats' updates are handled concurrently (up to
    `in_flight`), one chat's in order (InOrder). Zalo down: back off 1 s doubling to 60 s.
    On stop the poll in progress is cancelled and the updates taken are finished; an update
    Zalo hands out in the very instant of the cancel is lost (getUpdates has no offset to
    confirm with) — use the webhook where that matters."""
    delay = START_RETRY_FIRST
    handlers = InOrder(in_flight)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            polling = asyncio.ensure_future(client.get_update(timeout))
            await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not polling.done():
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError, ZaloError):
                    await polling
                return
            try:
                update = polling.result()
            except ZaloUnauthorized:
                raise ConfigError(ZALO_REFUSED) from None
            except ZaloError as e:
                log.warning("getUpdates failed: %s; retrying in %.0f s", e, delay)
                await sleep(delay)
                delay = min(delay * 2, START_RETRY_MAX)
                continue
            delay = START_RETRY_FIRST
            event = parse_update(update) if update is not None else None
            if event is None:
                if update is not None:
                    log.info("zalo update without a message ignored")
                continue
            await handlers.submit(
                event.chat_id or "", lambda event=event: channel.handle_event(event)
            )
    finally:
        stopping.cancel()
        await handlers.drain()


async def run_polling(
    settings: ZaloSettings,
    storage: Storage,
    with_worker: bool = True,
    *,
    send: SendSettings | None = None,
    stop: asyncio.Event | None = None,
    poll_timeout: int = POLL_TIMEOUT,
    media_policy: AddressPolicy | None = None,
    link_checkers: Checkers = None,
) -> None:
    """`phieu run zalo`: delete any webhook (polling and webhooks exclude each other), then
    poll until SIGINT/SIGTERM or `stop`. Evidence links are checked in the background and,
    with the worker, swept (`link_checkers` makes the checkers: tests allow local pages)."""
    client = make_client(settings)
    links = link_queue(storage, make_checker(link_checkers))
    stop = stop if stop is not None else stop_on_signals()
    try:
        me = await when_reachable("getMe", client.get_me)
        log.info("zalo bot %s (%s) polling", me.name, me.id)
        await when_reachable("deleteWebhook", client.delete_webhook)
        out = zalo_sending(
            storage, client, settings, send or SendSettings.from_env(), client.bot_id
        )
        async with (
            out.running(with_worker=with_worker),
            sweeping(storage, with_worker, link_checkers),
        ):
            channel = ZaloChannel(
                polling_phieu(storage, links),
                make_media(settings, media_policy),
                out.sender.committed,
                client,
            )
            release_startup_memory()
            await poll_updates(client, channel, stop, timeout=poll_timeout)
    finally:
        await _close(links)
        await client.close()


def install_webhook(
    app: web.Application,
    settings: ZaloSettings,
    storage: Storage,
    client: ZaloBotClient,
    *,
    with_worker: bool = True,
    register_webhook: bool = True,
    send: SendSettings | None = None,
    phieu: Phieu | None = None,
    media_policy: AddressPolicy | None = None,
    sweep: bool = True,
    link_checkers: Checkers = None,
) -> None:
    """Add POST /zalo/webhook to `app` (Telegram's server or a Zalo-only one), and the
    Zalo sender set to its lifecycle. The secret header is compared in constant time;
    only JSON bodies; bare and {"ok":…,"result":…}-wrapped updates both accepted.
    Without `phieu`, the service checks evidence links in the background; the LinkSweep
    runs with the worker unless `sweep` is False (Telegram's app in the same server
    sweeps already)."""
    out = zalo_sending(storage, client, settings, send or SendSettings.from_env(), client.bot_id)
    links = link_queue(storage, make_checker(link_checkers)) if phieu is None else None
    channel = ZaloChannel(
        phieu or webhook_phieu(storage, links),
        make_media(settings, media_policy),
        out.sender.committed,
        client,
    )
    secret = settings.webhook_secret or ""

    async def webhook(request: web.Request) -> web.Response:
        if not secret or not secret_ok(request.headers.get(SECRET_HEADER), secret):
            log.warning("zalo webhook refused: wrong or missing secret from %s", request.remote)
            return web.json_response({"ok": False}, status=401)
        if request.content_type != "application/json":
            return web.json_response({"ok": False, "description": "JSON only"}, status=415)
        try:
            data = await request.json()
        except ValueError:
            log.warning("zalo webhook body is not JSON")
            return web.json_response({"ok": False}, status=400)
        # Errors propagate as 500: Zalo may redeliver, and the event id makes that safe.
        await channel.handle_update(data)
        return web.json_response({"ok": True})

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        if register_webhook:
            url = f"{settings.public_url}{settings.webhook_path}"
            await when_reachable("setWebhook", lambda: client.set_webhook(url, secret))
        async with (
            out.running(with_worker=with_worker),
            sweeping(storage, with_worker and sweep, link_checkers),
        ):
            yield
        await _close(links)
        await client.close()

    app.router.add_post(settings.webhook_path, webhook)
    app.cleanup_ctx.append(lifecycle)


def make_web_app(
    settings: ZaloSettings,
    storage: Storage,
    client: ZaloBotClient,
    *,
    with_worker: bool = True,
    register_webhook: bool = True,
    send: SendSettings | None = None,
    media_policy: AddressPolicy | None = None,
    link_checkers: Checkers = None,
) -> web.Application:
    """A Zalo-only webhook server: POST /zalo/webhook, GET /healthz."""
    app = web.Application(client_max_size=1024 * 1024)

    app.router.add_get("/healthz", outbox_health(storage))
    install_webhook(
        app,
        settings,
        storage,
        client,
        with_worker=with_worker,
        register_webhook=register_webhook,
        send=send,
        media_policy=media_policy,
        link_checkers=link_checkers,
    )
    return app
