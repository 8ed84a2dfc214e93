"""The shipped scales (scoring/scales/): they load against their forms, say they are
illustrative, add up; a broken copy is refused with the file, criterion and item named.
Ranking invariants are property-tested."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from flows.loader import builtin_forms
from flows.state import Answer
from scoring.model import SubmissionFacts
from scoring.ranking import competition_ranks
from scoring.scales import SCALES_DIR, ScaleError, builtin_scales, load_scale_file
from scoring.score import score_submission

FORMS = ("binh-dinh-2019-so", "binh-dinh-2019-huyen", "dien-bien-2014-website")


@pytest.mark.parametrize("form_id", FORMS)
def test_every_form_has_an_illustrative_scale_that_adds_up(form_id: str) -> None:
    scale = builtin_scales()[form_id]
    assert scale.illustrative and "(minh họa)" in scale.label
    assert (SCALES_DIR / f"{form_id}.yaml").read_text(encoding="utf-8").count("MINH HỌA") >= 1
    assert scale.maximum == sum(s.max for s in scale.sections)
    form = builtin_forms()[form_id]
    for c in scale.criteria():
        for item in c.all_items():
            assert form.question(item) is not None, (c.id, item)


def test_both_binh_dinh_scales_score_units_without_public_services_out_of_750() -> None:
    for form_id in FORMS[:2]:
        scale = builtin_scales()[form_id]
        form = builtin_forms()[form_id]
        na = Answer(None, "Đơn vị không có thủ tục hành chính")
        answers = {q.id: na for q in form.questions if q.id.startswith("6.4.")}
        score = score_submission(scale, form, SubmissionFacts("X", "so", answers))
        assert score.maximum == 750 and score.variant is not None


def test_a_perfect_dien_bien_site_scores_100() -> None:
    scale = builtin_scales()["dien-bien-2014-website"]
    form = builtin_forms()["dien-bien-2014-website"]
    answers = {
        q.id: Answer("hoan_chinh", None, f"https://stttt.dienbien.gov.vn/{q.id}")
        for q in form.questions
        if q.id.startswith("2.")
    }
    score = score_submission(scale, form, SubmissionFacts("Sở", "so", answers))
    assert score.total == 100 and score.index == 1.0
    half = {k: Answer("thu_nghiem", None, a.evidence) for k, a in answers.items()}
    assert score_submission(scale, form, SubmissionFacts("Sở", "so", half)).total == 50
    nolink = {k: Answer("hoan_chinh") for k in answers}
    assert score_submission(scale, form, SubmissionFacts("Sở", "so", nolink)).total == 0


def test_a_broken_copy_names_file_criterion_and_item(tmp_path: Path) -> None:
    text = (SCALES_DIR / "binh-dinh-2019-so.yaml").read_text(encoding="utf-8")
    text = text.replace('item: "3.6"}', 'item: "3.66"}', 1)
    text = text.replace(
        'rule: yes_no, max: 15, item: "7.1"}', 'rule: levels, max: 15, item: "7.1"}'
    )
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScaleError) as e:
        load_scale_file(path)
    message = str(e.value)
    assert str(path) in message
    assert "tiêu chí 3.6, mục 3.66: không có trong mẫu phiếu binh-dinh-2019-so" in message
    assert "tiêu chí 7.1, mục 7.1: kiểu 'yes_no' không dùng được cho quy tắc 'levels'" in message
    assert "nhóm 3: max 120 ≠ tổng điểm" not in message  # maxima still add up


def test_changing_points_without_the_section_max_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((SCALES_DIR / "dien-bien-2014-website.yaml").read_text("utf-8"))
    data["sections"][0]["criteria"][0]["max"] = 9
    path = tmp_path / "dien-bien.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScaleError, match=r"nhóm 2: max 100 ≠ tổng điểm các tiêu chí \(102"):
        load_scale_file(path)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("sections: [", encoding="utf-8")
    with pytest.raises(ScaleError, match=r"x\.yaml"):
        load_scale_file(path)


@given(st.lists(st.integers(min_value=0, max_value=100), max_size=40))
def test_competition_ranks_properties(values: list[int]) -> None:
    ordered = sorted(values, reverse=True)
    ranks = competition_ranks(ordered)
    for i, (v, r) in enumerate(zip(ordered, ranks, strict=True)):
        # rank = 1 + how many are strictly better; equal values share it
        assert r == 1 + sum(1 for w in ordered if w > v)
        if i and ordered[i - 1] == v:
            assert ranks[i - 1] == r


def _bench_generate() -> object:
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "bench" / "score_bench.py"
    spec = importlib.util.spec_from_file_location("score_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["score_bench"] = module
    spec.loader.exec_module(module)
    return module.generate


@pytest.mark.parametrize("form_id", FORMS)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_any_answers_score_within_the_maxima(form_id: str, seed: int) -> None:
    """Whatever was answered, blank, not applicable, rejected or corrected: every criterion
    within 0..max, the sections add up to the total, the index within 0–1."""
    from scoring.ranking import rank

    scale, form = builtin_scales()[form_id], builtin_forms()[form_id]
    generate = _bench_generate()
    facts = generate(form, 3, seed) + generate(form, 3, seed, scale=scale)  # type: ignore[operator]
    scores = [score_submission(scale, form, f) for f in facts]
    for s in rank(scale, scores).groups.values():
        for r in s:
            for c in r.score.criteria:
                assert 0 <= c.points <= c.max, c
            raw = sum(r.score.sections.values()) - sum(p for _, p in r.score.deductions)
            assert r.score.total == round(max(raw, 0.0), 4)
            assert 0 <= r.score.index <= 1 and r.band


def test_english_names_are_read_from_the_file_and_vietnamese_is_the_fallback(
    tmp_path: Path,
) -> None:
    """`name_en`, `title_en`, `text_en` (as form files); without them English runs show
    the Vietnamese, and the scale's meaning is the same."""
    source = (SCALES_DIR / "dien-bien-2014-website.yaml").read_text(encoding="utf-8")
    shipped = builtin_scales()["dien-bien-2014-website"]
    assert shipped.name_in("en").startswith("Scoring scale for websites")
    assert shipped.sections[0].title_in("en").startswith("Information provided")
    bare = "\n".join(line for line in source.splitlines() if "_en:" not in line)
    spaced = source.replace(
        'text: "Công báo điện tử",', 'text: "Công báo điện tử", text_en: "  Official   gazette ",'
    )
    (tmp_path / "bare.yaml").write_text(bare, encoding="utf-8")
    (tmp_path / "spaced.yaml").write_text(spaced, encoding="utf-8")
    plain = load_scale_file(tmp_path / "bare.yaml")
    assert plain.name_en is None and plain.name_in("en") == plain.name == shipped.name
    assert plain.sections[0].title_in("en") == shipped.sections[0].title
    assert plain.sections == tuple(
        s.__class__(s.id, s.title, s.max, s.criteria) for s in shipped.sections
    )
    gazette = load_scale_file(tmp_path / "spaced.yaml").criterion("2.3")
    assert gazette is not None and gazette.text_in("en") == "Official gazette"
    assert gazette.text_in("vi") == "Công báo điện tử"
    wrong = source.replace("name_en:", "name_english:")
    (tmp_path / "wrong.yaml").write_text(wrong, encoding="utf-8")
    with pytest.raises(ScaleError, match="name_english"):
        load_scale_file(tmp_path / "wrong.yaml")
