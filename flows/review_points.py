"""Reviewer-scored criteria during review (issue #12), pure: what they are and how typed
points are read.

The scale (scoring/scales/<form>.yaml) marks some criteria `rule: manual` ("Sở TTTT chấm
khi thẩm định"); the review desk hands them to the reviewer's turn as `ManualCriterion`s and
the turn asks for each one's points after the items (flows/review.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.i18n import N_
from flows.parsing import Problem, fold


@dataclass(frozen=True, slots=True)
class ManualCriterion:
    """A reviewer-scored criterion of the form's scale: id ("4.3"), its text (Vietnamese, as
    the scale file writes it), its maximum in points and its English text (`text_en` in the
    scale file; None: the Vietnamese is shown in English too)."""

    id: str
    text: str
    max: float
    text_en: str | None = None

    def text_in(self, lang: str) -> str:
        """The text in `lang` ("en": the English one when the scale gives it)."""
        return self.text_en if lang == "en" and self.text_en else self.text


# "7", "7,5", "7.5 điểm", "15/20", "15 đ" (folded: no accents, lower case). Only a number of
# points, optionally "/ its maximum" and the word for points: "bảy" or "7 mục" is refused.
_POINTS = re.compile(
    r"^(?P<n>\d{1,4}(?:[.,]\d{1,2})?)\s*(?:/\s*(?P<of>\d{1,4}(?:[.,]\d{1,2})?))?"
    r"\s*(?:diem|d|points?|pts?)?\s*[.!]?$"
)


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def example_points(maximum: float) -> str:
    """An example of points to type for a criterion of `maximum` points ("15" for 20)."""
    return f"{int(maximum * 3 // 4)}"


def parse_points(text: str, maximum: float) -> float | Problem:
    """The points typed for a criterion of `maximum` points, bounded 0..maximum.

    Forgiving about the form ("7", "7,5", "7.5 điểm", "15/20"); a Problem (Vietnamese
    msgid, its parameters, an example) for words, a negative number, more than the maximum,
    or "x/y" where y is not the criterion's maximum."""
    example = example_points(maximum)
    params = {"max": f"{maximum:g}"}
    match = _POINTS.match(fold(text.strip()))
    if match is None:
        return Problem(N_("Điểm phải là một số từ 0 đến {max}."), params, example)
    points = _number(match["n"])
    if match["of"] is not None and abs(_number(match["of"]) - maximum) > 1e-9:
        return Problem(N_("Tiêu chí này chấm trên thang {max} điểm."), params, example)
    if points > maximum:
        return Problem(
            N_("{points} điểm vượt mức tối đa {max} của tiêu chí."),
            {**params, "points": f"{points:g}"},
            example,
        )
    return points
