"""Text as Telegram delivers it and as Phiếu sends it back: hidden links, long replies.

Property tests: offsets are UTF-16 units (emoji count twice), nothing of the official's words
is lost around a link, and a long reply splits into parts that fit and join back exactly.
"""

from __future__ import annotations

import pytest
from aiogram.types import MessageEntity
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.telegram import text_with_links
from bot.render import reply_payloads, split_text
from flows.state import Choice, Reply
from tests.fakes.telegram_users import split_like_the_app, utf16_len

URL = "https://sotttt.binhdinh.gov.vn/ke-hoach-12"


def link(text: str, words: str, url: str = URL) -> MessageEntity:
    start = text.index(words)
    return MessageEntity(
        type="text_link", offset=utf16_len(text[:start]), length=utf16_len(words), url=url
    )


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("link", "link", URL),
        ("  tại đây ", "tại đây", URL),
        ("Kế hoạch 12/KH-UBND; xem tại đây", "đây", f"Kế hoạch 12/KH-UBND; xem tại đây {URL}"),
        ("Kế hoạch 12/KH-UBND", "12/KH-UBND", f"Kế hoạch 12/KH-UBND {URL}"),
        ("😀😀 xem 👉 đây nhé", "đây", f"😀😀 xem 👉 đây {URL} nhé"),
    ],
)
def test_a_hidden_link_counts_as_its_url(text: str, words: str, expected: str) -> None:
    assert text_with_links(text, [link(text, words)]) == expected


def test_other_entities_and_no_entities_leave_the_text_alone() -> None:
    bold = MessageEntity(type="bold", offset=0, length=3)
    assert text_with_links("Có nhé", [bold]) == "Có nhé"
    assert text_with_links("Có", None) == "Có"
    assert text_with_links(None, None) == ""
    broken = MessageEntity(type="text_link", offset=50, length=3, url=URL)  # out of range
    assert text_with_links("ngắn", [broken]) == "ngắn"


def test_two_hidden_links_in_one_line() -> None:
    text = "Kế hoạch tại đây, báo cáo tại kia"
    other = "https://sotttt.binhdinh.gov.vn/bao-cao"
    got = text_with_links(text, [link(text, "kia", other), link(text, "đây")])
    assert got == f"Kế hoạch tại đây {URL}, báo cáo tại kia {other}"


words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@given(before=words, inside=words.filter(lambda w: w.strip() != ""), after=words)
def test_words_around_a_hidden_link_are_kept(before: str, inside: str, after: str) -> None:
    text = before + inside + after
    entity = MessageEntity(
        type="text_link", offset=utf16_len(before), length=utf16_len(inside), url=URL
    )
    got = text_with_links(text, [entity])
    if inside.strip() == text.strip():
        assert got == URL
    else:
        assert got == f"{before}{inside} {URL}{after}"


_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines breaks at
_LINE = st.characters(
    codec="utf-8", exclude_characters=_BREAKS, exclude_categories=("Cs", "Zs", "Cc")
)
lines = st.lists(st.text(_LINE, min_size=1, max_size=300), min_size=1, max_size=60)


@given(lines)
def test_a_long_reply_splits_into_parts_that_fit_and_join_back(text_lines: list[str]) -> None:
    reply = Reply("\n".join(text_lines), choices=(Choice("Có", "a|3.6|yes"),))
    rows = reply_payloads("telegram", reply)
    assert all(1 <= len(r["text"]) <= 4096 for r in rows)
    assert "\n".join(r["text"] for r in rows).split("\n") == text_lines
    assert [bool(r["choices"]) for r in rows] == [False] * (len(rows) - 1) + [True]


@settings(max_examples=40)
@given(st.text(min_size=1, max_size=9_000))
def test_split_text_never_loses_a_character_of_a_line_without_breaks(text: str) -> None:
    flat = text.replace("\n", "x").strip() or "x"
    parts = split_text(flat, 4096)
    assert "".join(parts) == flat and all(len(p) <= 4096 for p in parts)


@settings(max_examples=40)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=9_000))
def test_the_fake_app_splits_like_telegram(text: str) -> None:
    parts = split_like_the_app(text)
    assert "".join(parts) == text
    assert all(utf16_len(p) <= 4096 for p in parts)
