"""The loader refuses bad definitions with messages that name the file, the item and the fault."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows import expr
from flows.loader import FORMS_DIR, FormError, builtin_forms, load_form_file, parse_form, safe_load
from flows.model import ItemType
from scoring.scales import SCALES_DIR

HEAD = """
format: 1
id: t
version: 1
title: Phiếu thử
source: {document: '1/QĐ', date: '01/01/2019', issuer: UBND}
"""

GOOD_ITEMS = """
sections:
  - id: "3"
    title: Hạ tầng
    items:
      - {id: "3.1", type: integer, text: Số máy, unit: máy}
      - {id: "3.2", type: yes_no, text: Có WAN}
      - {id: "3.2.a", type: text, text: Công nghệ, when: "[3.2] == true"}
"""


def load(body: str) -> object:
    return parse_form(yaml.safe_load(HEAD + body), "bad.yaml")


def errors_of(body: str) -> list[str]:
    with pytest.raises(FormError) as info:
        load(body)
    return info.value.errors


def test_good_form_loads() -> None:
    form = load(GOOD_ITEMS)
    assert [q.id for q in form.questions] == ["3.1", "3.2", "3.2.a"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("type: yes_no", "type: yesno"), "mục 3.2: kiểu 'yesno' không hợp lệ"),
        (("text: Số máy, ", ""), "mục 3.1: thiếu 'text'"),
        (("unit: máy", "unit: máy, colour: red"), "mục 3.1: khoá không biết 'colour'"),
        (('when: "[3.2] == true"', 'when: "[3.9] == true"'), "when nhắc tới mục không có [3.9]"),
        (('when: "[3.2] == true"', 'when: "[3.2] =="'), "mục 3.2.a: when không hợp lệ"),
        (('when: "[3.2] == true"', 'when: "__import__(1)"'), "hàm không biết '__import__'"),
        (('id: "3.2.a"', 'id: "3.1"'), "mục 3.1: id bị trùng"),
        (("unit: máy", "unit: máy, min: 5, max: 1"), "'min' (5) lớn hơn 'max' (1)"),
        (("unit: máy", "unit: máy, evidence: photo"), "'evidence' phải là none, link"),
    ],
)
def test_refusals_name_file_item_and_fault(change: tuple[str, str], expected: str) -> None:
    body = GOOD_ITEMS.replace(*change)
    errors = errors_of(body)
    assert any(expected in e for e in errors), errors
    assert all(e.startswith("bad.yaml: ") for e in errors)


def test_when_must_read_an_earlier_item() -> None:
    body = GOOD_ITEMS.replace(
        '{id: "3.1", type: integer, text: Số máy, unit: máy}',
        '{id: "3.1", type: integer, text: Số máy, when: "[3.2] == true"}',
    )
    assert any("when phải dựa vào mục hỏi trước" in e for e in errors_of(body))


def test_choice_needs_options_and_computed_needs_formula() -> None:
    body = GOOD_ITEMS.replace("type: yes_no, text: Có WAN", "type: choice, text: Chọn")
    assert any("kiểu choice cần 'options'" in e for e in errors_of(body))
    body = GOOD_ITEMS.replace("type: integer, text: Số máy", "type: computed, text: Tổng")
    assert any("kiểu computed cần 'formula'" in e for e in errors_of(body))


def test_formula_must_read_numbers() -> None:
    body = (
        GOOD_ITEMS
        + """
      - {id: "3.3", type: computed, text: Tổng, formula: "[3.2.a] * 2"}
"""
    )
    assert any("formula cần mục kiểu số" in e for e in errors_of(body))


def test_missing_top_level_keys_and_bad_checks() -> None:
    with pytest.raises(FormError) as info:
        parse_form({"id": "x"}, "x.yaml")
    assert any("thiếu 'version'" in e for e in info.value.errors)
    assert any("thiếu 'sections'" in e for e in info.value.errors)
    body = (
        GOOD_ITEMS
        + """
checks:
  - {id: c1, rule: "[3.1] >= [4.4]", message: m}
  - {id: c2, rule: "[3.1] >="}
"""
    )
    errors = errors_of(body)
    assert any("kiểm tra c1: nhắc tới mục không có [4.4]" in e for e in errors)
    assert any("kiểm tra c2: rule không hợp lệ" in e for e in errors)
    assert any("kiểm tra c2: thiếu 'message'" in e for e in errors)


def test_every_error_is_collected_in_one_pass() -> None:
    body = GOOD_ITEMS.replace("type: yes_no", "type: nope").replace("unit: máy", "zzz: 1")
    assert len(errors_of(body)) >= 2


def test_bad_yaml_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n  - x", encoding="utf-8")
    with pytest.raises(FormError) as info:
        load_form_file(path)
    assert "broken.yaml" in str(info.value) and "dòng" in str(info.value)


def test_table_cells_and_one_column_tables_get_printed_ids() -> None:
    form = load("""
sections:
  - id: "6"
    title: Website
    items:
      - id: "6.1.a"
        type: table
        text: Số lượng tin
        columns: [{id: n, type: integer}]
        rows:
          - {id: "1", text: Tin tức}
          - {id: "2", text: Chỉ đạo, rows: [{id: c, text: Khen thưởng}]}
      - id: "4.2"
        type: table
        text: Đầu tư
        columns: [{id: "2018", type: decimal, unit: Tr.đ}, {id: "2019", type: decimal}]
        rows: [{id: "1", text: Tổng chi}]
""")
    ids = [q.id for q in form.questions]
    assert ids == ["6.1.a.1", "6.1.a.2.c", "4.2.1.2018", "4.2.1.2019"]
    cell = form.question("6.1.a.2.c")
    assert cell is not None and cell.full_text("vi") == "Số lượng tin — Chỉ đạo — Khen thưởng"


def test_builtin_forms_all_load() -> None:
    forms = builtin_forms()
    assert set(forms) == {"binh-dinh-2019-so", "binh-dinh-2019-huyen", "dien-bien-2014-website"}
    for form in forms.values():
        assert form.source.document and form.source.date and form.source.issuer


def test_dien_bien_has_the_15_criteria_as_three_level_with_link() -> None:
    form = builtin_forms()["dien-bien-2014-website"]
    criteria = [q for q in form.questions if q.section == "2"]
    assert [q.id for q in criteria] == [f"2.{i}" for i in range(1, 16)]
    assert all(q.type is ItemType.STATUS and q.evidence.value == "link" for q in criteria)
    assert criteria[13].text.vi == "Đảm bảo an toàn thông tin"
    assert form.source.document == "321/STTTT-CNTT"


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("[a] <= [b] + [c]", {"a": 3, "b": 1, "c": 2}, True),
        ("[a] <= [b] + [c]", {"a": 4, "b": 1, "c": 2}, False),
        ("[a] <= [b]", {"a": 4}, None),
        ("sum([x] * 5, [y] * 5, [z])", {"x": 2, "z": 1}, 11),
        ("[q] == true and not [r]", {"q": True, "r": False}, True),
        ("1 - 2 - 3", {}, -4),
        ("2 * 3 + 4 * 5", {}, 26),
        ("[a] / [b]", {"a": 1, "b": 0}, None),
        ("contains([m], 'x')", {"m": ["x", "y"]}, True),
        ("[a] == 'x' or [b] > 2", {"a": "y", "b": 3}, True),
    ],
)
def test_expressions(source: str, values: dict, expected: object) -> None:
    assert expr.evaluate(source, values) == expected


@pytest.mark.parametrize(
    "source", ["", "[a] +", "open('x')", "[a] ** 2", "__class__", "[a]; [b]", "(1", "lambda: 1"]
)
def test_expressions_refuse_anything_else(source: str) -> None:
    with pytest.raises(expr.ExprError):
        expr.parse(source)


@pytest.mark.parametrize(
    "path",
    [*sorted(FORMS_DIR.glob("*.yaml")), *sorted(SCALES_DIR.glob("*.yaml"))],
    ids=lambda p: p.name,
)
def test_libyaml_reads_every_shipped_file_as_pyyaml_does(path: Path) -> None:
    """safe_load uses libyaml when present (start-up CPU and memory): same data."""
    text = path.read_text(encoding="utf-8")
    assert safe_load(text) == yaml.load(text, Loader=yaml.SafeLoader)


@pytest.mark.parametrize(
    "text",
    ["id: [1, 2\n", "a: b: c\n", "- x\n y: 1\n", "id: 'unclosed\n"],
)
def test_broken_yaml_is_still_named_by_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormError) as info:
        load_form_file(path)
    assert "dòng" in str(info.value)
