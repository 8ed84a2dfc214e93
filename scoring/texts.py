"""Words for scores: why a criterion got its points, why an agency is not ranked, and the
provisional score an official reads with /diem. Vietnamese msgids through gettext
(flows.i18n), English in locales/en."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flows.i18n import N_, format_number, translate
from flows.model import STATUS_LEVELS
from scoring.model import AgencyScore, CriterionScore, Scale


def band_text(name: str, lang: str) -> str:
    """A band's name in `lang`: the usual names (Tốt, Khá, Trung bình, Yếu: msgids in
    scoring.model.DEFAULT_BANDS, used by the scales' data too) translated; a name of a
    scale's own stays as the scale writes it."""
    return translate(lang, name) if name else name


REASONS: Mapping[str, str] = {
    "blank": N_("để trống"),
    "blank_per": N_("chưa trả lời {items} để tính tỉ lệ"),
    "na": N_("không áp dụng: {reason}"),
    "no_link": N_("chưa có link"),
    "rejected": N_("thẩm định: không đạt {comment}"),
    "rejected_link": N_("thẩm định: minh chứng không đạt {comment}"),
    "returned": N_("đã trả lại, chờ bổ sung"),
    "no_posts": N_("không có tin bài trong năm"),
    "zero_den_full": N_("mẫu số bằng 0: tính điểm tối đa"),
    "zero_den_zero": N_("mẫu số bằng 0: không tính điểm"),
    "zero_best_full": N_("đơn vị cao nhất bằng 0: tính điểm tối đa"),
    "zero_best_zero": N_("đơn vị cao nhất bằng 0: không tính điểm"),
    "ratio": N_("tỉ lệ {a}/{b}"),
    "to_best": N_("{value} so với cao nhất khối {best}"),
    "pending_best": N_("chờ so với đơn vị cao nhất khối"),
    "provisional_best": N_("tạm tính: chưa so với các đơn vị khác ({value})"),
    "provisional_to_best": N_("tạm tính: {value} so với cao nhất khối hiện nay {best}"),
    "provisional_zero_best_full": N_("tạm tính: cao nhất khối hiện nay bằng 0: tính điểm tối đa"),
    "provisional_zero_best_zero": N_("tạm tính: cao nhất khối hiện nay bằng 0: không tính điểm"),
    "band": N_("giá trị {value}, đạt mức từ {min}"),
    "below": N_("giá trị {value}, dưới mức thấp nhất ({min})"),
    "count": N_("{count} × {each} điểm, tối đa {max}"),
    "yes": N_("có"),
    "no": N_("không"),
    "level": N_("mức: {level}"),
    "best_case": N_("trường hợp cao nhất: {case}"),
    "manual": N_("thẩm định chấm"),
    "manual_missing": N_("chưa chấm (tiêu chí do thẩm định chấm)"),
}

# /diem: the criteria measured against the cohort's best (scoring.score.provisional), by
# whether another agency's answers were there to compare with.
_COMPARED: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset(
            ("provisional_to_best", "provisional_zero_best_full", "provisional_zero_best_zero")
        ),
        N_(
            "Lưu ý: mục {items} so với đơn vị cao nhất khối theo câu trả lời hiện có của các "
            "đơn vị khác, nên là điểm tạm tính, sẽ đổi khi các đơn vị trả lời thêm."
        ),
    ),
    (
        frozenset(("provisional_best",)),
        N_(
            "Lưu ý: mục {items} chưa có đơn vị nào khác trong khối trả lời để so, nên tạm so "
            "với chính đơn vị; điểm sẽ đổi khi các đơn vị khác trả lời."
        ),
    ),
)

UNRANKED: Mapping[str, str] = {
    "late": N_("gửi phiếu chậm"),
    "missing": N_("không gửi phiếu"),
    # Not sent yet while the campaign is open and its deadline not passed (newcomer report:
    # "không gửi phiếu" read as a verdict days before the deadline).
    "not_yet": N_("chưa nộp"),
}

_LEVELS = {
    "hoan_chinh": N_("Hoàn chỉnh"),
    "thu_nghiem": N_("Đang thử nghiệm"),
    "chua_co": N_("Chưa có"),
}
_CORRECTED = N_("số liệu đã được thẩm định điều chỉnh")
_ILLUSTRATIVE = N_("minh họa")


def points(lang: str, value: float) -> str:
    return str(format_number(lang, round(value, 2)))


def reason_text(s: CriterionScore, lang: str = "vi", scale: Scale | None = None) -> str:
    """Why `s` has its points, in `lang` (numbers formatted per language); a reviewer
    correction is said after it. With `scale`, a best_of's case (a criterion's wording, in
    the reason's parameters in Vietnamese) is said in `lang` too (its `text_en`).
    Memoised: a workbook says the same reasons many times."""
    case = None
    if scale is not None and "case" in s.params:
        case = scale.wording_in(str(s.params["case"]), lang)
    try:
        key = tuple(sorted(s.params.items()))
        return _reason_text(s.reason, key, s.corrected, lang, case)
    except TypeError:  # an unhashable parameter: not memoised
        return _reason_text.__wrapped__(
            s.reason, tuple(sorted(s.params.items())), s.corrected, lang, case
        )


@lru_cache(maxsize=65536)
def _reason_text(
    reason: str,
    items: tuple[tuple[str, Any], ...],
    corrected: bool,
    lang: str,
    case: str | None = None,
) -> str:
    params: dict[str, Any] = dict(items)
    if case is not None:
        params["case"] = case
    if reason == "level" and params.get("level") in STATUS_LEVELS:
        params["level"] = translate(lang, _LEVELS[params["level"]])
    if "comment" in params:
        params["comment"] = f"({params['comment']})" if params["comment"] else ""
    for k in ("a", "b", "value", "best", "min", "count", "each", "max"):
        if isinstance(params.get(k), float):
            params[k] = round(params[k], 3)
    msgid = REASONS.get(reason, reason)
    text = translate(lang, msgid, params).strip()
    if reason == "best_case" and params.get("inner") in REASONS:
        inner = dict(params)
        text += " — " + translate(lang, REASONS[params["inner"]], inner).strip()
    if corrected:
        text += "; " + translate(lang, _CORRECTED)
    return text


def unranked_text(score: AgencyScore, lang: str = "vi") -> str:
    return translate(lang, UNRANKED.get(score.unranked or "", score.unranked or ""))


def scale_label(scale: Scale, lang: str = "vi") -> str:
    """The scale's name in `lang` (its `name_en` in English, when given), with "(minh họa)"
    when it is illustrative."""
    name = scale.name_in(lang)
    if scale.illustrative:
        return f"{name} ({translate(lang, _ILLUSTRATIVE)})"
    return name


def group_text(score: AgencyScore, lang: str = "vi") -> str:
    """The ranking `score` is in, as `AgencyScore.group` names it (its cohort, or cohort /
    variant for a variant ranked apart), the variant's name in `lang`."""
    if score.variant is not None and score.variant.rank == "apart":
        return f"{score.cohort} / {score.variant.name_in(lang)}"
    return score.cohort


def losses(score: AgencyScore, n: int = 5) -> list[CriterionScore]:
    """The `n` criteria where the agency loses the most points, largest first."""
    lost = [c for c in score.criteria if c.lost > 0]
    lost.sort(key=lambda c: (-c.lost, c.id))
    return lost[:n]


def provisional_text(scale: Scale, score: AgencyScore, lang: str = "vi") -> str:
    """The /diem message: provisional total, index, each section, the five biggest losses
    ("Mục 6.1.a.1: 0/10 — chưa có link")."""
    lines = [
        translate(lang, N_("📊 Điểm tạm tính của {agency}"), {"agency": score.agency}),
        translate(lang, N_("Thang điểm: {scale}"), {"scale": scale_label(scale, lang)}),
        translate(
            lang,
            N_("Tổng: {total}/{max} điểm (chỉ số {index})"),
            {
                "total": points(lang, score.total),
                "max": points(lang, score.maximum),
                "index": format_number(lang, round(score.index, 2)),
            },
        ),
    ]
    if score.variant is not None:
        lines.append(
            translate(
                lang,
                N_("Tính trên {max} điểm: {variant}"),
                {"max": points(lang, score.maximum), "variant": score.variant.name_in(lang)},
            )
        )
    got = score.sections
    dropped = set(score.variant.drop) if score.variant else set()
    for sec in scale.sections:
        smax = sec.max - sum(c.max for c in sec.criteria if c.id in dropped and not c.bonus)
        lines.append(
            translate(
                lang,
                N_("• Mục {id}. {title}: {points}/{max}"),
                {
                    "id": sec.id,
                    "title": sec.title_in(lang),
                    "points": points(lang, got.get(sec.id, 0.0)),
                    "max": points(lang, smax),
                },
            )
        )
    worst = losses(score)
    if worst:
        lines.append("")
        lines.append(translate(lang, N_("Mất nhiều điểm nhất:")))
        for c in worst:
            lines.append(
                translate(
                    lang,
                    N_("Mục {id}: {points}/{max} — {reason}"),
                    {
                        "id": c.id,
                        "points": points(lang, c.points),
                        "max": points(lang, c.max),
                        "reason": reason_text(c, lang, scale),
                    },
                )
            )
    # Measured against the cohort's best: said, as the agency may not be among the losses.
    for reasons, msgid in _COMPARED:
        compared = [c.id for c in score.criteria if c.reason in reasons]
        if compared:
            lines.append("")
            lines.append(translate(lang, msgid, {"items": ", ".join(compared)}))
    lines.append("")
    lines.append(
        translate(
            lang,
            N_(
                "Điểm tạm tính theo câu trả lời hiện có; điểm chính thức tính sau khi thẩm "
                "định và xếp hạng."
            ),
        )
    )
    return "\n".join(lines)
