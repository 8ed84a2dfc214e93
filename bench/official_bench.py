"""How many messages a realistic official sends, and how many Phiếu sends back, for a whole form.

An official of a Sở answers the whole `binh-dinh-2019-so` form (issue #8 targets: ≤ 200
messages the first year, ≤ 80 with last year's answers, ≤ 1.1 Bot API messages per answer):

- reads each reply and answers as a person would: figures typed (some with their unit or
  thousands dots, "1.500"), yes/no and levels mostly with the buttons and sometimes typed
  ("có"), a few mistakes that Phiếu refuses and the official types again, the link or the
  document number when evidence is asked, one row then "✅ Xong" in an open list, "✅ Đúng"
  for a computed value, and at the end /nop and "📤 Nộp phiếu";
- takes every shortcut Phiếu offers, and only those it offers: "✅ Đúng" on a prefilled value,
  "✅ Giữ nguyên cả mục" / "♻️ Giữ nguyên" on last year's answers, a row or a column of a
  table in one message when the prompt says it may ("Có thể trả lời cả … trong một tin nhắn");
- the second year, with last year's answers kept by Phiếu, keeps whole sections, changes eight
  figures (/sua then the new value) and types the year's own flows afresh (6.1.a, 6.4).

It runs twice per year: through the pure engine (`flows.engine.handle`) and through the whole
service (`Phieu.handle`, SQLite, outbox rows counted from the database; a pressed button also
queues the Telegram channel's edit of the pressed message, counted apart: it is not a new
message). "Bot API messages" are sendMessage calls: one per outbox row, more when a text is
over Telegram's 4096 characters.

    python3 bench/official_bench.py [--tiny] [--trace] [--form binh-dinh-2019-so]
    python3 bench/official_bench.py --before 8af18ec   # the same official on older code first

The script only uses what the code offers, so it also measures older code: `--before REV`
extracts that commit (`git archive`) into a temporary directory, runs this very script there,
then here.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.channels.telegram import split_text  # noqa: E402
from bot.service import Phieu, Sender  # noqa: E402
from flows import engine  # noqa: E402
from flows.loader import builtin_forms  # noqa: E402
from flows.machines import Mode, Status  # noqa: E402
from flows.model import Evidence, Form, ItemType, Question  # noqa: E402
from flows.parsing import example_for  # noqa: E402
from flows.state import Answer, Context, ConversationState, Incoming, Reply, Step  # noqa: E402
from storage.models import Outbox  # noqa: E402
from storage.repository import Storage  # noqa: E402

CHANNEL = "telegram"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
YEARS = (2026, 2027)
AGENCY = {
    "name": "Sở Thông tin và Truyền thông",
    "address": "01 Lê Lợi, phường Lê Lợi, TP. Quy Nhơn",
    "website": "sotttt.binhdinh.gov.vn",
    "phone": "0256 3822 345",
    "email": "sotttt@binhdinh.gov.vn",
}
AGENCY_ITEMS = {"1.2": "name", "1.3": "address", "1.4": "phone", "1.5": "website", "1.6": "email"}
LINK = "https://sotttt.binhdinh.gov.vn/tin-tuc"
DOCUMENT = "12/KH-UBND; 15/01/2026; https://sotttt.binhdinh.gov.vn/ke-hoach-2026"

# Figures of one Sở, consistent with the form's cross-checks (a part never exceeds its whole).
FIGURES: dict[str, str] = {
    "1.7": "3",
    "1.8": "45 người",
    "1.9": "120",
    "3.1.a": "40",
    "3.1.b": "100",
    "4.1.1.a": "2",
    "4.1.1.b": "1",
    "4.1.2": "3",
    "4.1.3.a": "1",
    "4.1.3.b": "1",
    "4.1.3.c": "1",
    "4.1.3.d": "1",
    "4.1.3.e": "1",
    "4.1.3.f": "1",
    "4.1.4": "4",
    "4.1.6": "20",
    "5.1.1": "3",
    "5.1.3.a": "1.200",
    "5.1.3.b": "1.500",
    "5.2.7.a": "900",
    "5.2.7.b": "1.100",
    "5.3.b": "30",
    "5.3.c": "12",
    "6.3.c.1": "10",
    "4.2.1.2018": "1.500",
    "4.2.1.2019": "1.800",
    "6.4.a.1": "120",
    "6.4.a.2": "80",
    "6.4.a.3": "100",
    "6.4.a.4": "60",
    "6.4.a.5": "900",
    "6.4.a.5.1": "600",
    "6.4.a.5.2": "300",
    "6.4.a.6": "850",
    "6.4.a.6.1": "500",
    "6.4.a.6.2": "350",
    "6.4.b.1": "40",
    "6.4.b.2": "25",
    "6.4.b.3": "300",
    "6.4.b.4": "120",
    "6.4.b.5": "280",
    "6.4.b.6": "150",
}
TEXTS: dict[str, str] = {
    "2.1": "Trần Thị Lan",
    "2.2": "Phòng Công nghệ thông tin",
    "2.3": "Chuyên viên",
    "2.4.a": "0256 3822 346",
    "2.4.b": "0905 123 456",
    "2.5": "lantt@binhdinh.gov.vn",
}
COLUMN_TEXTS: dict[str, str] = {
    "ten_phan_mem": "Phần mềm một cửa điện tử",
    "nha_cung_cap": "VNPT Bình Định",
    "tinh_nang": "Tiếp nhận và trả kết quả hồ sơ",
}
# The first attempt at these is refused by Phiếu; the official then types the right value.
MISTAKES: dict[str, str] = {
    "1.9": "một trăm hai mươi",
    "2.5": "lantt@",
    "3.1.a": "-40",
    "5.1.1": "ba",
    "4.2.1.2018": "1.500; hai trăm",
}
# The second year: these figures changed (typed via /sua after keeping the section).
CHANGED: dict[str, str] = {
    "1.8": "47",
    "1.9": "118",
    "3.1.a": "42",
    "3.1.b": "98",
    "4.1.6": "22",
    "5.3.b": "32",
    "4.2.1.2018": "1.600",
    "4.2.1.2019": "2.000",
}
TYPED_EVERY = 3  # one choice question in three is answered by typing, the rest by a button


@dataclass
class Tally:
    typed: int = 0  # messages the official typed
    pressed: int = 0  # buttons the official pressed
    sent: int = 0  # Bot API sendMessage calls (new messages)
    edits: int = 0  # editMessageText calls (a pressed button's message shows the choice)
    refused: int = 0  # replies that were errors
    checks: int = 0  # failed cross-checks shown

    @property
    def inputs(self) -> int:
        return self.typed + self.pressed

    def per_answer(self) -> float:
        return self.sent / self.inputs if self.inputs else 0.0

    def calls_per_answer(self) -> float:
        """sendMessage and editMessageText together."""
        return (self.sent + self.edits) / self.inputs if self.inputs else 0.0


@dataclass
class Action:
    text: str | None = None
    payload: str | None = None


@dataclass
class Official:
    """Decides the next message from Phiếu's last replies; None when the form is submitted."""

    form: Form
    second_year: bool = False
    submitted: bool = False
    choice_count: int = 0
    mistaken: set[str] = field(default_factory=set)
    to_change: dict[str, str] = field(default_factory=dict)
    editing: str | None = None
    submit_tries: int = 0

    def __post_init__(self) -> None:
        if self.second_year:
            self.to_change = dict(CHANGED)

    # ---- what to answer --------------------------------------------------------------------
    def value(self, q: Question) -> str:
        if q.id in self.to_change:  # asked again, or via /sua after keeping its section
            self.editing = None
            return self.to_change.pop(q.id)
        if q.id in TEXTS:
            return TEXTS[q.id]
        if q.id in FIGURES:
            return FIGURES[q.id]
        if q.column in COLUMN_TEXTS:
            return COLUMN_TEXTS[str(q.column)]
        if q.id in AGENCY_ITEMS:
            return AGENCY[AGENCY_ITEMS[q.id]]
        if q.type is ItemType.YEAR:
            return str(YEARS[1] if self.second_year else YEARS[0])
        if q.type is ItemType.INTEGER:
            return "2"
        if q.type is ItemType.DECIMAL:
            return "200" if q.id.startswith("4.2.") else "10"
        if q.type is ItemType.YES_NO:
            return "có"
        if q.type is ItemType.STATUS:
            return "hoàn chỉnh"
        return example_for(q)

    def first_try(self, q: Question, value: str) -> str:
        if q.id in MISTAKES and q.id not in self.mistaken and not self.second_year:
            self.mistaken.add(q.id)
            return MISTAKES[q.id]
        return value

    # ---- reading Phiếu's replies -----------------------------------------------------------
    def next(self, step: Step) -> Action | None:
        if self.submitted:
            return None
        replies = list(step.replies)
        last = replies[-1] if replies else Reply("")
        text = "\n".join(r.text for r in replies)
        state = step.state
        if any(r.kind == "check" for r in replies):
            return self._press(last, "Để sau") or Action(text="/tiep")
        if state.mode is Mode.CONFIRMING_SUBMIT:
            self.submitted = True
            return self._press(last, "Nộp phiếu") or Action(text="có")
        if state.mode in (Mode.REVIEWING, Mode.MENU) or state.item is None:
            if self.to_change:
                return self._edit_next()
            if "hết các câu" in text or state.mode is Mode.REVIEWING:
                self.submit_tries += 1
                return Action(text="/nop") if self.submit_tries <= 2 else None
            return Action(text="/tiep")
        q = self.form.question(state.item)
        assert q is not None, state.item
        if self.to_change and self.editing is None and self._behind(q):
            # Sections kept whole: change what changed this year before going on.
            return self._edit_next()
        keep_all = self._press(last, "Giữ nguyên cả mục")
        if keep_all is not None:
            return keep_all
        if state.mode is Mode.CONFIRMING_VALUE:
            return self._press(last, "Đúng") or Action(text="đúng")
        if state.mode is Mode.LIST_MORE:
            return self._press(last, "Xong") or Action(text="xong")
        if state.mode is Mode.AWAITING_EVIDENCE:
            return Action(text=DOCUMENT if q.evidence is Evidence.DOCUMENT else LINK)
        if q.type is ItemType.COMPUTED:
            return self._press(last, "Đúng") or Action(text="1")
        if self.editing != q.id:
            offered = self._press(last, "Giữ nguyên") or self._press(last, "✅ Đúng")
            if offered is not None and q.id not in self.to_change:
                return offered
        if "Có thể trả lời cả" in last.text and last.item == q.id:
            return Action(text=self.first_try(q, self._block(q, last.text)))
        return self._answer(q, last)

    def _answer(self, q: Question, last: Reply) -> Action:
        value = self.value(q)
        if q.type in (ItemType.YES_NO, ItemType.STATUS, ItemType.CHOICE) and last.choices:
            self.choice_count += 1
            if self.choice_count % TYPED_EVERY:
                label = {"có": "Có", "hoàn chỉnh": "Hoàn chỉnh"}.get(value)
                pressed = self._press(last, label) if label else None
                if pressed is None and q.type is ItemType.CHOICE:
                    pressed = Action(payload=last.choices[0].payload)
                if pressed is not None:
                    return pressed
        return Action(text=self.first_try(q, value))

    def _block(self, q: Question, prompt: str) -> str:
        """The cells the prompt offers, in its order: the rest of q's row or column (the
        prompt names them by label, so the block is found from the form, not the text)."""
        from flows.cells import table_block  # only offered by code that has it (not --before)

        section = self.form.section(q.section)
        block = table_block(list(section.questions), q) if section is not None else []
        cells = block[block.index(q) :] if q in block else [q]
        values = []
        for cell in cells:
            if cell is None or cell.type in (ItemType.LIST, ItemType.COMPUTED):
                continue
            if cell.when and "so_luong" in cell.id and values and values[-1] == "không":
                continue
            values.append(self.value(cell))
        return "; ".join(values)

    def _behind(self, q: Question) -> bool:
        """A changed item lies in a section before the one now asked."""
        order = [s.id for s in self.form.sections]
        first = self.form.question(next(iter(self.to_change)))
        return first is not None and order.index(first.section) < order.index(q.section)

    def _edit_next(self) -> Action:
        item = next(iter(self.to_change))
        self.editing = item
        return Action(text=f"/sua {item}")

    def _press(self, reply: Reply, label: str | None) -> Action | None:
        if not label:
            return None
        for choice in (*reply.choices, *reply.actions):
            if label in choice.label:
                return Action(payload=choice.payload)
        return None


def _count_sends(replies: Sequence[Reply]) -> int:
    return sum(len(split_text(r.text)) for r in replies)


def _stale(step: Step) -> bool:
    return any(r.kind == "stale" for r in step.replies)


# -- the pure engine ---------------------------------------------------------------------------


def context(form: Form, year: int, previous: dict[str, Answer]) -> Context:
    """A Context with what this version of the engine knows how to use."""
    names = {f.name for f in dataclasses.fields(Context)}
    extra: dict[str, Any] = {}
    if "known" in names:
        extra["known"] = {f"agency.{k}": v for k, v in AGENCY.items()} | {"campaign.year": year}
    if "previous" in names:
        extra["previous"] = previous
    return Context(
        now=datetime(year, 11, 20, 9, 0, tzinfo=TZ),
        agency_name=AGENCY["name"],
        deadline=date(year, 11, 26),
        status=Status.DRAFT,
        user_name="Trần Thị Lan",
        **extra,
    )


def run_engine(
    form: Form, year: int, previous: dict[str, Answer], limit: int, trace: bool = False
) -> tuple[Tally, dict[str, Answer]]:
    official = Official(form, second_year=bool(previous))
    ctx = context(form, year, previous)
    answers: dict[str, Answer] = {}
    state = ConversationState()
    tally = Tally()

    def send(action: Action) -> Step:
        nonlocal state
        step = engine.handle(form, answers, state, Incoming(action.text, action.payload), ctx)
        for item, answer in step.changes.items():
            if answer is None:
                answers.pop(item, None)
            else:
                answers[item] = answer
        state = step.state
        if trace:
            print(f">>> {action.text or action.payload}")
            for r in step.replies:
                print(f"  [{r.kind} {r.item}] " + r.text.replace("\n", "\n  "))
                print(f"  buttons: {[c.label for c in (*r.choices, *r.actions)]}")
        tally.sent += _count_sends(step.replies)
        tally.refused += sum(r.kind == "error" for r in step.replies)
        tally.checks += sum(r.kind == "check" for r in step.replies)
        if action.payload is not None:
            tally.pressed += 1
            tally.edits += 0 if _stale(step) else 1
        else:
            tally.typed += 1
        return step

    step = send(Action(text="/tiep"))
    while tally.inputs < limit and (action := official.next(step)) is not None:
        step = send(action)
    if limit >= 10_000:
        assert official.submitted, "the official did not reach the end of the form"
    return tally, answers


# -- the whole service on SQLite ---------------------------------------------------------------


async def run_service(form: Form, limit: int, years: int) -> list[Tally]:
    tallies = []
    with tempfile.TemporaryDirectory() as tmp:
        storage = await Storage.open(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            async with storage.unit() as unit:
                try:
                    agency = await unit.add_agency(
                        "STTTT",
                        AGENCY["name"],
                        "so",
                        **{k: v for k, v in AGENCY.items() if k != "name"},
                    )
                except TypeError:  # code before issue #8: no contact fields
                    agency = await unit.add_agency("STTTT", AGENCY["name"], "so")
                user = await unit.add_user("Trần Thị Lan", agency.id, "official")
                await unit.bind_identity(user.id, CHANNEL, "7000001", None)
            update = 0
            for n, year in enumerate(YEARS[:years]):
                async with storage.unit() as unit:
                    for c in await unit.list_campaigns():
                        if c.is_open:
                            await unit.close_campaign(c.id, datetime(year, 1, 1, tzinfo=UTC))
                    await unit.add_campaign(form.id, form.version, f"{year}", date(year, 11, 26))
                clock_now = datetime(year, 11, 20, 2, 0, tzinfo=UTC)
                phieu = Phieu(storage, {form.id: form}, clock=lambda now=clock_now: now)
                handle = phieu.handle
                official = Official(form, second_year=n > 0)
                tally = Tally()
                before = await _outbox_ids(storage)

                async def send(action: Action, tally: Tally = tally, handle: Any = handle) -> Step:
                    nonlocal update
                    update += 1
                    outcome = await handle(
                        CHANNEL,
                        "7000001",
                        str(update),
                        Incoming(action.text, action.payload),
                        Sender("7000001", "Lan", "vi"),
                        after=_mark_pressed if action.payload is not None else None,
                    )
                    assert outcome.step is not None, "the official was refused"
                    step = outcome.step
                    tally.refused += sum(r.kind == "error" for r in step.replies)
                    tally.checks += sum(r.kind == "check" for r in step.replies)
                    if action.payload is not None:
                        tally.pressed += 1
                    else:
                        tally.typed += 1
                    return step

                step = await send(Action(text="/tiep"))
                while tally.inputs < limit and (action := official.next(step)) is not None:
                    step = await send(action)
                tally.sent, tally.edits = await _outbox_counts(storage, before)
                tallies.append(tally)
        finally:
            await storage.close()
    return tallies


async def _mark_pressed(unit: Any, channel: str, chat: str, step: Step) -> None:
    """What the Telegram channel adds for a pressed button: an edit of the pressed message."""
    if not _stale(step):
        await unit.enqueue(channel, chat, {"edit": {"message_id": 1, "text": "👉"}})


async def _outbox_ids(storage: Storage) -> int:
    async with storage.engine.connect() as conn:
        ids = (await conn.execute(select(Outbox.id))).scalars().all()
    return max(ids, default=0)


async def _outbox_counts(storage: Storage, after_id: int) -> tuple[int, int]:
    async with storage.engine.connect() as conn:
        rows = (await conn.execute(select(Outbox.payload).where(Outbox.id > after_id))).scalars()
        sends = edits = 0
        for payload in rows:
            if "edit" in payload:
                edits += 1
            else:
                sends += len(split_text(str(payload.get("text", ""))))
    return sends, edits


# -- report ------------------------------------------------------------------------------------


def report(rows: list[tuple[str, Tally]]) -> None:
    print(
        f"{'run':34} {'messages':>8} {'typed':>6} {'taps':>5} {'sent':>5} "
        f"{'sent/answer':>11} {'edits':>5} {'calls/answer':>12} {'refused':>7} {'checks':>6}"
    )
    for name, t in rows:
        print(
            f"{name:34} {t.inputs:8d} {t.typed:6d} {t.pressed:5d} {t.sent:5d} "
            f"{t.per_answer():11.2f} {t.edits:5d} {t.calls_per_answer():12.2f} "
            f"{t.refused:7d} {t.checks:6d}"
        )


def run_before(rev: str, argv: list[str]) -> None:
    """This script on the code of commit `rev`, in a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "code.tar"
        subprocess.run(  # read-only: the commit's tree as a tar file
            ["git", "-C", str(ROOT), "archive", "--output", str(archive), rev], check=True
        )
        code = Path(tmp) / "code"
        with tarfile.open(archive) as tar:
            tar.extractall(code, filter="data")
        shutil.copy(Path(__file__), code / "bench" / Path(__file__).name)
        print(f"--- before: {rev}", flush=True)
        subprocess.run(
            [sys.executable, str(code / "bench" / Path(__file__).name), *argv],
            cwd=code,
            env={**os.environ, "PYTHONPATH": str(code)},
            check=True,
        )
    print("--- after: this tree", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--form", default="binh-dinh-2019-so")
    parser.add_argument("--before", metavar="REV", help="first run on commit REV (git archive)")
    parser.add_argument(
        "--trace", action="store_true", help="print the engine conversations, message by message"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="a few messages per run (the test of benches)"
    )
    args = parser.parse_args(argv)
    if args.before:
        run_before(args.before, ["--form", args.form] + (["--tiny"] if args.tiny else []))
    form = builtin_forms()[args.form]
    limit = 25 if args.tiny else 10_000
    print(
        f"A realistic official, form {form.id}, Python {platform.python_version()}"
        + (" (tiny: 25 messages per run)" if args.tiny else "")
    )
    first, answers = run_engine(form, YEARS[0], {}, limit, args.trace)
    second, _ = run_engine(form, YEARS[1], answers, limit, args.trace)
    rows = [("engine, first year", first), ("engine, with last year's answers", second)]
    run: Callable[[], Awaitable[list[Tally]]] = lambda: run_service(  # noqa: E731
        form, limit, 1 if args.tiny else 2
    )
    service = asyncio.run(run())
    rows.append(("Phieu.handle SQLite, first year", service[0]))
    if len(service) > 1:
        rows.append(("Phieu.handle SQLite, last year's", service[1]))
    print()
    report(rows)
    print()
    print(
        "messages = what the official sent (typed + taps); sent = Bot API sendMessage calls; "
        "edits = editMessageText of a pressed button's message (no new message); "
        "calls = sent + edits."
    )


if __name__ == "__main__":
    main()
