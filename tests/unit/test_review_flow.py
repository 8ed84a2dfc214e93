"""The reviewer's and the agency's turns, pure (flows/review.py, flows/review_agency.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from flows import review as rflow
from flows import review_agency as aflow
from flows.machines import Status
from flows.review import LinkView, ReviewView, VerdictView, rpack, runpack
from flows.review_points import ManualCriterion
from flows.state import Answer, Incoming
from tests.engine_driver import inline_form

FORM = inline_form("""
sections:
  - id: "1"
    title: CHUNG
    items:
      - {id: "1.1", type: integer, text: Tổng số CBCC, unit: người}
      - {id: "1.2", type: integer, text: Số CBCC có máy tính, unit: người}
      - {id: "1.3", type: yes_no, text: Có mạng LAN, evidence: link}
      - {id: "1.4", type: status, text: Chức năng tra cứu, evidence: link, na_allowed: true}
      - {id: "1.5", type: decimal, text: Băng thông, unit: Mbps}
checks:
  - id: pcs-le-staff
    rule: "[1.2] <= [1.1]"
    message: Số CBCC có máy tính không lớn hơn tổng số CBCC
""")
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
LINK = "https://so.binhdinh.gov.vn/lan"


def view(answers: dict[str, Answer], **kw: object) -> ReviewView:
    base: dict[str, object] = {
        "form": FORM,
        "sub_id": 7,
        "agency_name": "Sở TTTT",
        "campaign_name": "Năm 2026",
        "status": Status.IN_REVIEW,
        "answers": answers,
        "verdicts": {},
        "today": date(2026, 11, 20),
        "round_start": T0,
    }
    return ReviewView(**(base | kw))  # type: ignore[arg-type]


ANSWERS = {
    "1.1": Answer(10),
    "1.2": Answer(12),  # more computers' users than staff: the check fails
    "1.3": Answer(True, None, LINK),
    "1.4": Answer(None, "Cơ quan không có chức năng này"),
    "1.5": Answer(100),
}


def test_items_to_verify_evidence_then_failed_checks_then_not_applicable() -> None:
    assert rflow.items_to_verify(FORM, ANSWERS) == ["1.3", "1.1", "1.2", "1.4"]
    fixed = ANSWERS | {"1.2": Answer(8)}
    assert rflow.items_to_verify(FORM, fixed) == ["1.3", "1.4"]


def test_the_card_shows_answer_evidence_check_and_reason() -> None:
    step = rflow.handle(view(ANSWERS), {}, Incoming(payload=rpack(7, "next")), "vi")
    card = step.replies[-1].text
    assert "1.3. Có mạng LAN" in card and f"📎 Minh chứng: {LINK}" in card
    assert "🔗 Link: đang kiểm tra…" in card and "Còn 4 mục cần xem." in card
    assert [o.name for o in step.ops] == ["check_link"]
    step = rflow.handle(view(ANSWERS), {}, Incoming(text="1.2"), "vi")
    assert "⚠️ Số CBCC có máy tính không lớn hơn tổng số CBCC" in step.replies[-1].text
    step = rflow.handle(view(ANSWERS), {}, Incoming(text="1.4"), "en")
    assert "not applicable (Cơ quan không có chức năng này)" in step.replies[-1].text


def test_comment_required_for_khong_dat_and_tra_lai() -> None:
    v = view(ANSWERS)
    for verdict in ("khong_dat", "tra_lai"):
        step = rflow.handle(v, {}, Incoming(payload=rpack(7, f"v:{verdict}:1.3")), "vi")
        assert step.ops == () and step.state and step.state["await"]["verdict"] == verdict
        again = rflow.handle(v, step.state, Incoming(text="  "), "vi")
        assert again.ops == () and "ít nhất 3 ký tự" in again.replies[0].text
        done = rflow.handle(v, step.state, Incoming(text="Không khớp"), "vi")
        [op] = [o for o in done.ops if o.name == "verdict"]
        assert op.data == {
            "item": "1.3",
            "verdict": verdict,
            "comment": "Không khớp",
            "corrected": None,
        }


def test_a_correction_goes_through_the_items_parser_and_needs_a_reason() -> None:
    v = view(ANSWERS)
    step = rflow.handle(v, {}, Incoming(payload=rpack(7, "v:sua:1.5")), "vi")
    assert "Gõ giá trị đúng cho mục 1.5" in step.replies[0].text
    bad = rflow.handle(v, step.state, Incoming(text="nhanh lắm"), "vi")
    assert bad.ops == () and bad.replies[0].kind == "error" and "Ví dụ" in bad.replies[0].text
    ok = rflow.handle(v, step.state, Incoming(text="2,5"), "vi")
    assert "100 Mbps → 2,5 Mbps" in ok.replies[0].text
    done = rflow.handle(v, ok.state, Incoming(text="Theo hợp đồng"), "vi")
    [op] = [o for o in done.ops if o.name == "verdict"]
    corrected = op.data["corrected"]
    assert isinstance(corrected, Answer)
    assert rflow.unjson(corrected.value) in (2.5, Decimal("2.5"))


def test_a_verdict_on_a_submission_not_yet_opened_opens_it_first() -> None:
    v = view(ANSWERS, status=Status.RESUBMITTED)
    step = rflow.handle(v, {}, Incoming(payload=rpack(7, "v:dat:1.3")), "vi")
    assert [o.name for o in step.ops][:2] == ["move", "verdict"]
    assert step.ops[0].data == {"trigger": "start_review"}


def test_settled_items_and_rounds() -> None:
    returned = VerdictView("tra_lai", "Link hỏng", None, T0 - timedelta(hours=1))
    v = view(ANSWERS, verdicts={"1.3": returned}, changed={"1.3": Answer(True, None, "x")})
    assert not rflow.is_settled(v, "1.3")  # returned last round: decided again
    assert rflow.review_items(v)[0] == "1.3"
    now = VerdictView("tra_lai", "Link hỏng", None, T0 + timedelta(minutes=1))
    assert rflow.is_settled(view(ANSWERS, verdicts={"1.3": now}), "1.3")


def test_decisions_follow_the_verdicts() -> None:
    settled = {i: VerdictView("dat", None, None, T0) for i in ("1.3", "1.1", "1.2", "1.4")}
    v = view(ANSWERS, verdicts=settled)
    step = rflow.handle(v, {}, Incoming(payload=rpack(7, "return")), "vi")
    assert not any(o.name == "move" for o in step.ops)
    assert "Không có mục nào trả lại" in step.replies[0].text
    step = rflow.handle(v, {}, Incoming(payload=rpack(7, "accept")), "vi")
    assert step.ops[-1].data["trigger"] == "accept"
    unsettled = view(ANSWERS, verdicts={"1.3": settled["1.3"]})
    step = rflow.handle(unsettled, {}, Incoming(payload=rpack(7, "accept")), "vi")
    assert step.ops == () or all(o.name != "move" for o in step.ops)
    assert "Còn mục chưa đánh giá" in step.replies[0].text


def test_bulk_only_lists_links_that_answered_and_match() -> None:
    links = {LINK: LinkView(LINK, 200, LINK, "Mạng LAN")}
    v = view(ANSWERS, links=links)
    assert rflow.bulk_candidates(v) == ["1.3"]
    moved = {LINK: LinkView(LINK, 200, "https://portal.example.com/login")}
    assert rflow.bulk_candidates(view(ANSWERS, links=moved)) == []


def test_a_closed_submission_cannot_be_reviewed() -> None:
    for status in (Status.DRAFT, Status.RETURNED, Status.ACCEPTED, Status.CONFIRMED):
        step = rflow.handle(
            view(ANSWERS, status=status), {}, Incoming(payload=rpack(7, "accept")), "vi"
        )
        assert step.ops == () and step.replies[0].kind == "error"


@given(st.text(max_size=80))
def test_review_payloads_never_raise(raw: str) -> None:
    got = runpack(raw)
    assert got is None or (isinstance(got[0], int) and got[1])


@given(st.text(max_size=200))
def test_any_typed_text_gets_a_reply(text: str) -> None:
    step = rflow.handle(view(ANSWERS), {"sub": 7}, Incoming(text=text), "vi")
    assert step.replies


def test_the_agency_is_asked_only_the_returned_items() -> None:
    verdicts = {
        "1.3": VerdictView("tra_lai", "Link không mở được", None, T0),
        "1.1": VerdictView("dat", None, None, T0),
    }
    av = aflow.AgencyView(
        FORM, 7, "Sở TTTT", Status.RETURNED, ANSWERS, verdicts, date(2026, 11, 20)
    )
    notice = aflow.return_notice(av, "vi").text
    assert (
        "cần sửa 1 mục" in notice and "• 1.3: Link không mở được" in notice and "1.1" not in notice
    )
    step = aflow.handle(av, {}, Incoming(text="/sua 1.1"), "vi")
    assert "Chỉ sửa được các mục bị trả lại: 1.3" in step.replies[0].text and not step.changes
    step = aflow.handle(av, step.state, Incoming(text="https://so.binhdinh.gov.vn/lan-moi"), "vi")
    assert step.changes == {"1.3": Answer(True, None, "https://so.binhdinh.gov.vn/lan-moi")}
    step = aflow.handle(av, step.state, Incoming(text="/nop"), "vi")
    assert step.transition == "submit"


def test_the_agency_confirms_or_disputes_after_acceptance() -> None:
    verdicts = {"1.5": VerdictView("sua", "Theo hợp đồng", Answer(50), T0)}
    av = aflow.AgencyView(
        FORM, 7, "Sở TTTT", Status.ACCEPTED, ANSWERS, verdicts, date(2026, 11, 20)
    )
    assert "• 1.5: 100 Mbps → 50 Mbps (Theo hợp đồng)" in aflow.accepted_notice(av, "vi").text
    assert aflow.handle(av, {}, Incoming(payload=rpack(7, "confirm")), "vi").transition == "confirm"
    step = aflow.handle(av, {}, Incoming(payload=rpack(7, "dispute")), "vi")
    assert step.transition is None
    done = aflow.handle(av, step.state, Incoming(text="Băng thông đúng là 100 Mbps"), "vi")
    assert (done.transition, done.note) == ("dispute", "Băng thông đúng là 100 Mbps")


def test_typed_commands_where_there_are_no_buttons() -> None:
    """Console and Zalo: /khongdongy disputes, /xacnhan confirms, "1" under "Nộp lại phiếu?"
    resubmits — and nowhere else (a "1" with nothing asked, after /xem, asks the item)."""
    verdicts = {"1.3": VerdictView("tra_lai", "Link hỏng", None, T0)}
    returned = aflow.AgencyView(
        FORM, 7, "Sở TTTT", Status.RETURNED, ANSWERS, verdicts, date(2026, 11, 20)
    )
    step = aflow.handle(returned, {}, Incoming(text="1"), "vi")
    assert step.transition is None and "Nhận xét của Sở: Link hỏng" in step.replies[0].text
    fixed = aflow.handle(returned, step.state, Incoming(text="không"), "vi")
    assert "Nộp lại phiếu cho Sở TTTT?" in fixed.replies[-1].text
    assert aflow.handle(returned, fixed.state, Incoming(text="1"), "vi").transition == "submit"
    accepted = aflow.AgencyView(
        FORM, 7, "Sở TTTT", Status.ACCEPTED, ANSWERS, {}, date(2026, 11, 20)
    )
    assert "/xacnhan" in aflow.accepted_notice(accepted, "vi").text
    assert "/confirm" in aflow.accepted_notice(accepted, "en").text
    step = aflow.handle(accepted, {}, Incoming(text="/khongdongy"), "vi")
    assert step.state and step.state["await"] == "dispute"
    assert aflow.handle(accepted, {}, Incoming(text="/xacnhan"), "vi").transition == "confirm"


def test_items_missing_required_evidence_come_after_those_with_evidence() -> None:
    """A 'có' needing a link but without one is walked through (newcomer report)."""
    missing = ANSWERS | {"1.2": Answer(8), "1.3": Answer(True)}
    assert rflow.items_to_verify(FORM, missing) == ["1.3", "1.4"]
    no_link = {"1.1": Answer(10), "1.2": Answer(8), "1.3": Answer(True), "1.5": Answer(1)}
    assert rflow.items_to_verify(FORM, no_link) == ["1.3"]
    # A 'không' needs no evidence: nothing to verify.
    assert rflow.items_to_verify(FORM, no_link | {"1.3": Answer(False)}) == []
    step = rflow.handle(view(no_link), {}, Incoming(payload=rpack(7, "next")), "vi")
    card = step.replies[-1].text
    assert "1.3. Có mạng LAN" in card
    assert "⚠️ Thiếu minh chứng: mục này cần link/tài liệu nhưng chưa có." in card
    assert "📎 Minh chứng" not in card


def test_a_reviewer_scored_criterion_is_asked_in_the_reviewer_language() -> None:
    """The criterion's text comes from the scale file: its `text_en` in English."""
    from bot.review.desk import ReviewDesk
    from flows.loader import builtin_forms
    from scoring.scales import builtin_scales

    desk = ReviewDesk(builtin_forms(), lambda: T0, builtin_scales())
    [so] = desk.manual["binh-dinh-2019-so"]
    assert so.text == "Hiệu quả đầu tư CNTT (Sở TTTT chấm khi thẩm định)"
    assert so.text_in("en").startswith("Effectiveness of IT investment")
    manual = (so, ManualCriterion("X", "Chỉ tiếng Việt", 5))  # no English: the Vietnamese
    asked = {
        (lang, cid): rflow.handle(
            view(ANSWERS, manual=manual), {}, Incoming(payload=rpack(7, f"m:{cid}")), lang
        )
        .replies[-1]
        .text.splitlines()[0]
        for lang in ("vi", "en")
        for cid in ("4.3", "X")
    }
    assert asked == {
        ("vi", "4.3"): "🧮 Chấm điểm tiêu chí 4.3: Hiệu quả đầu tư CNTT (Sở TTTT chấm khi thẩm "
        "định) (0–20 điểm).",
        ("en", "4.3"): "🧮 Score criterion 4.3: Effectiveness of IT investment (scored by the "
        "Department of Information and Communications in review) (0–20 points).",
        ("vi", "X"): "🧮 Chấm điểm tiêu chí X: Chỉ tiếng Việt (0–5 điểm).",
        ("en", "X"): "🧮 Score criterion X: Chỉ tiếng Việt (0–5 points).",
    }
