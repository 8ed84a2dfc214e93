"""Wake workers of other processes when rows are queued: PostgreSQL LISTEN/NOTIFY.

A unit that queued outbox rows notifies `phieu_outbox` (`phieu_outbox.<schema>` outside
the public schema, so other schemas of the database never wake us) with its process tag
before it commits (storage `Storage.unit`); PostgreSQL delivers the notification only if
and when the transaction commits; a listener ignores its own process's tag (its reply
sender has those).
`listen_for_outbox` holds one pooled connection with an asyncpg listener that sets
the worker's `wake` event, and re-listens on a fresh connection if that one is lost. On
SQLite there is one process per database file in practice, and the in-process wake-up
(`bot/workers/sender.py`, `OutboxWorker.wake`) is enough: this returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from storage.repository import OUTBOX_CHANNEL_SQL, Storage

log = logging.getLogger(__name__)


async def listen_for_outbox(
    storage: Storage, wake: asyncio.Event, stop: asyncio.Event, check_every: float = 5.0
) -> None:
    """Until `stop`: set `wake` on every outbox notification (PostgreSQL only)."""
    if storage.engine.dialect.name != "postgresql":
        return

    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        # This process's own commits are sent by its reply sender: no wake-up for them.
        if payload != storage.notify_tag:
            wake.set()

    while not stop.is_set():
        try:
            async with storage.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                # This schema's channel, as the notifying units compute it.
                channel = await driver.fetchval(f"SELECT {OUTBOX_CHANNEL_SQL}")
                await driver.add_listener(channel, on_notify)
                # Rows queued while we were not listening: look once.
                wake.set()
                try:
                    while not stop.is_set() and not driver.is_closed():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), check_every)
                finally:
                    if not driver.is_closed():
                        with contextlib.suppress(Exception):
                            await driver.remove_listener(channel, on_notify)
        except Exception:
            log.exception("outbox LISTEN connection lost; listening again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), check_every)
