"""One message per answer: consecutive replies to the same chat merged into one.

The engine builds its replies piece by piece ("✅ Đã lưu 3.1.a: 12 người", "🎉 Đã xong Mục 3",
then the next question). Sent as they are, every answer would cost two or three chat
messages; the issue #8 target is ≤ 1.1 Bot API messages per answer. `coalesce` runs once at
the end of `engine.handle` and joins each reply into the next one when nothing is lost:

- texts are joined with a blank line, in order;
- only the last reply of a merged run may carry buttons (choices or actions), so the buttons
  the official sees are exactly the last reply's — a reply that has buttons of its own ends a
  run, so they are never dropped;
- a run never grows past `MAX_TEXT` characters (Telegram's 4096-character message limit), and
  a reply of a kind in `APART` (files, reviewer notices) is never merged.

The merged reply keeps the kind that matters to callers: "stale", "error" or "check" when
any part was one (the Telegram channel leaves a pressed message untouched when the press was
stale; benchmarks count errors), else the last part's kind; its item is the last part's.
"""

from __future__ import annotations

from collections.abc import Iterable

from flows.state import Reply

MAX_TEXT = 4096
"""Telegram's limit for one message's text, in characters (sendMessage `text`, 1-4096)."""

APART: frozenset[str] = frozenset({"file", "document", "photo", "notice"})
"""Reply kinds that always travel as their own message."""

_STICKY = ("stale", "error", "check")
_JOIN = "\n\n"


def _kind(parts: list[Reply]) -> str:
    for sticky in _STICKY:
        if any(p.kind == sticky for p in parts):
            return sticky
    return parts[-1].kind


def _can_join(run: list[Reply], text_len: int, nxt: Reply) -> bool:
    last = run[-1]
    if last.choices or last.actions:
        return False
    if last.kind in APART or nxt.kind in APART:
        return False
    return text_len + len(_JOIN) + len(nxt.text) <= MAX_TEXT


def _merge(run: list[Reply]) -> Reply:
    if len(run) == 1:
        return run[0]
    last = run[-1]
    return Reply(
        _JOIN.join(p.text for p in run),
        choices=last.choices,
        actions=last.actions,
        kind=_kind(run),
        item=last.item if last.item is not None else next((p.item for p in run if p.item), None),
    )


def coalesce(replies: Iterable[Reply]) -> tuple[Reply, ...]:
    """The replies as few messages as possible, order and every button kept.

    >>> [r.text for r in coalesce([Reply("✅ Đã lưu"), Reply("Câu 2?", kind="question")])]
    ['✅ Đã lưu\\n\\nCâu 2?']
    """
    out: list[Reply] = []
    run: list[Reply] = []
    text_len = 0
    for reply in replies:
        if run and _can_join(run, text_len, reply):
            run.append(reply)
            text_len += len(_JOIN) + len(reply.text)
            continue
        if run:
            out.append(_merge(run))
        run, text_len = [reply], len(reply.text)
    if run:
        out.append(_merge(run))
    return tuple(out)
