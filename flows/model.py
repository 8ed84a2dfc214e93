"""The questionnaire as immutable data: what the loader builds and everything else reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ItemType(StrEnum):
    """Answer types the provincial questionnaires need."""

    INTEGER = "integer"
    DECIMAL = "decimal"
    YES_NO = "yes_no"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    STATUS = "status"
    TEXT = "text"
    DATE = "date"
    YEAR = "year"
    URL = "url"
    EMAIL = "email"
    PHONE = "phone"
    DOCUMENT = "document"
    PERSON = "person"
    LIST = "list"
    COMPUTED = "computed"


class Evidence(StrEnum):
    """What proof an answer needs: a link, or a document number plus a link."""

    NONE = "none"
    LINK = "link"
    DOCUMENT = "document"


STATUS_LEVELS: tuple[str, ...] = ("hoan_chinh", "thu_nghiem", "chua_co")

PREFILL_KEYS: frozenset[str] = frozenset(
    {
        "campaign.year",
        "agency.name",
        "agency.address",
        "agency.website",
        "agency.phone",
        "agency.email",
    }
)
"""What Phiếu already knows and can offer as an answer (`prefill:` in the YAML): the
campaign's reporting year and the agency record's fields (`phieu agencies add`)."""
"""Three-level status values, best first (Hoàn chỉnh / Đang thử nghiệm / Chưa có)."""


@dataclass(frozen=True, slots=True)
class Text:
    """Vietnamese text with an optional English rendering; Vietnamese is the fallback."""

    vi: str
    en: str | None = None

    def get(self, lang: str) -> str:
        if lang == "en" and self.en:
            return self.en
        return self.vi


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    text: Text


@dataclass(frozen=True, slots=True)
class Column:
    """A column of an open list (each added row answers every column)."""

    id: str
    text: Text
    type: ItemType
    unit: Text | None = None
    required: bool = False
    options: tuple[Option, ...] = ()
    unit_words: tuple[str, ...] = ()
    confirm_above: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """One answerable item; table cells are expanded into questions by the loader."""

    id: str
    section: str
    text: Text
    type: ItemType
    context: tuple[Text, ...] = ()
    help: Text | None = None
    unit: Text | None = None
    required: bool = True
    when: str | None = None
    min: float | None = None
    max: float | None = None
    options: tuple[Option, ...] = ()
    columns: tuple[Column, ...] = ()
    evidence: Evidence = Evidence.NONE
    na_allowed: bool = False
    bonus: bool = False
    formula: str | None = None
    example: str | None = None
    printed: str | None = None
    table: str | None = None
    row: str | None = None
    column: str | None = None
    # Words that name what this item counts ("máy chủ", "server" at 3.4), accepted after a
    # number like the unit itself; and the value above which a number is asked about.
    unit_words: tuple[str, ...] = ()
    confirm_above: float | None = None
    prefill: str | None = None

    @property
    def answerable(self) -> bool:
        return self.type is not ItemType.COMPUTED

    def full_text(self, lang: str) -> str:
        """The question with its headings, so a table cell still reads as a whole sentence."""
        parts = [c.get(lang) for c in self.context]
        parts.append(self.text.get(lang))
        return " — ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class CarryOver:
    """Which earlier answers are offered again ("Giữ nguyên"): the same form's always, and
    those of the forms in `forms`, matched by item id; never items under `excluded` (an id
    or an id prefix: a table, a group, a section)."""

    forms: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def carries(self, item_id: str) -> bool:
        return not any(item_id == x or item_id.startswith(x + ".") for x in self.excluded)


@dataclass(frozen=True, slots=True)
class Check:
    """A cross-item rule: when every item it reads has a value, the rule must hold."""

    id: str
    rule: str
    message: Text
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Heading:
    """Display-only structure (groups, tables, rows) kept for outlines and exports."""

    id: str
    text: Text
    depth: int
    kind: str
    help: Text | None = None
    printed: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: Text
    restored: bool = False
    questions: tuple[Question, ...] = ()
    outline: tuple[Heading | Question, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    document: str
    date: str
    issuer: str
    annex: str | None = None
    title: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Form:
    """A whole questionnaire, questions in asking order."""

    id: str
    version: int
    title: Text
    source: Source
    sections: tuple[Section, ...]
    checks: tuple[Check, ...] = ()
    cohorts: tuple[str, ...] = ()
    path: str | None = None
    # The year the answers describe ("2019" forms report on 2019): a document dated later
    # cannot be its evidence. From the YAML `reporting_year`, else the source decision's year.
    reporting_year: int | None = None
    carry_over: CarryOver = field(default_factory=CarryOver)
    _by_id: dict[str, Question] = field(default_factory=dict, repr=False, compare=False)
    _questions: tuple[Question, ...] = field(default=(), init=False, repr=False, compare=False)
    _computed: tuple[Question, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({q.id: q for s in self.sections for q in s.questions})
        # Built once: every update walks the questions several times (issue #8, engine CPU).
        ordered = tuple(q for s in self.sections for q in s.questions)
        object.__setattr__(self, "_questions", ordered)
        computed = tuple(q for q in ordered if q.type is ItemType.COMPUTED and q.formula)
        object.__setattr__(self, "_computed", computed)

    @property
    def questions(self) -> list[Question]:
        """Every question in asking order (a new list: the caller's own)."""
        return list(self._questions)

    @property
    def computed(self) -> tuple[Question, ...]:
        """The computed questions that have a formula, in asking order."""
        return self._computed

    def question(self, item_id: str) -> Question | None:
        return self._by_id.get(item_id)

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    def checks_for(self, item_id: str) -> list[Check]:
        return [c for c in self.checks if item_id in c.items]
