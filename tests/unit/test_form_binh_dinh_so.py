"""The encoding of Phụ lục I, QĐ 3871/QĐ-UBND (25/10/2019), against the printed form."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import expr
from flows.loader import FORMS_DIR, load_form_file
from flows.model import Evidence, Form, ItemType

FORM_PATH = Path(FORMS_DIR) / "binh-dinh-2019-so.yaml"


@pytest.fixture(scope="module")
def form() -> Form:
    return load_form_file(FORM_PATH)


def test_loads(form: Form) -> None:
    assert form.id == "binh-dinh-2019-so"
    assert form.cohorts == ("so",)
    assert [s.id for s in form.sections] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert [s.restored for s in form.sections] == [True] * 3 + [False] * 5
    assert form.section("1").title.vi == "THÔNG TIN CHUNG"
    assert form.section("4").title.vi == "NHÂN LỰC VÀ ĐẦU TƯ CHO ỨNG DỤNG CNTT"
    assert "restored" in (form.source.note or "")


# Answerable questions per section, counted by hand from the seed (a table cell is one
# question, an open list "…khác" is one question, computed results are not answerable).
EXPECTED_COUNTS = {
    # 1. items 1-9 (năm, tên, địa chỉ, điện thoại/fax, website, e-mail, 1.7, 1.8, 1.9) = 9
    "1": 9,
    # 2. items 1-3, item 4 has two blanks (cố định, di động), item 5 = 3 + 2 + 1 = 6
    "2": 6,
    # 3. 3.1 a,b (2); 3.2.a + four bandwidth inputs of the printed Σ formula (5; 3.2.b and
    # 3.2.c are computed); 3.3, 3.4, 3.5 (3); 3.6 Có/Không + "Nếu có" (2); 3.7 a + Số lượng,
    # b + Số lượng, c, d, đ (7); 3.8 Có/Không (1); its table: 5 rows × (Có, Số lượng) (10)
    # + "Giải pháp khác" (1) = 2 + 5 + 3 + 2 + 7 + 1 + 10 + 1 = 31
    "3": 31,
    # 4. 4.1: dash 1 Chuyên trách/Kiêm nhiệm (2), dash 2 (1), dash 3 six degree boxes (6),
    # dash 4 total + four "+" (5), dashes 5, 6 (2) = 16; 4.2: 6 rows × 2 years = 12 → 28
    "4": 28,
    # 5. 5.1: checkboxes (1) + "gồm" blank (1) + 2 dashes (2) + 2 fractions (4) = 8;
    # 5.2: Đã/Chưa (1) + kind of CKS (1) + provider name (1) + 5 dashes (5) + fraction (2)
    # + two "+" (2) = 12; 5.3: a, b, c (3); 5.4: 5 rows × 4 columns (20) + "Các ứng dụng
    # khác" (1) = 21 → 8 + 12 + 3 + 21 = 44
    "5": 44,
    # 6. 6.1.a rows 1, 2a-c, 3a-b, 4, 5, 6a-b, 7 (11); 6.1.b rows 1, 2a-c (4); 6.1.c rows
    # 1a-e, 2, 3a-b, 4a-b, 5, 6, 7, 8 (14); 6.2 rows 1a-e+đ (6), 2a-e+đ (6), 3 (1) (13);
    # 6.3 a, b, "Nếu có ghi họ tên", c: 6 dashes (9); 6.4.a rows 1-4, 5, 5.1, 5.2, 6, 6.1,
    # 6.2 (10); 6.4.b rows 1-6 (6) → 11 + 4 + 14 + 13 + 9 + 10 + 6 = 67
    "6": 67,
    # 7. table rows 1-7 = 7
    "7": 7,
    # 8. items 1-4 (4), 5 (1), 6 a/b (2), 7 (1), 8 the report row (1) = 9
    "8": 9,
}


def test_section_counts_match_seed(form: Form) -> None:
    counts = {s.id: sum(q.answerable for q in s.questions) for s in form.sections}
    assert counts == EXPECTED_COUNTS


def test_verbatim_spot_checks(form: Form) -> None:
    def text(qid: str) -> str:
        q = form.question(qid)
        assert q is not None, qid
        return q.text.vi

    assert text("3.2.b.1") == "∑ Băng thông Leased Line"
    assert text("3.2.b.2") == "∑ Băng thông FTTH"
    assert text("3.2.b.3") == "∑ Băng thông xDSL"
    assert text("3.2.b.4") == "∑ Băng thông khác"
    assert text("6.1.a.2.c") == (
        "Thông tin khen thưởng, xử phạt đối với tổ chức, doanh nghiệp hoạt động trong lĩnh vực"
        " quản lý nhà nước của cơ quan"
    )
    assert text("6.2.1.đ").startswith(
        "Hỗ trợ truy cập từ các thiết bị di động cầm tay (có giao diện riêng cho thiết bị di động)."
    )
    assert text("6.2.1.đ").endswith("hoặc các phiên bản WCAG cập nhật nếu có.")
    assert text("6.2.1.c").endswith(
        "các yêu cầu tối thiếu (Điều 18 Thông tư 32/2017/TT-BTTTT ngày 15/11/2017)"
    )
    assert text("6.3.b") == "Người chịu trách nhiệm quản lý nội dung Webstite"
    assert text("7.3") == (
        "Xây dựng hồ sơ đề xuất cấp độ ATTT đối với hệ thống CNTT đang quản lý"
        " (cộng điểm khuyến khích)"
    )
    assert text("8.1") == "Hàng năm xây dựng Kế hoạch ứng dụng CNTT trong hoạt động của cơ quan"
    assert text("4.2.1.2018") == "2018"
    assert form.question("6.4.a.5.1").unit.vi == "Hồ sơ"


def test_types_and_flags(form: Form) -> None:
    q = form.question
    assert q("1.1").type is ItemType.YEAR
    assert q("2.1").type is ItemType.TEXT
    assert q("2.4.a").required is False
    assert q("3.2.b").type is ItemType.COMPUTED and q("3.2.c").type is ItemType.COMPUTED
    when = q("3.8.1.so_luong").when or ""
    assert "[3.8] == true" in when and "[3.8.1.co] == true" in when
    assert q("3.8.6").type is ItemType.LIST
    assert q("6.2.3").type is ItemType.STATUS
    assert q("6.3.a").type is ItemType.DOCUMENT
    assert q("6.3.b.1").type is ItemType.PERSON
    assert all(x.na_allowed for x in form.questions if x.id.startswith("6.4."))
    for qid in ("8.1", "8.2", "8.3", "8.4", "8.7", "8.8"):
        assert q(qid).type is ItemType.YES_NO
        assert q(qid).evidence is Evidence.DOCUMENT


# Rows printed with "(cộng điểm khuyến khích)" in the seed: 6.1.b 2a, 2b; 6.1.c 6, 8;
# 6.2 1e; Mục 7 rows 2, 3 — seven in all.
BONUS = {"6.1.b.2.a", "6.1.b.2.b", "6.1.c.6", "6.1.c.8", "6.2.1.e", "7.2", "7.3"}


def test_bonus_rows(form: Form) -> None:
    assert {q.id for q in form.questions if q.bonus} == BONUS
    phrase = "(cộng điểm khuyến khích)"
    assert {q.id for q in form.questions if phrase in q.text.vi} == BONUS


# Each check: (answers that break it, answers that satisfy it).
CHECK_CASES: dict[str, tuple[dict, dict]] = {
    "pc-office-le-cbcc": ({"3.1.a": 21, "1.8": 20}, {"3.1.a": 20, "1.8": 20}),
    "pc-units-le-cbvc": ({"3.1.b": 12, "1.9": 11}, {"3.1.b": 10, "1.9": 11}),
    # Added from the document (Phụ lục II has it; issue #7): Internet ≤ computers given out.
    "internet-le-computers": (
        {"3.2.a": 31, "3.1.a": 20, "3.1.b": 10},
        {"3.2.a": 30, "3.1.a": 20, "3.1.b": 10},
    ),
    "it-office-le-cbcc": (
        {"4.1.1.a": 2, "4.1.1.b": 2, "1.8": 3},
        {"4.1.1.a": 1, "4.1.1.b": 2, "1.8": 3},
    ),
    "it-units-le-cbvc": ({"4.1.2": 5, "1.9": 4}, {"4.1.2": 4, "1.9": 4}),
    "degrees-le-it-staff": (
        {"4.1.3.a": 1, "4.1.3.c": 3, "4.1.1.a": 1, "4.1.1.b": 1, "4.1.2": 1},
        {"4.1.3.b": 1, "4.1.3.c": 2, "4.1.1.a": 1, "4.1.1.b": 1, "4.1.2": 1},
    ),
    "intl-cert-le-it-staff": (
        {"4.1.4": 4, "4.1.1.a": 1, "4.1.1.b": 1, "4.1.2": 1},
        {"4.1.4": 2, "4.1.1.a": 1, "4.1.1.b": 0, "4.1.2": 1},
    ),
    "cert-security-le-total": ({"4.1.4.a": 3, "4.1.4": 2}, {"4.1.4.a": 2, "4.1.4": 2}),
    "cert-network-le-total": ({"4.1.4.b": 3, "4.1.4": 2}, {"4.1.4.b": 1, "4.1.4": 2}),
    "cert-database-le-total": ({"4.1.4.c": 3, "4.1.4": 2}, {"4.1.4.c": 0, "4.1.4": 2}),
    "cert-other-le-total": ({"4.1.4.d": 3, "4.1.4": 2}, {"4.1.4.d": 2, "4.1.4": 2}),
    "skills-cert-le-staff": (
        {"4.1.6": 32, "1.8": 20, "1.9": 11},
        {"4.1.6": 31, "1.8": 20, "1.9": 11},
    ),
    "budget-parts-le-total-2018": (
        {"4.2.1.2018": 100.0, "4.2.2.2018": 60.0, "4.2.3.2018": 50.5},
        {"4.2.1.2018": 100.0, "4.2.2.2018": 60.0, "4.2.3.2018": 30.0, "4.2.6.2018": 10.0},
    ),
    "budget-parts-le-total-2019": (
        {"4.2.1.2019": 50.0, "4.2.4.2019": 30.0, "4.2.5.2019": 25.0},
        {"4.2.1.2019": 50.0, "4.2.4.2019": 25.0, "4.2.5.2019": 25.0},
    ),
    "eoffice-units-le-units": ({"5.1.1": 4, "1.7": 3}, {"5.1.1": 3, "1.7": 3}),
    "eoffice-regular-le-deployed": ({"5.1.2": 4, "5.1.1": 3}, {"5.1.2": 2, "5.1.1": 3}),
    "edoc-sent-le-sent": ({"5.1.3.a": 900, "5.1.3.b": 800}, {"5.1.3.a": 700, "5.1.3.b": 800}),
    "edoc-received-le-received": (
        {"5.1.4.a": 1001, "5.1.4.b": 1000},
        {"5.1.4.a": 1000, "5.1.4.b": 1000},
    ),
    "sig-units-le-units": ({"5.2.6": 5, "1.7": 3}, {"5.2.6": 0, "1.7": 3}),
    "signed-le-edoc-sent": ({"5.2.7.a": 11, "5.2.7.b": 10}, {"5.2.7.a": 9, "5.2.7.b": 10}),
    # Added: signed e-documents sent ≤ e-documents sent of 5.1; e-documents sent of 5.2 ≤
    # all documents sent of 5.1 (as Phụ lục II's cks-edocs-le-all-sent).
    "signed-le-edoc-sent-5-1": (
        {"5.2.7.a": 501, "5.1.3.a": 500},
        {"5.2.7.a": 500, "5.1.3.a": 500},
    ),
    "edoc-sent-5-2-le-all-sent": (
        {"5.2.7.b": 801, "5.1.3.b": 800},
        {"5.2.7.b": 600, "5.1.3.b": 800},
    ),
    "signed-split-le-signed": (
        {"5.2.7.c": 6, "5.2.7.d": 5, "5.2.7.a": 10},
        {"5.2.7.c": 5, "5.2.7.d": 5, "5.2.7.a": 10},
    ),
    "email-users-le-accounts": ({"5.3.c": 31, "5.3.b": 30}, {"5.3.c": 25, "5.3.b": 30}),
    "email-accounts-le-staff": (
        {"5.3.b": 40, "1.8": 20, "1.9": 11},
        {"5.3.b": 30, "1.8": 20, "1.9": 11},
    ),
    "board-eservices-le-members": ({"6.3.c.2": 6, "6.3.c.1": 5}, {"6.3.c.2": 2, "6.3.c.1": 5}),
    "board-tech-le-members": ({"6.3.c.3": 6, "6.3.c.1": 5}, {"6.3.c.3": 1, "6.3.c.1": 5}),
    "board-editors-le-members": ({"6.3.c.4": 6, "6.3.c.1": 5}, {"6.3.c.4": 5, "6.3.c.1": 5}),
    "dvc3-filed-le-total": ({"6.4.a.3": 11, "6.4.a.1": 10}, {"6.4.a.3": 7, "6.4.a.1": 10}),
    "dvc4-filed-le-total": ({"6.4.a.4": 3, "6.4.a.2": 2}, {"6.4.a.4": 2, "6.4.a.2": 2}),
    "dvc3-online-le-received": (
        {"6.4.a.5.1": 51, "6.4.a.5": 50},
        {"6.4.a.5.1": 20, "6.4.a.5": 50},
    ),
    "dvc3-processed-le-received": (
        {"6.4.a.5.2": 60, "6.4.a.5": 50},
        {"6.4.a.5.2": 50, "6.4.a.5": 50},
    ),
    "dvc4-online-le-received": ({"6.4.a.6.1": 9, "6.4.a.6": 8}, {"6.4.a.6.1": 8, "6.4.a.6": 8}),
    "dvc4-processed-le-received": (
        {"6.4.a.6.2": 9, "6.4.a.6": 8},
        {"6.4.a.6.2": 0, "6.4.a.6": 8},
    ),
    "bcci-filed-le-registered": ({"6.4.b.2": 5, "6.4.b.1": 4}, {"6.4.b.2": 3, "6.4.b.1": 4}),
    "bcci-received-le-all": ({"6.4.b.4": 21, "6.4.b.3": 20}, {"6.4.b.4": 5, "6.4.b.3": 20}),
    "bcci-results-le-dossiers": ({"6.4.b.5": 21, "6.4.b.3": 20}, {"6.4.b.5": 18, "6.4.b.3": 20}),
    "bcci-returned-le-results": ({"6.4.b.6": 19, "6.4.b.5": 18}, {"6.4.b.6": 3, "6.4.b.5": 18}),
}


def test_every_check_has_cases(form: Form) -> None:
    assert set(CHECK_CASES) == {c.id for c in form.checks}


@pytest.mark.parametrize("check_id", sorted(CHECK_CASES))
def test_check_both_ways(form: Form, check_id: str) -> None:
    check = next(c for c in form.checks if c.id == check_id)
    bad, good = CHECK_CASES[check_id]
    for answers in (bad, good):
        unknown = set(answers) - set(check.items)
        assert not unknown, f"{check_id}: answers name items the rule does not read: {unknown}"
    assert expr.evaluate(check.rule, bad) is False
    assert expr.evaluate(check.rule, good) is True
    assert check.message.vi and check.message.en


def test_computed_bandwidth(form: Form) -> None:
    total = form.question("3.2.b")
    ratio = form.question("3.2.c")
    answers: dict = {"3.2.b.1": 10, "3.2.b.2": 20, "3.2.b.3": 4, "3.2.b.4": 1}
    answers["3.2.b"] = expr.evaluate(total.formula, answers)
    assert answers["3.2.b"] == 155
    answers.update({"1.8": 20, "1.9": 11})
    assert expr.evaluate(ratio.formula, answers) == pytest.approx(5.0)
    # "khác" is optional: a blank counts as 0 in the Σ.
    assert expr.evaluate(total.formula, {"3.2.b.1": 1, "3.2.b.2": 0, "3.2.b.3": 2}) == 7
