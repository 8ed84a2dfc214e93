"""Answers out (issue #9): a workbook with a sheet per cohort — one row per target agency,
one column per item in form order — and a long history sheet; or the same as CSV.

Headers carry the printed number, the question text and the unit; numbers stay numbers (so
sums work); "không áp dụng" is written with its reason; an item asking evidence gets a
column of its own, its link a hyperlink; the late flag is judged on the first submission.
The workbook is written by openpyxl through bot/desk/xlsx.py (a cell is never a formula;
formula-like text gets the quote prefix), CSV through bot/desk/cells.py's `csv_safe`. The
campaign is read a chunk of submissions at a time, answers as their stored JSON text: each
distinct stored answer is decoded and formatted once per export (`Memo`), so memory stays
bounded by the chunk, the memo and what openpyxl keeps of a sheet until it is saved (its
hyperlinks): 5,000 submissions ≈ 400 MB, ≈ 460 MB with a million history rows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.desk.cells import csv_safe
from bot.desk.directory import COHORT_LABELS
from bot.desk.targets import campaign_agencies
from bot.desk.text import tr
from flows.i18n import N_
from flows.model import Evidence, Form, ItemType, Question
from flows.parsing import format_answer
from flows.progress import (
    ANSWERING,
    NOT_STARTED,
    STAGE_LABELS,
    is_late,
    stage_label,
    stage_of,
)
from flows.prompts import evidence_text
from flows.state import Answer
from storage._desk import HistoryText, Stored, answer_of_text, stored_answer
from storage.records import AgencyRec, CampaignRec
from storage.repository import Storage

if TYPE_CHECKING:
    from bot.desk.xlsx import Sheet

CHUNK = 250  # submissions read per query
_NUMERIC = (ItemType.INTEGER, ItemType.DECIMAL, ItemType.COMPUTED)


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: an item's answer, or the evidence of an item that asks for it."""

    question: Question
    evidence: bool = False

    def header(self, lang: str) -> str:
        q = self.question
        number = q.printed or q.id
        text = f"{number} {q.full_text(lang)}"
        if q.unit is not None:
            text += f" ({q.unit.get(lang)})"
        if self.evidence:
            text += " — " + tr(N_("minh chứng"), None, lang)
        return text


def columns_of(form: Form) -> list[Column]:
    """Every item in the form's order, each evidence column right after its item."""
    out = []
    for q in form.questions:
        out.append(Column(q))
        if q.evidence is not Evidence.NONE:
            out.append(Column(q, evidence=True))
    return out


def evidence_link(evidence: Any) -> str | None:
    """The http(s) link of stored evidence (a link, or a document/file with one)."""
    link = evidence.get("link") if isinstance(evidence, dict) else evidence
    if isinstance(link, str) and link.lower().startswith(("http://", "https://")):
        return link
    return None


def answer_text(q: Question, a: Answer | None, lang: str) -> str:
    """How an answer reads in the history sheet and in CSV for non-numbers."""
    if a is None:
        return ""
    if a.is_na:
        return tr(N_("không áp dụng: {reason}"), {"reason": a.na_reason or ""}, lang)
    text = format_answer(q, a.value, lang) if a.value is not None else ""
    if a.evidence:
        text += " 📎 " + evidence_text(a.evidence, lang)
    return text


def value_of(col: Column, a: Answer | None, lang: str) -> tuple[Any, str | None]:
    """(cell value, hyperlink or None) of one column for one agency."""
    if a is None:
        return None, None
    q = col.question
    if col.evidence:
        if a.evidence is None:
            return None, None
        return evidence_text(a.evidence, lang), evidence_link(a.evidence)
    if a.is_na:
        return tr(N_("không áp dụng: {reason}"), {"reason": a.na_reason or ""}, lang), None
    v = a.value
    if v is None:
        return None, None
    if q.type in _NUMERIC and isinstance(v, int | float | Decimal) and not isinstance(v, bool):
        return v, None
    if q.type is ItemType.URL and isinstance(v, str):
        return v, evidence_link(v)
    return format_answer(q, v, lang), None


Cell = tuple[Any, str | None]  # (cell value, hyperlink or None)
_EMPTY: Cell = (None, None)
# Distinct stored answers whose cell (or history text) an export remembers, every column (or
# item) together: ~40 MB at most each. A million answers repeat far fewer (choices, links).
REMEMBERED = 150_000


class Memo:
    """Pure functions' results remembered by their argument, `limit` entries in all for
    every function made by `of` (one Memo per export: its memory stays bounded)."""

    def __init__(self, limit: int = REMEMBERED) -> None:
        self.left = limit

    def of(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """`fn`, remembered while the Memo has room (a full one still gives fn's result)."""
        seen: dict[Any, Any] = {}

        def remembered(key: Any) -> Any:
            found = seen.get(key, seen)
            if found is seen:
                found = fn(key)
                if self.left > 0:
                    seen[key] = found
                    self.left -= 1
            return found

        return remembered


def column_plan(col: Column, lang: str, memo: Memo) -> Callable[[Stored | None], Cell]:
    """`value_of(col, stored_answer(·), lang)` of a stored answer (`answer_texts`), the cell
    of each distinct stored answer made once per export (a choice, a level, a yes/no, the
    same evidence link: decoded and formatted once, not once per agency)."""

    def made(stored: Stored | None) -> Cell:
        return _EMPTY if stored is None else value_of(col, stored_answer(stored), lang)

    return memo.of(made)  # type: ignore[no-any-return]


def _cohort_title(cohort: str) -> str:
    return COHORT_LABELS.get(cohort, cohort)


class _Sink:
    """Where rows go: a workbook (sheets per cohort + history) or CSV files."""

    def start(self, cohorts: list[str], headers: list[str]) -> None: ...
    def row(self, cohort: str, values: list[tuple[Any, str | None]]) -> None: ...
    def history(self, values: list[Any]) -> None: ...
    def close(self) -> None: ...


class XlsxSink(_Sink):
    """The workbook (openpyxl write-only, bot/desk/xlsx.py): a sheet per cohort, its rows
    given a cohort at a time, then the history sheet(s)."""

    # Excel holds 1,048,576 rows a sheet: a longer history continues on "Lịch sử (2)"…
    rows_per_sheet = 1_048_575

    def __init__(self, path: Path, lang: str, history_headers: list[str]) -> None:
        from bot.desk.xlsx import XlsxBook  # openpyxl: only when a workbook is written

        self.book = XlsxBook(path)
        self.history_headers = history_headers
        self.lang = lang
        self.headers: list[str] = []
        self._sheet: Sheet | None = None
        self._cohort: str | None = None
        self._history_sheets = 0
        self._in_sheet = 0

    def start(self, cohorts: list[str], headers: list[str]) -> None:
        self.headers = headers

    def _new_sheet(self, title: str, freeze: str, headers: list[str]) -> Sheet:
        ws = self.book.sheet(title, freeze=freeze)
        ws.filter = True
        ws.append(headers, bold=True)
        return ws

    def row(self, cohort: str, values: list[tuple[Any, str | None]]) -> None:
        if cohort != self._cohort:  # the next cohort's sheet; the rows come a cohort at a time
            # the header row and the agency's name stay in view
            self._sheet = self._new_sheet(_cohort_title(cohort), "B2", self.headers)
            self._cohort = cohort
        assert self._sheet is not None
        links = {i: link for i, (_, link) in enumerate(values) if link is not None}
        self._sheet.append([v for v, _ in values], links)

    def _new_history_sheet(self) -> None:
        self._history_sheets += 1
        title = tr(N_("Lịch sử"), None, self.lang)
        if self._history_sheets > 1:
            title += f" ({self._history_sheets})"
        self._sheet = self._new_sheet(title, "A2", self.history_headers)
        self._cohort = None
        self._in_sheet = 0

    def history(self, values: list[Any]) -> None:
        # Excel's limit (and the first change): continue on a new sheet
        if not self._history_sheets or self._in_sheet >= self.rows_per_sheet:
            self._new_history_sheet()
        assert self._sheet is not None
        self._sheet.append(values)
        self._in_sheet += 1

    def close(self) -> None:
        if not self._history_sheets:  # no history asked, or none yet: the sheet's headers
            self._new_history_sheet()
        self.book.close()


class CsvSink(_Sink):
    """FILE.csv (every agency, a cohort column first) and FILE-lich-su.csv (history), UTF-8
    with a BOM so Excel opens Vietnamese right."""

    def __init__(self, path: Path, lang: str, history_headers: list[str]) -> None:
        self.path = path
        self.history_path = path.with_name(f"{path.stem}-lich-su{path.suffix or '.csv'}")
        self.lang = lang
        self._fh = path.open("w", encoding="utf-8-sig", newline="")
        self._hfh = self.history_path.open("w", encoding="utf-8-sig", newline="")
        self._out = csv.writer(self._fh)
        self._hout = csv.writer(self._hfh)
        self._hout.writerow([csv_safe(h) for h in history_headers])

    def start(self, cohorts: list[str], headers: list[str]) -> None:
        self._out.writerow([csv_safe(h) for h in [tr(N_("Nhóm"), None, self.lang), *headers]])

    def row(self, cohort: str, values: list[tuple[Any, str | None]]) -> None:
        self._out.writerow([csv_safe(_cohort_title(cohort))] + [csv_safe(v) for v, _ in values])

    def history(self, values: list[Any]) -> None:
        self._hout.writerow([csv_safe(v) for v in values])

    def close(self) -> None:
        self._fh.close()
        self._hfh.close()


@dataclass(frozen=True, slots=True)
class ExportResult:
    agencies: int
    submissions: int
    history: int
    files: tuple[Path, ...]


def _local(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    return at.astimezone(tz) if at is not None else None


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def export_answers(
    storage: Storage,
    campaign: CampaignRec,
    form: Form,
    path: Path,
    fmt: str = "xlsx",
    lang: str = "vi",
    step: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    history: bool = True,
) -> ExportResult:
    """Write the campaign's answers to `path` (fmt "xlsx" or "csv"); `step(n)` is called as
    n agencies are written, for a progress bar; `history` False leaves the history out.
    Reads in short units (one per chunk), so a long export never holds the database."""
    tz, tzname, deadline = ZoneInfo(campaign.timezone), campaign.timezone, campaign.deadline
    async with storage.unit() as unit:
        agencies = await campaign_agencies(unit, campaign)
        subs = {s.agency_id: s for s in await unit.list_submissions(campaign.id)}
        first = await unit.first_submissions(campaign.id)
    columns = columns_of(form)
    lead = [N_("Cơ quan"), N_("Mã"), N_("Tình trạng"), N_("Ngày nộp"), N_("Muộn")]
    headers = [tr(h, None, lang) for h in lead] + [c.header(lang) for c in columns]
    history_headers = [
        tr(h, None, lang)
        for h in (
            N_("Mã"),
            N_("Cơ quan"),
            N_("Câu"),
            N_("Người"),
            N_("Thời điểm"),
            N_("Kênh"),
            N_("Cũ"),
            N_("Mới"),
        )
    ]
    sink: _Sink = (
        CsvSink(path, lang, history_headers)
        if fmt == "csv"
        else XlsxSink(path, lang, history_headers)
    )
    cohorts = list(dict.fromkeys(a.cohort for a in agencies))
    # A cohort's rows together: the workbook writes one sheet whole before the next.
    # campaign_agencies orders by cohort already; this keeps the sink's rule if that changes.
    order = {c: i for i, c in enumerate(cohorts)}
    agencies = sorted(agencies, key=lambda a: order[a.cohort])
    yes = tr(N_("có"), None, lang)
    memo = Memo()  # the cohort sheets' cells
    plans = [(c.question.id, column_plan(c, lang, memo)) for c in columns]
    labels = {stage: stage_label(lang, stage) for stage in STAGE_LABELS}
    history_rows = 0
    try:
        sink.start(cohorts, headers)
        for part in _chunks(agencies, chunk):
            ids = [subs[a.id].id for a in part if a.id in subs]
            async with storage.unit() as unit:
                answers = await unit.answer_texts(ids)
            for a in part:
                sub = subs.get(a.id)
                given = answers.get(sub.id, {}) if sub else {}
                submitted = first.get(sub.id) or sub.submitted_at if sub else None
                stage = stage_of(sub.status if sub else None, bool(given))
                arrived = stage not in (ANSWERING, NOT_STARTED)
                late = arrived and submitted is not None and is_late(submitted, deadline, tzname)
                values: list[tuple[Any, str | None]] = [
                    (a.name, None),
                    (a.code, None),
                    (labels[stage], None),
                    (
                        _local(submitted, tz)
                        if stage not in ("answering", "not_started")
                        else None,
                        None,
                    ),
                    (yes if late else None, None),
                ]
                get = given.get
                values += [plan(get(item)) for item, plan in plans]
                sink.row(a.cohort, values)
            if step:
                step(len(part))
        by_id = {a.id: a for a in agencies}
        # A memo of its own: the cohort sheets' numbers may have filled theirs.
        rows = HistoryRows(by_id, form, tz, lang, Memo())
        sub_ids = [subs[a.id].id for a in agencies if a.id in subs]
        values = rows.values
        for part in _chunks(sub_ids if history else [], chunk):
            async with storage.unit() as unit:
                changes = await unit.history_texts(part)
            for h in changes:
                sink.history(values(h))
            history_rows += len(changes)
    finally:
        sink.close()
    files = (path, sink.history_path) if isinstance(sink, CsvSink) else (path,)
    return ExportResult(len(agencies), len(subs), history_rows, files)


class HistoryRows:
    """The history sheet's rows, made cheap: each agency's code and name, each item's label
    and the text of each distinct stored old/new answer of an item worked out once per
    export (most changes repeat: the same choices, links, "không áp dụng"; a repeat is
    found by its stored JSON text, never decoded), each local time once."""

    def __init__(
        self, agencies: dict[int, AgencyRec], form: Form, tz: ZoneInfo, lang: str, memo: Memo
    ) -> None:
        self.agencies = {i: (a.code, a.name) for i, a in agencies.items()}
        self.form, self.tz, self.lang, self.memo = form, tz, lang, memo
        self.items: dict[str, tuple[str, Callable[[str | None], str]]] = {}
        self.times: dict[datetime, datetime] = {}

    def _item(self, item_id: str) -> tuple[str, Callable[[str | None], str]]:
        q = self.form.question(item_id)
        if q is None:
            return item_id, lambda t: str(answer_of_text(t) or "")
        lang = self.lang
        return q.printed or q.id, self.memo.of(lambda t: answer_text(q, answer_of_text(t), lang))

    def values(self, h: HistoryText) -> list[Any]:
        """[code, agency, item, who, local time, channel, old, new] of one change."""
        agency_id, item_id, old, new, user_name, channel, at = h
        item = self.items.get(item_id)
        if item is None:
            item = self.items[item_id] = self._item(item_id)
        label, text = item
        code, name = self.agencies.get(agency_id, ("", ""))
        local = self.times.get(at)
        if local is None:
            local = at.astimezone(self.tz)
            if len(self.times) < 10_000:
                self.times[at] = local
        return [code, name, label, user_name or "", local, channel, text(old), text(new)]


def _history_values(
    h: HistoryText, agencies: dict[int, AgencyRec], form: Form, tz: ZoneInfo, lang: str
) -> list[Any]:
    """One history row, the slow way (kept as the reference HistoryRows must match)."""
    q = form.question(h.item_id)
    agency = agencies.get(h.agency_id)
    item = (q.printed or q.id) if q is not None else h.item_id
    old, new = answer_of_text(h.old), answer_of_text(h.new)
    return [
        agency.code if agency else "",
        agency.name if agency else "",
        item,
        h.user_name or "",
        h.at.astimezone(tz),
        h.channel,
        answer_text(q, old, lang) if q is not None else str(old or ""),
        answer_text(q, new, lang) if q is not None else str(new or ""),
    ]
