"""Answers out (issue #9): a workbook with a sheet per cohort — one row per target agency,
one column per item in form order — and the history of every change; or the same as CSV.

Headers carry the printed number, the question text and the unit; numbers stay numbers (so
sums work); "không áp dụng" is written with its reason; an item asking evidence gets a
column of its own, its link a hyperlink; the late flag is judged on the first submission.
The workbook is written by openpyxl through bot/desk/xlsx.py (a cell is never a formula;
formula-like text gets the quote prefix), CSV through bot/desk/cells.py's `csv_safe`
(bot/desk/answer_sinks.py).

`produce` reads the campaign a chunk of submissions at a time, answers as their stored JSON
text (each distinct stored answer decoded and formatted once per export, `Memo`), and hands
the rows on; `export_answers` runs it in a second process when it can (bot/desk/elsewhere.py:
openpyxl's cell-by-cell work is most of the time, so the reading and formatting go to the
other core). The history goes to the workbook's "Lịch sử" sheet up to HISTORY_SHEET_ROWS
changes, past that to FILE-lich-su.csv beside it, written by the second process meanwhile
(`--history` forces either). 5,000 submissions with a million changes: ≈ 22 s, the workbook
side ≈ 230 MB and the second process ≈ 190 MB (bench/desk_bench.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from bot.desk.answer_sinks import (
    CsvAnswers,
    CsvHistory,
    Row,
    XlsxSink,
    history_csv_path,
)
from bot.desk.cells import csv_safe
from bot.desk.files import check_writable
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

CHUNK = 250  # submissions read per query
# A year too: 2019 is a number an administrator filters and sorts, not text.
_NUMERIC = (ItemType.INTEGER, ItemType.DECIMAL, ItemType.COMPUTED, ItemType.YEAR)


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
    if q.type is ItemType.DOCUMENT and isinstance(v, dict):  # its link opens the document
        return format_answer(q, v, lang), evidence_link(v)
    return format_answer(q, v, lang), None


Cell = tuple[Any, str | None]  # (cell value, hyperlink or None)
_EMPTY: Cell = (None, None)
_MISSING = object()
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
        return self.table(fn)[1]

    def table(self, fn: Callable[[Any], Any]) -> tuple[dict[Any, Any], Callable[[Any], Any]]:
        """(what is remembered, `of(fn)`): a caller on a million-row path looks a key up in
        the dict itself and calls the function only when it is not there."""
        seen: dict[Any, Any] = {}

        def remembered(key: Any) -> Any:
            found = seen.get(key, seen)
            if found is seen:
                found = fn(key)
                if self.left > 0:
                    seen[key] = found
                    self.left -= 1
            return found

        return seen, remembered


def column_plan(col: Column, lang: str, memo: Memo) -> Callable[[Stored | None], Cell]:
    """`value_of(col, stored_answer(·), lang)` of a stored answer (`answer_texts`), the cell
    of each distinct stored answer made once per export (a choice, a level, a yes/no, the
    same evidence link: decoded and formatted once, not once per agency)."""

    def made(stored: Stored | None) -> Cell:
        return _EMPTY if stored is None else value_of(col, stored_answer(stored), lang)

    return memo.of(made)  # type: ignore[no-any-return]


HistoryMode = Literal["auto", "sheet", "csv", "none"]
HISTORY_MODES: tuple[str, ...] = ("auto", "sheet", "csv", "none")
# Under "auto", a history longer than this goes to its own CSV file: openpyxl writes a
# history row in ~75–150 µs (a million rows: two minutes, a file Excel opens slowly), the
# csv module in ~2 µs. A province (~250 agencies × ~200 changes) stays in the workbook.
HISTORY_SHEET_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Job:
    """What an export's rows are made from — picklable, so a second process can make them.
    `history`: "sheet" (rows handed on), "csv" (written to `history_path` by the maker of
    the rows) or "none"."""

    campaign: CampaignRec
    form: Form
    lang: str
    chunk: int
    history: str
    history_path: Path | None = None


@dataclass(frozen=True, slots=True)
class Made:
    """What `produce` made: target agencies, submissions, history rows."""

    agencies: int
    submissions: int
    history: int


class Receiver(Protocol):
    """Where `produce` hands its rows, in this order: every cohort sheet's rows (a batch
    per chunk, `rows`), `answers_done`, then the history rows (`history`, "sheet" only)."""

    def rows(self, batch: list[tuple[str, Row]]) -> None: ...
    def answers_done(self) -> None: ...
    def history(self, batch: list[list[Any]]) -> None: ...


def headers_of(form: Form, lang: str) -> list[str]:
    """The cohort sheets' header row: the agency's lead columns, then every column."""
    lead = [N_("Cơ quan"), N_("Mã"), N_("Tình trạng"), N_("Ngày nộp"), N_("Muộn")]
    return [tr(h, None, lang) for h in lead] + [c.header(lang) for c in columns_of(form)]


def _local(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    return at.astimezone(tz) if at is not None else None


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def produce(storage: Storage, job: Job, out: Receiver) -> Made:
    """Read the campaign a chunk at a time (one short unit per chunk, so a long export
    never holds the database) and hand its rows to `out`; a "csv" history is written here
    to `job.history_path`. Pure of where the rows go: the same in a second process."""
    campaign, form, lang, chunk = job.campaign, job.form, job.lang, job.chunk
    tz, tzname, deadline = ZoneInfo(campaign.timezone), campaign.timezone, campaign.deadline
    async with storage.unit() as unit:
        agencies = await campaign_agencies(unit, campaign, form)
        subs = {s.agency_id: s for s in await unit.list_submissions(campaign.id)}
        first = await unit.first_submissions(campaign.id)
    cohorts = list(dict.fromkeys(a.cohort for a in agencies))
    # A cohort's rows together: the workbook writes one sheet whole before the next.
    # campaign_agencies orders by cohort already; this keeps the sink's rule if that changes.
    order = {c: i for i, c in enumerate(cohorts)}
    agencies = sorted(agencies, key=lambda a: order[a.cohort])
    yes = tr(N_("có"), None, lang)
    memo = Memo()  # the cohort sheets' cells
    plans = [(c.question.id, column_plan(c, lang, memo)) for c in columns_of(form)]
    labels = {stage: stage_label(lang, stage) for stage in STAGE_LABELS}
    for part in _chunks(agencies, chunk):
        ids = [subs[a.id].id for a in part if a.id in subs]
        async with storage.unit() as unit:
            answers = await unit.answer_texts(ids)
        batch: list[tuple[str, Row]] = []
        for a in part:
            sub = subs.get(a.id)
            given = answers.get(sub.id, {}) if sub else {}
            submitted = first.get(sub.id) or sub.submitted_at if sub else None
            stage = stage_of(sub.status if sub else None, bool(given))
            arrived = stage not in (ANSWERING, NOT_STARTED)
            late = arrived and submitted is not None and is_late(submitted, deadline, tzname)
            values: Row = [
                (a.name, None),
                (a.code, None),
                (labels[stage], None),
                (_local(submitted, tz) if arrived else None, None),
                (yes if late else None, None),
            ]
            get = given.get
            values += [plan(get(item)) for item, plan in plans]
            batch.append((a.cohort, values))
        out.rows(batch)
    out.answers_done()
    history_rows = 0
    if job.history in ("sheet", "csv"):
        to_csv = job.history == "csv"
        # A memo of its own: the cohort sheets' numbers may have filled theirs.
        made = HistoryRows({a.id: a for a in agencies}, form, tz, lang, Memo(), csv=to_csv)
        sub_ids = [subs[a.id].id for a in agencies if a.id in subs]
        sink = CsvHistory(job.history_path, lang) if to_csv and job.history_path else None
        hand_on = sink.history if sink is not None else out.history
        try:
            values_of = made.values
            for part in _chunks(sub_ids, chunk):
                async with storage.unit() as unit:
                    changes = await unit.history_texts(part)
                hand_on([values_of(h) for h in changes])
                history_rows += len(changes)
        except BaseException:
            if sink is not None:
                sink.discard()
            raise
        if sink is not None:  # complete: in place (the workbook is put in place after it)
            sink.finish()
            sink.commit()
    return Made(len(agencies), len(subs), history_rows)


@dataclass(frozen=True, slots=True)
class ExportResult:
    agencies: int
    submissions: int
    history: int
    files: tuple[Path, ...]


class _Writer:
    """The receiver in this process: rows into the sink, the progress bar stepped; the
    workbook saved (under its temporary name) as soon as its last sheet is written, while
    a second process may still be writing a history kept apart, and put in place only once
    the whole export has succeeded (`commit`), else removed (`discard`)."""

    def __init__(
        self, sink: XlsxSink | CsvAnswers, job: Job, step: Callable[[int], None] | None
    ) -> None:
        self.sink, self.job, self.step = sink, job, step
        self.finished = False

    def rows(self, batch: list[tuple[str, Row]]) -> None:
        self.sink.rows(batch)
        if self.step:
            self.step(len(batch))

    def answers_done(self) -> None:
        if self.job.history == "sheet":
            return
        if self.job.history == "csv" and isinstance(self.sink, XlsxSink):
            assert self.job.history_path is not None
            self.sink.history_elsewhere(self.job.history_path)
        self.finish()

    def history(self, batch: list[list[Any]]) -> None:
        assert isinstance(self.sink, XlsxSink)
        self.sink.history(batch)

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.sink.finish()


async def history_mode(storage: Storage, campaign: CampaignRec, fmt: str, asked: str) -> str:
    """Where the history goes: "none" when not asked; always its own file with CSV; under
    "auto" the workbook's sheet up to HISTORY_SHEET_ROWS changes, else its own CSV file.
    Raises ValueError for a mode not in HISTORY_MODES."""
    if asked not in HISTORY_MODES:
        raise ValueError(f"history mode {asked!r}: one of {', '.join(HISTORY_MODES)}")
    if asked == "none":
        return "none"
    if fmt == "csv":
        return "csv"
    if asked != "auto":
        return asked
    async with storage.unit() as unit:
        count = await unit.history_count(campaign.id)
    return "sheet" if count <= HISTORY_SHEET_ROWS else "csv"


async def export_answers(
    storage: Storage,
    campaign: CampaignRec,
    form: Form,
    path: Path,
    fmt: str = "xlsx",
    lang: str = "vi",
    step: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    history: str = "auto",
    elsewhere: bool | None = None,
) -> ExportResult:
    """Write the campaign's answers to `path` (fmt "xlsx" or "csv"); `step(n)` is called as
    n agencies are written, for a progress bar. `history`: "auto" (the workbook's sheet, or
    FILE-lich-su.csv past HISTORY_SHEET_ROWS changes), "sheet", "csv" or "none"; with CSV
    the history is always FILE-lich-su.csv.

    `elsewhere`: the rows are read and made in a second process while this one writes them
    (None: when the machine has a second core and the database a second process can open —
    not an in-memory SQLite); the content is the same either way. Raises OSError when a
    file cannot be written, ExportFailed when the second process fails."""
    mode = await history_mode(storage, campaign, fmt, history)
    job = Job(campaign, form, lang, chunk, mode, history_csv_path(path) if mode == "csv" else None)
    for target in (path, job.history_path):
        if target is not None:
            check_writable(target)
    if elsewhere is None:
        elsewhere = (os.cpu_count() or 1) > 1 and storage.reopen is not None
    sink: XlsxSink | CsvAnswers = CsvAnswers(path, lang) if fmt == "csv" else XlsxSink(path, lang)
    writer = _Writer(sink, job, step)
    try:
        sink.start(headers_of(form, lang))
        if elsewhere:
            from bot.desk.elsewhere import produce_elsewhere

            made = await produce_elsewhere(storage, job, writer)
        else:
            made = await produce(storage, job, writer)
        writer.finish()
    except BaseException:
        sink.discard()
        raise
    sink.commit()
    files = (path, job.history_path) if job.history_path is not None else (path,)
    return ExportResult(made.agencies, made.submissions, made.history, files)


class HistoryRows:
    """The history sheet's rows, made cheap: each agency's code and name, each item's label
    and the text of each distinct stored old/new answer of an item worked out once per
    export (most changes repeat: the same choices, links, "không áp dụng"; a repeat is
    found by its stored JSON text, never decoded), each local time once.

    `csv`: every value is the CSV field's text (`csv_safe`: formula-like text neutralised,
    a time as DD/MM/YYYY HH:MM), made once per distinct value too."""

    def __init__(
        self,
        agencies: dict[int, AgencyRec],
        form: Form,
        tz: ZoneInfo,
        lang: str,
        memo: Memo,
        csv: bool = False,
    ) -> None:
        self.field: Callable[[Any], Any] = csv_safe if csv else _same
        field = self.field
        self.agencies = {i: (field(a.code), field(a.name)) for i, a in agencies.items()}
        self.form, self.tz, self.lang, self.memo = form, tz, lang, memo
        # item id → (label, remembered texts by stored answer, the text of one)
        self.items: dict[str, tuple[str, dict[Any, Any], Callable[[str | None], str]]] = {}
        self.times: dict[datetime, Any] = {}
        self.words: dict[str | None, Any] = {}  # who and channel, as fields

    def _item(self, item_id: str) -> tuple[str, dict[Any, Any], Callable[[str | None], str]]:
        q = self.form.question(item_id)
        field = self.field
        if q is None:
            return field(item_id), {}, lambda t: field(str(answer_of_text(t) or ""))
        lang = self.lang
        seen, text = self.memo.table(lambda t: field(answer_text(q, answer_of_text(t), lang)))
        return field(q.printed or q.id), seen, text

    def _word(self, word: str | None) -> Any:
        found = self.words.get(word)
        if found is None:
            found = self.field(word or "")
            if len(self.words) < 10_000:
                self.words[word] = found
        return found

    def values(self, h: HistoryText) -> list[Any]:
        """[code, agency, item, who, local time, channel, old, new] of one change."""
        agency_id, item_id, old, new, user_name, channel, at = h
        item = self.items.get(item_id)
        if item is None:
            item = self.items[item_id] = self._item(item_id)
        label, seen, text = item
        code, name = self.agencies.get(agency_id, ("", ""))
        local = self.times.get(at)
        if local is None:
            local = self.field(at.astimezone(self.tz))
            if len(self.times) < 10_000:
                self.times[at] = local
        words = self.words
        who = words.get(user_name)
        if who is None:
            who = self._word(user_name)
        via = words.get(channel)
        if via is None:
            via = self._word(channel)
        was = seen.get(old, _MISSING)
        if was is _MISSING:
            was = text(old)
        now = seen.get(new, _MISSING)
        if now is _MISSING:
            now = text(new)
        return [code, name, label, who, local, via, was, now]


def _same(value: Any) -> Any:
    return value


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
