"""Evidence links are checked in the background: at once when given, and by a sweep.

Issue #10: "In the background when given […] never blocking the conversation. The official
is told at once when a link is dead ("link không mở được — kiểm tra lại?")."

- `LinkCheckQueue` (in the process that handles updates): Phieu calls `submit` after the
  answer's transaction committed (bot/service.py `on_links`); a few worker tasks check the
  links (bounded concurrency; a full queue drops, the sweep catches up) and, in ONE unit,
  record the result and — when the link is dead and the item still gives it — queue a
  notice to the chat that gave it, with the item number and a button/command to fix it.
- `LinkSweep` (in every process running the outbox worker: `phieu worker`, and `phieu run
  telegram` / `phieu serve` unless --no-worker): pages through the stored evidence and
  checks every link never checked (a crash or restart lost nothing: a check not recorded
  is done here, and its dead-link notice sent to the person who gave it — once, however
  many sweepers run: only the unit writing a URL's first check announces it) or checked
  longer ago than `stale_after` (recorded only: the reviewer sees a fresh result).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.render import reply_to_json
from bot.workers.linkcheck import ERRORS, LinkChecker
from flows.i18n import N_, normalise_language, translate
from flows.payload import Act, pack
from flows.state import Answer, Choice, Reply
from storage.records import LinkCheckRec
from storage.repository import Storage, Unit
from storage.retry import DEFAULT_POLICY, RetryPolicy, retrying

log = logging.getLogger(__name__)

MAX_URL = 2048


def utcnow() -> datetime:
    return datetime.now(UTC)


def linkcheck_enabled() -> bool:
    """PHIEU_LINKCHECK=0 turns background checks off (a server with no way out)."""
    return os.environ.get("PHIEU_LINKCHECK", "1").strip().lower() not in ("0", "false", "no")


def links_in(evidence: Any) -> list[str]:
    """The http(s) links an answer's evidence gives: a link alone, or a document's "link"
    (flows/parsing.py parse_url / parse_document shapes); longer than MAX_URL left out."""
    found: list[str] = []
    if isinstance(evidence, str):
        found.append(evidence)
    elif isinstance(evidence, dict) and isinstance(evidence.get("link"), str):
        found.append(evidence["link"])
    return [
        u
        for u in dict.fromkeys(found)
        if u.startswith(("http://", "https://")) and len(u) <= MAX_URL
    ]


def new_links(old: Answer | None, new: Answer | None) -> list[str]:
    """Links `new` gives that `old` did not: what an answer change asks to check."""
    if new is None:
        return []
    before = set(links_in(old.evidence)) if old is not None else set()
    return [u for u in links_in(new.evidence) if u not in before]


@dataclass(frozen=True, slots=True)
class EvidenceLink:
    """A link given as evidence for one item; tell `channel`/`chat_id` if it is dead."""

    url: str
    submission_id: int
    item_id: str
    channel: str
    chat_id: str
    lang: str = "vi"
    attempt: int = 0  # 1 for the confirming second check after a transient failure


# Failures that may be the network's, not the link's: checked once more before anyone is
# told, so a DNS or server blip does not send officials a false "link không mở được".
TRANSIENT = frozenset({"timeout", "connect", "dns", "http"})
CONFIRM_AFTER = 20.0  # seconds before the confirming check


def transient(rec: LinkCheckRec) -> bool:
    """A failure worth one more check: a network-level error or a 5xx status."""
    if rec.ok:
        return False
    return rec.error_code in TRANSIENT or (rec.error is None and (rec.status or 0) >= 500)


def _size(n: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def why_dead(rec: LinkCheckRec, lang: str) -> str:
    """What went wrong, in a few words ("lỗi 404", "máy chủ không trả lời kịp")."""
    code = rec.error_code
    if code is not None:
        return translate(lang, ERRORS.get(code, ERRORS["internal"]))
    return translate(lang, N_("lỗi {status}"), {"status": str(rec.status)})


def describe(rec: LinkCheckRec, lang: str = "vi", tz: str = "Asia/Ho_Chi_Minh") -> str:
    """One line on a check for people (reviewers beside the evidence, officials): status,
    title, type, size, time taken and when (dd/mm HH:MM in `tz`), or why the link does not
    open."""
    when = rec.checked_at.astimezone(ZoneInfo(tz)).strftime("%d/%m %H:%M")
    if not rec.ok:
        return translate(
            lang,
            N_("❌ Không mở được: {why} (kiểm tra lúc {when})"),
            {"why": why_dead(rec, lang), "when": when},
        )
    parts = [f"✅ {rec.status}"]
    if rec.title:
        parts.append(f"“{rec.title}”")
    if rec.content_type:
        parts.append(rec.content_type)
    if rec.size is not None:
        parts.append(_size(rec.size))
    parts.append(f"{rec.elapsed_ms} ms")
    if rec.final_url and rec.final_url != rec.url:
        parts.append("→ " + rec.final_url)
    parts.append(translate(lang, N_("kiểm tra lúc {when}"), {"when": when}))
    return " · ".join(parts)


def dead_link_notice(rec: LinkCheckRec, item_id: str, lang: str) -> dict[str, Any]:
    """The outbox payload telling an official their evidence link does not open."""
    text = translate(
        lang,
        N_(
            "⚠️ Mục {item}: link minh chứng không mở được — kiểm tra lại?\n{url}\n"
            "Lý do: {why}.\nGõ /minhchung {item} để gửi link khác."
        ),
        {"item": item_id, "url": rec.url, "why": why_dead(rec, lang)},
    )
    fix = Choice(translate(lang, N_("📎 Sửa minh chứng")), pack(Act.COMMAND, item_id, "evidence"))
    return reply_to_json(Reply(text, actions=(fix,), kind="notice", item=item_id))


async def _still_given(unit: Unit, submission_id: int, item_id: str, url: str) -> bool:
    return url in links_in(await unit.answer_evidence(submission_id, item_id))


async def settle(unit: Unit, rec: LinkCheckRec, link: EvidenceLink) -> bool:
    """Record `rec` and, if the link is dead and the item still gives it, queue the notice
    to the chat that gave it, in the same unit. True when a notice was queued."""
    await unit.record_link_check(rec)
    if rec.ok or not await _still_given(unit, link.submission_id, link.item_id, link.url):
        return False
    payload = dead_link_notice(rec, link.item_id, link.lang)
    await unit.enqueue(link.channel, link.chat_id, payload, kind="notice")
    return True


async def check_and_record(
    storage: Storage, url: str, *, checker: LinkChecker | None = None
) -> LinkCheckRec:
    """Check `url` now and keep the result (a reviewer opening an item): never raises for
    the link's sake; a database error after the check is raised as usual. No notice."""
    if checker is None:
        async with LinkChecker() as own:
            rec = await own.check(url)
    else:
        rec = await checker.check(url)
    if len(url) <= MAX_URL:
        async with storage.unit() as unit:
            await unit.record_link_check(rec)
    return rec


class LinkCheckQueue:
    """Checks submitted links with `workers` tasks, never blocking whoever submits.

    `submit` is synchronous and returns at once (call it from the event loop); at most
    `max_pending` links wait, more are dropped with a log line — never lost, since the
    sweep of `phieu worker` checks every link never checked. A transient failure
    (`transient`) is recorded, then checked again `confirm_after` seconds later; only a
    second failure is told to the official.
    """

    def __init__(
        self,
        storage: Storage,
        checker: LinkChecker | None = None,
        *,
        workers: int = 4,
        max_pending: int = 1000,
        retry: RetryPolicy = DEFAULT_POLICY,
        confirm_after: float = CONFIRM_AFTER,
    ) -> None:
        self.storage = storage
        self.checker = checker or LinkChecker()
        self.workers = workers
        self.retry = retry
        self.confirm_after = confirm_after
        self._waiting: set[asyncio.Task[None]] = set()  # confirming checks not yet queued
        self._queue: asyncio.Queue[EvidenceLink] = asyncio.Queue(max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self.done = 0  # links checked and recorded
        self.notices = 0  # dead-link notices queued

    def submit(self, links: Iterable[EvidenceLink]) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"linkcheck-{i}")
                for i in range(self.workers)
            ]
        for link in links:
            try:
                self._queue.put_nowait(link)
            except asyncio.QueueFull:
                log.warning("link check queue full: %s left to the sweep", link.url)

    async def join(self) -> None:
        """Wait until every submitted link is checked and recorded, confirming checks
        included (tests, benches)."""
        while True:
            await self._queue.join()
            if not self._waiting:
                return
            await asyncio.gather(*self._waiting, return_exceptions=True)

    async def close(self) -> None:
        """Stop the workers (a check cut short is redone by the sweep), close the session."""
        tasks = [*self._tasks, *self._waiting]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._waiting.clear()
        await self.checker.close()

    async def _later(self, link: EvidenceLink) -> None:
        await asyncio.sleep(self.confirm_after)
        self.submit([link])

    async def _work(self) -> None:
        while True:
            link = await self._queue.get()
            try:
                await self._one(link)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checking %s for item %s failed", link.url, link.item_id)
            finally:
                self._queue.task_done()

    async def _one(self, link: EvidenceLink) -> None:
        rec = await self.checker.check(link.url)
        confirm = transient(rec) and link.attempt == 0 and self.confirm_after > 0

        async def record() -> bool:
            async with self.storage.unit() as unit:
                if confirm:
                    await unit.record_link_check(rec)
                    return False
                return await settle(unit, rec, link)

        told = await retrying(record, what=f"link check {link.url}", policy=self.retry)
        self.done += 1
        self.notices += told
        if confirm:
            again = replace(link, attempt=1)
            task = asyncio.create_task(self._later(again), name="linkcheck-confirm")
            self._waiting.add(task)
            task.add_done_callback(self._waiting.discard)
        log.info("link %s: %s", link.url, "ok" if rec.ok else rec.error or rec.status)


def link_queue(storage: Storage, checker: LinkChecker | None = None) -> LinkCheckQueue | None:
    """The background checker of evidence links given in this process (issue #10), unless
    PHIEU_LINKCHECK=0; close it on shutdown (what it had not finished, the sweep redoes).
    `checker`: the default LinkChecker's replacement (tests: local pages allowed)."""
    return LinkCheckQueue(storage, checker) if linkcheck_enabled() else None


class LinkSweep:
    """`phieu worker`'s pass over stored evidence: links never checked, or stale.

    Answers changed less than `grace` ago are left to the in-process queue of the process
    that took them (so a dead link is not announced twice). A link never checked that turns
    out dead is announced to every chat of the person who gave it.
    """

    def __init__(
        self,
        storage: Storage,
        checker: LinkChecker | None = None,
        *,
        stale_after: timedelta = timedelta(days=7),
        grace: timedelta = timedelta(minutes=2),
        every: float = 600.0,
        page: int = 500,
        clock: Callable[[], datetime] = utcnow,
        confirm_after: float = CONFIRM_AFTER,
    ) -> None:
        self.storage = storage
        self.checker = checker or LinkChecker()
        self.confirm_after = confirm_after
        self.stale_after = stale_after
        self.grace = grace
        self.every = every
        self.page = page
        self.clock = clock

    async def run_once(self) -> int:
        """One pass over all stored evidence; returns how many links were checked."""
        now = self.clock()
        after, checked = 0, 0
        while True:
            async with self.storage.unit() as unit:
                rows = await unit.evidence_page(after, self.page, before=now - self.grace)
                if not rows:
                    return checked
                after = rows[-1].answer_id
                known = await unit.link_checks(u for r in rows for u in links_in(r.evidence))
            due: dict[str, list[tuple[int, str, int | None]]] = {}
            for r in rows:
                for url in links_in(r.evidence):
                    last = known.get(url)
                    if last is None or last.checked_at < now - self.stale_after:
                        due.setdefault(url, []).append((r.submission_id, r.item_id, r.updated_by))
            recs = await asyncio.gather(*(self.checker.check(url) for url in due))
            doubtful = [r.url for r in recs if transient(r) and r.url not in known]
            if doubtful and self.confirm_after > 0:  # never told on one blip (see TRANSIENT)
                await asyncio.sleep(self.confirm_after)
                again = {r.url: r for r in await asyncio.gather(*map(self.checker.check, doubtful))}
                recs = [again.get(r.url, r) for r in recs]
            for rec in recs:
                await self._settle(rec, due[rec.url], first=rec.url not in known)
            checked += len(recs)

    async def _settle(
        self, rec: LinkCheckRec, givers: list[tuple[int, str, int | None]], first: bool
    ) -> None:
        async with self.storage.unit() as unit:
            # Only the unit that writes the URL's first check may announce it: another
            # sweeper or the in-process queue recorded it first → that one told, or will.
            if not first or not await unit.add_first_link_check(rec):
                await unit.record_link_check(rec)
                return
            if rec.ok:
                return
            for submission_id, item_id, user_id in givers:
                if user_id is None or not await _still_given(unit, submission_id, item_id, rec.url):
                    continue
                user = await unit.user(user_id)
                lang = normalise_language(user.lang if user else "vi")
                for ident in await unit.identities(user_id):
                    payload = dead_link_notice(rec, item_id, lang)
                    await unit.enqueue(ident.channel, ident.external_id, payload, kind="notice")

    @classmethod
    @asynccontextmanager
    async def running(
        cls, storage: Storage, checker: LinkChecker | None = None
    ) -> AsyncIterator[LinkSweep | None]:
        """The sweep as a background task for the block's duration (None when
        PHIEU_LINKCHECK=0): in every process that runs the outbox worker."""
        if not linkcheck_enabled():
            yield None
            return
        sweep = cls(storage, checker)
        stop = asyncio.Event()
        task = asyncio.create_task(sweep.run(stop), name="link-sweep")
        try:
            yield sweep
        finally:
            stop.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every `every` seconds until `stop` is set; a failed pass is logged."""
        try:
            while not stop.is_set():
                try:
                    n = await self.run_once()
                    if n:
                        log.info("link sweep checked %d links", n)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("link sweep failed; next pass in %.0f s", self.every)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every)
        finally:
            await self.checker.close()
