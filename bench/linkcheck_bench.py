"""Evidence link checker throughput: 2,000 links against a local server of mixed latency.

The pages are served by tests/fakes/link_pages.py in a separate process on 127.0.0.1 (so
the figures are the checker's own CPU and memory); 50 made-up public names
(site0.bench.vn …) are mapped to it, and the checker's policy allows exactly that one
socket, as in the tests. The mix (fixed seed): 60 % pages answering after 5–200 ms, 10 %
slow pages (1.5 s, beyond the 1 s cap: timeouts), 10 % 404, 10 % a redirect to a page,
5 % a PDF, 5 % a redirect loop.

1. checker alone: all links at once through one LinkChecker (global 100, 4 per host);
2. end to end: the same links through LinkCheckQueue (50 workers) into SQLite, each result
   recorded in its own unit, as `phieu run telegram` does after answers.

Printed: links/s, outcome counts, p50/p99 of a check's time, and the process's peak RSS.

    python3 bench/linkcheck_bench.py [--links 2000] [--hosts 50] [--tiny]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.netguard import AddressPolicy, static_resolver  # noqa: E402
from bot.workers.linkcheck import Limits, LinkChecker  # noqa: E402
from bot.workers.linkjobs import EvidenceLink, LinkCheckQueue  # noqa: E402
from flows.state import Answer  # noqa: E402
from storage.records import LinkCheckRec  # noqa: E402
from storage.repository import Storage  # noqa: E402


def _serve(port_out: multiprocessing.connection.Connection) -> None:
    """The page server's process: start, report the port, serve until killed."""
    from tests.fakes.link_pages import start_site

    async def main() -> None:
        site = await start_site("127.0.0.1")
        port_out.send(site.port)
        await asyncio.Event().wait()

    asyncio.run(main())


def make_links(n: int, hosts: int, port: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    links = []
    for i in range(n):
        base = f"http://site{i % hosts}.bench.vn:{port}"
        roll = rng.random()
        if roll < 0.60:
            path = f"/wait/{rng.randint(5, 200)}?i={i}"
        elif roll < 0.70:
            path = f"/wait/1500?i={i}"
        elif roll < 0.80:
            path = f"/missing?i={i}"
        elif roll < 0.90:
            path = f"/hop?to={base}/wait/{rng.randint(5, 50)}%3Fi%3D{i}"
        elif roll < 0.95:
            path = f"/kh.pdf?i={i}"
        else:
            path = f"/loop-a?i={i}"
        links.append(base + path)
    return links


def outcome(rec: LinkCheckRec) -> str:
    return "ok" if rec.ok else (rec.error_code or f"http {rec.status}")


def checker_for(port: int, hosts: int) -> LinkChecker:
    names = {f"site{i}.bench.vn": ["127.0.0.1"] for i in range(hosts)}
    return LinkChecker(
        policy=AddressPolicy.testing(("127.0.0.1", port)),
        resolver=static_resolver(names),
        limits=Limits(total=1.0, per_host=4, concurrency=100),
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def report(title: str, recs: list[LinkCheckRec], seconds: float) -> None:
    times = sorted(r.elapsed_ms for r in recs)
    counts = collections.Counter(outcome(r) for r in recs)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{title}: {len(recs)} links in {seconds:.2f} s = {len(recs) / seconds:.0f} links/s")
    print(f"  check time p50 {statistics.median(times):.0f} ms, p99 {p99} ms")
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


async def run(n: int, hosts: int, port: int) -> None:
    links = make_links(n, hosts, port)
    rss0 = peak_rss_mb()
    async with checker_for(port, hosts) as checker:
        started = time.perf_counter()
        recs = await asyncio.gather(*(checker.check(u) for u in links))
        report("checker alone", recs, time.perf_counter() - started)
    print(f"  peak RSS {peak_rss_mb():.1f} MB (before the run {rss0:.1f} MB)")

    with tempfile.TemporaryDirectory() as tmp:
        storage = await Storage.open(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            async with storage.unit() as u:
                agency = await u.add_agency("B", "Bench", "so")
                user = await u.add_user("B", agency.id, "official")
                from datetime import UTC, date, datetime

                campaign = await u.add_campaign("bench", 1, "2026", date(2026, 11, 26))
                sub = await u.submission(campaign.id, agency.id)
                now = datetime.now(UTC)
                changes = {f"i{i}": Answer(True, evidence=url) for i, url in enumerate(links)}
                await u.apply_changes(sub.id, changes, user.id, "telegram", now)
            # No confirming re-check of transient failures: the figure is one check per link.
            queue = LinkCheckQueue(
                storage, checker_for(port, hosts), workers=50, max_pending=n, confirm_after=0
            )
            started = time.perf_counter()
            queue.submit(
                EvidenceLink(url, sub.id, f"i{i}", "telegram", "1") for i, url in enumerate(links)
            )
            await queue.join()
            seconds = time.perf_counter() - started
            await queue.close()
            async with storage.unit() as u:
                stored = list((await u.link_checks(links)).values())
            report("queue → SQLite", stored, seconds)
            print(f"  dead-link notices queued {queue.notices}; peak RSS {peak_rss_mb():.1f} MB")
        finally:
            await storage.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--tiny", action="store_true", help="a smoke run: 60 links, 5 hosts")
    args = parser.parse_args(argv)
    n, hosts = (60, 5) if args.tiny else (args.links, args.hosts)
    logging.basicConfig(level=logging.WARNING)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(theirs,), daemon=True)
    server.start()
    try:
        if not ours.poll(30):
            print("the page server did not start", file=sys.stderr)
            return 1
        port = ours.recv()
        print(f"linkcheck bench: {n} links over {hosts} hosts, local server on port {port}")
        asyncio.run(run(n, hosts, port))
    finally:
        server.kill()
        server.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
