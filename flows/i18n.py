"""Gettext catalogs for user-facing text: Vietnamese first, English complete.

Vietnamese is the source language: code marks Vietnamese text with ``N_("…")`` (a no-op
the extractor knows) and passes the msgid around; the text is translated only when a reply is
rendered for one user's language, so the pure engine needs no global locale. The ``en``
catalog must translate every msgid (a test enforces it); ``vi`` is the identity. Catalogs
are the ``.po`` files in ``locales/``, compiled in memory on first use: no build step.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, format_decimal, parse_pattern

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "phieu"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


def N_(msgid: str) -> str:
    """Mark a msgid for extraction without translating it yet."""
    return msgid


class Plural(NamedTuple):
    """A msgid with its plural form and the count choosing between them (see `ngettext`)."""

    singular: str
    plural: str
    n: int


def ngettext(singular: str, plural: str, n: int) -> Plural:
    """Mark a msgid pair for extraction, like N_ (the extractor knows `ngettext` by
    default), keeping the count that picks the form; `nt` translates it. Vietnamese has
    one form, so both texts are the same Vietnamese; English gets "1 agency" and
    "2 agencies" from the catalog's msgstr[0] / msgstr[1]."""
    return Plural(singular, plural, n)


def nt(lang: str, message: Plural, params: Mapping[str, Any] | None = None) -> str:
    """The form of `message` for its count in `lang` (gettext's plural rule of the
    catalog), fields filled as in `translate`; `{n}` is the count unless `params` gives it."""
    text = translations(normalise_language(lang)).ngettext(*message)
    values = {"n": message.n, **(params or {})}
    return text.format_map({k: format_value(lang, v) for k, v in values.items()})


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of one language (NullTranslations if there is none)."""
    po = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def normalise_language(lang: str | None) -> str:
    if lang:
        short = lang.split("-")[0].split("_")[0].lower()
        if short in LANGUAGES:
            return short
    return DEFAULT_LANGUAGE


def translate(lang: str, msgid: str, params: Mapping[str, Any] | None = None) -> str:
    """Translate a msgid and fill its ``{name}`` fields, formatting numbers per locale."""
    text = translations(normalise_language(lang)).gettext(msgid)
    if not params:
        return text
    return text.format_map({k: format_value(lang, v) for k, v in params.items()})


def format_number(lang: str, value: float | int | Decimal) -> str:
    """1234.5 → "1.234,5" in Vietnamese, "1,234.5" in English. Floats (computed values) show
    at most 3 decimals; a Decimal shows every digit it has, so a typed 1,2345 is shown whole.

    Remembered per (language, type, value): babel's formatting was a twentieth of an
    update, mostly on the same few numbers (issue #8). A Decimal is keyed by its text,
    which keeps its digits (1.50 and 1.5 are equal but shown differently)."""
    lang = normalise_language(lang)
    if isinstance(value, Decimal):
        if not value.is_finite():  # a signalling NaN cannot be hashed: not remembered
            return _format_number.__wrapped__(lang, Decimal, None, value)
        return _format_number(lang, Decimal, str(value), value)
    return _format_number(lang, type(value), value, value)


@lru_cache(maxsize=4096)
def _format_number(lang: str, _kind: type, _key: object, value: float | int | Decimal) -> str:
    """format_number's work; `_kind` and `_key` only make the cache key exact."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if type(value) is int:  # not bool: babel's path, as before
        return format(value, ",").translate(_symbols(lang))
    pattern = "#,##0.###"
    if isinstance(value, Decimal) and value.is_finite():
        return format(value.normalize(), ",f").translate(_symbols(lang))
    # Locale and pattern parsed once (babel parses both on every call otherwise).
    return format_decimal(value, locale=_locale(lang), format=_pattern(pattern))


@cache
def _symbols(lang: str) -> dict[int, str]:
    """Python's "," "." "-" as the language writes them (vi: 1.234,5), for str.translate."""
    symbols = _locale(lang).number_symbols
    own = symbols.get("latn", symbols)
    return str.maketrans({",": own["group"], ".": own["decimal"], "-": own["minusSign"]})


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


@cache
def _pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


def format_day(lang: str, value: date) -> str:
    """Dates as officials write them: 26/11/2026 (vi) or 26 Nov 2026 (en)."""
    if normalise_language(lang) == "vi":
        return value.strftime("%d/%m/%Y")
    return format_date(value, format="d MMM y", locale="en")


def format_value(lang: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return format_number(lang, value)
    if isinstance(value, date):
        return format_day(lang, value)
    return value
