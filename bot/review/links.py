"""The evidence link checker as review sees it: stored results, and a fresh check when a
reviewer opens an item.

The checker itself (SSRF-safe `check_link`, the `link_checks` table, `check_and_record`) is
the linkcheck engineer's (TEAM.md contract). Until their branch is merged these two functions
find nothing and do nothing; they are the only places review touches it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from bot.workers.linkcheck import ERRORS
from flows.review import LinkView
from storage.repository import Storage, Unit

log = logging.getLogger(__name__)


def _view(url: str, rec: Any) -> LinkView:
    """The card's view of a stored check; `error` is the msgid of what a person is told
    ("không tìm thấy tên miền"), never the stored code ("dns", "forbidden_address:…")."""
    code = None if rec.error is None else str(rec.error).split(":", 1)[0]
    return LinkView(
        url=url,
        status=rec.status,
        final_url=rec.final_url,
        title=rec.title,
        content_type=rec.content_type,
        size=rec.size,
        elapsed_ms=rec.elapsed_ms,
        error=None if code is None else ERRORS.get(code, ERRORS["internal"]),
        checked_at=rec.checked_at,
    )


async def stored_checks(unit: Unit, urls: Iterable[str]) -> dict[str, LinkView]:
    """What the checker last recorded for each url (urls never checked are left out)."""
    wanted = list(dict.fromkeys(urls))
    many = getattr(unit, "link_checks", None)
    if many is not None:
        return {url: _view(url, rec) for url, rec in (await many(wanted)).items()}
    one = getattr(unit, "link_check", None)
    if one is None:
        return {}
    out: dict[str, LinkView] = {}
    for url in wanted:
        rec = await one(url)
        if rec is not None:
            out[url] = _view(url, rec)
    return out


async def refresh_link(storage: Storage, url: str) -> None:
    """Check `url` again now and record the result (run after commit; never raises).

    Wire it as `Phieu(check_link=functools.partial(refresh_link, storage))`."""
    try:
        jobs = import_module("bot.workers.linkjobs")
    except ImportError:
        return
    try:
        await jobs.check_and_record(storage, url)
    except Exception:
        log.exception("link re-check of %s failed", url)
