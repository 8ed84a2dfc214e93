"""Turn the engine's replies into what a channel shows.

Replies travel through the outbox as JSON (`reply_to_json`), so a worker in another process
renders them. Channels with buttons (Telegram) use choices and actions as keyboards; channels
without (console, Zalo) number the choices and list the actions as typed commands.
"""

from __future__ import annotations

from typing import Any

from flows.i18n import N_, translate
from flows.parsing import fold
from flows.payload import Act, Payload
from flows.state import Choice, Reply, words_of

COMMAND_WORDS: dict[str, str] = {
    "skip": "/bo",
    "back": "/lai",
    "na": "/kad",
    "menu": "/menu",
    "continue": "/tiep",
    "review": "/xem",
    "submit": "/nop",
    "help": "/help",
}


def reply_to_json(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "choices": [[c.label, c.payload] for c in reply.choices],
        "actions": [[c.label, c.payload] for c in reply.actions],
        "kind": reply.kind,
        "item": reply.item,
    }


# Longest text one message may carry, per channel; channels not listed have no limit.
TEXT_LIMITS: dict[str, int] = {"telegram": 4096, "zalo": 2000}
# Channels without buttons: their messages carry the choices numbered and the actions as
# text after the reply's own text (the console's as_plain_text, Zalo's as_numbered_text), so
# a choice is typed as its number (bot/service.py reads a number after a notice as the
# notice's), and, where a limit applies, that room is kept free when a long reply is split.
NUMBERED_CHANNELS: frozenset[str] = frozenset({"console", "zalo"})


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Split at line breaks where possible, in parts of at most `limit` characters (default:
    Telegram's); never return an empty chunk."""
    text = text.strip() or "…"
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(text[:cut].rstrip() or text[:limit])
        text = text[cut:].lstrip("\n")
    chunks.append(text)
    return [c for c in chunks if c.strip()]


def reply_payloads(channel: str, reply: Reply) -> list[dict[str, Any]]:
    """The outbox rows for one reply: one per message the channel will show, in order.

    A reply longer than the channel's limit becomes several rows, split at line breaks,
    the choices and actions on the last; so a failure on part 2 (a 429, the network)
    retries part 2 only, and part 1 is never sent twice.
    """
    data = reply_to_json(reply)
    limit = TEXT_LIMITS.get(channel)
    if limit is not None and channel in NUMBERED_CHANNELS:
        tail = numbered_tail(reply)
        limit = max(limit // 2, limit - len(tail) - 2) if tail else limit
    if limit is None or len(reply.text) <= limit:
        return [data]
    parts = split_text(reply.text, limit)
    heads = [data | {"text": part, "choices": [], "actions": []} for part in parts[:-1]]
    return [*heads, data | {"text": parts[-1]}]


def reply_from_json(data: dict[str, Any]) -> Reply:
    return Reply(
        text=str(data.get("text", "")),
        choices=tuple(Choice(str(label), str(p)) for label, p in data.get("choices", [])),
        actions=tuple(Choice(str(label), str(p)) for label, p in data.get("actions", [])),
        kind=str(data.get("kind", "info")),
        item=data.get("item"),
    )


def typed_command(choice: Choice) -> str | None:
    """The command a user types for an action where there are no buttons."""
    p = Payload.unpack(choice.payload)
    if p is None:
        return None
    if p.act is Act.COMMAND:
        return COMMAND_WORDS.get(p.value)
    if p.act is Act.EDIT:
        return f"/sua {p.item}"
    if p.act is Act.LANG:
        return f"/lang {p.value}"
    return None


def as_plain_text(reply: Reply) -> str:
    """Text with numbered choices and a line of typed commands (console, Zalo)."""
    lines = [reply.text]
    if reply.choices:
        lines.extend(f"  {i}. {c.label}" for i, c in enumerate(reply.choices, 1))
    hints = []
    for action in reply.actions:
        typed = typed_command(action)
        if typed:
            hints.append(f"{typed} {action.words}")
        else:
            hints.append(action.label)
    if hints:
        lines.append("  [" + " · ".join(hints) + "]")
    return "\n".join(lines)


# ---- channels without buttons (Zalo): typed words for navigation --------------------------
# An action's own words, typed ("bỏ qua", "Skip", "quay lại"), do what pressing it would:
# the labels in both languages and a few short forms officials use. Whole message only, so an
# answer that merely contains the words is still an answer. Values are engine commands.
_ACTION_LABELS: tuple[tuple[str, str], ...] = (
    (N_("⏭ Bỏ qua"), "bo"),
    (N_("⏭ Bổ sung sau"), "bo"),
    (N_("↩ Quay lại"), "lai"),
    (N_("🚫 Không áp dụng"), "kad"),
    (N_("☰ Menu"), "menu"),
    (N_("▶ Tiếp tục"), "tiep"),
    (N_("📋 Xem lại câu trả lời"), "xem"),
    (N_("📤 Nộp phiếu"), "nop"),
    (N_("❓ Trợ giúp"), "help"),
)
_SHORT_WORDS: dict[str, str] = {
    "bo qua": "bo",
    "bo": "bo",
    "quay lai": "lai",
    "lai": "lai",
    "tro lai": "lai",
    "khong ap dung": "kad",
    "kad": "kad",
    "menu": "menu",
    "nop": "nop",
    "nop phieu": "nop",
    "tiep": "tiep",
    "tiep tuc": "tiep",
    "xem": "xem",
    "xem lai": "xem",
    "tom tat": "xem",
    "huong dan": "help",
    "tro giup": "help",
    "skip": "bo",
    "back": "lai",
    "submit": "nop",
    "continue": "tiep",
    "next": "tiep",
    "summary": "xem",
    "help": "help",
    "not applicable": "kad",
}


def _typed_words() -> dict[str, str]:
    words = dict(_SHORT_WORDS)
    for msgid, command in _ACTION_LABELS:
        for lang in ("vi", "en"):
            words.setdefault(_folded(translate(lang, msgid)), command)
    return words


def _folded(text: str) -> str:
    return " ".join(fold(words_of(text)).strip(" .!").split())


_TYPED: dict[str, str] | None = None


def typed_navigation(text: str) -> str | None:
    """The slash command a whole typed message stands for ("Bỏ qua" → "/bo", "menu" →
    "/menu", "Skip" → "/bo"), or None when it is not a navigation word."""
    global _TYPED
    if _TYPED is None:
        _TYPED = _typed_words()
    if not text or len(text) > 40:
        return None
    command = _TYPED.get(_folded(text))
    return f"/{command}" if command else None


def numbered_tail(reply: Reply) -> str:
    """What follows a reply's text where there are no buttons: numbered choices ("1. Có"),
    then the actions in brackets — their labels, which typed do what pressing would (see
    typed_navigation), or the slash command where the words are not enough ("/sua 3.2.b")."""
    lines = [f"{i}. {c.label}" for i, c in enumerate(reply.choices, 1)]
    hints = []
    for action in reply.actions:
        typed = typed_command(action)
        if typed_navigation(action.words) is not None or typed is None:
            hints.append(action.label)
        else:
            hints.append(f"{typed} {action.words}")
    if hints:
        lines.append("[" + " · ".join(hints) + "]")
    return "\n".join(lines)


def as_numbered_text(reply: Reply) -> str:
    """The whole message for a channel without buttons (Zalo)."""
    tail = numbered_tail(reply)
    return f"{reply.text}\n\n{tail}" if tail else reply.text
