"""Evidence links given over Zalo are checked like Telegram's (issue #10 on issue #13's
channel): `phieu run zalo` builds its service with the background LinkCheckQueue, so a dead
link is recorded and the official told over Zalo, as numbered text; and the LinkSweep runs
beside its worker, checking a link given earlier that no process checked.

Real pieces: run_polling over FakeZalo, the LinkChecker against local pages (the address
policy allows only that server; a public-looking name resolves to it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.netguard import AddressPolicy, static_resolver
from bot.workers.linkcheck import LinkChecker
from bot.workers.pacing import SendSettings
from bot.zalo import app as zalo_app
from flows.state import Answer
from storage.repository import Storage
from tests.e2e.telegram_support import seed_campaign
from tests.e2e.zalo_support import settings_for
from tests.fakes.link_pages import Site, start_site
from tests.fakes.zalo_api import FakeZalo, text_update
from tests.integration.conftest import storage as storage  # the fixture, re-exported

LAN = "b1c2d3e4f5a6b7c8d9e0"
HOST = "minhchung.binhdinh.gov.vn"  # a public-looking name, mapped to the local server
FAST = SendSettings(poll=0.05, heartbeat=0.2)
WAIT = 20.0


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


@pytest.fixture
async def pages() -> AsyncIterator[Site]:
    site = await start_site("127.0.0.1")
    yield site
    await site.server.close()


def checkers(pages: Site) -> Callable[[], LinkChecker]:
    return lambda: LinkChecker(
        policy=AddressPolicy.testing(("127.0.0.1", pages.port)),
        resolver=static_resolver({HOST: ["127.0.0.1"]}),
    )


async def until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT
    while not check():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def told(zalo: FakeZalo, item: str) -> list[str]:
    return [t for t in zalo.texts_to(LAN) if f"Mục {item}: link minh chứng không mở được" in t]


async def test_a_link_given_over_zalo_is_checked_and_a_dead_one_told_over_zalo(
    zalo: FakeZalo,
    storage: Storage,
    pages: Site,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHIEU_LINKCHECK", "1")  # the test suite turns it off by default
    agency, campaign = await seed_campaign(storage)
    earlier = f"http://{HOST}:{pages.port}/missing?given=earlier"
    async with storage.unit() as unit:
        lan = await unit.add_user("Lan", agency.id, "official")
        await unit.bind_identity(lan.id, "zalo", LAN, "Lan")
        sub = await unit.submission(campaign.id, agency.id)
        # given an hour ago by a process that died before checking it: the sweep's
        old = {"number": "5/KH-UBND", "date": None, "title": None, "link": earlier}
        await unit.apply_changes(
            sub.id,
            {"8.1": Answer(True, evidence=old)},
            lan.id,
            "zalo",
            datetime.now(UTC) - timedelta(hours=1),
        )
    dead = f"http://{HOST}:{pages.port}/missing"
    fine = f"http://{HOST}:{pages.port}/ok"
    stop = asyncio.Event()
    task = asyncio.create_task(
        zalo_app.run_polling(
            settings_for(zalo, tmp_path),
            storage,
            stop=stop,
            send=FAST,
            poll_timeout=1,
            link_checkers=checkers(pages),
        )
    )
    try:
        for text in ("/sua 8.2", "Có", f"12/KH-UBND; 15/01/2019; {dead}"):
            zalo.push(text_update(LAN, text, name="Lan"))
        await until(lambda: bool(told(zalo, "8.2")) or task.done(), "the notice for 8.2")
        assert not task.done(), task.exception()
        for text in ("/sua 8.3", "Có", f"13/QĐ-UBND; 16/01/2019; {fine}"):
            zalo.push(text_update(LAN, text, name="Lan"))
        await until(lambda: "/ok" in pages.hits, "the check of the good link")
        await until(lambda: bool(told(zalo, "8.1")), "the sweep's notice for 8.1")
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)

    async with storage.unit() as unit:
        checks = {u: await unit.link_check(u) for u in (dead, fine, earlier)}
    assert checks[dead] is not None and checks[dead].status == 404
    assert checks[fine] is not None and checks[fine].ok
    assert checks[earlier] is not None and checks[earlier].status == 404
    [notice] = told(zalo, "8.2")
    assert dead in notice and "lỗi 404" in notice
    # Zalo has no buttons: the way to fix it is typed (a command or a numbered choice)
    assert "/minhchung 8.2" in notice or "\n1. " in notice, notice
    assert told(zalo, "8.3") == []  # the page that opens is not announced
    assert zalo.violations == []
