"""Evidence links checked in the background (issue #10): queued after the commit, recorded,
and a dead link told to the official at once; the worker's sweep catches whatever the
process missed. On SQLite and PostgreSQL, against a local web server."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.netguard import AddressPolicy, static_resolver
from bot.service import Phieu, Sender
from bot.workers.linkcheck import LinkChecker
from bot.workers.linkjobs import (
    EvidenceLink,
    LinkCheckQueue,
    LinkSweep,
    check_and_record,
    describe,
    links_in,
)
from flows.state import Answer, Incoming
from storage import Storage
from storage.records import LinkCheckRec
from tests.engine_driver import inline_form
from tests.fakes.link_pages import Site, start_site

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
HOST = "minhchung.binhdinh.gov.vn"  # a public-looking name, mapped to the local server

FORM = inline_form("""
sections:
  - id: "2"
    title: HẠ TẦNG
    items:
      - {id: "2.1", type: yes_no, text: Cơ quan có cổng thông tin điện tử, evidence: link}
      - {id: "2.2", type: integer, text: Số máy tính, unit: máy}
""")


@pytest.fixture
async def pages() -> AsyncIterator[Site]:
    site = await start_site("127.0.0.1")
    yield site
    await site.server.close()


def checker(pages: Site, clock: Callable[[], datetime] = lambda: NOW) -> LinkChecker:
    return LinkChecker(
        policy=AddressPolicy.testing(("127.0.0.1", pages.port)),
        resolver=static_resolver({HOST: ["127.0.0.1"]}),
        clock=clock,
    )


HOUR = timedelta(hours=1)


def ticking() -> Callable[[], datetime]:
    """A clock one second further on each call: each check newer than the one before."""
    ticks = itertools.count()
    return lambda: NOW + timedelta(seconds=next(ticks))


async def official(storage: Storage) -> tuple[int, int]:
    """An agency with one official on Telegram chat 111; (user id, submission id)."""
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", "Sở TTTT", "so")
        lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
        await u.bind_identity(lan.id, "telegram", "111", "Lan")
        await u.bind_identity(lan.id, "zalo", "z-9", "Lan")
        campaign = await u.add_campaign(FORM.id, FORM.version, "Năm 2026", date(2026, 11, 26))
        sub = await u.submission(campaign.id, agency.id)
    return lan.id, sub.id


async def say(phieu: Phieu, text: str, n: int) -> None:
    await phieu.handle("telegram", "111", str(n), Incoming(text=text), Sender("111", "Lan", "vi"))


async def notices(storage: Storage, channel: str = "telegram", chat: str = "111") -> list[str]:
    async with storage.unit() as u:
        rows = await u.pending_for_chat(channel, chat)
    return [r.payload["text"] for r in rows if r.kind == "notice"]


async def test_a_dead_link_is_checked_after_the_answer_and_the_official_told(
    storage: Storage, pages: Site
) -> None:
    _, sub_id = await official(storage)
    queue = LinkCheckQueue(storage, checker(pages))
    given: list[list[EvidenceLink]] = []

    def on_links(links: list[EvidenceLink]) -> None:
        given.append(links)
        queue.submit(links)

    phieu = Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW, on_links=on_links)
    url = f"http://{HOST}:{pages.port}/missing"
    await say(phieu, "/sua 2.1", 1)
    await say(phieu, f"Có, {url}", 2)
    await queue.join()
    await queue.close()

    assert given == [[EvidenceLink(url, sub_id, "2.1", "telegram", "111", "vi")]]
    async with storage.unit() as u:
        rec = await u.link_check(url)
    assert rec is not None and rec.status == 404 and not rec.ok
    [told] = await notices(storage)
    assert "Mục 2.1: link minh chứng không mở được — kiểm tra lại?" in told
    assert url in told and "lỗi 404" in told and "/minhchung 2.1" in told
    assert pages.hits == ["/missing"]


async def test_a_link_that_opens_is_recorded_without_a_notice(
    storage: Storage, pages: Site
) -> None:
    await official(storage)
    queue = LinkCheckQueue(storage, checker(pages))
    phieu = Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW, on_links=queue.submit)
    url = f"http://{HOST}:{pages.port}/ok"
    await say(phieu, "/sua 2.1", 1)
    await say(phieu, f"Có, {url}", 2)
    await say(phieu, "12", 3)  # another item: no link, nothing more to check
    await queue.join()
    await queue.close()
    async with storage.unit() as u:
        rec = await u.link_check(url)
    assert rec is not None and rec.ok and rec.title
    assert await notices(storage) == []
    assert queue.done == 1 and pages.hits == ["/ok"]


async def test_the_conversation_goes_on_when_queueing_fails(storage: Storage) -> None:
    await official(storage)

    def broken(_: list[EvidenceLink]) -> None:
        raise RuntimeError("queue gone")

    phieu = Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW, on_links=broken)
    await say(phieu, "/sua 2.1", 1)
    await say(phieu, "Có, https://sotttt.binhdinh.gov.vn/cong", 2)
    async with storage.unit() as u:
        rows = await u.pending_for_chat("telegram", "111")
    assert any("sotttt.binhdinh.gov.vn/cong" in r.payload["text"] for r in rows)


async def test_a_link_replaced_before_its_check_ends_is_not_announced(
    storage: Storage, pages: Site
) -> None:
    user_id, sub_id = await official(storage)
    dead = f"http://{HOST}:{pages.port}/missing"
    async with storage.unit() as u:
        await u.apply_changes(
            sub_id, {"2.1": Answer(True, evidence="https://a.gov.vn/")}, user_id, "telegram", NOW
        )
    queue = LinkCheckQueue(storage, checker(pages))
    queue.submit([EvidenceLink(dead, sub_id, "2.1", "telegram", "111")])
    await queue.join()
    await queue.close()
    assert await notices(storage) == []
    async with storage.unit() as u:
        assert (await u.link_check(dead)) is not None  # recorded all the same


async def test_the_sweep_checks_what_was_never_checked_and_tells_every_chat(
    storage: Storage, pages: Site
) -> None:
    user_id, sub_id = await official(storage)
    dead = f"http://{HOST}:{pages.port}/missing"
    fine = {
        "number": "12/KH-UBND",
        "date": None,
        "title": None,
        "link": f"http://{HOST}:{pages.port}/ok",
    }
    long_ago = NOW - timedelta(hours=1)
    async with storage.unit() as u:
        await u.apply_changes(
            sub_id,
            {"2.1": Answer(True, evidence=dead), "2.2": Answer(3, evidence=fine)},
            user_id,
            "telegram",
            long_ago,
        )
    clock = [NOW]
    sweep = LinkSweep(storage, checker(pages, lambda: clock[0]), clock=lambda: clock[0], page=1)
    assert await sweep.run_once() == 2
    assert await sweep.run_once() == 0  # checked, not stale: nothing to do
    assert len(await notices(storage)) == 1
    zalo = await notices(storage, "zalo", "z-9")
    assert len(zalo) == 1 and "/minhchung 2.1" in zalo[0]

    clock[0] = NOW + timedelta(days=8)  # stale: checked again, recorded, not announced again
    assert await sweep.run_once() == 2
    assert len(await notices(storage)) == 1
    async with storage.unit() as u:
        again = await u.link_check(dead)
    assert again is not None and again.checked_at == NOW + timedelta(days=8)
    await sweep.checker.close()


async def test_the_sweep_leaves_fresh_answers_to_the_process_that_took_them(
    storage: Storage, pages: Site
) -> None:
    user_id, sub_id = await official(storage)
    async with storage.unit() as u:
        await u.apply_changes(
            sub_id,
            {"2.1": Answer(True, evidence=f"http://{HOST}:{pages.port}/missing")},
            user_id,
            "telegram",
            NOW - timedelta(seconds=30),
        )
    sweep = LinkSweep(storage, checker(pages), clock=lambda: NOW)
    assert await sweep.run_once() == 0
    await sweep.checker.close()
    assert pages.hits == []


def test_links_in_reads_every_evidence_shape() -> None:
    assert links_in("https://a.gov.vn/x") == ["https://a.gov.vn/x"]
    assert links_in({"number": "1/QĐ", "link": "http://b.vn"}) == ["http://b.vn"]
    assert links_in({"file": {"file_name": "kh.pdf"}, "link": None}) == []
    assert links_in({"file": {"kind": "photo"}}) == []
    assert links_in("javascript:alert(1)") == []
    assert links_in(None) == [] and links_in(12) == []
    assert links_in("https://a.vn/" + "x" * 3000) == []


def test_describe_says_what_was_found_in_both_languages() -> None:
    at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    ok = LinkCheckRec(
        "https://a.vn", 200, "https://a.vn/", "Cổng", "text/html", 2048, 120, None, at
    )
    assert describe(ok).startswith(
        "✅ 200 · “Cổng” · text/html · 2.0 KB · 120 ms · → https://a.vn/"
    )
    timeout = LinkCheckRec(
        "https://a.vn", None, "https://a.vn", None, None, None, 15000, "timeout", at
    )
    assert "máy chủ không trả lời kịp" in describe(timeout)
    assert "server did not answer in time" in describe(timeout, "en")
    refused = LinkCheckRec(
        "http://x.vn", None, None, None, None, None, 3, "forbidden_address:loopback", at
    )
    assert "địa chỉ nội bộ" in describe(refused)


async def test_the_sweep_runs_until_stopped_and_closes_its_session(
    storage: Storage, pages: Site
) -> None:
    user_id, sub_id = await official(storage)
    async with storage.unit() as u:
        await u.apply_changes(
            sub_id,
            {"2.1": Answer(True, evidence=f"http://{HOST}:{pages.port}/ok")},
            user_id,
            "telegram",
            NOW - timedelta(hours=1),
        )
    stop = asyncio.Event()
    sweep = LinkSweep(storage, checker(pages), clock=lambda: NOW, every=0.05)
    task = asyncio.create_task(sweep.run(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert pages.hits == ["/ok"]  # checked once, then fresh: not again
    assert sweep.checker._session is None


def test_the_apps_queue_links_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.telegram_app import polling_phieu, webhook_phieu
    from bot.workers.linkjobs import link_queue

    storage = object()
    monkeypatch.setenv("PHIEU_LINKCHECK", "1")
    queue = link_queue(storage)  # type: ignore[arg-type]
    assert queue is not None
    assert polling_phieu(storage, queue).on_links == queue.submit  # type: ignore[arg-type]
    assert webhook_phieu(storage, queue).on_links == queue.submit  # type: ignore[arg-type]
    monkeypatch.setenv("PHIEU_LINKCHECK", "0")
    assert link_queue(storage) is None  # type: ignore[arg-type]


async def test_a_reviewer_recheck_is_recorded_without_a_notice(
    storage: Storage, pages: Site
) -> None:
    await official(storage)
    url = f"http://{HOST}:{pages.port}/missing"
    async with checker(pages) as c:
        rec = await check_and_record(storage, url, checker=c)
    async with storage.unit() as u:
        assert await u.link_check(url) == rec
    assert rec.status == 404 and await notices(storage) == []


async def test_a_passing_server_error_is_confirmed_before_anyone_is_told(
    storage: Storage, pages: Site
) -> None:
    """503 then 200: recorded, checked again, fine — the official hears nothing."""
    _, sub_id = await official(storage)
    url = f"http://{HOST}:{pages.port}/flaky"
    async with storage.unit() as u:
        await u.apply_changes(sub_id, {"2.1": Answer(True, evidence=url)}, None, "telegram", NOW)
    queue = LinkCheckQueue(storage, checker(pages, ticking()), confirm_after=0.05)
    queue.submit([EvidenceLink(url, sub_id, "2.1", "telegram", "111")])
    await queue.join()
    await queue.close()
    async with storage.unit() as u:
        rec = await u.link_check(url)
    assert rec is not None and rec.ok
    assert pages.hits == ["/flaky", "/flaky"]
    assert await notices(storage) == []


async def test_a_server_that_stays_down_is_told_after_the_confirming_check(
    storage: Storage, pages: Site
) -> None:
    _, sub_id = await official(storage)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = f"http://down.binhdinh.gov.vn:{closed}/kh"
    async with storage.unit() as u:
        await u.apply_changes(sub_id, {"2.1": Answer(True, evidence=url)}, None, "telegram", NOW)
    down = LinkChecker(
        policy=AddressPolicy.testing(("127.0.0.1", closed)),
        resolver=static_resolver({"down.binhdinh.gov.vn": ["127.0.0.1"]}),
    )
    queue = LinkCheckQueue(storage, down, confirm_after=0.05)
    queue.submit([EvidenceLink(url, sub_id, "2.1", "telegram", "111")])
    await queue.join()
    await queue.close()
    assert queue.done == 2
    [told] = await notices(storage)
    assert "không kết nối được máy chủ" in told


async def test_the_sweep_confirms_a_blip_too(storage: Storage, pages: Site) -> None:
    user_id, sub_id = await official(storage)
    url = f"http://{HOST}:{pages.port}/flaky"
    async with storage.unit() as u:
        await u.apply_changes(
            sub_id,
            {"2.1": Answer(True, evidence=url)},
            user_id,
            "telegram",
            NOW - timedelta(hours=1),
        )
    sweep = LinkSweep(storage, checker(pages, ticking()), clock=lambda: NOW, confirm_after=0.05)
    assert await sweep.run_once() == 1
    await sweep.checker.close()
    assert pages.hits == ["/flaky", "/flaky"]
    assert await notices(storage) == [] and await notices(storage, "zalo", "z-9") == []


async def test_the_sweep_runs_beside_the_worker_unless_turned_off(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHIEU_LINKCHECK", "1")
    async with LinkSweep.running(storage) as sweep:
        assert sweep is not None
        await asyncio.sleep(0.1)  # one pass over no evidence
    assert sweep.checker._session is None
    monkeypatch.setenv("PHIEU_LINKCHECK", "0")
    async with LinkSweep.running(storage) as off:
        assert off is None


async def test_the_same_link_sent_again_after_a_fix_is_checked_again(
    storage: Storage, pages: Site
) -> None:
    await official(storage)
    pages.flaky_left = 2  # down for the check and its confirmation
    queue = LinkCheckQueue(storage, checker(pages, ticking()), confirm_after=0.01)
    phieu = Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW, on_links=queue.submit)
    url = f"http://{HOST}:{pages.port}/flaky"
    await say(phieu, "/sua 2.1", 1)
    await say(phieu, f"Có, {url}", 2)
    await queue.join()
    assert len(await notices(storage)) == 1
    # The agency fixes its page and sends the very same link again.
    await say(phieu, "/minhchung 2.1", 3)
    await say(phieu, url, 4)
    await queue.join()
    await queue.close()
    async with storage.unit() as u:
        rec = await u.link_check(url)
    assert rec is not None and rec.ok
    assert pages.hits == ["/flaky"] * 3
    assert len(await notices(storage)) == 1
