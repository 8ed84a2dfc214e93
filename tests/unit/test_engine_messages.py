"""What chat apps do to messages, at the engine: edits, albums, captions, split long texts.

The engine is fed Incoming values as the Telegram channel builds them (message ids, media
group ids, send times); the channel side is covered end to end in
tests/e2e/test_telegram_messages.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.engine import SPLIT_NEAR, handle_edit
from flows.loader import builtin_forms
from flows.state import Incoming, Reply
from tests.engine_driver import Chat

FORM = builtin_forms()["binh-dinh-2019-so"]
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


class Messages(Chat):
    """The driver, plus message ids and edits as a chat app produces them."""

    next_id: int = 100

    def msg(self, text: str, **extra: Any) -> tuple[str, str]:
        """Send text as a numbered message; (its id, the replies joined)."""
        self.next_id += 1
        mid = str(self.next_id)
        replies = self.send(incoming=Incoming(text=text, message_id=mid, **extra))
        return mid, "\n".join(r.text for r in replies)

    def edit(self, mid: str, text: str, **extra: Any) -> list[Reply]:
        incoming = Incoming(text=text, message_id=mid, edited=True, **extra)
        step = handle_edit(self.form, self.answers, self.state, incoming, self.ctx)
        for item, answer in step.changes.items():
            self.answers[item] = answer  # type: ignore[assignment]
        self.state = step.state
        self.last = step
        self.events.extend(e.name for e in step.events)
        return list(step.replies)

    def edit_text(self, mid: str, text: str) -> str:
        return "\n".join(r.text for r in self.edit(mid, text))


HOW_TO = "✏️ Phiếu không đổi câu trả lời theo một tin nhắn cũ đã sửa"


# ---- edits ------------------------------------------------------------------------------
def test_an_edit_of_the_latest_answer_re_answers_that_item() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.1.a")
    mid, shown = chat.msg("40")
    assert "✅ Đã lưu 3.1.a: 40 người" in shown and "3.1.b" in shown
    shown = chat.edit_text(mid, "45")
    assert "✅ Đã lưu 3.1.a: 45 người" in shown and "3.1.b" in shown
    assert chat.value("3.1.a") == 45 and chat.state.item == "3.1.b"
    # edited again: still the latest answer
    assert "✅ Đã lưu 3.1.a: 44 người" in chat.edit_text(mid, "44")


def test_an_edit_of_an_older_message_explains_how_to_change_an_answer() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.1.a")
    first, _ = chat.msg("40")
    second, _ = chat.msg("10")  # 3.1.b: now the latest answer
    shown = chat.edit_text(first, "45")
    assert shown.startswith(HOW_TO) and "/sua 3.2.b" in shown
    assert chat.value("3.1.a") == 40 and chat.value("3.1.b") == 10
    assert chat.last is not None and chat.last.changes == {}
    assert "✅ Đã lưu 3.1.b: 12 người" in chat.edit_text(second, "12")


def test_edits_that_cannot_re_answer_are_never_silent() -> None:
    chat = Messages(FORM)
    never_answered, _ = chat.msg("/sua 3.1.a")
    assert chat.edit_text(never_answered, "/sua 3.2.a").startswith(HOW_TO)
    mid, _ = chat.msg("40")
    assert chat.edit_text(mid, "/bo").startswith(HOW_TO)  # a command is not an answer
    assert chat.value("3.1.a") == 40
    assert chat.edit_text("999", "41").startswith(HOW_TO)  # unknown message
    # a button answer is now the latest: the typed message's edit is an older one
    chat.say("/sua 3.6")
    chat.press("Có")
    assert chat.edit_text(mid, "41").startswith(HOW_TO)


def test_an_edit_re_answers_a_typed_choice_and_a_wrong_edit_is_refused() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.7.b")
    mid, shown = chat.msg("có")
    assert "✅ Đã lưu 3.7.b: Có" in shown
    assert "✅ Đã lưu 3.7.b: Không" in chat.edit_text(mid, "không")
    assert chat.value("3.7.b") is False
    shown = chat.edit_text(mid, "có lẽ")
    assert "3.7.b" in shown and chat.value("3.7.b") is False  # refused, asked again


def test_an_edit_of_a_value_waiting_for_confirmation_or_confirmed_re_answers() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.2.b.1")
    mid, shown = chat.msg("1.5")  # 1,5 or 15? asked, not saved yet
    assert "1,5" in shown and chat.value("3.2.b.1") is None
    assert "✅ Đã lưu 3.2.b.1: 15 Mbps" in chat.edit_text(mid, "15")
    mid, shown = chat.msg("/sua 3.2.b.1")
    mid, shown = chat.msg("2.5")
    chat.press("Đúng")  # confirmed by the button
    assert chat.value("3.2.b.1") == 2.5
    assert "✅ Đã lưu 3.2.b.1: 25 Mbps" in chat.edit_text(mid, "25")


def test_an_edit_of_a_list_row_replaces_the_row() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.8")
    chat.press("Có")
    chat.say("/sua 3.8.6")
    chat.msg("Ổ đĩa quang; 3")
    mid, shown = chat.msg("Băng từ; 2")
    assert "dòng 2" in shown
    chat.edit_text(mid, "Băng từ; 5")
    assert chat.value("3.8.6") == [
        {"ten": "Ổ đĩa quang", "so_luong": 3},
        {"ten": "Băng từ", "so_luong": 5},
    ]


def test_an_edit_of_typed_evidence_saves_it_again() -> None:
    chat = Messages(FORM)
    chat.say("/sua 8.1")
    chat.press("Có")
    mid, shown = chat.msg("12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/kh-12")
    assert "📎 Đã lưu minh chứng cho 8.1" in shown
    chat.edit_text(mid, "12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/kh-12-2019")
    evidence = chat.answers["8.1"].evidence
    assert evidence["link"] == "https://sotttt.binhdinh.gov.vn/kh-12-2019"
    assert chat.value("8.1") is True


def test_an_edit_after_submission_says_the_form_is_read_only() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.1.a")
    mid, _ = chat.msg("40")
    from dataclasses import replace

    from flows.machines import Status

    chat.ctx = replace(chat.ctx, status=Status.SUBMITTED)
    assert "chỉ xem được" in chat.edit_text(mid, "45")
    assert chat.value("3.1.a") == 40


# ---- captions and albums ------------------------------------------------------------------
def photo(n: int) -> dict[str, Any]:
    return {"kind": "photo", "file_id": f"P{n}", "file_unique_id": f"U{n}"}


def test_a_caption_fills_number_date_and_link_of_the_evidence() -> None:
    chat = Messages(FORM)
    chat.say("/sua 8.2")
    chat.press("Có")
    doc = {"kind": "document", "file_id": "D1", "file_unique_id": "UD1", "file_name": "kh.pdf"}
    caption = "12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/kh-12"
    replies = chat.send(incoming=Incoming(text=caption, attachment=doc, message_id="7"))
    assert "📎 Đã lưu minh chứng cho 8.2" in replies[0].text
    evidence = chat.answers["8.2"].evidence
    assert evidence["file"] == doc
    assert evidence["number"] == "12/KH-UBND"
    assert evidence["link"] == "https://sotttt.binhdinh.gov.vn/kh-12"
    assert "2019" in str(evidence["date"])


def test_a_caption_that_is_not_a_document_is_kept_as_written() -> None:
    chat = Messages(FORM)
    chat.say("/sua 8.2")
    chat.press("Có")
    chat.send(incoming=Incoming(text="ảnh chụp kế hoạch", attachment=photo(1)))
    assert chat.answers["8.2"].evidence == {"file": photo(1), "caption": "ảnh chụp kế hoạch"}


def test_every_file_of_an_album_is_kept_with_one_reply() -> None:
    chat = Messages(FORM)
    chat.say("/sua 8.1")
    chat.press("Có")
    replies = [
        chat.send(incoming=Incoming(attachment=photo(n), group="G1", message_id=str(n)))
        for n in range(1, 5)
    ]
    assert [len(r) for r in replies[1:]] == [0, 0, 0]  # one answer for the album
    assert "📎 Đã lưu minh chứng cho 8.1" in replies[0][0].text
    evidence = chat.answers["8.1"].evidence
    assert evidence["file"] == photo(1)
    assert evidence["files"] == [photo(n) for n in range(1, 5)]
    assert chat.state.item == "8.2"  # moved on once, 8.2 untouched
    assert chat.answers.get("8.2") is None
    # the same photo delivered twice is kept once; a new album starts afresh
    chat.send(incoming=Incoming(attachment=photo(4), group="G1"))
    assert len(chat.answers["8.1"].evidence["files"]) == 4


def test_an_album_outside_an_evidence_prompt_is_refused_once() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.1.a")
    replies = [chat.send(incoming=Incoming(attachment=photo(n), group="G2")) for n in (1, 2, 3)]
    assert "tệp chỉ dùng làm minh chứng" in replies[0][0].text
    assert replies[1:] == [[], []]
    assert chat.value("3.1.a") is None


# ---- long texts split by the app --------------------------------------------------------------
def test_the_second_part_of_a_split_text_is_not_saved_alone() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.6")
    chat.press("Có")  # 3.6.a: a text item
    assert chat.state.item == "3.6.a"
    part1 = ("Mạng nội bộ kết nối các phòng ban. " * 120)[:4090]
    _, first = chat.msg(part1, sent_at=T0)
    assert chat.value("3.6.a") is None and "❗" in first  # too long for an answer
    _, second = chat.msg(part1, sent_at=T0 + timedelta(seconds=1))  # a long middle part
    assert second.startswith("✂️") and chat.value("3.6.a") is None
    _, third = chat.msg("Mạng truyền số liệu chuyên dùng", sent_at=T0 + timedelta(seconds=1))
    assert third == "" and chat.value("3.6.a") is None  # one note per split text
    # the short last part ended the split: the next message is an answer again
    _, later = chat.msg("Mạng LAN", sent_at=T0 + timedelta(seconds=2))
    assert "✅ Đã lưu 3.6.a: Mạng LAN" in later


def test_the_short_last_part_of_a_two_part_text_gets_the_note() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.6")
    chat.press("Có")
    chat.msg("x" * 4096, sent_at=T0)
    _, shown = chat.msg("Mạng LAN", sent_at=T0 + timedelta(seconds=3))
    assert shown.startswith("✂️") and chat.value("3.6.a") is None
    chat.msg("x" * 4096, sent_at=T0)
    _, shown = chat.msg("Mạng LAN", sent_at=T0 + timedelta(seconds=4))  # too late: an answer
    assert "✅ Đã lưu 3.6.a: Mạng LAN" in shown


def test_a_short_answer_after_a_short_message_is_an_answer() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.1.a")
    chat.msg("40", sent_at=T0)
    _, shown = chat.msg("10", sent_at=T0)  # same second, but the one before was short
    assert "✅ Đã lưu 3.1.b: 10 người" in shown


def test_near_4096_counts_utf16_units_and_commands_are_never_continuations() -> None:
    chat = Messages(FORM)
    chat.say("/sua 3.6")
    chat.press("Có")
    emoji = "😀" * (SPLIT_NEAR // 2)  # SPLIT_NEAR UTF-16 units in half as many characters
    chat.msg(emoji, sent_at=T0)
    _, shown = chat.msg("/sua 3.1.a", sent_at=T0)
    assert "3.1.a" in shown and not shown.startswith("✂️")
    chat.msg(emoji, sent_at=T0)
    _, shown = chat.msg("40", sent_at=T0 + timedelta(seconds=3))
    assert shown.startswith("✂️") and chat.value("3.1.a") is None


# ---- no input is silent or raises ---------------------------------------------------------------
_TYPED = st.sampled_from(
    ["40", "có", "không", "1.5", "Băng từ; 2", "/sua 3.8.6", "/sua 3.1.a", "/bo", "/tiep",
     "12/KH-UBND; 15/01/2019; https://a.gov.vn/k", "abc", "", "#", "/sua 8.1", "1"]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["send", "edit"]), _TYPED, st.integers(0, 30)),
        min_size=1,
        max_size=25,
    )
)
def test_random_messages_and_edits_are_always_answered(
    steps: list[tuple[str, str, int]],
) -> None:
    chat = Messages(FORM)
    sent: list[str] = []
    for kind, text, pick in steps:
        if kind == "edit" and sent and text.strip():
            replies = chat.edit(sent[pick % len(sent)], text)
            assert replies, f"silence after editing to {text!r}"
        else:
            mid, _ = chat.msg(text)
            sent.append(mid)
        assert "engine_recovered" not in chat.events
