"""Evidence awaited when the menu was opened (a restart's greeting, /menu) is not lost.

Newcomer: "A link shared by 12 cells and typed after a restart is refused at the menu".
Cells answered in one message share the evidence asked next (flows/offers.py `settle`);
after a restart the channel greets with the menu, and the link typed there was refused
("Chọn một mục trong menu…") while ▶ Tiếp tục moved on and forgot the shared cells.
"""

from __future__ import annotations

import pytest

from flows.loader import builtin_forms
from flows.machines import Mode
from flows.model import Form
from flows.state import ConversationState
from tests.engine_driver import Chat, inline_form

SO = builtin_forms()["binh-dinh-2019-so"]
LINK = "https://sotttt.binhdinh.gov.vn/tin-bai-2019"
ROWS = "\n".join(f"          - {{id: r{i}, text: Dòng {i}}}" for i in range(1, 13))
TWELVE = inline_form(f"""
sections:
  - id: "6"
    title: WEBSITE
    items:
      - id: "6.9"
        type: table
        text: Số tin bài theo chuyên mục
        evidence: link
        columns:
          - {{id: so, text: Số tin bài, type: integer, unit: tin}}
        rows:
{ROWS}
      - {{id: "6.10", type: integer, text: Số chuyên mục, unit: chuyên mục}}
""")
TWELVE_VALUES = "; ".join(str(n) for n in range(1, 13))
CELLS_6_1_A = [q.id for q in SO.questions if q.id.startswith("6.1.a.")]
CELLS_6_1_B = [q.id for q in SO.questions if q.id.startswith("6.1.b.")]


def _restarted(chat: Chat) -> None:
    """What a restart keeps (the stored state), then the menu a channel greets it with."""
    chat.state = ConversationState.from_json(chat.state.to_json())
    chat.say("/menu")
    assert chat.state.mode is Mode.MENU


def _awaiting(form: Form, item: str, typed: str) -> Chat:
    """A chat that answered `typed` at `item` (cells at once, or one value) and was asked
    for the evidence, then restarted and greeted with the menu."""
    chat = Chat(form)
    chat.say("/start")
    chat.say(f"/sua {item}")
    chat.say(typed)
    assert chat.state.mode is Mode.AWAITING_EVIDENCE
    _restarted(chat)
    return chat


def _links(chat: Chat, items: list[str]) -> set[object]:
    return {(chat.answers[i].evidence if i in chat.answers else None) for i in items}


def test_a_link_shared_by_12_cells_typed_after_a_restart_is_saved_for_all() -> None:
    chat = Chat(TWELVE)
    chat.say("/sua 6.9.r1")
    shown = chat.say(TWELVE_VALUES)
    assert "dùng chung cho 12 ô" in shown
    _restarted(chat)
    reply = chat.say(LINK)
    assert "Chọn một mục trong menu" not in reply
    assert "📎 Đã lưu minh chứng cho 6.9" in reply
    assert _links(chat, [f"6.9.r{i}" for i in range(1, 13)]) == {LINK}
    assert chat.state.pending is None


def test_the_11_cells_of_6_1_a_share_a_link_typed_at_the_menu() -> None:
    chat = _awaiting(SO, "6.1.a.1", "12; 5; 3; 2; 4; 6; 7; 8; 9; 10; 11")
    reply = chat.say(LINK)
    assert "📎 Đã lưu minh chứng cho 6.1.a.1" in reply
    assert _links(chat, CELLS_6_1_A) == {LINK}


def test_yes_cells_share_a_link_typed_without_https_after_a_restart() -> None:
    chat = _awaiting(SO, "6.1.b.1", "có; có; có; có")
    reply = chat.say("sotttt.binhdinh.gov.vn/dau-thau")
    assert "Chọn một mục trong menu" not in reply
    assert _links(chat, CELLS_6_1_B) == {"https://sotttt.binhdinh.gov.vn/dau-thau"}


def test_a_document_awaited_by_one_item_is_taken_at_the_menu() -> None:
    chat = _awaiting(SO, "8.2", "Có")
    reply = chat.say("12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/kh-12")
    assert "📎 Đã lưu minh chứng cho 8.2" in reply
    evidence = chat.answers["8.2"].evidence
    assert evidence["number"] == "12/KH-UBND"
    assert evidence["link"] == "https://sotttt.binhdinh.gov.vn/kh-12"


@pytest.mark.parametrize("typed", ["1", "/tiep"])
def test_continue_after_a_restart_asks_the_shared_evidence_again(typed: str) -> None:
    chat = _awaiting(TWELVE, "6.9.r1", TWELVE_VALUES)
    again = chat.say(typed)  # ▶ Tiếp tục
    assert "dùng chung cho 12 ô" in again and "Mục 6.9" in again
    assert chat.state.mode is Mode.AWAITING_EVIDENCE
    chat.say(LINK)
    assert _links(chat, [f"6.9.r{i}" for i in range(1, 13)]) == {LINK}


def test_other_text_at_the_menu_is_still_refused_and_a_given_link_not_replaced() -> None:
    chat = _awaiting(TWELVE, "6.9.r1", TWELVE_VALUES)
    assert "Chọn một mục trong menu" in chat.say("xin chào")
    assert _links(chat, ["6.9.r1", "6.9.r12"]) == {None}
    chat.say(LINK)
    chat.say("/menu")
    # nothing is awaited any more: a second link at the menu is not taken for 6.9
    assert "Chọn một mục trong menu" in chat.say("https://sotttt.binhdinh.gov.vn/khac")
    assert _links(chat, ["6.9.r1", "6.9.r12"]) == {LINK}
