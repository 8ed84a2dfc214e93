"""One message per answer: the engine's replies to one event reach the chat as one message."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flows.coalesce import MAX_TEXT, coalesce
from flows.state import Choice, Reply
from tests.engine_driver import Chat, inline_form

FORM = inline_form("""
sections:
  - id: "3"
    title: HẠ TẦNG
    items:
      - {id: "3.1", type: integer, text: Số máy tính, unit: máy}
      - {id: "3.2", type: integer, text: Số máy có Internet, unit: máy}
      - {id: "3.6", type: yes_no, text: Có mạng WAN}
  - id: "4"
    title: NHÂN LỰC
    items:
      - {id: "4.1", type: integer, text: Số cán bộ CNTT, unit: người}
checks:
  - id: internet-le-computers
    rule: "[3.2] <= [3.1]"
    message: Số máy có Internet không thể nhiều hơn số máy tính.
""")
BUTTON = Choice("Có", "a|3.6|yes")


def test_ack_and_next_question_are_one_message() -> None:
    chat = Chat(FORM)
    chat.say("/tiep")
    replies = chat.send("12")
    assert len(replies) == 1
    assert replies[0].text.startswith("✅ Đã lưu 3.1: 12 máy\n\n")
    assert "Số máy có Internet" in replies[0].text
    assert replies[0].kind == "question" and replies[0].item == "3.2"
    assert replies[0].actions[0].label == "⏭ Bỏ qua"


def test_error_and_the_question_asked_again_are_one_message() -> None:
    chat = Chat(FORM)
    chat.say("/tiep")
    replies = chat.send("mười hai")
    assert len(replies) == 1
    assert replies[0].kind == "error"
    assert "Số máy tính" in replies[0].text and "Ví dụ" in replies[0].text


def test_section_done_ack_and_next_section_question_are_one_message() -> None:
    chat = Chat(FORM)
    chat.say("/tiep")
    chat.say("12")
    chat.say("10")
    replies = chat.send(payload="a|3.6|yes")
    assert len(replies) == 1
    text = replies[0].text
    assert text.index("✅ Đã lưu 3.6") < text.index("🎉 Đã xong Mục 3") < text.index("Số cán bộ")
    assert [c.label for c in replies[0].choices] == []


def test_a_failed_check_keeps_its_fix_buttons_and_the_ack_rides_along() -> None:
    chat = Chat(FORM)
    chat.say("/tiep")
    chat.say("5")
    replies = chat.send("9")
    assert len(replies) == 1
    assert replies[0].kind == "check"
    assert "✅ Đã lưu 3.2: 9 máy" in replies[0].text
    labels = [c.label for c in replies[0].actions]
    assert any("3.1" in label for label in labels) and any("3.2" in label for label in labels)


def test_a_stale_press_stays_marked_stale_after_merging() -> None:
    chat = Chat(FORM)
    chat.say("/tiep")
    replies = chat.send(payload="a|3.6|yes")
    assert len(replies) == 1 and replies[0].kind == "stale"


def test_buttons_of_an_earlier_reply_are_never_dropped() -> None:
    first = Reply("Sửa 3.1?", actions=(Choice("✏️ Sửa 3.1", "e|3.1|"),), kind="check")
    second = Reply("Sửa 3.2?", actions=(Choice("✏️ Sửa 3.2", "e|3.2|"),), kind="check")
    assert coalesce([first, second]) == (first, second)


def test_files_and_notices_travel_apart() -> None:
    replies = [Reply("a"), Reply("tệp", kind="file"), Reply("b"), Reply("c", kind="notice")]
    assert [r.text for r in coalesce(replies)] == ["a", "tệp", "b", "c"]


def test_a_merge_never_exceeds_telegram_limit() -> None:
    big = Reply("x" * 3000)
    out = coalesce([big, Reply("y" * 1094), Reply("z" * 10, choices=(BUTTON,))])
    assert [len(r.text) for r in out] == [MAX_TEXT, 10]
    assert len(coalesce([big, Reply("y" * 1095)])) == 2
    assert out[-1].choices == (BUTTON,)


_replies = st.lists(
    st.builds(
        Reply,
        text=st.text(min_size=1, max_size=2500),
        choices=st.sampled_from([(), (BUTTON,)]),
        kind=st.sampled_from(["info", "ack", "question", "file", "error"]),
    ),
    max_size=8,
)


@given(_replies)
def test_coalescing_keeps_every_text_and_button_in_order(replies: list[Reply]) -> None:
    out = coalesce(replies)
    assert "\n\n".join(r.text for r in out) == "\n\n".join(r.text for r in replies)
    assert [c for r in out for c in r.choices] == [c for r in replies for c in r.choices]
    assert len(out) <= len(replies)
    assert all(r in replies or len(r.text) <= MAX_TEXT for r in out)
    # only a run's last reply may carry buttons: every buttoned input ends a message
    assert sum(1 for r in out if r.choices) == sum(1 for r in replies if r.choices)
