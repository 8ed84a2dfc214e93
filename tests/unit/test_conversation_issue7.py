"""Issue #7, "The conversation": each kind of dead end or circle an official met, as a chat.

Driven through the pure engine (tests/engine_driver.py), on a small inline form and on the
real forms of flows/forms/.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import prompts
from flows.engine import COMMANDS
from flows.i18n import translate
from flows.loader import builtin_forms
from flows.machines import Mode, Status
from flows.model import Form, ItemType
from flows.state import Answer
from tests.engine_driver import Chat, inline_form

FORM = inline_form("""
sections:
  - id: "3"
    title: HẠ TẦNG
    items:
      - {id: "3.1", type: integer, text: Số máy tính, unit: máy}
      - {id: "3.2", type: integer, text: Số máy có Internet, unit: máy}
      - {id: "3.3.1", type: decimal, text: Băng thông Leased Line, unit: Mbps}
      - id: "3.3"
        type: computed
        text: Tổng băng thông quy đổi
        unit: Mbps
        formula: "[3.3.1] * 5"
      - {id: "3.4", type: text, text: Ghi chú thêm, required: false, example: "Không"}
      - {id: "3.5", type: integer, text: Số máy in, unit: máy, required: false}
  - id: "6"
    title: DỊCH VỤ CÔNG
    items:
      - id: "6.4"
        type: group
        text: Dịch vụ công trực tuyến
        na_allowed: true
        items:
          - {id: "6.4.a", type: integer, text: Số thủ tục mức 3, unit: thủ tục}
          - {id: "6.4.b", type: integer, text: Số thủ tục mức 4, unit: thủ tục}
          - {id: "6.4.c", type: integer, text: Số hồ sơ trực tuyến, unit: hồ sơ}
      - {id: "6.5", type: yes_no, text: Có chuyên mục hỏi đáp, na_allowed: true}
  - id: "8"
    title: CƠ CHẾ, CHÍNH SÁCH
    items:
      - {id: "8.1", type: yes_no, text: Có Kế hoạch ứng dụng CNTT, evidence: document}
      - {id: "8.2", type: status, text: Chức năng hỗ trợ khai thác thông tin, evidence: link}
      - id: "8.3"
        type: list
        text: Các ứng dụng khác
        required: false
        columns:
          - {id: ten, text: Tên phần mềm, type: text, required: true}
          - {id: sl, text: Số đơn vị, type: integer}
checks:
  - id: internet-le-computers
    rule: "[3.2] <= [3.1]"
    message: Số máy có Internet không thể nhiều hơn số máy tính.
""")

SO = builtin_forms()["binh-dinh-2019-so"]
DOC = "12/KH-UBND; 15/01/2019; Kế hoạch ứng dụng CNTT năm 2019; https://sotttt.binhdinh.gov.vn/kh"


def _all_text(chat: Chat) -> str:
    assert chat.last is not None
    return "\n".join(r.text for r in chat.last.replies)


def _labels(chat: Chat) -> list[str]:
    assert chat.last is not None
    return [c.label for r in chat.last.replies for c in (*r.choices, *r.actions)]


# ---- evidence shown back, and correctable -------------------------------------------------
def test_document_evidence_is_shown_back_as_understood_when_saved_and_in_xem() -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.1")
    chat.press("Có")
    text = chat.say(DOC)
    understood = (
        "số 12/KH-UBND, ngày 15/01/2019, “Kế hoạch ứng dụng CNTT năm 2019”, "
        "https://sotttt.binhdinh.gov.vn/kh"
    )
    assert f"📎 Đã lưu minh chứng cho 8.1: {understood}" in text
    assert f"8.1: Có  📎 {understood}" in chat.say("/xem 8")


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Số 05/KH-UBND; 3/2/2019; https://a.gov.vn/x", "số 05/KH-UBND, ngày 03/02/2019"),
        ("https://a.gov.vn/y; 20/12/2019; 88/QĐ-STTTT", "số 88/QĐ-STTTT, ngày 20/12/2019"),
    ],
)
def test_other_documents_are_shown_with_their_date_in_full(typed: str, shown: str) -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.1")
    chat.press("Có")
    assert shown in chat.say(typed)


def test_link_evidence_and_a_file_are_shown_back() -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.2")
    chat.press("Hoàn chỉnh")
    text = chat.say("sotttt.binhdinh.gov.vn/hoi-dap")
    assert "📎 Đã lưu minh chứng cho 8.2: https://sotttt.binhdinh.gov.vn/hoi-dap" in text
    chat.say("/sua 8.1")
    chat.press("Có")
    text = chat.send_attachment({"kind": "document", "file_id": "F1", "file_name": "kh.pdf"})
    assert "📎 Đã lưu minh chứng cho 8.1: kh.pdf" in text


def test_sua_on_an_answered_item_keeps_the_value_and_changes_the_evidence() -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.2")
    chat.press("Hoàn chỉnh")
    chat.say("https://sotttt.binhdinh.gov.vn/cu")
    text = chat.say("/sua 8.2")
    assert "Hiện tại: Hoàn chỉnh" in text
    assert "📎 Minh chứng: https://sotttt.binhdinh.gov.vn/cu" in text
    text = chat.press("Giữ câu trả lời, sửa minh chứng")
    assert chat.state.mode is Mode.AWAITING_EVIDENCE and chat.state.item == "8.2"
    assert "Minh chứng hiện tại: https://sotttt.binhdinh.gov.vn/cu" in text
    chat.say("https://sotttt.binhdinh.gov.vn/moi")
    assert chat.value("8.2") == "hoan_chinh"
    assert chat.answers["8.2"].evidence == "https://sotttt.binhdinh.gov.vn/moi"


def test_evidence_skipped_at_first_is_added_later_by_command_without_retyping() -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.1")
    chat.press("Có")
    chat.press("Bổ sung sau")
    for command in ("/minhchung 8.1", "/evidence 8.1"):
        chat.say(command)
        assert chat.state.mode is Mode.AWAITING_EVIDENCE and chat.state.item == "8.1"
    chat.say(DOC)
    assert chat.value("8.1") is True
    assert chat.answers["8.1"].evidence["number"] == "12/KH-UBND"
    assert "Thiếu minh chứng" not in chat.say("/xem")


def test_a_missing_link_is_added_to_the_saved_document_alone() -> None:
    chat = Chat(FORM)
    saved = {"number": "12/KH-UBND", "date": "2019-01-15", "title": None, "link": None}
    chat.answers["8.1"] = Answer(value=True, evidence=saved)
    text = chat.say("/minhchung 8.1")
    assert "số 12/KH-UBND, ngày 15/01/2019, chưa có link" in text
    text = chat.say("sotttt.binhdinh.gov.vn/ke-hoach")
    assert chat.answers["8.1"] == Answer(
        value=True, evidence={**saved, "link": "https://sotttt.binhdinh.gov.vn/ke-hoach"}
    )
    assert "số 12/KH-UBND, ngày 15/01/2019, https://sotttt.binhdinh.gov.vn/ke-hoach" in text


def test_evidence_command_on_an_item_without_evidence_or_answer_explains() -> None:
    chat = Chat(FORM)
    assert "không cần minh chứng" in chat.say("/minhchung 3.1")
    text = chat.say("/minhchung 8.2")
    assert "chưa có câu trả lời cần minh chứng" in text and chat.state.item == "8.2"
    assert chat.state.mode is Mode.ANSWERING


# ---- lists --------------------------------------------------------------------------------
def _list_with_two_rows() -> Chat:
    chat = Chat(FORM)
    chat.say("/sua 8.3")
    chat.say("Quản lý tài sản; 3")
    chat.press("Thêm dòng")
    chat.say("Quản lý kho; 1")
    assert len(chat.value("8.3")) == 2
    return chat


@pytest.mark.parametrize(
    "typed", [["1", "1"], ["1", "1", "1"], ["2", "1"], ["1", "2", "1"], ["1", "2", "1", "1"]]
)
def test_typed_numbers_at_a_list_never_wipe_saved_rows(typed: list[str]) -> None:
    chat = _list_with_two_rows()
    for text in typed:
        chat.say(text)
    assert len(chat.value("8.3")) == 2


def test_removing_saved_rows_needs_an_explicit_confirm() -> None:
    chat = _list_with_two_rows()
    chat.say("1")  # ➕ Thêm dòng: the list question again, its saved rows shown
    assert _labels(chat)[:2] == ["✅ Xong, giữ 2 dòng", "🗑 Xoá các dòng đã lưu"]
    text = chat.press("Xoá các dòng")
    assert "Xoá cả 2 dòng đã lưu của mục 8.3?" in text
    assert len(chat.value("8.3")) == 2
    chat.press("Giữ lại")
    assert len(chat.value("8.3")) == 2
    chat.press("Xoá các dòng")
    chat.press("Xoá hết")
    assert chat.value("8.3") == []


def test_an_old_none_button_does_not_wipe_rows_without_a_confirm() -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.3")
    none_button = chat.last.replies[-1].choices[0].payload
    chat.say("Quản lý tài sản; 3")
    chat.press("Xong")
    chat.say("/sua 8.3")
    text = "\n".join(r.text for r in chat.send(payload=none_button))
    assert "Xoá cả 1 dòng" in text and len(chat.value("8.3")) == 1


# ---- no circles ---------------------------------------------------------------------------
def _answer_required(chat: Chat) -> None:
    for item, text in (("3.1", "10"), ("3.2", "5"), ("3.3.1", "2")):
        chat.say(f"/sua {item}")
        chat.say(text)
    chat.say("đúng")  # 3.3
    chat.say("/kad 6.4")
    chat.say("Cơ quan chưa cung cấp dịch vụ công")
    chat.say("/sua 6.5")
    chat.say("Không")
    chat.say("/sua 8.1")
    chat.say("Không")
    chat.say("/sua 8.2")
    chat.press("Chưa có")


def test_skipping_optional_items_after_the_last_required_one_ends_at_submit() -> None:
    chat = Chat(FORM)
    _answer_required(chat)
    asked: list[str] = []
    for _ in range(8):
        if chat.state.item:
            asked.append(chat.state.item)
        text = chat.say("/bo")
    assert sorted(asked) == sorted(set(asked)), f"asked twice: {asked}"
    assert "đã trả lời hết các câu bắt buộc" in text
    assert "📤 Nộp phiếu" in _labels(chat)
    assert chat.state.mode is Mode.REVIEWING


def test_answering_the_last_required_item_does_not_go_back_to_skipped_optional_ones() -> None:
    chat = Chat(FORM)
    chat.say("/sua 3.4")
    chat.say("/bo")  # 3.4 optional, skipped
    _answer_required(chat)
    chat.say("/bo")  # 3.5
    chat.say("/bo")  # 8.3
    chat.say("/sua 8.2")
    text = chat.press("Hoàn chỉnh")
    text = chat.say("https://a.gov.vn/hd")
    assert chat.state.item is None and chat.state.mode is Mode.REVIEWING
    assert "Hãy xem lại và nộp phiếu" in text


def test_continue_after_a_refused_submit_goes_to_what_blocks_it_first() -> None:
    chat = Chat(FORM)
    _answer_required(chat)
    chat.say("/sua 3.2")
    chat.say("50")  # fails 3.2 <= 3.1
    chat.say("/sua 8.1")
    chat.press("Có")
    chat.press("Bổ sung sau")  # evidence missing
    chat.answers.pop("6.5")  # an item missing
    text = chat.say("/nop")
    assert "Chưa thể nộp phiếu" in text
    chat.press("Trả lời tiếp")
    assert chat.state.item in ("3.1", "3.2") and chat.state.mode is Mode.ANSWERING
    assert "3.2: 50 máy > 3.1: 10 máy" in _all_text(chat)
    chat.say("/sua 3.2")
    chat.say("8")
    chat.say("/xem")
    chat.press("Trả lời tiếp")
    assert chat.state.mode is Mode.AWAITING_EVIDENCE and chat.state.item == "8.1"
    chat.say(DOC)
    chat.say("/xem")
    chat.press("Trả lời tiếp")
    assert chat.state.item == "6.5" and chat.state.mode is Mode.ANSWERING


# ---- progress -----------------------------------------------------------------------------
def _header_total(text: str) -> tuple[int, int]:
    line = next(x for x in text.splitlines() if "· câu " in x)
    n, total = line.rsplit("câu ", 1)[1].split("/")
    return int(n), int(total)


def test_question_numbers_do_not_move_under_the_officials_feet_in_a_real_section() -> None:
    chat = Chat(SO)
    text = chat.say("/sua 3.1.a")
    first_total = _header_total(text)[1]
    seen = [_header_total(text)]
    answers = {ItemType.INTEGER: "2", ItemType.DECIMAL: "10", ItemType.TEXT: "Mạng TSLCD"}
    while chat.state.item and chat.state.item.startswith("3") and len(seen) < 60:
        q = SO.question(chat.state.item)
        assert q is not None
        if q.type is ItemType.YES_NO:
            text = chat.say("Có")
        elif q.type is ItemType.COMPUTED:
            text = chat.say("đúng")
        elif q.type is ItemType.LIST:
            text = chat.say("/bo")
        else:
            text = chat.say(answers[q.type])
        if "· câu " in text and chat.state.item and chat.state.item.startswith("3"):
            seen.append(_header_total(text.split("✅")[-1]))
    # Every "Có" opened follow-ups (3.6.a, 3.7.a.1, the 3.8 table), yet the total never moved.
    assert {total for _, total in seen} == {first_total}
    assert [n for n, _ in seen] == sorted(n for n, _ in seen)
    chat.say("/menu")
    menu = next(x for x in _labels(chat) if "Mục 3 —" in x)
    assert f"/{first_total} ·" in menu


def test_a_no_removes_the_follow_ups_from_both_the_menu_and_the_header() -> None:
    chat = Chat(SO)
    total = _header_total(chat.say("/sua 3.6"))[1]
    text = chat.say("Không")  # 3.6.a is ruled out
    assert _header_total(text)[1] == total - 1
    chat.say("/menu")
    assert any(f"/{total - 1} ·" in x for x in _labels(chat) if "Mục 3 —" in x)


def test_section_done_is_announced_only_when_nothing_is_owed() -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.3")
    chat.say("/bo")
    chat.say("/sua 8.2")
    chat.press("Chưa có")
    text = chat.say("/sua 8.1")
    text = chat.press("Có")  # evidence still owed: Mục 8 is not done
    assert "🎉" not in text
    text = chat.say(DOC)
    assert "🎉 Đã xong Mục 8." in text
    assert chat.events.count("section_completed") == 1


# ---- what officials read ------------------------------------------------------------------
REAL_FORMS = sorted(builtin_forms().items())


@pytest.mark.parametrize(("form_id", "form"), REAL_FORMS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_no_question_shown_reads_like_paper_or_shows_an_internal_id(
    form_id: str, form: Form, lang: str
) -> None:
    for q in form.questions:
        text = prompts.question(form, {}, q, lang).text
        folded = text.casefold()
        assert "đánh dấu x" not in folded, (form_id, q.id)
        assert "□" not in text, (form_id, q.id)
        lines = [x.removeprefix("➤ ").strip(" :") for x in text.splitlines()]
        assert "Có" not in lines and "Trong đó" not in lines, (form_id, q.id, text)
        if q.column and q.id != f"{q.table}.{q.row}":
            assert q.id not in text, (form_id, q.id)
            assert prompts.label(q, lang) in text


def test_cell_ids_are_the_printed_number_and_the_column_name_everywhere() -> None:
    chat = Chat(SO)
    text = chat.say("/sua 5.4.1.ten_phan_mem")
    assert "5.4.1 (Tên phần mềm)" in text and "ten_phan_mem" not in text
    text = chat.say("Phần mềm QLNS")
    assert "✅ Đã lưu 5.4.1 (Tên phần mềm): Phần mềm QLNS" in text
    assert "5.4.1 (Nhà cung cấp)" in text
    assert "ten_phan_mem" not in chat.say("/xem 5")
    assert "nha_cung_cap" not in chat.say("/xem")
    chat.answers["3.8"] = Answer(value=True)
    chat.say("/sua 3.8.2.co")
    text = chat.say("/kad")
    assert "Câu 3.8.2 (Có) không có lựa chọn “không áp dụng”" in text and ".co" not in text


def test_paper_instructions_and_orphan_hints_are_said_for_chat() -> None:
    chat = Chat(SO)
    text = chat.say("/sua 5.1")
    assert "Chọn một phương án đúng với cơ quan." in text
    chat.answers["5.2"] = Answer(value=True)
    text = chat.say("/sua 5.2.7.c")
    assert "Đây là một phần của mục 5.2.7" in text
    text = chat.say("/sua 3.8")
    text = chat.say("Có")
    assert "➤ Băng từ: có hay không?" in text


# ---- cross-checks -------------------------------------------------------------------------
def test_a_failed_check_shows_the_totals_it_compares_and_fixes_only_answered_items() -> None:
    chat = Chat(SO)
    for item, value in (("4.1.1.a", "5"), ("4.1.1.b", "4"), ("4.1.2", "0")):
        chat.say(f"/sua {item}")
        chat.say(value)
    text = chat.say("10")  # 4.1.3.a
    assert "4.1.3: 10 người > 4.1.1 + 4.1.2: 9 người" in text
    labels = _labels(chat)
    assert "✏️ Sửa 4.1.3.a" in labels and "✏️ Sửa 4.1.1.b" in labels
    assert not any("4.1.3.b" in x or "4.1.3.c" in x for x in labels)


@pytest.mark.parametrize(
    ("answers", "item", "value", "shown"),
    [
        ({"3.1.a": "20", "3.1.b": "10"}, "3.2.a", "31", "3.2.a: 31 máy > 3.1: 30 người"),
        ({"5.1.3.a": "100"}, "5.2.7.a", "150", "5.2.7.a: 150 văn bản > 5.1.3.a: 100 văn bản"),
        ({"5.1.3.b": "800"}, "5.2.7.b", "801", "5.2.7.b: 801 văn bản > 5.1.3.b: 800 văn bản"),
        ({"1.8": "20"}, "3.1.a", "21", "3.1.a: 21 người > 1.8: 20 người"),
    ],
)
def test_checks_the_form_lacked_and_their_totals(
    answers: dict[str, str], item: str, value: str, shown: str
) -> None:
    chat = Chat(SO)
    chat.answers["5.2"] = Answer(value=True)
    for key, typed in answers.items():
        chat.say(f"/sua {key}")
        chat.say(typed)
    chat.say(f"/sua {item}")
    assert shown in chat.say(value)


# ---- không áp dụng for a group ------------------------------------------------------------
def test_kad_on_a_group_gives_one_reason_to_all_its_items() -> None:
    chat = Chat(FORM)
    text = chat.say("/kad 6.4")
    assert "Một lý do cho cả 3 câu của mục 6.4" in text
    chat.say("Cơ quan không cung cấp dịch vụ công")
    for item in ("6.4.a", "6.4.b", "6.4.c"):
        assert chat.answers[item].na_reason == "Cơ quan không cung cấp dịch vụ công"
    assert chat.state.item == "6.5"


def test_kad_on_one_item_of_a_group_offers_the_whole_group() -> None:
    chat = Chat(FORM)
    chat.say("/sua 6.4.b")
    chat.say("/kad")
    chat.press("Cả 6.4 (3 câu)")
    chat.say("Không có dịch vụ công trực tuyến")
    assert all(chat.answers[i].is_na for i in ("6.4.a", "6.4.b", "6.4.c"))


def test_the_previous_reason_can_be_reused() -> None:
    chat = Chat(FORM)
    chat.say("/kad 6.4")
    chat.say("Cơ quan không cung cấp dịch vụ công")
    chat.say("/sua 6.5")
    chat.say("/kad")
    chat.press("Dùng lại: Cơ quan không cung cấp dịch vụ công")
    assert chat.answers["6.5"].na_reason == "Cơ quan không cung cấp dịch vụ công"


def test_kad_on_a_group_without_the_option_says_so_with_an_example() -> None:
    chat = Chat(FORM)
    text = chat.say("/kad 8")
    assert "không có câu nào cho phép “không áp dụng”" in text and "/kad 6.4" in text
    assert not any(a.is_na for a in chat.answers.values())


# ---- confirmations, optional items, after submission --------------------------------------
@pytest.mark.parametrize("typed", ["đúng", "Đúng", "ok", "OK", "yes", "đồng ý", "Đồng ý!", "có"])
def test_a_computed_value_is_confirmed_in_words(typed: str) -> None:
    chat = Chat(FORM)
    chat.say("/sua 3.3.1")
    chat.say("10")
    assert chat.state.item == "3.3"
    chat.say(typed)
    assert chat.value("3.3") == 50


@pytest.mark.parametrize("typed", ["không", "sai", "no"])
def test_a_computed_value_refused_in_words_goes_to_its_inputs_or_explains(typed: str) -> None:
    chat = Chat(FORM)
    chat.say("/sua 3.3.1")
    chat.say("10")
    chat.say(typed)
    assert chat.value("3.3") is None
    assert chat.state.item in ("3.3.1", "3.3")


def test_optional_items_say_so_and_their_errors_mention_bo() -> None:
    chat = Chat(FORM)
    text = chat.say("/sua 3.5")
    assert "không bắt buộc" in text and "/bo" in text
    text = chat.say("nhiều lắm")
    assert "❗" in text and "Câu này không bắt buộc: gõ /bo để bỏ qua." in text
    text = chat.say("/sua 3.1")
    assert "không bắt buộc" not in text
    assert "/bo để bỏ qua" not in chat.say("nhiều lắm")


def test_the_menu_offers_no_submit_after_submission() -> None:
    chat = Chat(FORM)
    chat.say("/menu")
    assert "📤 Nộp phiếu" in _labels(chat)
    chat.ctx = replace(chat.ctx, status=Status.SUBMITTED)
    chat.say("/menu")
    assert "📤 Nộp phiếu" not in _labels(chat)
    chat.ctx = replace(chat.ctx, status=Status.RETURNED)
    chat.say("/menu")
    assert "📤 Nộp phiếu" in _labels(chat)


@pytest.mark.parametrize(
    ("today", "days"), [(date(2026, 11, 27), 1), (date(2026, 12, 26), 30), (date(2026, 11, 26), 0)]
)
def test_a_late_submission_is_accepted_marked_and_told(today: date, days: int) -> None:
    chat = Chat(FORM)
    chat.ctx = replace(chat.ctx, now=datetime.combine(today, datetime.min.time()))
    _answer_required(chat)
    chat.say("/nop")
    text = chat.press("Nộp phiếu")
    assert chat.last.transition == "submit"
    submitted = next(e for e in chat.last.events if e.name == "submitted")
    assert submitted.data["late"] is (days > 0) and submitted.data["days_late"] == days
    if days:
        assert f"⏰ Phiếu được nộp sau hạn 26/11/2026 ({days} ngày)" in text
    else:
        assert "⏰" not in text


# ---- English ------------------------------------------------------------------------------
def test_every_command_has_an_english_alias() -> None:
    english = {"start", "menu", "continue", "next", "skip", "back", "na", "edit", "review"}
    english |= {"submit", "help", "lang", "evidence", "summary", "fix", "score", "mute", "unmute"}
    assert english <= set(COMMANDS)
    actions = set(COMMANDS.values())
    covered = {COMMANDS[name] for name in english}
    assert actions <= covered, actions - covered


@pytest.mark.parametrize(
    ("vi", "en"),
    [
        ("/tiep", "/next"),
        ("/bo", "/skip"),
        ("/lai", "/back"),
        ("/sua 3.2", "/edit 3.2"),
        ("/xem", "/review"),
        ("/xem", "/summary"),
        ("/nop", "/submit"),
        ("/menu", "/start"),
        ("/kad 6.4", "/na 6.4"),
        ("/trogiup", "/help"),
    ],
)
def test_english_commands_do_what_the_vietnamese_ones_do(vi: str, en: str) -> None:
    one, two = Chat(FORM), Chat(FORM)
    for chat in (one, two):
        chat.say("/sua 3.1")
        chat.say("10")
    assert one.say(vi) == two.say(en)
    assert one.state == two.state


def test_help_says_sua_edits_an_item_in_both_languages() -> None:
    chat = Chat(FORM)
    assert "/sua 3.2.b — sửa câu trả lời một mục" in chat.say("/help")
    chat.say("/lang en")
    text = chat.say("/help")
    assert "/edit 3.2.b (/sua) — edit the answer of an item" in text
    assert "/skip" in text and "/next" in text


def test_the_greetings_are_translated() -> None:
    uninvited = (
        "Xin chào! Phiếu chỉ dành cho cán bộ được mời. Để được cấp quyền, anh/chị "
        "liên hệ Sở Thông tin và Truyền thông (phòng CNTT) để nhận mã mời, rồi mở "
        "đường link mời hoặc gõ /start <mã mời>."
    )
    assert translate("en", uninvited).startswith("Hello")
    chat = Chat(FORM)
    chat.say("/lang en")
    text = chat.say("/menu")
    assert "Hello Lan!" in text and "Xin chào" not in text


def test_kad_on_the_real_tables_of_section_6_4() -> None:
    chat = Chat(SO)
    chat.say("/sua 6.4.a.3")
    chat.say("/kad")
    assert "🚫 Cả 6.4.a (10 câu)" in _labels(chat)
    chat.press("Cả 6.4.a")
    chat.say("Sở không cung cấp dịch vụ công trực tuyến")
    table_a = [q.id for q in SO.questions if q.table == "6.4.a"]
    assert len(table_a) == 10 and all(chat.answers[i].is_na for i in table_a)
    text = chat.say("/kad 6.4.b")
    assert "Một lý do cho cả 6 câu của mục 6.4.b" in text
    chat.press("Dùng lại: Sở không cung cấp")  # long reasons are cut on the button
    table_b = [q.id for q in SO.questions if q.table == "6.4.b"]
    reasons = {chat.answers[i].na_reason for i in table_b}
    assert reasons == {"Sở không cung cấp dịch vụ công trực tuyến"}


# ---- nothing of the above breaks the engine -----------------------------------------------
_STEPS = st.sampled_from(
    [
        ("text", t)
        for t in (
            "/kad 6.4",
            "/kad",
            "/na 6.4",
            "/sua 6.4.b",
            "/sua 8.1",
            "/sua 8.2",
            "/sua 8.3",
            "/sua 3.2",
            "/minhchung 8.1",
            "/bo",
            "/tiep",
            "/xem",
            "/nop",
            "1",
            "2",
            "đồng ý",
            "Cơ quan không cung cấp",
            "Có",
            "50",
            "Tên; 3",
            DOC,
            "https://a.gov.vn/x",
        )
    ]
    + [
        ("payload", p)
        for p in (
            "y|6.4.b|group",
            "y|6.5|reuse",
            "y|6.4.a|reuse",
            "c||fix",
            "c|8.1|evidence",
            "a|8.3|clear",
            "a|8.3|keep",
            "y|8.3|yes",
            "y||yes",
        )
    ]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STEPS, max_size=30))
def test_no_sequence_of_the_new_commands_breaks_the_engine(steps: list[tuple[str, str]]) -> None:
    chat = Chat(FORM)
    for kind, value in steps:
        replies = chat.send(text=value) if kind == "text" else chat.send(payload=value)
        assert replies, f"silence after {value!r}"
        assert "engine_recovered" not in chat.events


@pytest.mark.parametrize("typed", ["xong", "Xong rồi", "hết", "done"])
def test_xong_typed_at_a_list_with_rows_ends_it_and_adds_no_row(typed: str) -> None:
    chat = _list_with_two_rows()
    chat.say("1")  # ➕ Thêm dòng
    chat.say(typed)
    assert len(chat.value("8.3")) == 2
    assert chat.state.item != "8.3" or chat.state.mode is Mode.REVIEWING


def test_the_summary_lists_cells_by_number_and_column_name() -> None:
    from flows.navigation import Summary

    s = Summary(missing_required=["5.4.1.so_don_vi"], missing_evidence=["3.8.1.co"], total=2)
    text = prompts.summary(SO, s, "vi", editable=True).text
    assert "5.4.1 (SL đơn vị trực thuộc đã triển khai)" in text and "3.8.1 (Có)" in text
    assert "so_don_vi" not in text and ".co" not in text


@pytest.mark.parametrize(
    ("typed", "number", "day", "later"),
    [
        ("số 12/QĐ-STTTT ngày 15/01/99", "12/QĐ-STTTT", "1999-01-15", "/minhchung 8.1"),
        ("Kế hoạch 05/KH-UBND; 3/2/2019", "05/KH-UBND", "2019-02-03", "/sua 8.1"),
        ("88/QĐ-UBND ngày 20 tháng 12 năm 2018", "88/QĐ-UBND", "2018-12-20", "/evidence 8.1"),
    ],
)
def test_a_document_without_a_link_is_saved_and_the_link_alone_completes_it(
    typed: str, number: str, day: str, later: str
) -> None:
    chat = Chat(FORM)
    chat.say("/sua 8.1")
    chat.press("Có")
    text = chat.say(typed)
    saved = chat.answers["8.1"].evidence
    assert (saved["number"], saved["date"], saved["link"]) == (number, day, None)
    assert "chưa có link" in text and "/minhchung 8.1" in text
    assert "vui lòng gửi kèm đường link" not in text
    chat.say(later)
    if later == "/sua 8.1":
        chat.press("Giữ câu trả lời, sửa minh chứng")
    assert chat.state.mode is Mode.AWAITING_EVIDENCE and chat.state.item == "8.1"
    text = chat.say("https://sotttt.binhdinh.gov.vn/qd12")
    assert chat.answers["8.1"] == Answer(
        value=True, evidence={**saved, "link": "https://sotttt.binhdinh.gov.vn/qd12"}
    )
    assert "vui lòng ghi số hiệu" not in text and "/minhchung" not in text


@pytest.mark.parametrize(
    ("item", "typed", "evidence"),
    [
        (
            "8.3",
            "có - link: sotttt.binhdinh.gov.vn/pc, số 05/KH-UBND ngày 25 tháng 10 năm 2021",
            {
                "number": "05/KH-UBND",
                "date": "2021-10-25",
                "link": "https://sotttt.binhdinh.gov.vn/pc",
            },
        ),
        (
            "8.2",
            "Có; lk binhdinh.gov.vn/qd, Quyết định 88/QĐ-UBND ngày 20/12/2018",
            {"number": "88/QĐ-UBND", "date": "2018-12-20", "link": "https://binhdinh.gov.vn/qd"},
        ),
    ],
)
def test_yes_with_a_schemeless_link_and_a_document_saves_both(
    item: str, typed: str, evidence: dict[str, str]
) -> None:
    chat = Chat(SO)
    chat.say(f"/sua {item}")
    text = chat.say(typed)
    assert "trả lời “có” hoặc “không”" not in text
    saved = chat.answers[item]
    assert saved.value is True
    assert {k: saved.evidence[k] for k in evidence} == evidence


@pytest.mark.parametrize(
    ("item", "typed", "value"),
    [
        ("3.6", "Có, https://sotttt.binhdinh.gov.vn/kh", True),
        ("3.6", "không - xem sotttt.binhdinh.gov.vn/kh", False),
        ("1.8", "12, link: https://sotttt.binhdinh.gov.vn/so-lieu", 12),
    ],
)
def test_a_link_at_an_item_without_evidence_keeps_the_answer(
    item: str, typed: str, value: object
) -> None:
    chat = Chat(SO)
    chat.say(f"/sua {item}")
    text = chat.say(typed)
    assert "trả lời “có” hoặc “không”" not in text
    assert chat.value(item) == value and chat.answers[item].evidence is None
    assert f"Câu {item} không cần minh chứng" in text


@pytest.mark.parametrize("item", ["3.7.d", "1.8", "3.2.a"])
def test_kad_on_a_single_question_without_the_option_calls_it_a_question(item: str) -> None:
    assert not SO.question(item).na_allowed
    chat = Chat(SO)
    chat.say(f"/sua {item}")
    text = chat.say("/kad")
    assert f"Câu {prompts.label_of(SO, item, 'vi')} không có lựa chọn “không áp dụng”" in text
    assert f"Mục {prompts.label_of(SO, item, 'vi')} không có" not in text


@pytest.mark.parametrize(("typed", "words"), [("3 máy chủ", "máy chủ"), ("2 máy in", "máy in")])
def test_a_number_naming_another_thing_says_the_unit_does_not_match(typed: str, words: str) -> None:
    chat = Chat(SO)
    chat.say("/sua 3.2.a")
    text = chat.say(typed)
    assert f"“{words}” không khớp với đơn vị của câu này (máy)" in text
    assert "không kèm chữ" not in text and "Ví dụ" in text and "3.2.a" not in chat.answers
