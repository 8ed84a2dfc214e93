"""Typed choice payloads, packed under Telegram's 64-byte callback_data limit.

A payload names an action, the item it belongs to and a value: ``a|3.6|yes``. Carrying the
item lets the engine tell a button pressed on an old message from a current one. Unpacking
is strict: anything malformed is treated as stale, never as an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_BYTES = 64
_SEP = "|"


class Act(StrEnum):
    ANSWER = "a"
    COMMAND = "c"
    SECTION = "s"
    EDIT = "e"
    CONFIRM = "y"
    LANG = "l"
    KEEP = "k"  # what Phiếu offers: k|3.1|keep, k|3.1|ask (one by one), k||3 (all of Mục 3)
    # Review (issue #10): r|<submission id>|<action>[:<verdict>][:<item>] (flows/review.py).
    REVIEW = "r"


@dataclass(frozen=True, slots=True)
class Payload:
    act: Act
    item: str = ""
    value: str = ""

    def pack(self) -> str:
        packed = _SEP.join((self.act.value, self.item, self.value))
        if len(packed.encode("utf-8")) > MAX_BYTES:
            raise ValueError(f"payload over {MAX_BYTES} bytes: {packed!r}")
        return packed

    @classmethod
    def unpack(cls, raw: str | None) -> Payload | None:
        if not raw or len(raw.encode("utf-8")) > MAX_BYTES:
            return None
        parts = raw.split(_SEP)
        if len(parts) != 3:
            return None
        try:
            act = Act(parts[0])
        except ValueError:
            return None
        return cls(act, parts[1], parts[2])


def pack(act: Act, item: str = "", value: str = "") -> str:
    return Payload(act, item, value).pack()
