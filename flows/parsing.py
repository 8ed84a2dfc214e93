"""Turn what an official types on a phone into a stored answer, or say politely what is wanted.

Forgiving about typing (accents, case, NFC/NFD, full-width digits, "1.234" vs "1 234", a unit
after the number, "có ạ"), strict about meaning: a reading that could mean two things ("1.5",
"1,234" in a count) is returned as `Confirm` for the official to accept, and anything else that
is not clearly an answer is a `Problem` carrying a Vietnamese msgid, its params and an example.

Everything here is pure (no I/O, no clock: `today` is passed in) and no input string makes it
raise. Values are JSON-ready: dates are ISO strings, lists and dicts are plain.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flows.i18n import N_, format_day, format_number, normalise_language
from flows.model import STATUS_LEVELS, Column, Evidence, ItemType, Option, Question, Text
from flows.units import ANY_MAXIMUM, COUNT_WORDS, unit_key, unit_of, units_of

__all__ = [
    "Confirm",
    "Ok",
    "Problem",
    "Result",
    "example_for",
    "format_answer",
    "parse_answer",
    "parse_choice",
    "parse_date",
    "parse_document",
    "parse_email",
    "parse_list_row",
    "parse_multi_choice",
    "parse_number",
    "parse_person",
    "parse_phone",
    "parse_status",
    "parse_text",
    "parse_url",
    "parse_year",
    "parse_yes_no",
    "status_label",
]


@dataclass(frozen=True, slots=True)
class Ok:
    value: Any


@dataclass(frozen=True, slots=True)
class Problem:
    msgid: str
    params: dict[str, Any]
    example: str


@dataclass(frozen=True, slots=True)
class Confirm:
    value: Any
    msgid: str
    params: dict[str, Any]


Result = Ok | Problem | Confirm

# --- messages (Vietnamese msgids; the engine renders them with `translate`) -------------------

MSG_EMPTY = N_("Anh/chị chưa nhập câu trả lời. Anh/chị vui lòng nhập lại theo ví dụ.")
MSG_CONFIRM = N_("Anh/chị nhập {raw}. Ý anh/chị là {shown}?")
MSG_NOT_NUMBER = N_("Câu này cần một con số. Anh/chị vui lòng chỉ nhập số, không kèm chữ.")
MSG_NUMBER_FORMAT = N_(
    "Anh/chị vui lòng nhập số cho đúng: dấu chấm hoặc dấu cách tách hàng nghìn (1.234), "
    "dấu phẩy cho phần thập phân (2,5)."
)
MSG_NUMBER_TOO_LONG = N_("Số anh/chị nhập dài quá. Anh/chị vui lòng kiểm tra lại.")
MSG_NOT_INTEGER = N_(
    "Câu này cần một số nguyên (như số người, số máy), anh/chị vui lòng nhập số không có phần lẻ."
)
MSG_NEGATIVE = N_("Anh/chị vui lòng nhập số từ 0 trở lên (không nhập số âm).")
MSG_BELOW_MIN = N_("Anh/chị vui lòng nhập số từ {min} trở lên.")
MSG_ABOVE_MAX = N_("Anh/chị vui lòng nhập số không lớn hơn {max}.")
MSG_TOO_LARGE = N_(
    "Số này lớn hơn mức có thể có cho câu này (tối đa {max} {unit}). Anh/chị vui lòng kiểm tra lại."
)
MSG_UNUSUAL = N_("Anh/chị nhập {value} {unit}, con số này lớn bất thường. Đúng không?")
MSG_CONVERT = N_("Anh/chị nhập {raw}, tức là {value} {unit}. Lưu {value} {unit}?")
MSG_CONVERT_BARE = N_(
    "Câu này tính theo {unit}. Nếu anh/chị nhập {typed} {from} thì bằng {value} {unit}. "
    "Lưu {value} {unit}?"
)
MSG_WRONG_UNIT = N_("Câu này tính theo đơn vị {unit}; anh/chị vui lòng nhập số theo đơn vị đó.")
MSG_OTHER_THING = N_(
    "“{words}” không khớp với đơn vị của câu này ({unit}); anh/chị vui lòng chỉ nhập số {unit}."
)
MSG_YES_NO = N_("Anh/chị vui lòng trả lời “có” hoặc “không”.")
MSG_CHOICE = N_("Anh/chị vui lòng chọn một số trong {numbers}, hoặc gõ đúng tên lựa chọn.")
MSG_MULTI_CHOICE = N_(
    "Anh/chị vui lòng chọn các số trong {numbers}, cách nhau bằng dấu phẩy; "
    "nhập 0 nếu không chọn mục nào."
)
MSG_STATUS = N_("Anh/chị vui lòng chọn 1 (Hoàn chỉnh), 2 (Đang thử nghiệm) hoặc 3 (Chưa có).")
MSG_DATE = N_("Anh/chị vui lòng nhập ngày theo dạng ngày/tháng/năm.")
MSG_DATE_IMPOSSIBLE = N_(
    "Ngày {raw} không có trên lịch. Anh/chị vui lòng kiểm tra lại ngày/tháng/năm."
)
MSG_YEAR = N_("Anh/chị vui lòng nhập năm gồm 4 chữ số, từ {min} đến {max}.")
MSG_URL = N_("Anh/chị vui lòng gửi một đường link (liên kết) tới trang hoặc văn bản.")
MSG_URL_SPACES = N_("Đường link không có dấu cách. Anh/chị vui lòng gửi lại đúng một đường link.")
MSG_URL_SCHEME = N_(
    "Anh/chị vui lòng gửi đường link trang web (bắt đầu bằng http:// hoặc https://)."
)
MSG_URL_PRIVATE = N_(
    "Đường link phải mở được từ Internet (có tên miền như .gov.vn); "
    "anh/chị vui lòng gửi link công khai."
)
MSG_URL_ACCENTS = N_(
    "Tên miền “{host}” có chữ có dấu, có lẽ do bộ gõ tiếng Việt. Ý anh/chị là {url}?"
)
MSG_URL_ACCENTS_BAD = N_(
    "Tên miền “{host}” có chữ có dấu, có lẽ do bộ gõ tiếng Việt. Anh/chị vui lòng tắt bộ gõ "
    "và gửi lại đường link."
)
MSG_EMAIL = N_("Anh/chị vui lòng nhập một địa chỉ email đúng dạng ten@donvi.gov.vn.")
MSG_PHONE = N_("Anh/chị vui lòng nhập số điện thoại gồm 8 đến 15 chữ số.")
MSG_MOBILE = N_("Số di động Việt Nam có 10 chữ số (kể cả số 0 đầu). Anh/chị vui lòng kiểm tra lại.")
MSG_LANDLINE = N_(
    "Số điện thoại bàn có 11 chữ số (kể cả số 0 và mã vùng). Anh/chị vui lòng kiểm tra lại."
)
MSG_TEXT_TOO_LONG = N_("Câu trả lời dài quá {max} ký tự; anh/chị vui lòng viết ngắn gọn hơn.")
MSG_DOCUMENT = N_(
    "Anh/chị vui lòng ghi số hiệu văn bản (như 12/KH-UBND), ngày ban hành, trích yếu và link, "
    "cách nhau bằng dấu chấm phẩy (;)."
)
MSG_DOCUMENT_AFTER_YEAR = N_(
    "Văn bản ghi ngày {date}, sau năm báo cáo {year}. Anh/chị kiểm tra lại ngày ban hành; "
    "nếu đúng là ngày này, chọn Đúng."
)
MSG_DOCUMENT_LINK = N_("Anh/chị vui lòng gửi kèm đường link (liên kết) tới văn bản.")
MSG_PERSON = N_("Anh/chị vui lòng nhập họ tên rồi chức vụ, cách nhau bằng dấu chấm phẩy (;).")
MSG_COMPUTED = N_("Câu này được tính tự động, anh/chị không cần nhập.")
MSG_ROW_TOO_MANY = N_(
    "Dòng này có {given} phần nhưng chỉ cần {count}: {columns}. "
    "Anh/chị vui lòng nhập các phần cách nhau bằng dấu chấm phẩy (;)."
)
MSG_ROW_MISSING = N_(
    "Anh/chị chưa nhập “{column}”. Anh/chị vui lòng nhập các phần theo thứ tự: {columns}, "
    "cách nhau bằng dấu chấm phẩy (;)."
)
MSG_ROW_CELL = N_(
    "Phần thứ {position} (“{column}”) chưa đúng, ví dụ: {cell_example}. Anh/chị vui lòng nhập "
    "các phần theo thứ tự: {columns}, cách nhau bằng dấu chấm phẩy (;)."
)
MSG_LIST = N_("Anh/chị vui lòng nhập các phần của dòng, cách nhau bằng dấu chấm phẩy (;).")

EXAMPLE_DATE = "26/11/2026"
EXAMPLE_URL = "https://sotttt.binhdinh.gov.vn/ke-hoach-2019"
EXAMPLE_DOCUMENT = "Số 12/KH-UBND; 15/01/2019; Kế hoạch ứng dụng CNTT năm 2019; " + EXAMPLE_URL
EXAMPLE_PERSON = "Nguyễn Văn An; Trưởng phòng"

MAX_TEXT = 2000
MAX_DIGITS = 30
MAX_EXACT_DIGITS = 15  # significant digits a stored decimal (a binary float) keeps exactly
YEAR_MIN, YEAR_MAX = 1990, 2100

# --- normalising what people type -------------------------------------------------------------

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029\x85\v\f]")
# Controls, bidi marks, zero-width and lone surrogates: invisible, and some break storage.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\ufe0e\ufe0f\ufeff\ud800-\udfff]"
)
_SPACES = re.compile(r"[^\S\n]+")
_TRAILING_PUNCT = re.compile(r"[\s.,;:!?…~]+$")
_POLITE = re.compile(r"\s+ạ$", re.IGNORECASE)


def _clean(text: str) -> str:
    """NFC, ASCII digits for full-width ones, no invisible characters, single spaces, lines kept."""
    s = unicodedata.normalize("NFC", str(text).translate(_FULLWIDTH))
    s = _INVISIBLE.sub("", _NEWLINES.sub("\n", s))
    lines = (_SPACES.sub(" ", line).strip() for line in s.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _line(text: str) -> str:
    """One-line form of an answer: every run of whitespace, newlines included, is one space."""
    return " ".join(_clean(text).split())


def fold(text: str) -> str:
    """Lower case without accents ("Đã có" → "da co"), for matching words, never for storing."""
    s = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    return " ".join("".join(ch for ch in s if not unicodedata.combining(ch)).split())


def _key(text: str) -> str:
    """Folded one-line answer without closing punctuation or a polite trailing "ạ"."""
    s = _TRAILING_PUNCT.sub("", _line(text))
    return fold(_TRAILING_PUNCT.sub("", _POLITE.sub("", s)))


def _words(text: str, sep: str | None = None) -> frozenset[str]:
    """A vocabulary written as one string, so long word lists stay readable."""
    return frozenset(text.split(sep))


def _problem(msgid: str, example: str, **params: Any) -> Problem:
    return Problem(msgid, params, example)


def _empty(example: str) -> Problem:
    return _problem(MSG_EMPTY, example)


# --- yes / no ---------------------------------------------------------------------------------

_YES = _words("co|c|x|v|yes|y|ok|oke|okay|dung|roi|da|vang|u|1|true|co a|👍|✓|✔|☑|✅", "|")
_NO = _words("khong|k|ko|kh|kg|khg|hong|hok|no|n|chua|chua co|khong co|0|false|❌|✗|✘", "|")
_LEADING_FILLER = frozenset({"da", "vang", "thua"})
_TRAILING_FILLER = frozenset({"a", "nhe", "nha", "roi"})


def parse_yes_no(text: str) -> bool | None:
    """True/False for a yes/no answer, None when it is neither.

    Yes: có, c, x (a ticked box), v, yes, y, ok, oke, đúng, rồi, dạ, vâng, ừ, 1, true, 👍 ✓.
    No: không, k, ko, kh, kg, hông, hok, no, n, chưa, chưa có, không có, 0, false, ❌ ✗.
    Accents and case do not matter; polite words around them are dropped ("dạ có ạ",
    "đã có rồi", "không ạ", "chưa có nhé"). "2" is refused: it is no answer to a yes/no question.
    """
    words = re.sub(r"[.,;:!?…~]+", " ", _key(text)).split()
    while len(words) > 1 and words[0] in _LEADING_FILLER:
        words.pop(0)
    while len(words) > 1 and words[-1] in _TRAILING_FILLER:
        words.pop()
    key = " ".join(words)
    if key in _YES:
        return True
    if key in _NO:
        return False
    return None


def _parse_yes_no(text: str) -> Result:
    if not _line(text):
        return _empty("có")
    answer = parse_yes_no(text)
    return _problem(MSG_YES_NO, "có") if answer is None else Ok(answer)


# --- numbers ----------------------------------------------------------------------------------

_NUMBER = re.compile(r"([+\-−–]?) ?([0-9](?:[0-9]|[., ](?=[0-9]))*) ?(.*)", re.DOTALL)
_ZERO_WORDS = frozenset({"khong", "khong co", "chua co", "ko", "k", "chua", "none", "no"})


def _unit_factor(word: str, unit: str | None, words: Sequence[str] = ()) -> Decimal | bool | None:
    """What the word after a number says about its unit (see flows/units.py for the data).

    Decimal(1) when it names the question's unit or the thing the item counts (`words`, the
    item's `unit_words` and English unit), another Decimal when it names a unit that converts
    to the question's ("tỷ" for Tr.đ: 1000), False when it names an unrelated unit ("người" for
    a "máy" item), None when it names no unit at all ("tháng", "khoảng").
    """
    key = unit_key(word)
    if not key:
        return None
    item_keys = {unit_key(w) for w in words if w}
    if key in item_keys or (key.endswith("s") and key[:-1] in item_keys):
        return Decimal(1)
    if unit is None:
        return Decimal(1) if key in COUNT_WORDS else None
    wanted = units_of(unit)
    names = {unit_key(unit)} | {unit_key(u) for u in re.split(r"[,/;]", unit)}
    if key in names or any(key in u.names for u in wanted):
        return Decimal(1)
    for u in wanted:
        if key in u.convert:
            return u.convert[key]
    return False if unit_of(key) is not None else None


def _names_a_unit(rest: str, unit: str, words: Sequence[str]) -> bool:
    """True when one word of several after a number names a unit or a counted thing
    ("máy chủ": "máy"), so the words name something the item does not count."""
    parts = rest.split()
    if len(parts) < 2 or any(ch.isdigit() for ch in rest):  # "12 người và 3 máy": two numbers
        return False
    return any(
        _unit_factor(w, unit, words) is not None or unit_key(w) in COUNT_WORDS for w in parts
    )


def _grouped(groups: list[str]) -> bool:
    """Thousands groups as Vietnamese write them: 1–3 digits (no leading 0), then groups of 3."""
    head, *tail = groups
    return (
        bool(tail)
        and 1 <= len(head) <= 3
        and not (head.startswith("0"))
        and all(len(g) == 3 for g in tail)
    )


def _read_digits(num: str, integer: bool) -> tuple[Decimal, bool] | None:
    """The value of a digit string with separators and whether it is ambiguous; None if malformed.

    Vietnamese: "." or " " separate thousands, "," is the decimal mark. English forms are read
    too but flagged ambiguous: "1,234.5", "1,234,567", "1,234" in an integer field, "1.5".
    """
    dots, commas = num.count("."), num.count(",")
    if " " in num:
        if dots or commas > 1:
            return None
        whole, _, frac = num.partition(",")
        groups = whole.split(" ")
        return (Decimal("".join(groups) + "." + (frac or "0")), False) if _grouped(groups) else None
    if dots and commas:
        vietnamese = num.rfind(",") > num.rfind(".")
        decimal_mark, thousands = (",", ".") if vietnamese else (".", ",")
        whole, frac = num.rsplit(decimal_mark, 1)
        if decimal_mark in whole or not _grouped(whole.split(thousands)):
            return None
        groups = whole.split(thousands)
        return Decimal("".join(groups) + "." + frac), not vietnamese
    if dots:
        groups = num.split(".")
        if _grouped(groups):
            return Decimal("".join(groups)), False
        return (Decimal(num), True) if dots == 1 else None
    if commas:
        groups = num.split(",")
        if commas == 1:
            if integer and _grouped(groups):
                return Decimal("".join(groups)), True
            return Decimal(".".join(groups)), False
        return (Decimal("".join(groups)), True) if _grouped(groups) else None
    return Decimal(num), False


def _exact(value: int | float) -> int | Decimal:
    """A parsed number for a message: a float as the exact decimal it stands for."""
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    return value


def _number_value(value: Decimal, integer: bool) -> int | float:
    if value == 0:
        return 0 if integer else 0.0
    return int(value) if integer else float(value)


def _bounds(
    value: Decimal, minimum: float | None, maximum: float | None, example: str
) -> Problem | None:
    if value < 0 and not (minimum is not None and minimum < 0):
        return _problem(MSG_NEGATIVE, example)
    if minimum is not None and math.isfinite(minimum) and value < Decimal(repr(minimum)):
        return _problem(MSG_BELOW_MIN, example, min=minimum)
    if maximum is not None and math.isfinite(maximum) and value > Decimal(repr(maximum)):
        return _problem(MSG_ABOVE_MAX, example, max=maximum)
    return None


def _plausible(
    value: Decimal,
    unit: str | None,
    confirm_above: float | None,
    example: str,
    converted: bool,
) -> Result | None:
    """Refuse what no agency can mean, question what is unusually large (bounds are data:
    flows/units.py per unit, `confirm_above` per item). None when the value is plausible."""
    units = units_of(unit) if unit else []
    limits = [u.maximum for u in units if u.maximum is not None]
    highest = min([ANY_MAXIMUM, *limits])
    if abs(value) > highest:
        return _problem(MSG_TOO_LARGE, example, max=highest, unit=unit or "")
    if len(value.normalize().as_tuple().digits) > MAX_EXACT_DIGITS:
        return _problem(MSG_NUMBER_TOO_LONG, example)
    if converted:
        return None
    above = [u.confirm_above for u in units if u.confirm_above is not None]
    if confirm_above is not None and math.isfinite(confirm_above):
        above = [Decimal(repr(confirm_above))]
    if above and value > min(above):
        return Confirm(None, MSG_UNUSUAL, {"value": value, "unit": unit or ""})
    return None


def parse_number(
    text: str,
    *,
    integer: bool,
    unit: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    example: str | None = None,
    words: Sequence[str] = (),
    confirm_above: float | None = None,
) -> Result:
    """A count or an amount as officials type it; see `_read_digits` for separators.

    A trailing word is allowed when it names `unit` or the thing counted (`words`, the item's
    `unit_words`; with no unit, a count word such as "người", "máy"). A word naming a unit
    that converts to `unit` ("1 Gbps" for Mbps, "1,5 tỷ" or "… đồng" for Tr.đ) gives the
    converted value as a Confirm; so does a bare number the unit reads in another unit
    (1.250.000.000 for Tr.đ → 1.250, as đồng). A word naming another unit ("3 người" for
    "máy") or no unit ("3 tháng") is refused. "không"/"chưa có" is offered back as 0 to
    confirm. Values beyond the unit's maximum (flows/units.py, at most 10^15) are refused,
    beyond its `confirm_above` asked about. Integers are `int`, decimals `float` holding at
    most 15 significant digits, so the float is exactly the decimal typed; below 0 is refused
    unless `minimum` is negative.
    """
    ex = example or ("12" if integer else "2,5")
    s = _line(text)
    if not s:
        return _empty(ex)
    if len(s) > 200:
        too_long = re.match(r"[+\-−–]? ?[0-9]", s)
        return _problem(MSG_NUMBER_TOO_LONG if too_long else MSG_NOT_NUMBER, ex)
    raw = _TRAILING_PUNCT.sub("", s)
    if _key(s) in _ZERO_WORDS:
        zero = Decimal(0)
        out = _bounds(zero, minimum, maximum, ex)
        if out is not None:
            return _problem(MSG_NOT_NUMBER, ex)
        value = _number_value(zero, integer)
        return Confirm(value, MSG_CONFIRM, {"raw": raw, "shown": value})
    m = _NUMBER.fullmatch(s)
    if m is None:
        return _problem(MSG_NOT_NUMBER, ex)
    sign, num, rest = m.groups()
    if sum(ch.isdigit() for ch in num) > MAX_DIGITS:
        return _problem(MSG_NUMBER_TOO_LONG, ex)
    rest = _TRAILING_PUNCT.sub("", _POLITE.sub("", _TRAILING_PUNCT.sub("", rest)))
    factor: Decimal = Decimal(1)
    if rest:
        fits = _unit_factor(rest, unit, words)
        if fits is False and unit:
            return _problem(MSG_WRONG_UNIT, ex, unit=unit)
        if fits is None and unit and _names_a_unit(rest, unit, words):
            # "3 máy chủ" at a "máy" (computers) item: another thing, not a stray word.
            return _problem(MSG_OTHER_THING, ex, words=rest, unit=unit)
        if not isinstance(fits, Decimal):
            return _problem(MSG_NOT_NUMBER, ex)
        factor = fits
    try:
        read = _read_digits(num, integer and factor == 1)
    except InvalidOperation:
        read = None
    if read is None:
        return _problem(MSG_NUMBER_FORMAT, ex)
    value, ambiguous = read
    if sign and sign != "+":
        value = -value
    bare = next((u.bare for u in units_of(unit) if u.bare), None) if unit and not rest else None
    typed = value
    if bare is not None and not ambiguous and _plausible(value, unit, confirm_above, ex, False):
        factor = bare[1]
    converted = factor != 1
    value = value * factor
    if integer and value != value.to_integral_value():
        return _problem(MSG_NOT_INTEGER, ex)
    out = _bounds(value, minimum, maximum, ex)
    if out is not None:
        return out
    judged = _plausible(value, unit, confirm_above, ex, converted)
    if isinstance(judged, Problem):
        return judged
    result = _number_value(value, integer)
    if converted:
        params = {"raw": raw, "typed": typed, "value": _exact(result), "unit": unit or ""}
        msgid = MSG_CONVERT if rest else MSG_CONVERT_BARE
        return Confirm(result, msgid, {**params, "from": bare[0] if bare and not rest else ""})
    if ambiguous:
        return Confirm(result, MSG_CONFIRM, {"raw": raw, "shown": _exact(result)})
    if isinstance(judged, Confirm):
        return replace(judged, value=result, params={**judged.params, "value": _exact(result)})
    return Ok(result)


# --- choices and status -----------------------------------------------------------------------

_OPTION_NUMBER = re.compile(r"(?:so|lua chon|chon|phuong an|muc) ?([0-9]{1,6}) ?[.):/-]? ?(.*)")
_BARE_NUMBER = re.compile(r"([0-9]{1,6}) ?[.):/-]? ?(.*)")


def _numbers(count: int) -> str:
    return ", ".join(str(i) for i in range(1, count + 1))


def _option_labels(option: Option) -> tuple[str, ...]:
    return tuple(k for k in (fold(option.text.vi), fold(option.text.en or "")) if k)


def _option_index(options: Sequence[Option], text: str) -> int | None:
    """Which option the text names: by exact label/value, by number ("2", "2.", "số 2",
    "2. Trung bình"), or by a unique label prefix of 3+ letters. None if none or several."""
    key = _key(text)
    if not key or not options:
        return None
    keys = [_option_labels(o) for o in options]
    exact = {i for i, o in enumerate(options) if key in keys[i] or key == fold(o.value)}
    if len(exact) == 1:
        return exact.pop()
    m = _OPTION_NUMBER.fullmatch(key) or _BARE_NUMBER.fullmatch(key)
    if m:
        n, rest = int(m.group(1)), m.group(2)
        if 1 <= n <= len(options) and (not rest or any(k.startswith(rest) for k in keys[n - 1])):
            return n - 1
        if not rest:
            return None
    if len(key) < 3:  # "co" would otherwise pick "complete"
        return None
    prefix = {i for i, k in enumerate(keys) if any(x.startswith(key) for x in k)}
    if len(prefix) == 1:
        return prefix.pop()
    return _option_by_words(keys, key)


def _label_words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[0-9a-z]+", text))


def _has_phrase(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


def _option_by_words(keys: Sequence[tuple[str, ...]], key: str) -> int | None:
    """The one option whose label holds the typed words as a phrase, accents and case aside:
    "tất cả" picks "Triển khai tất cả các phòng, ban…", "một số" picks "Triển khai một số…".
    Filler words in front ("chọn", "là") are dropped first. None when no or several labels
    hold it."""
    phrase = _label_words(key)
    while len(phrase) > 1 and phrase[0] in _CHOICE_FILLER:
        phrase = phrase[1:]
    if not phrase or sum(len(w) for w in phrase) < 3:
        return None
    hits = {
        i
        for i, labels in enumerate(keys)
        if any(_has_phrase(_label_words(k), phrase) for k in labels)
    }
    return hits.pop() if len(hits) == 1 else None


_CHOICE_FILLER = frozenset({"chon", "la", "dap", "an", "phuong", "tra", "loi", "y"})


def parse_choice(options: Sequence[Option], text: str, example: str = "1") -> Result:
    """One option's value, chosen by its number or its text (see `_option_index`)."""
    if not _line(text):
        return _empty(example)
    index = _option_index(options, text)
    if index is None:
        return _problem(MSG_CHOICE, example, numbers=_numbers(len(options)))
    return Ok(options[index].value)


_NONE_CHOSEN = frozenset({"0", "khong", "khong co", "khong chon", "ko", "k", "chua co", "none"})
# "All of them" when no option's label says so itself ("tất cả" may name one option).
_ALL_CHOSEN = frozenset({"tat ca", "chon tat ca", "ca", "all", "all of them", "toan bo", "het"})
_BOTH_CHOSEN = frozenset({"ca hai", "ca 2", "chon ca hai", "chon ca 2", "both", "2 loai", "hai"})
_LIST_SPLIT = re.compile(r" ?(?:[,;/+&\n]|\bva\b|\band\b) ?| ")
_LABEL_SPLIT = re.compile(r"\s*(?:[,;\n]|\s(?:và|va|and)\s)\s*", re.IGNORECASE)


def parse_multi_choice(options: Sequence[Option], text: str, example: str = "1") -> Result:
    """Option values in the options' order: "1, 3", "1 3", "1 và 3", "1;3" or labels;
    "0"/"không" chooses none (an empty list)."""
    cleaned = _clean(text)
    if not cleaned:
        return _empty(example)
    problem = _problem(MSG_MULTI_CHOICE, example, numbers=_numbers(len(options)))
    if _key(cleaned) in _NONE_CHOSEN:
        return Ok([])
    whole = _option_index(options, cleaned)
    if whole is not None:
        return Ok([options[whole].value])
    every = _key(cleaned)
    if every in _ALL_CHOSEN or (every in _BOTH_CHOSEN and len(options) == 2):
        return Ok([o.value for o in options])
    tokens = [t for t in _LIST_SPLIT.split(fold(cleaned)) if t]
    chosen: set[int] = set()
    if tokens and all(re.fullmatch(r"[0-9]{1,6}\.?", t) for t in tokens):
        for token in tokens:
            n = int(token.rstrip("."))
            if not 1 <= n <= len(options):
                return problem
            chosen.add(n - 1)
    else:
        for part in _LABEL_SPLIT.split(cleaned):
            if not part.strip():
                continue
            index = _option_index(options, part)
            if index is None:
                return problem
            chosen.add(index)
    if not chosen:
        return problem
    return Ok([options[i].value for i in sorted(chosen)])


_STATUS_TEXT: dict[str, Text] = {
    "hoan_chinh": Text("Hoàn chỉnh", "Complete"),
    "thu_nghiem": Text("Đang thử nghiệm", "Being tested"),
    "chua_co": Text("Chưa có", "Not yet"),
}
_STATUS_OPTIONS = tuple(Option(v, _STATUS_TEXT[v]) for v in STATUS_LEVELS)
_STATUS_ALIASES: dict[str, str] = {
    **dict.fromkeys(("hc", "xong", "da xong", "hoan thanh", "da hoan thanh", "done"), "hoan_chinh"),
    **dict.fromkeys(
        ("thu nghiem", "dang thu", "tn", "dtn", "dang tn", "trial", "testing", "pilot"),
        "thu_nghiem",
    ),
    **dict.fromkeys(
        ("chua", "khong", "khong co", "ko", "k", "chua trien khai", "none", "no"), "chua_co"
    ),
}


def parse_status(text: str, example: str = "1") -> Result:
    """A three-level status: 1/2/3 in the order Hoàn chỉnh, Đang thử nghiệm, Chưa có, or words
    ("hoàn chỉnh", "hc", "xong", "thử nghiệm", "tn", "chưa có", "chưa", "không")."""
    if not _line(text):
        return _empty(example)
    key = _key(text)
    if key in _STATUS_ALIASES:
        return Ok(_STATUS_ALIASES[key])
    index = _option_index(_STATUS_OPTIONS, text)
    if index is None:
        return _problem(MSG_STATUS, example)
    return Ok(STATUS_LEVELS[index])


def status_label(value: str, lang: str) -> str:
    """The printed label of a status level; an unknown value is shown as it is."""
    text = _STATUS_TEXT.get(value) if isinstance(value, str) else None
    return text.get(normalise_language(lang)) if text else str(value)


# --- dates and years --------------------------------------------------------------------------

_SEP = r" ?[/.\-] ?"
_DD, _MM, _YY = r"([0-9]{1,2})", r"([0-9]{1,2})", r"([0-9]{4}|[0-9]{2})"
# Each form with the group positions of (day, month, year).
_DATE_FORMS = (
    (re.compile(rf"(?:ngay ?)?{_DD}{_SEP}{_MM}(?:{_SEP}{_YY})?"), (0, 1, 2)),
    (re.compile(rf"([0-9]{{4}}){_SEP}{_MM}{_SEP}{_DD}"), (2, 1, 0)),
    (re.compile(rf"(?:ngay ?)?{_DD} ?thang ?{_MM}(?: ?,? ?nam ?{_YY})?"), (0, 1, 2)),
)


def full_year(yy: int, today: date) -> int:
    """The year a two-digit year means: the one in the window from 89 years before today's
    year to 10 years after it ("99" → 1999, "19" → 2019 while today is 2026). Officials write
    "15/01/99" for a document of 1999 and "5/3/19" for one of 2019; no document of a form is
    dated more than 10 years ahead, nor is a two-digit year used for one 90 years old."""
    year = today.year // 100 * 100 + yy
    if year > today.year + 10:
        year -= 100
    elif year <= today.year - 90:
        year += 100
    return year


def _read_date(text: str, today: date, *, need_year: bool = False) -> Result | None:
    """Ok(ISO) or Problem for something written as a date; None if it does not look like one
    (without a year when `need_year`: "2.5" in a document is no date). Two-digit years follow
    `full_year`; a missing year is today's."""
    key = _key(text)
    for pattern, (d, m, y) in _DATE_FORMS:
        match = pattern.fullmatch(key)
        if match is None or (need_year and not match.group(y + 1)):
            continue
        parts = match.groups()
        year = int(parts[y]) if parts[y] else today.year
        if parts[y] and len(parts[y]) == 2:
            year = full_year(year, today)
        raw = _TRAILING_PUNCT.sub("", _line(text))
        if not 1900 <= year <= 2100:
            return _problem(MSG_DATE, EXAMPLE_DATE)
        try:
            return Ok(date(year, int(parts[m]), int(parts[d])).isoformat())
        except ValueError:
            return _problem(MSG_DATE_IMPOSSIBLE, EXAMPLE_DATE, raw=raw)
    return None


# A date written out inside a longer line: "… ngày 25 tháng 10 năm 2019 …", a place-and-date
# header "Quy Nhơn, ngày 05 tháng 3 năm 2019", or "ngày 15/01/2019" / "15/01/99".
_WRITTEN_DATE_INSIDE = re.compile(
    r"(?<![\w/.-])(?:ng[àaÀA]y\s*)?[0-9]{1,2}\s*th[áaÁA]ng\s*[0-9]{1,2}\s*,?\s*"
    r"n[ăaĂA]m\s*(?:[0-9]{4}|[0-9]{2})(?![\w/])",
    re.IGNORECASE,
)
_DATE_INSIDE = re.compile(
    r"(?:\bng[àa]y ?)?(?<![\w/.-])[0-9]{1,2} ?[/.-] ?[0-9]{1,2} ?[/.-] ?(?:[0-9]{4}|[0-9]{2})"
    r"(?![\w/])",
    re.IGNORECASE,
)


def _find_date(text: str) -> re.Match[str] | None:
    """The first date written inside `text`, words first ("ngày 5 tháng 3 năm 2019")."""
    return _WRITTEN_DATE_INSIDE.search(text) or _DATE_INSIDE.search(text)


def parse_date(text: str, today: date) -> Result:
    """A day as dd/mm/yyyy (also "-" or "." separators, "26/11" → this year), yyyy-mm-dd, or
    "ngày 26 tháng 11 năm 2026"; a two-digit year by `full_year` ("15/01/99" → 1999). A line
    holding one written date ("Quy Nhơn, ngày 05 tháng 3 năm 2019") gives that date. Stored as
    ISO, shown back in full (15/01/1999)."""
    if not _line(text):
        return _empty(EXAMPLE_DATE)
    whole = _read_date(text, today)
    if whole is not None:
        return whole
    found = _find_date(_line(text))
    if found is not None:
        inside = _read_date(found.group(0), today)
        if inside is not None:
            return inside
    return _problem(MSG_DATE, EXAMPLE_DATE)


def parse_year(
    text: str, minimum: float | None = None, maximum: float | None = None, example: str = "2019"
) -> Result:
    """A year of four digits ("2019", "năm 2019") within 1990–2100 or the question's bounds."""
    low = YEAR_MIN if minimum is None or not math.isfinite(minimum) else math.ceil(minimum)
    high = YEAR_MAX if maximum is None or not math.isfinite(maximum) else math.floor(maximum)
    if not _line(text):
        return _empty(example)
    m = re.fullmatch(r"(?:nam ?)?([0-9]{4})", _key(text))
    if m is None or not low <= int(m.group(1)) <= high:
        return _problem(MSG_YEAR, example, min=str(low), max=str(high))
    return Ok(int(m.group(1)))


# --- links, e-mail, phone ---------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:(?![0-9])")
_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9-]{1,59})"
)
_VIETNAMESE_LETTER = re.compile(
    "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]"
)
_PRIVATE_TLDS = _words(
    "localhost local lan internal intranet home corp test example invalid localdomain"
)


_TELEX_TONES = {"\u0301": "s", "\u0300": "f", "\u0309": "r", "\u0303": "x", "\u0323": "j"}
_TELEX_MARKS = {"\u0302": None, "\u0306": "w", "\u031b": "w"}  # None: the letter doubles


def untelex(text: str) -> str:
    """The keys a Telex keyboard turns into `text`: "mò" → "mof", "đ" → "dd", "ô" → "oo".

    A Vietnamese keyboard left on while typing a web address makes "mof.gov.vn" into
    "mò.gov.vn"; undoing it gives the address most likely meant."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in "đĐ":
            out.append("dd")
            continue
        base, *marks = unicodedata.normalize("NFD", ch)
        keys = [base]
        tone = ""
        for mark in marks:
            if mark in _TELEX_MARKS:
                keys.append(_TELEX_MARKS[mark] or base)
            elif mark in _TELEX_TONES:
                tone = _TELEX_TONES[mark]
        out.append("".join(keys) + tone)
    return "".join(out).lower()


def _ascii_host(host: str) -> str | None:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None


def parse_url(text: str) -> Result:
    """A public http(s) link, scheme optional ("sotttt.binhdinh.gov.vn/abc" gets https://).

    The host is lower-cased, path and query kept. Other schemes (javascript:, file:, ftp:),
    spaces, user names, IP addresses and local names (localhost, .local) are refused:
    evidence must open for anyone on the Internet.
    """
    s = _clean(text).rstrip(".,;")
    if not s:
        return _empty(EXAMPLE_URL)
    if len(s) > MAX_TEXT:
        return _problem(MSG_URL, EXAMPLE_URL)
    if re.search(r"\s", s):
        return _problem(MSG_URL_SPACES, EXAMPLE_URL)
    m = _SCHEME.match(s)
    if m:
        scheme, rest = m.group(1).lower(), s[m.end() :]
        if scheme not in ("http", "https"):
            return _problem(MSG_URL_SCHEME, EXAMPLE_URL)
    elif s.startswith("//"):
        scheme, rest = "https", s[2:]
    elif _OTHER_SCHEME.match(s):
        return _problem(MSG_URL_SCHEME, EXAMPLE_URL)
    else:
        scheme, rest = "https", s
    split = re.match(r"([^/?#]*)(.*)", rest, re.DOTALL)
    authority, tail = (split.group(1), split.group(2)) if split else ("", "")
    if "@" in authority or "[" in authority:
        return _problem(MSG_URL, EXAMPLE_URL)
    host, _, port = authority.partition(":")
    if port and not (re.fullmatch(r"[0-9]{1,5}", port) and 0 < int(port) < 65536):
        return _problem(MSG_URL, EXAMPLE_URL)
    host = host.lower().rstrip(".")
    if not host.isascii() and _VIETNAMESE_LETTER.search(host):
        # Never turned into punycode silently: a Vietnamese letter in a host is almost always
        # the keyboard's doing (Telex), so the likely address is offered instead.
        meant = untelex(host)
        if meant.isascii() and isinstance(parse_url(f"{scheme}://{meant}{tail}"), Ok):
            url = f"{scheme}://{meant}{':' + port if port else ''}{tail}"
            return Confirm(url, MSG_URL_ACCENTS, {"host": host, "url": url})
        return _problem(MSG_URL_ACCENTS_BAD, EXAMPLE_URL, host=host)
    ascii_host = _ascii_host(host)
    if ascii_host is None:
        return _problem(MSG_URL, EXAMPLE_URL)
    host = ascii_host
    last = host.rsplit(".", 1)[-1]
    if "." not in host or last in _PRIVATE_TLDS or last.isdigit():
        return _problem(MSG_URL_PRIVATE if host else MSG_URL, EXAMPLE_URL)
    if not _HOST.fullmatch(host) or len(host) > 253:
        return _problem(MSG_URL, EXAMPLE_URL)
    return Ok(f"{scheme}://{host}{':' + port if port else ''}{tail}")


_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
)


def parse_email(text: str, example: str = "vanthu@binhdinh.gov.vn") -> Result:
    """An e-mail address, lower-cased ("mailto:" dropped)."""
    s = _line(text).rstrip(".,;")
    if not s:
        return _empty(example)
    s = re.sub(r"^mailto:", "", s, flags=re.IGNORECASE).lower()
    if len(s) > 254 or not _EMAIL.fullmatch(s):
        return _problem(MSG_EMAIL, example)
    return Ok(s)


_PHONE_LABELS: dict[str, str] = {
    **dict.fromkeys(("dt", "dien thoai", "sdt", "so dt", "tel", "phone", "dtcq", "dtb"), "ĐT"),
    **dict.fromkeys(("fax",), "Fax"),
    **dict.fromkeys(("dd", "di dong", "mobile", "mob"), "DĐ"),
    **dict.fromkeys(("hotline", "duong day nong"), "Hotline"),
}
_PHONE_LABEL = re.compile(
    r"^(" + "|".join(sorted(_PHONE_LABELS, key=len, reverse=True)) + r")\b\s*[:.]?\s*"
)
_PHONE_SPLIT = re.compile(r"\s*(?:[,;/]|\s[-–—]\s|\s(?:và|va|and)\s)\s*", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"\(?\+?[0-9]*\)?[0-9 .()\-]*")
_MOBILE_START = frozenset("35789")


def _one_phone(text: str, example: str) -> Result:
    """One number: "+84"/"(+84)" and a trunk "(0)" after it understood, Vietnamese lengths
    checked (a mobile 0xxx has 10 digits, a landline 02xx 11), other numbers 8–15 digits."""
    s = text.strip()
    if len(s) > 40 or not s or not _PHONE_CHARS.fullmatch(s) or "+" in s.lstrip("(")[1:]:
        return _problem(MSG_PHONE, example)
    digits = re.sub(r"[^0-9]", "", s)
    plus = s.lstrip("(").startswith("+")
    national: str | None = None
    if plus and digits.startswith("84"):
        national = digits[2:]
        national = national[1:] if national.startswith("0") else national
    elif not plus and digits.startswith("0"):
        national = digits[1:]
    if national is not None and national[:1] in _MOBILE_START and len(national) != 9:
        return _problem(MSG_MOBILE, "0905 123 456")
    if national is not None and national.startswith("2") and len(national) != 10:
        return _problem(MSG_LANDLINE, "0256 3822 345")
    if national is not None and plus:
        return Ok("+84" + national)
    if not 8 <= len(digits) <= 15:
        return _problem(MSG_PHONE, example)
    return Ok(("+" if plus else "") + digits)


def parse_phone(text: str, example: str = "0256 3822 345") -> Result:
    """A phone number, or several with their labels ("ĐT: 0256.3812345 - Fax: 0256.3812346").

    Digits may be grouped with spaces, dots, dashes, brackets; "+84", "(+84)" and
    "+84 (0) 256 …" are the same number. A Vietnamese mobile has 10 digits (0905 123 456), a
    landline 11 (0256 3822 345); anything else 8–15. Stored as the digits, "+" kept:
    "(0256) 3 822 345" → "02563822345", "(+84) 256 3822 345" → "+842563822345"; several
    numbers as "02563812345; Fax: 02563812346" (labels ĐT, Fax, DĐ, Hotline; the first
    number's "ĐT" dropped). `format_answer` shows them grouped: "+84 256 3822 345".
    """
    s = _line(text).rstrip(".,;")
    if not s:
        return _empty(example)
    if len(s) > 200:
        return _problem(MSG_PHONE, example)
    out: list[str] = []
    for segment in (p for p in _PHONE_SPLIT.split(s) if p.strip()):
        label = ""
        found = _PHONE_LABEL.match(fold(segment))
        if found is not None:
            label = _PHONE_LABELS[found.group(1)]
            cut = len(found.group(0))
            # fold() keeps one character per character here (no "ß" in a label), so the
            # position in the folded text is the position in the original.
            segment = segment[cut:] if len(fold(segment)) == len(segment) else segment
        read = _one_phone(segment, example)
        if not isinstance(read, Ok):
            return read
        number = read.value
        out.append(f"{label}: {number}" if label and (out or label != "ĐT") else number)
    if not out or len(out) > 4:
        return _problem(MSG_PHONE, example)
    return Ok("; ".join(out))


def _group_phone(number: str) -> str:
    """ "+842563822345" → "+84 256 3822 345", "0905123456" → "0905 123 456"."""
    plus84 = number.startswith("+84")
    national = number[3:] if plus84 else number[1:] if number.startswith("0") else None
    if national is None or not national.isdigit():
        return number
    if national.startswith("2") and len(national) == 10:
        groups = [national[:3], national[3:7], national[7:]]
    elif len(national) == 9:
        groups = [national[:3], national[3:6], national[6:]]
    else:
        return number
    if plus84:
        return "+84 " + " ".join(groups)
    return "0" + " ".join(groups)


def _format_phone(value: str) -> str:
    parts = []
    for part in value.split("; "):
        label, sep, number = part.rpartition(": ")
        parts.append(f"{label}{sep}{_group_phone(number)}")
    return "; ".join(parts)


# --- free text, documents, people -------------------------------------------------------------


def parse_text(text: str, example: str = "Phần mềm quản lý văn bản và điều hành") -> Result:
    """Free text, trimmed, inner spacing tidied, line breaks kept; at most 2000 characters.
    Text with no letter or digit (";", "…", "-") is no answer: refused like an empty one."""
    s = _clean(text)
    if not any(ch.isalnum() for ch in s):  # ";", "...", "-": punctuation says nothing
        return _empty(example)
    if len(s) > MAX_TEXT:
        return _problem(MSG_TEXT_TOO_LONG, example, max=MAX_TEXT)
    return Ok(s)


_PARTS = re.compile(r"\s*[;|\n]\s*")
_DOC_PREFIX = r"(?:s[ốoô](?: ?hi[ệe]u)? ?[:.]? ?|no\. ?)"
_DOC_NUMBER = (
    r"[0-9]{1,6}[A-Za-z]?(?:/[0-9]{4})?/(?=[\w.&/-]{0,40}[^\W\d_])[\w&/-]{1,40}(?:\.[\w&/-]{1,40})*"
)
_DOC_WHOLE = re.compile(rf"{_DOC_PREFIX}?({_DOC_NUMBER})", re.IGNORECASE)
_DOC_INSIDE = re.compile(rf"(?<![\w/.-]){_DOC_PREFIX}?({_DOC_NUMBER})", re.IGNORECASE)
_URL_INSIDE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EDGE_JUNK = " ,;:-–—"


def _looks_like_url(part: str) -> bool:
    if re.search(r"\s", part):
        return False
    if "://" in part or part.lower().startswith("www.") or _OTHER_SCHEME.match(part):
        return True
    return isinstance(parse_url(part), Ok)


def _cut(text: str, match: re.Match[str]) -> str:
    """The text without the matched span, spaces tidied."""
    return " ".join((text[: match.start()] + " " + text[match.end() :]).split()).strip(_EDGE_JUNK)


def parse_document(
    text: str,
    today: date,
    *,
    require_link: bool = False,
    example: str = EXAMPLE_DOCUMENT,
    reporting_year: int | None = None,
) -> Result:
    """A document as "số hiệu; ngày ban hành; trích yếu; link", parts in any order.

    Parts are split on ";", "|" or new lines. The link and the date are recognised by their
    form; the number is the first thing shaped like "12/KH-UBND" ("Số" dropped); what is left
    is the trích yếu. A number, date or link written inside a sentence ("Kế hoạch số
    12/KH-UBND ngày 15/01/2019 về …") is found too. The number is required, the link only
    when `require_link`. Value: {"number", "date", "title", "link"}, None where missing.
    A date written out ("ngày 25 tháng 10 năm 2019") or with a two-digit year is read too.
    A document dated after `reporting_year` (the campaign's) cannot be evidence of that year:
    it is a Confirm naming the date, not silently kept.
    """
    cleaned = _clean(text)
    if not cleaned:
        return _empty(example)
    if len(cleaned) > MAX_TEXT * 2:
        return _problem(MSG_TEXT_TOO_LONG, example, max=MAX_TEXT * 2)
    link: str | None = None
    day: str | None = None
    number: str | None = None
    asked: Confirm | None = None  # a link to confirm (Vietnamese letters in its host)
    rest: list[str] = []
    for part in (p.strip(_EDGE_JUNK) for p in _PARTS.split(cleaned)):
        if not part:
            continue
        if link is None and _looks_like_url(part):
            read = parse_url(part)
            if isinstance(read, Problem):
                return read
            link, asked = read.value, read if isinstance(read, Confirm) else asked
            continue
        if day is None:
            read_day = _read_date(part, today, need_year=True)
            if isinstance(read_day, Problem):
                return read_day
            if isinstance(read_day, Ok):
                day = read_day.value
                continue
        whole = _DOC_WHOLE.fullmatch(part.rstrip("."))
        if number is None and whole:
            number = whole.group(1).upper()
            continue
        rest.append(part)
    title_parts: list[str] = []
    for part in rest:
        # A link without a scheme inside a sentence ("link: sotttt.binhdinh.gov.vn/pc, số …")
        if link is None and (found := _URL_INSIDE.search(part) or _BARE_DOMAIN.search(part)):
            read = parse_url(found.group(0))
            if isinstance(read, Problem):
                return read
            link, part = read.value, _cut(part, found)
            asked = read if isinstance(read, Confirm) else asked
        if number is None and (found := _DOC_INSIDE.search(part)):
            number, part = found.group(1).rstrip(".").upper(), _cut(part, found)
        if day is None and (found := _find_date(part)):
            read_day = _read_date(found.group(0), today)
            if isinstance(read_day, Problem):
                return read_day
            if isinstance(read_day, Ok):
                day, part = read_day.value, _cut(part, found)
        if part:
            title_parts.append(part)
    if number is None:
        return _problem(MSG_DOCUMENT, example)
    if require_link and link is None:
        return _problem(MSG_DOCUMENT_LINK, example)
    title = "; ".join(title_parts) or None
    value = {"number": number, "date": day, "title": title, "link": link}
    if day is not None and reporting_year is not None and int(day[:4]) > reporting_year:
        params = {"date": date.fromisoformat(day), "year": str(reporting_year)}
        return Confirm(value, MSG_DOCUMENT_AFTER_YEAR, params)
    if asked is not None:
        return Confirm(value, asked.msgid, asked.params)
    return Ok(value)


_PERSON_SPLIT = re.compile(r"\s*(?:[;|\n,]|\s[-–—]\s)\s*")


def parse_person(text: str, example: str = EXAMPLE_PERSON) -> Result:
    """A person as "họ tên; chức vụ" (also "," or " - " or two lines); the name is required
    and has no digits (a phone number in its place is a mistake)."""
    s = _clean(text)
    if not s:
        return _empty(example)
    split = _PERSON_SPLIT.search(s)
    name, position = (s[: split.start()], s[split.end() :]) if split else (s, "")
    name = " ".join(name.split()).strip(_EDGE_JUNK)
    position = " ".join(position.split()).strip(_EDGE_JUNK)
    letters = any(ch.isalpha() for ch in name)
    if not letters or any(ch.isdigit() for ch in name) or len(name) > 100 or len(position) > 300:
        return _problem(MSG_PERSON, example)
    return Ok({"name": name, "position": position or None})


# --- examples ---------------------------------------------------------------------------------


def _number_example(question: Question, integer: bool) -> str:
    """A plausible number for the question's unit, inside its bounds, written Vietnamese-style."""
    found = unit_of(question.unit.vi) if question.unit else None
    base = found.example if found else (12 if integer else 2.5)
    value = float(base)
    low, high = question.min, question.max
    if low is not None and math.isfinite(low) and value < low:
        value = math.ceil(low) if integer else low
    if high is not None and math.isfinite(high) and value > high:
        value = math.floor(high) if integer else high
    if not abs(value) < 1e15:  # absurd bounds in a definition; babel cannot print them anyway
        value = float(base)
    number = int(value) if integer else value
    return format_number("vi", number)


def _cell_example(column: Column) -> str:
    """An example for one cell of a list row: no ";" inside, since ";" separates cells; a text
    cell shows its column's title, so the row example also shows the order of the parts."""
    if column.type is ItemType.TEXT:
        return " ".join(re.sub(r"[;|]", ",", column.text.vi).split()) or "…"
    if column.type is ItemType.DOCUMENT:
        return "12/KH-UBND"
    if column.type is ItemType.PERSON:
        return "Nguyễn Văn An"
    return example_for(_column_question(column))


def example_for(question: Question) -> str:
    """A valid answer to show after "Ví dụ:", the question's own `example` when it has one."""
    if question.example:
        return question.example
    kind = question.type
    if kind in (ItemType.INTEGER, ItemType.DECIMAL):
        return _number_example(question, kind is ItemType.INTEGER)
    if kind is ItemType.YEAR:
        low = YEAR_MIN if question.min is None or not math.isfinite(question.min) else question.min
        high = YEAR_MAX if question.max is None or not math.isfinite(question.max) else question.max
        return str(min(max(2019, math.ceil(low)), math.floor(high)))
    if kind is ItemType.MULTI_CHOICE and len(question.options) >= 3:
        return "1, 3"
    if kind is ItemType.LIST:
        return "; ".join(_cell_example(c) for c in question.columns) or "—"
    return _FIXED_EXAMPLES.get(kind, "—")


_FIXED_EXAMPLES: dict[ItemType, str] = {
    ItemType.YES_NO: "có",
    ItemType.CHOICE: "1",
    ItemType.MULTI_CHOICE: "1",
    ItemType.STATUS: "1",
    ItemType.TEXT: "Phần mềm quản lý văn bản và điều hành",
    ItemType.DATE: EXAMPLE_DATE,
    ItemType.URL: EXAMPLE_URL,
    ItemType.EMAIL: "vanthu@binhdinh.gov.vn",
    ItemType.PHONE: "0256 3822 345",
    ItemType.DOCUMENT: EXAMPLE_DOCUMENT,
    ItemType.PERSON: EXAMPLE_PERSON,
}


# --- the entry points -------------------------------------------------------------------------


def _column_question(column: Column) -> Question:
    return Question(
        id=column.id,
        section="",
        text=column.text,
        type=column.type,
        unit=column.unit,
        required=column.required,
        options=column.options,
        unit_words=column.unit_words,
        confirm_above=column.confirm_above,
        max=column.max,
    )


def _dispatch(
    question: Question, text: str, today: date, example: str, reporting_year: int | None
) -> Result:
    kind = question.type
    unit = question.unit.vi if question.unit else None
    if kind in (ItemType.INTEGER, ItemType.DECIMAL):
        english = (question.unit.en,) if question.unit and question.unit.en else ()
        return parse_number(
            text,
            integer=kind is ItemType.INTEGER,
            unit=unit,
            minimum=question.min,
            maximum=question.max,
            example=example,
            words=(*question.unit_words, *english),
            confirm_above=question.confirm_above,
        )
    if kind is ItemType.YEAR:
        return parse_year(text, question.min, question.max, example)
    if kind is ItemType.DATE:
        return parse_date(text, today)
    if kind is ItemType.DOCUMENT:
        return parse_document(text, today, example=example, reporting_year=reporting_year)
    if kind is ItemType.LIST:
        return parse_list_row(question.columns, text, today, reporting_year=reporting_year)
    if kind is ItemType.COMPUTED:
        return _problem(MSG_COMPUTED, example)
    if kind in (ItemType.CHOICE, ItemType.MULTI_CHOICE):
        choose = parse_choice if kind is ItemType.CHOICE else parse_multi_choice
        return choose(question.options, text, example)
    simple: dict[ItemType, Callable[[str], Result]] = {
        ItemType.YES_NO: _parse_yes_no,
        ItemType.STATUS: parse_status,
        ItemType.TEXT: parse_text,
        ItemType.URL: parse_url,
        ItemType.EMAIL: parse_email,
        ItemType.PHONE: parse_phone,
        ItemType.PERSON: parse_person,
    }
    return simple[kind](text)


# Refusals whose example shows the very shape asked for (a mobile for "10 chữ số").
_OWN_EXAMPLE = frozenset({MSG_MOBILE, MSG_LANDLINE})


def parse_answer(
    question: Question, text: str, today: date, *, reporting_year: int | None = None
) -> Result:
    """Read one typed answer for `question`. Every Problem carries `example_for(question)`.

    A LIST question reads one row (see `parse_list_row`); a COMPUTED one is never typed.
    `reporting_year` is the campaign's (engine Context): documents dated after it are
    questioned.
    """
    example = example_for(question)
    result = _dispatch(question, str(text), today, example, reporting_year)
    if (
        isinstance(result, Problem)
        and result.example != example
        and result.msgid not in _OWN_EXAMPLE
    ):
        return replace(result, example=example)
    return result


def _split_row(text: str, count: int) -> list[str]:
    cleaned = _clean(text)
    if count == 1:
        return [cleaned]
    parts = [p.strip() for p in _PARTS.split(cleaned)]
    while parts and not parts[-1]:
        parts.pop()
    return parts


NO_ROWS = "∅"
"""`parse_list_row`'s value for "không có" typed as a row's name: no such row, not a row."""


def _no_such_row(cells: Sequence[Column], parts: Sequence[str]) -> bool:
    """The row's name (its first column, a text) says "không có", "chưa có", "không"… and the
    other parts are blank or say the same: the official has no such thing to list."""
    if cells[0].type is not ItemType.TEXT or parse_yes_no(parts[0]) is not False:
        return False
    return all(not p or parse_yes_no(p) is False for p in parts[1:])


def _link_to_its_column(cells: Sequence[Column], parts: list[str]) -> list[str]:
    """A row typed as one line with a link inside ("Quyết định 12/QĐ-UBND ngày 15/01/2019
    https://…") when the list has a link column left blank: the link goes to that column."""
    parts = parts + [""] * (len(cells) - len(parts))
    for j, column in enumerate(cells):
        if column.type is not ItemType.URL or parts[j]:
            continue
        for i, part in enumerate(parts):
            if i == j or cells[i].type is ItemType.URL or not part:
                continue
            found = _URL_INSIDE.search(part) or _BARE_DOMAIN.search(part)
            if found is not None and _cut(part, found):
                parts[i], parts[j] = _cut(part, found), found.group(0)
                break
    return parts


def parse_list_row(
    columns: Sequence[Column], text: str, today: date, *, reporting_year: int | None = None
) -> Result:
    """One row of an open list: values in column order separated by ";" (or "|" or new lines).

    Blank optional cells are None; a missing required cell, an extra part or a wrong cell is a
    Problem naming the column. A cell to confirm makes the whole row a Confirm.
    """
    cells = list(columns)
    example = "; ".join(_cell_example(c) for c in cells) or "—"
    if not cells:
        return _problem(MSG_LIST, example)
    parts = _split_row(text, len(cells))
    if not any(parts):
        return _empty(example)
    if _no_such_row(cells, parts):
        return Ok(NO_ROWS)
    parts = _link_to_its_column(cells, parts)
    names = "; ".join(c.text.vi for c in cells)
    if len(parts) > len(cells):
        return _problem(
            MSG_ROW_TOO_MANY, example, given=len(parts), count=len(cells), columns=names
        )
    row: dict[str, Any] = {}
    confirm: Confirm | None = None
    for position, column in enumerate(cells, start=1):
        part = parts[position - 1] if position <= len(parts) else ""
        if not part:
            if column.required:
                return _problem(MSG_ROW_MISSING, example, column=column.text.vi, columns=names)
            row[column.id] = None
            continue
        result = parse_answer(_column_question(column), part, today, reporting_year=reporting_year)
        if isinstance(result, Problem):
            return _problem(
                MSG_ROW_CELL,
                example,
                position=position,
                column=column.text.vi,
                cell_example=_cell_example(column),
                columns=names,
            )
        if isinstance(result, Confirm) and confirm is None:
            confirm = result
        row[column.id] = result.value
    if confirm is not None:
        return Confirm(row, confirm.msgid, confirm.params)
    return Ok(row)


# --- an answer and its evidence in one message ---------------------------------------------

_BARE_DOMAIN = re.compile(
    r"(?<![\w@./-])(?:[a-z0-9-]+\.)+(?:vn|com|net|org|gov|edu|info|io)(?:/\S*)?(?![\w@])",
    re.IGNORECASE,
)
_SPLIT_POINT = re.compile(r"\s*(?:[,;:\n|]|\s[-–—]\s)\s*")
_LINK_WORDS = re.compile(
    r"^(?:[\s,;:|\-–—]*(?:(?:đường|duong)\s*)?(?:link|liên\s*kết|lien\s*ket|minh\s*chứng|"
    r"minh\s*chung|url|tại|tai|xem|lk)\b)*[\s,;:|\-–—]*",
    re.IGNORECASE,
)
_TRAILING_LINK_WORDS = re.compile(
    r"[\s,;:|\-–—]*(?:(?:đường|duong)\s*)?(?:link|liên kết|lien ket)?[\s,;:|\-–—]*$",
    re.IGNORECASE,
)
# Types whose answer never holds a link: a link typed after one asking no evidence is extra.
_LINK_NOT_NEEDED = frozenset(
    {
        ItemType.YES_NO,
        ItemType.INTEGER,
        ItemType.DECIMAL,
        ItemType.CHOICE,
        ItemType.MULTI_CHOICE,
        ItemType.STATUS,
    }
)
_NO_EVIDENCE_SPLIT = frozenset(
    {ItemType.URL, ItemType.DOCUMENT, ItemType.LIST, ItemType.COMPUTED, ItemType.PERSON}
)


def _evidence_of(
    evidence: Evidence, text: str, today: date, reporting_year: int | None
) -> Result | None:
    """The evidence part of a message, as the evidence prompt would read it; None if it is
    not evidence. A document item given only a link keeps the link (number still missing)."""
    rest = _LINK_WORDS.sub("", text).strip()
    if not rest:
        return None
    if evidence is not Evidence.DOCUMENT:
        read = parse_url(rest)
        return None if isinstance(read, Problem) else read
    read = parse_document(rest, today, require_link=True, reporting_year=reporting_year)
    if not isinstance(read, Problem):
        return read
    link = parse_url(rest)
    if isinstance(link, Problem):
        return None
    value = {"number": None, "date": None, "title": None, "link": link.value}
    return replace(link, value=value) if isinstance(link, Confirm) else Ok(value)


def parse_with_evidence(
    question: Question, text: str, today: date, *, reporting_year: int | None = None
) -> tuple[Result, Result] | None:
    """An answer and its evidence typed together: "Có, https://…", "có - link: https://…",
    "25, link: https://…", "Có, 12/KH-UBND ngày 15/01/2019 https://…".

    For items that need evidence, when the message holds a link; also for a yes/no, number
    or choice that asks none ("Có, https://…" at 3.6: the caller keeps the answer and drops
    the link, which reads as evidence.LINK here). The message is cut at
    the first separator ("," ";" ":" " - " a new line) or before the link where the part
    before reads as the answer and the part after as the evidence (a link; or a document,
    for `evidence: document`). Returns (answer result, evidence result), neither a Problem,
    or None when the message is not both.
    """
    if question.type in _NO_EVIDENCE_SPLIT or (
        question.evidence is Evidence.NONE and question.type not in _LINK_NOT_NEEDED
    ):
        return None
    s = _clean(text)
    if len(s) > MAX_TEXT * 2:
        return None
    found = _URL_INSIDE.search(s) or _BARE_DOMAIN.search(s)
    if found is None:
        return None
    points = [m.start() for m in _SPLIT_POINT.finditer(s, 0, found.start())] + [found.start()]
    for point in points:
        head = _TRAILING_LINK_WORDS.sub("", s[:point]).strip()
        if not head:
            continue
        answer = parse_answer(question, head, today, reporting_year=reporting_year)
        if isinstance(answer, Problem):
            continue
        evidence = _evidence_of(question.evidence, s[point:], today, reporting_year)
        if evidence is not None:
            return answer, evidence
    return None


# --- showing stored answers -------------------------------------------------------------------

_YES_NO_TEXT = {True: Text("Có", "Yes"), False: Text("Không", "No")}
_NONE_CHOSEN_TEXT = Text("Không chọn mục nào", "None chosen")
_DOC_NUMBER_PREFIX = Text("Số", "No.")
BLANK = "—"


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # e.g. an int too long to print; a summary must still show something
        return "…"


def _format_number(question: Question, value: Any, lang: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _safe_str(value)
    if isinstance(value, float) and question.type is not ItemType.COMPUTED:
        value = _exact(value)  # a typed decimal is shown with every digit it was saved with
    shown = format_number(lang, value)
    if question.unit is None:
        return shown
    unit = question.unit.get(lang)
    return f"{shown}{unit}" if unit == "%" else f"{shown} {unit}"


def _format_date(value: Any, lang: str) -> str:
    try:
        return format_day(lang, date.fromisoformat(value))
    except (TypeError, ValueError):
        return _safe_str(value)


def _option_text(options: Sequence[Option], value: Any, lang: str) -> str:
    found = next((o for o in options if o.value == value), None)
    return found.text.get(lang) if found else _safe_str(value)


def _format_document(value: Any, lang: str) -> str:
    if not isinstance(value, dict):
        return _safe_str(value)
    parts = []
    if value.get("number"):
        parts.append(f"{_DOC_NUMBER_PREFIX.get(lang)} {value['number']}")
    if value.get("date"):
        parts.append(_format_date(value["date"], lang))
    parts.extend(_safe_str(value[k]) for k in ("title", "link") if value.get(k))
    return ", ".join(parts) or BLANK


def _format_row(columns: Sequence[Column], row: Any, lang: str) -> str:
    if not isinstance(row, dict):
        return _safe_str(row)
    shown = [
        format_answer(_column_question(c), row.get(c.id), lang)
        for c in columns
        if row.get(c.id) is not None
    ]
    return "; ".join(shown) or BLANK


def _format(question: Question, value: Any, lang: str) -> str:
    kind = question.type
    if kind in (ItemType.INTEGER, ItemType.DECIMAL, ItemType.COMPUTED):
        return _format_number(question, value, lang)
    if kind is ItemType.YES_NO and isinstance(value, bool):
        return _YES_NO_TEXT[value].get(lang)
    if kind is ItemType.CHOICE:
        return _option_text(question.options, value, lang)
    if kind is ItemType.MULTI_CHOICE and isinstance(value, list):
        texts = [_option_text(question.options, v, lang) for v in value]
        return ", ".join(texts) if texts else _NONE_CHOSEN_TEXT.get(lang)
    if kind is ItemType.STATUS:
        return status_label(value, lang)
    if kind is ItemType.DATE:
        return _format_date(value, lang)
    if kind is ItemType.DOCUMENT:
        return _format_document(value, lang)
    if kind is ItemType.PHONE and isinstance(value, str):
        return _format_phone(value)
    if kind is ItemType.PERSON and isinstance(value, dict):
        parts = [_safe_str(value[k]) for k in ("name", "position") if value.get(k)]
        return ", ".join(parts) or BLANK
    if kind is ItemType.LIST and isinstance(value, list):
        return "\n".join(_format_row(question.columns, row, lang) for row in value) or BLANK
    return _safe_str(value)


def format_answer(question: Question, value: Any, lang: str) -> str:
    """A stored answer as a summary shows it ("1.234,5 Mbps", "Có", "26/11/2026"); "—" when
    blank. Never raises: an odd stored value is shown as it is."""
    if value is None:
        return BLANK
    lang = normalise_language(lang)
    try:
        return _format(question, value, lang)
    except Exception:  # a summary must never fail on an old or hand-edited value
        return _safe_str(value)
