"""The units the questionnaires count and measure in, as data: their names, conversions, bounds.

A number may be typed with a word after it ("12 người", "15 Mbps", "1,5 tỷ"). Which words
name a unit, which other units convert to it and by what factor, and how large a value can
plausibly be, are all in the table below, so a new synonym or bound is a data change, not code.
Words naming the *thing counted* by one item ("máy chủ" at 3.4) are per item, in the form
YAML (`unit_words`, see flows/forms/FORMAT.md).

Keys are folded (`flows.parsing.fold`) with spaces and dots removed: "Tr.đ" → "trd",
"máy tính" → "maytinh".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal


def unit_key(text: str) -> str:
    """ "Tr.đ" → "trd", "Máy tính" → "maytinh": lower case, no accents, no spaces or dots."""
    s = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return re.sub(r"[\s.]", "", s)


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit: the words that name it and what other units are worth in it.

    `convert` maps a word of another unit to the factor that turns it into this unit
    ("ty" → 1000 for Tr.đ: 1,5 tỷ = 1.500 Tr.đ). A converted value is always offered back
    for confirmation, never stored silently. `confirm_above`: a larger value is asked about
    ("lớn bất thường"); `maximum`: a larger value is refused, it cannot be meant.
    `bare` is (word, factor) when a bare number above `confirm_above` is most likely written
    in another unit (a Tr.đ amount typed in đồng: 1.250.000.000 → 1.250 Tr.đ, to confirm).
    `example` is the plausible value shown after "Ví dụ:".
    """

    names: frozenset[str]
    example: float = 12
    convert: dict[str, Decimal] = field(default_factory=dict)
    confirm_above: Decimal | None = None
    maximum: Decimal | None = None
    bare: tuple[str, Decimal] | None = None


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _each(words: str, factor: str) -> dict[str, Decimal]:
    return dict.fromkeys(words.split(), Decimal(factor))


_PEOPLE = _names(
    "nguoi ng canbo cb cbcc cbccvc cbvc congchuc vienchuc nhanvien nv nguoidung "
    "people person persons staff"
)
_MACHINES = _names(
    "may maytinh mt bo chiec cai thietbi tb machine machines computer computers pc pcs "
    "device devices"
)
_MBPS = "mbps mb/s mbit/s mbit mb m"
_GBPS = "gbps gb/s gbit/s gbit gb g"
_KBPS = "kbps kb/s kbit/s kbit kb"
_TY = "ty ti tydong tidong tyd tyvnd"
_DONG = "dong d vnd"
_NGHIN = "nghin ngan nghindong ngandong k"

# Bounds: a province's agencies count people, machines and documents in thousands at most;
# ten times that is asked about, and beyond the country's size it cannot be meant.
UNITS: tuple[Unit, ...] = (
    Unit(_PEOPLE, 12, confirm_above=Decimal(10_000), maximum=Decimal(10_000_000)),
    Unit(_MACHINES, 25, confirm_above=Decimal(10_000), maximum=Decimal(10_000_000)),
    Unit(
        _names(_MBPS),
        15,
        convert=_each(_GBPS, "1000") | _each(_KBPS, "0.001"),
        confirm_above=Decimal(100_000),
        maximum=Decimal(100_000_000),
    ),
    Unit(
        _names(_GBPS),
        1,
        convert=_each(_MBPS, "0.001"),
        confirm_above=Decimal(100),
        maximum=Decimal(100_000),
    ),
    Unit(
        _names("trd tr trieu trieudong trdong trieud trvnd trieuvnd million millionvnd"),
        150,
        convert=_each(_TY, "1000") | _each(_DONG, "0.000001") | _each(_NGHIN, "0.001"),
        confirm_above=Decimal(1_000_000),
        maximum=Decimal(1_000_000_000),
        bare=("đồng", Decimal("0.000001")),
    ),
    Unit(_names(_TY), 2, convert=_each("trd tr trieu trieudong", "0.001")),
    Unit(_names(_DONG), 5_000_000, convert=_each("trd tr trieu trieudong", "1000000")),
    Unit(_names("% phantram percent"), 85, maximum=Decimal(100)),
    Unit(_names("thutuc tt tthc procedure procedures"), 120),
    Unit(_names("hoso hs dossier dossiers"), 1250),
    Unit(_names("ketqua kq result results"), 1200),
    Unit(_names("donvi dv unit units")),
    Unit(_names("ungdung phanmem pm application applications software")),
    Unit(_names("hethong ht system systems")),
    Unit(_names("lan luot time times")),
    Unit(_names("vanban vb document documents")),
    Unit(_names("tin bai tinbai baiviet article articles news")),
    Unit(_names("phong ban phongban department departments")),
    Unit(_names("chukyso cks signature signatures")),
    Unit(_names("cuochop cuoc meeting meetings")),
    Unit(_names("ykien comment comments opinion opinions")),
    Unit(_names("diem point points")),
)

# Words that may follow a number whose question names no unit: counts of people or things.
COUNT_WORDS: frozenset[str] = _PEOPLE | _MACHINES | _names("donvi lan luot")

# Any count or amount: beyond this it is not a figure of an agency, and beyond 15 digits a
# decimal would no longer be stored exactly (binary floating point keeps 15).
ANY_MAXIMUM = Decimal(10) ** 15


def unit_of(text: str) -> Unit | None:
    """The unit a word names ("triệu" → Tr.đ), or None."""
    key = unit_key(text)
    return next((u for u in UNITS if key in u.names), None)


def units_of(unit: str) -> list[Unit]:
    """The units a question's unit names; a unit may list alternatives ("tin, bài, văn bản")."""
    found = [unit_of(unit)] + [unit_of(part) for part in re.split(r"[,/;]", unit)]
    out: list[Unit] = []
    for u in found:
        if u is not None and u not in out:
            out.append(u)
    return out
