"""Catalogs: every text marked in the code is translated, placeholders survive, numbers localise."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from string import Formatter

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.i18n import DOMAIN, LANGUAGES, LOCALES_DIR, format_number, ngettext, nt, translate

ROOT = LOCALES_DIR.parent
SOURCE_DIRS = ("bot", "flows", "scoring", "storage")
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}

FIX = """\
Add them with:
    pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project=Phieu \\
        --copyright-holder=Phiếu -o locales/phieu.pot .
    pybabel update -i locales/phieu.pot -d locales -D phieu --no-fuzzy-matching
then translate them in locales/en/LC_MESSAGES/phieu.po and copy msgid to msgstr in
locales/vi/LC_MESSAGES/phieu.po (see locales/README.md)."""


@cache
def code_msgids() -> frozenset[str]:
    """Every msgid marked in the code right now (singular and plural forms)."""
    found: set[str] = set()
    for folder in SOURCE_DIRS:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            forms = message if isinstance(message, tuple) else (message,)
            found.update(f for f in forms if f)
    return frozenset(found)


@cache
def catalog(lang: str) -> Catalog:
    with (LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def entries(lang: str) -> list:
    return [m for m in catalog(lang) if m.id]


def strings(message) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of one entry, plural forms included."""
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strs = message.string if isinstance(message.string, tuple) else (message.string,)
    return [(ids[min(i, len(ids) - 1)], s) for i, s in enumerate(strs)]


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def test_code_has_marked_messages() -> None:
    assert len(code_msgids()) > 50


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_msgid_in_the_code_is_translated(lang: str) -> None:
    cat = catalog(lang)
    missing = sorted(
        msgid
        for msgid in code_msgids()
        if (m := cat.get(msgid)) is None or not all(s for _, s in strings(m))
    )
    assert not missing, (
        f"{len(missing)} msgid(s) missing or untranslated in locales/{lang}:\n"
        + "\n".join(f"  {m!r}" for m in missing)
        + "\n"
        + FIX
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_are_kept(lang: str) -> None:
    wrong = [
        f"{msgid!r}: {sorted(fields(msgid))} != {sorted(fields(msgstr))}"
        for m in entries(lang)
        for msgid, msgstr in strings(m)
        if msgstr and fields(msgid) != fields(msgstr)
    ]
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_fuzzy_entries(lang: str) -> None:
    fuzzy = [m.id or "<header>" for m in catalog(lang) if m.fuzzy]
    assert not fuzzy, f"fuzzy entries in locales/{lang} (review, then drop the flag): {fuzzy}"


def test_vietnamese_catalog_is_the_identity() -> None:
    # Per form: a plural entry has one msgstr in Vietnamese (nplurals=1), the msgid.
    differ = [m.id for m in entries("vi") if any(s and s != i for i, s in strings(m))]
    assert not differ, f"vi msgstr must equal msgid: {differ}"


@pytest.mark.parametrize(
    ("msgid", "params", "english"),
    [
        (
            "Hạn nộp: {deadline} (còn {days} ngày)",
            {"deadline": "26 Nov 2026", "days": 4},
            "Deadline",
        ),
        ("Mục {section}. {title}", {"section": "3", "title": "X"}, "Section 3. X"),
        ("Đã chuyển sang tiếng Việt.", None, "Switched to English."),
        ("🚫 Không áp dụng", None, "🚫 Not applicable"),
        ("Có", None, "Yes"),
    ],
)
def test_translate(msgid: str, params: dict | None, english: str) -> None:
    en = translate("en", msgid, params)
    vi = translate("vi", msgid, params)
    assert english in en and en != vi
    assert vi == (msgid.format_map(params) if params else msgid)


def test_translate_falls_back_to_vietnamese() -> None:
    assert translate("fr", "Có") == "Có"
    assert translate("en-GB", "Có") == "Yes"
    assert translate("en", "not a msgid") == "not a msgid"


@pytest.mark.parametrize(
    ("lang", "value", "shown"),
    [
        ("vi", 1234.5, "1.234,5"),
        ("en", 1234.5, "1,234.5"),
        ("vi", 1234567, "1.234.567"),
        ("en", 1234567, "1,234,567"),
        ("vi", 2.0, "2"),
        ("en", 0.25, "0.25"),
    ],
)
def test_format_number(lang: str, value: float, shown: str) -> None:
    assert format_number(lang, value) == shown


def test_translate_formats_numbers_per_locale() -> None:
    msgid = "Anh/chị vui lòng nhập số không lớn hơn {max}."
    assert "1.500" in translate("vi", msgid, {"max": 1500})
    assert "1,500" in translate("en", msgid, {"max": 1500})


def _babel(lang: str, value: int | Decimal) -> str:
    """What babel itself gives (the reference format_number's fast paths must match)."""
    places = 0
    if isinstance(value, Decimal):
        exponent = value.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    pattern = "#,##0" + ("." + "#" * places if places else "")
    return format_decimal(value, format=pattern, locale=lang)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(LANGUAGES)),
    st.integers(-(10**25), 10**25)
    | st.decimals(allow_nan=False, allow_infinity=False, places=None)
    | st.sampled_from([0, -1, 1000, 999_999, -1_000_000, Decimal("1.50"), Decimal("-0"),
                       Decimal("1E+2"), Decimal("0.000001"), Decimal("-1234.5600")]),
)  # fmt: skip
def test_format_number_gives_what_babel_gives(lang: str, value: int | Decimal) -> None:
    try:
        want = _babel(lang, value)
    except (ArithmeticError, ValueError):  # beyond babel's precision: not compared
        return
    assert format_number(lang, value) == want


@pytest.mark.parametrize(
    ("lang", "n", "said"),
    [("en", 1, "1 use left"), ("en", 2, "2 uses left"), ("en", 0, "0 uses left"),
     ("vi", 1, "còn 1 lần"), ("vi", 5, "còn 5 lần")],
)  # fmt: skip
def test_plural_forms_come_from_the_catalog(lang: str, n: int, said: str) -> None:
    assert nt(lang, ngettext("còn {uses} lần", "còn {uses} lần", n), {"uses": n}) == said
    # {n} is the count itself unless given
    assert nt(lang, ngettext("{count} cơ quan", "{count} cơ quan", n), {"count": n}).startswith(
        str(n)
    )
