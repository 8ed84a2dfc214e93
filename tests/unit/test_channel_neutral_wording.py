"""Texts the bot sends never tell the person to press ("bấm") a button: on Zalo there are
none, the choices are numbered text (issue #13). "Chọn" reads right on both channels.

The one exception is about the Zalo app's own interface (the "Quan tâm/Nhắn tin" button in
`phieu invite create --channel zalo`'s instructions), which is a real button of Zalo's.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
ZALO_UI = ("bấm Quan tâm/Nhắn tin",)  # Zalo's own buttons, not ours
PRESS_VI = re.compile(r"\bbấm\b", re.IGNORECASE)
PRESS_EN = re.compile(r"\b(press|tap)\b", re.IGNORECASE)


def _catalog(path: Path) -> list[tuple[str, str]]:
    with path.open("rb") as fh:
        cat = read_po(fh, locale="en" if "/en/" in str(path) else "vi")
    return [(m.id, m.string) for m in cat if isinstance(m.id, str) and m.id]


def test_no_message_says_press_a_button() -> None:
    pressing = [
        msgid
        for msgid, _ in _catalog(ROOT / "locales" / "vi" / "LC_MESSAGES" / "phieu.po")
        if PRESS_VI.search(msgid) and not any(ok in msgid for ok in ZALO_UI)
    ]
    assert pressing == []


def test_nor_its_english_translation() -> None:
    pressing = [
        (msgid, text)
        for msgid, text in _catalog(ROOT / "locales" / "en" / "LC_MESSAGES" / "phieu.po")
        if PRESS_EN.search(text) and not any(ok in msgid for ok in ZALO_UI)
    ]
    assert pressing == []
