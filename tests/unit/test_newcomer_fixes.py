"""Newcomer's findings 1, 11, 12 and 14 (/work NEWCOMER.md), as chats on the real form."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows import prompts
from flows.loader import builtin_forms
from flows.machines import Mode
from flows.state import ConversationState
from tests.engine_driver import Chat

SO = builtin_forms()["binh-dinh-2019-so"]
AGENCY = "Sở Thông tin và Truyền thông"


def _chat() -> Chat:
    chat = Chat(SO)
    chat.ctx = replace(chat.ctx, known={"campaign.year": 2019, "agency.name": AGENCY})
    chat.say("/start")
    return chat


def _labels(chat: Chat) -> list[str]:
    assert chat.last is not None
    return [c.label for r in chat.last.replies for c in (*r.choices, *r.actions)]


# ---- 1: an answered question asked again offers to keep its answer -------------------------
def test_typed_1_after_lai_keeps_the_prefilled_agency_name() -> None:
    chat = _chat()
    for text in ("2", "2", "dung", "dung"):
        chat.say(text)
    assert chat.value("1.2") == AGENCY
    shown = chat.say("/lai")
    assert "Hiện tại: " + AGENCY in shown
    assert "✅ Giữ nguyên" in _labels(chat)
    reply = chat.say("1")
    assert chat.value("1.2") == AGENCY
    assert "✅ Đã lưu 1.2: " + AGENCY in reply
    assert chat.state.item == "1.3"


@pytest.mark.parametrize("typed", ["giữ nguyên", "Giữ nguyên", "ok"])
def test_keep_words_keep_a_typed_answer_on_sua(typed: str) -> None:
    chat = _chat()
    chat.say("/sua 1.3")
    chat.say("01 Lê Lợi, Quy Nhơn")
    chat.say("/sua 1.3")
    assert "✅ Giữ nguyên" in _labels(chat)
    chat.say(typed)
    assert chat.value("1.3") == "01 Lê Lợi, Quy Nhơn"


def test_keep_button_pressed_and_numbers_after_a_choice_list() -> None:
    chat = _chat()
    chat.say("/sua 4.1.5")
    chat.say("12")
    chat.say("/sua 4.1.5")
    chat.press("Giữ nguyên")
    assert chat.value("4.1.5") == 12
    assert chat.state.item != "4.1.5"
    # a yes/no item: "Có", "Không", then the keep button is number 3
    chat.say("/sua 3.6")
    chat.say("không")
    chat.say("/sua 3.6")
    labels = _labels(chat)
    keep = labels.index("✅ Giữ nguyên") + 1
    chat.say(str(keep))
    assert chat.value("3.6") is False


def test_an_unanswered_question_has_no_keep_button_and_1_is_the_answer() -> None:
    chat = _chat()
    chat.say("/sua 1.3")
    assert "✅ Giữ nguyên" not in _labels(chat)
    chat.say("1")
    assert chat.value("1.3") == "1"


def test_a_new_value_replaces_the_kept_one() -> None:
    chat = _chat()
    chat.say("/sua 4.1.5")
    chat.say("12")
    chat.say("/sua 4.1.5")
    chat.say("2")
    assert chat.value("4.1.5") == 2


# ---- 11: computed values of an empty section are "—" ----------------------------------------
def test_xem_shows_computed_items_as_not_answered_while_inputs_are_empty() -> None:
    chat = _chat()
    shown = chat.say("/xem 3")
    assert "3.2.b: —" in shown
    assert "0 Mbps" not in shown
    chat.say("/sua 3.2.b.1")
    chat.say("100")
    shown = chat.say("/xem 3")
    assert "3.2.b: —" not in shown
    assert "3.2.b.1: 100" in shown


# ---- 12: English cells prompts have English examples and wording ---------------------------
def test_english_examples_say_yes_not_co() -> None:
    assert prompts.example_in("en", "có; 25") == "yes; 25"
    assert prompts.example_in("en", "có") == "yes"
    assert prompts.example_in("en", "không") == "no"
    assert prompts.example_in("vi", "có; 25") == "có; 25"
    assert prompts.example_in("en", "Sở Y tế; 3") == "Sở Y tế; 3"


def test_english_cells_hint_at_a_yes_count_row() -> None:
    chat = _chat()
    chat.say("/lang en")
    chat.say("/sua 3.8")
    shown = chat.say("yes")  # then 3.8.1 (Yes) and its count
    assert "You may answer these 2 cells" in shown
    assert "Example: yes; " in shown
    assert "có;" not in shown
    assert "all 2" not in shown


# ---- 14: a confirmation waiting when the chat restarts ---------------------------------------
def test_pending_confirmation_survives_a_restart_and_the_menu() -> None:
    chat = _chat()
    chat.say("/sua 4.1.5")
    asked = chat.say("12000")
    assert "lớn bất thường" in asked
    chat.state = ConversationState.from_json(chat.state.to_json())  # restart
    chat.say("/menu")  # the console greets a restarted chat with the menu
    again = chat.say("1")  # ▶ Tiếp tục
    assert "lớn bất thường" in again
    assert chat.state.mode is Mode.CONFIRMING_VALUE
    assert chat.value("4.1.5") is None
    chat.say("1")  # ✅ Đúng
    assert chat.value("4.1.5") == 12000


def test_pending_confirmation_refused_after_menu_asks_the_question() -> None:
    chat = _chat()
    chat.say("/sua 4.1.5")
    chat.say("12000")
    chat.say("/menu")
    chat.say("1")
    chat.say("2")  # ✏️ Nhập lại
    assert chat.value("4.1.5") is None
    assert chat.state.item == "4.1.5"
    chat.say("12")
    assert chat.value("4.1.5") == 12
