"""Prefill and last year's answers: shown, kept with one tap, changed by typing, still checked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows.loader import FormError
from flows.machines import Mode
from flows.payload import Act, pack
from flows.state import Answer
from tests.engine_driver import Chat, inline_form

FORM = inline_form("""
carry_over:
  except: ["4"]
sections:
  - id: "1"
    title: THÔNG TIN CHUNG
    items:
      - {id: "1.1", type: year, text: Năm báo cáo, prefill: campaign.year}
      - {id: "1.2", type: text, text: Tên cơ quan, prefill: agency.name}
      - {id: "1.4", type: phone, text: Điện thoại, prefill: agency.phone}
      - {id: "1.5", type: url, text: Trang thông tin điện tử, prefill: agency.website}
      - {id: "1.8", type: integer, text: Tổng số CBCC, unit: người}
  - id: "3"
    title: HẠ TẦNG
    items:
      - {id: "3.1", type: integer, text: Số CBCC có máy tính, unit: người}
      - {id: "3.2", type: integer, text: Số máy có Internet, unit: máy}
      - {id: "3.6", type: yes_no, text: Có mạng WAN}
      - {id: "3.6.a", type: text, text: Công nghệ WAN, when: "[3.6] == true"}
  - id: "4"
    title: THỐNG KÊ TRONG NĂM
    items:
      - {id: "4.1", type: integer, text: Số tin bài, unit: tin}
      - {id: "4.2", type: integer, text: Số văn bản, unit: văn bản}
checks:
  - id: computers-le-staff
    rule: "[3.1] <= [1.8]"
    message: Số CBCC có máy tính không thể nhiều hơn tổng số CBCC.
""")
KNOWN = {
    "campaign.year": 2027,
    "agency.name": "Sở Thông tin và Truyền thông",
    "agency.phone": "0256 3822 345",
    "agency.website": "sotttt.binhdinh.gov.vn",
}
LAST_YEAR = {
    "1.1": Answer(2026),
    "1.2": Answer("Sở TTTT cũ"),
    "1.8": Answer(45),
    "3.1": Answer(40),
    "3.2": Answer(38),
    "3.6": Answer(True),
    "3.6.a": Answer("Mạng Truyền số liệu chuyên dùng"),
    "4.1": Answer(300),
    "4.2": Answer(12),
}


def chat(known: dict | None = None, previous: dict | None = None) -> Chat:
    c = Chat(FORM)
    c.ctx = replace(c.ctx, known=known or {}, previous=previous or {})
    return c


def test_prefilled_section_is_shown_and_kept_with_one_tap() -> None:
    c = chat(KNOWN)
    text = c.say("/tiep")
    assert "Mục 1: Phiếu đã điền sẵn" in text
    assert "1.1 Năm báo cáo: 2027" in text
    assert "1.2 Tên cơ quan: Sở Thông tin và Truyền thông" in text
    replies = c.send(payload=pack(Act.KEEP, "", "1"))
    assert len(replies) == 1
    assert "✅ Đã giữ nguyên 4 câu của Mục 1." in replies[0].text
    assert replies[0].item == "1.8"  # what Phiếu cannot know is asked next
    # stored as the item's own parser reads it: what is shown is what is stored
    assert c.answers["1.1"] == Answer(2027)
    assert c.answers["1.4"] == Answer("02563822345")
    assert c.answers["1.5"].value == "https://sotttt.binhdinh.gov.vn"


@pytest.mark.parametrize("typed", ["đúng", "Đúng", "dung", "ok", "OK.", "1"])
def test_typing_dung_or_ok_keeps_the_prefilled_section(typed: str) -> None:
    c = chat(KNOWN)
    c.say("/tiep")
    assert "Đã giữ nguyên 4 câu" in c.say(typed)


def test_answering_one_by_one_then_a_prefilled_value_is_kept_or_changed() -> None:
    c = chat(KNOWN)
    c.say("/tiep")
    text = c.press("Trả lời từng câu")
    assert "Phiếu đã điền sẵn: 2027" in text
    labels = [ch.label for ch in c.last.replies[-1].choices]
    assert labels[-1] == "✅ Đúng"
    assert "✅ Đã lưu 1.1: 2027" in c.say("đúng")
    # changed by typing: the typed value wins and is checked like any answer
    assert "✅ Đã lưu 1.2: Sở TTTT Bình Định" in c.say("Sở TTTT Bình Định")
    assert c.answers["1.2"] == Answer("Sở TTTT Bình Định")
    assert "❗" in c.say("abc")  # the phone offer does not make a bad phone acceptable
    assert "1.4" not in c.answers


def test_a_record_value_the_parser_refuses_is_not_offered() -> None:
    c = chat({**KNOWN, "agency.phone": "gọi tổng đài"})
    text = c.say("/tiep")
    assert "Điện thoại" not in text  # listed offers leave the phone out
    c.press("Giữ nguyên cả mục")
    assert "1.4" not in c.answers


def test_a_single_offer_is_asked_with_its_button_not_as_a_section() -> None:
    c = chat({"campaign.year": 2027})
    text = c.say("/tiep")
    assert "Phiếu đã điền sẵn: 2027" in text and "Mục 1: Phiếu đã điền sẵn" not in text
    assert "✅ Đã lưu 1.1: 2027" in c.press("✅ Đúng")


def test_last_years_section_is_reviewed_then_kept_whole() -> None:
    c = chat(KNOWN, LAST_YEAR)
    c.say("/tiep")
    c.press("Giữ nguyên cả mục")  # Mục 1 (prefill wins: 2027, the record's name)
    assert c.answers["1.1"] == Answer(2027)
    assert c.answers["1.2"] == Answer("Sở Thông tin và Truyền thông")
    assert c.answers["1.8"] == Answer(45)
    text = c.last.replies[-1].text
    assert "Mục 3 giống năm trước?" in text
    assert "3.1 Số CBCC có máy tính: 40 người" in text
    assert "3.6.a Công nghệ WAN: Mạng Truyền số liệu chuyên dùng" in text
    replies = c.send(payload=pack(Act.KEEP, "", "3"))
    assert len(replies) == 1
    assert "✅ Đã giữ nguyên 4 câu của Mục 3." in replies[0].text
    assert "🎉 Đã xong Mục 3." in replies[0].text
    assert c.answers["3.6.a"] == Answer("Mạng Truyền số liệu chuyên dùng")


def test_items_that_do_not_carry_over_are_asked_without_last_years_value() -> None:
    c = chat(KNOWN, LAST_YEAR)
    c.say("/tiep")
    c.press("Giữ nguyên cả mục")
    c.press("Giữ nguyên cả mục")
    text = c.last.replies[-1].text
    assert c.state.item == "4.1"
    assert "Năm trước" not in text and "giống năm trước" not in text
    assert [ch.label for ch in c.last.replies[-1].choices] == []


def test_giu_nguyen_on_one_question_keeps_last_years_value() -> None:
    c = chat({}, LAST_YEAR)
    c.say("/tiep")
    c.press("Trả lời từng câu")
    assert "Năm trước: 2026" in c.last.replies[-1].text
    assert "✅ Đã lưu 1.1: 2026" in c.press("Giữ nguyên")
    assert "✅ Đã lưu 1.2: Sở TTTT cũ" in c.say("giữ nguyên")
    c.say("/bo")  # 1.4 and 1.5: nothing known, nothing from last year
    assert "Năm trước: 45 người" in c.say("/bo")
    assert "✅ Đã lưu 1.8: 50 người" in c.say("50")  # a changed value replaces last year's


def test_a_kept_value_is_still_cross_checked() -> None:
    c = chat({}, {**LAST_YEAR, "3.1": Answer(60)})
    c.say("/tiep")
    c.press("Giữ nguyên cả mục")  # Mục 1: 1.8 = 45
    replies = c.send(payload=pack(Act.KEEP, "", "3"))  # 3.1 = 60 > 45
    assert any(r.kind == "check" for r in replies)
    text = "\n".join(r.text for r in replies)
    assert "Số CBCC có máy tính không thể nhiều hơn tổng số CBCC" in text
    assert "3.1 = 60 người" in text and "1.8 = 45 người" in text


def test_a_kept_single_value_is_checked_too() -> None:
    c = chat({}, {"1.8": Answer(45), "3.1": Answer(60)})
    c.say("/sua 1.8")
    c.say("45")
    c.say("/sua 3.1")
    text = c.press("Giữ nguyên")
    assert "✅ Đã lưu 3.1: 60 người" in text
    assert "không thể nhiều hơn" in text


def test_yes_no_question_keeps_only_with_giu_nguyen_not_with_words_that_answer_it() -> None:
    c = chat({}, {"3.6": Answer(False)})
    c.say("/sua 3.6")
    assert "Năm trước: Không" in c.last.replies[-1].text
    assert "✅ Đã lưu 3.6: Có" in c.say("có")
    c.say("/sua 3.6")  # answered now: last year's value is no longer offered
    assert "Năm trước" not in c.last.replies[-1].text


def test_a_keep_button_of_an_older_question_is_stale() -> None:
    c = chat({}, LAST_YEAR)
    c.say("/sua 3.2")
    replies = c.send(payload=pack(Act.KEEP, "3.1", "keep"))
    assert replies[0].kind == "stale"
    assert "3.1" not in c.answers


def test_keep_is_refused_once_submitted() -> None:
    from flows.machines import Status

    c = chat(KNOWN)
    c.ctx = replace(c.ctx, status=Status.SUBMITTED)
    c.send(payload=pack(Act.KEEP, "", "1"))
    assert c.answers == {}
    assert c.state.mode is Mode.SUBMITTED


def test_the_form_declares_what_carries_over_and_what_is_prefilled() -> None:
    assert FORM.carry_over.carries("3.1") and not FORM.carry_over.carries("4.2")
    assert FORM.question("1.1").prefill == "campaign.year"


def test_bad_prefill_and_carry_over_are_refused_by_the_loader() -> None:
    with pytest.raises(FormError) as e:
        inline_form("""
carry_over: {from: x}
sections:
  - id: "1"
    title: A
    items:
      - {id: "1.1", type: text, text: Tên, prefill: agency.fax}
""")
    joined = " ".join(e.value.errors)
    assert "'prefill' 'agency.fax'" in joined and "'from' phải là danh sách" in joined


def test_a_section_offer_survives_a_restart() -> None:
    from flows.state import ConversationState

    c = chat(KNOWN)
    c.say("/tiep")
    c.state = ConversationState.from_json(c.state.to_json())  # stored, read back
    assert "Đã giữ nguyên 4 câu" in c.say("ok")


def test_the_keep_button_is_numbered_after_the_questions_own_choices() -> None:
    c = chat({}, {"3.6": Answer(False)})
    c.say("/sua 3.6")
    assert [ch.label for ch in c.last.replies[-1].choices] == ["Có", "Không", "♻️ Giữ nguyên"]
    assert "✅ Đã lưu 3.6: Không" in c.say("3")
    c.say("/sua 3.6")
    assert "✅ Đã lưu 3.6: Có" in c.say("1")  # the question's own numbering is unchanged


def test_english_official_keeps_with_keep() -> None:
    c = chat({}, LAST_YEAR)
    c.say("/lang en")
    c.say("/sua 3.2")
    assert "Last year: 38" in c.last.replies[-1].text
    assert "Saved 3.2" in c.say("keep")


def test_the_section_offer_buttons_can_be_typed() -> None:
    c = chat(KNOWN)
    c.say("/tiep")
    assert "Phiếu đã điền sẵn: 2027" in c.say("Trả lời từng câu")
    c = chat(KNOWN)
    c.say("/tiep")
    assert "Đã giữ nguyên 4 câu" in c.say("giữ nguyên cả mục")
