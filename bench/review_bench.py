"""What review costs a reviewer with many agencies (issue #10), on SQLite.

N agencies have submitted the real Sở form (answered by bench/official_bench.py's simulated
official); one reviewer opens each, gives every item to verify a verdict (Đạt, typed as on
the console) and accepts it. Printed: items per submission, time per verdict (the whole
update: one unit, the card of the next item queued), time to open, /thamdinh and /progress
with N agencies.

    python bench/review_bench.py            # 150 agencies, 3 of them reviewed
    python bench/review_bench.py --tiny     # 3 agencies, 1 reviewed
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.official_bench import run_engine
from bot.service import Phieu, Sender
from flows.loader import builtin_forms
from flows.machines import Status
from flows.review import items_to_verify, rpack
from flows.review_points import example_points
from flows.state import Incoming
from scoring.scales import builtin_scales
from storage.repository import Storage

FORM_ID = "binh-dinh-2019-so"
YEAR = 2026
NOW = datetime(YEAR, 11, 20, 2, 0, tzinfo=UTC)


async def run(agencies: int, reviewed: int) -> dict[str, float]:
    form = builtin_forms()[FORM_ID]
    _, answers = run_engine(form, YEAR, {}, limit=1_000_000)
    n_items = len(items_to_verify(form, answers))
    scale = builtin_scales().get(form.id)
    # The reviewer-scored criteria, asked after the items: typed as their examples.
    points = [example_points(c.max) for c in scale.manual_criteria()] if scale else []
    with tempfile.TemporaryDirectory() as tmp:
        storage = await Storage.open(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            subs = []
            async with storage.unit() as u:
                campaign = await u.add_campaign(form.id, form.version, "Bench", date(YEAR, 11, 26))
                reviewer = await u.add_user("Thẩm định", None, "reviewer")
                await u.bind_identity(reviewer.id, "console", "rv", "rv")
                for n in range(agencies):
                    agency = await u.add_agency(f"A{n:04d}", f"Cơ quan {n:04d}", "so")
                    sub = await u.submission(campaign.id, agency.id)
                    await u.apply_changes(sub.id, answers, None, "console", NOW)
                    await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, None, NOW)
                    subs.append(sub.id)
            phieu = Phieu(storage, {form.id: form}, clock=lambda: NOW)
            who = Sender("rv", "rv", "vi")
            seq = iter(range(1, 1 << 40))

            async def send(text: str | None = None, payload: str | None = None) -> float:
                start = time.perf_counter()
                await phieu.handle(
                    "console", "rv", str(next(seq)), Incoming(text=text, payload=payload), who
                )
                return time.perf_counter() - start

            queue = await send("/thamdinh")
            progress = await send("/progress")
            opens, verdicts, decides = [], [], []
            for sub_id in subs[:reviewed]:
                opens.append(await send(payload=rpack(sub_id, "open")))
                for _ in range(n_items):
                    verdicts.append(await send("Đạt"))
                for typed in points:
                    verdicts.append(await send(typed))
                decides.append(await send(payload=rpack(sub_id, "accept")))
            async with storage.unit() as u:
                accepted = len(await u.submissions_with_status([Status.ACCEPTED]))
            assert accepted == reviewed, f"{accepted} accepted, {reviewed} expected"
        finally:
            await storage.close()
    return {
        "agencies": agencies,
        "items": n_items,
        "queue_ms": queue * 1000,
        "progress_ms": progress * 1000,
        "open_ms": statistics.median(opens) * 1000,
        "verdict_ms": statistics.median(verdicts) * 1000,
        "verdict_p95_ms": sorted(verdicts)[int(0.95 * (len(verdicts) - 1))] * 1000,
        "accept_ms": statistics.median(decides) * 1000,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="3 agencies, 1 reviewed")
    parser.add_argument("--agencies", type=int, default=150)
    parser.add_argument("--reviewed", type=int, default=3)
    args = parser.parse_args(argv)
    agencies, reviewed = (3, 1) if args.tiny else (args.agencies, args.reviewed)
    f = asyncio.run(run(agencies, reviewed))
    print(f"agencies submitted:            {f['agencies']:.0f}")
    print(f"items to verify per form:      {f['items']:.0f}")
    print(f"/thamdinh (queue):             {f['queue_ms']:.0f} ms")
    print(f"/progress:                     {f['progress_ms']:.0f} ms")
    print(f"open a submission:             {f['open_ms']:.0f} ms (median)")
    print(
        f"one verdict + next card:       {f['verdict_ms']:.0f} ms median, "
        f"{f['verdict_p95_ms']:.0f} ms p95"
    )
    print(f"accept:                        {f['accept_ms']:.0f} ms (median)")


if __name__ == "__main__":
    main()
