"""Turn the engine's replies into what a channel shows.

Replies travel through the outbox as JSON (`reply_to_json`), so a worker in another process
renders them. Channels with buttons (Telegram) use choices and actions as keyboards; channels
without (console, Zalo) number the choices and list the actions as typed commands.
"""

from __future__ import annotations

from typing import Any

from flows.payload import Act, Payload
from flows.state import Choice, Reply

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
TEXT_LIMITS: dict[str, int] = {"telegram": 4096}


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
