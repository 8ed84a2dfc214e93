"""The evidence link checker as review sees it: stored results, and a fresh check when a
reviewer opens an item.

The checker itself (SSRF-safe, `check_link`, the `link_checks` table) is the linkcheck
engineer's (TEAM.md contract). Until their branch is merged these two functions find
nothing and do nothing; they are the only places review touches it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flows.review import LinkView
from storage.repository import Storage, Unit

log = logging.getLogger(__name__)


async def stored_checks(unit: Unit, urls: Iterable[str]) -> dict[str, LinkView]:
    """What the checker last recorded for each url (urls never checked are left out)."""
    get = getattr(unit, "link_check", None)
    if get is None:
        return {}
    out: dict[str, LinkView] = {}
    for url in dict.fromkeys(urls):
        rec = await get(url)
        if rec is not None:
            out[url] = LinkView(
                url=url,
                status=rec.status,
                final_url=rec.final_url,
                title=rec.title,
                content_type=rec.content_type,
                size=rec.size,
                elapsed_ms=rec.elapsed_ms,
                error=rec.error,
                checked_at=rec.checked_at,
            )
    return out


async def refresh_link(storage: Storage, url: str) -> None:
    """Check `url` again now and record the result (run after commit, never raises)."""
    try:
        from bot.workers.linkcheck import check_link  # type: ignore[attr-defined]
    except ImportError:
        return
    try:
        rec = await check_link(url)
        async with storage.unit() as unit:
            await unit.record_link_check(rec)  # type: ignore[attr-defined]
    except Exception:
        log.exception("link re-check of %s failed", url)
