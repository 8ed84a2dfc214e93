"""The conversation engine: one incoming event in, one Step out. Pure: no I/O, no clock.

`handle(form, answers, state, incoming, ctx)` returns the new conversation state, the answer
changes, the replies and the domain events; the caller commits them in one transaction and
only then sends the replies. Buttons and typed text go through the same paths: a typed number
or label is turned into the payload of the choice it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from transitions import MachineError

from flows import expr, prompts
from flows.cells import Cells
from flows.coalesce import coalesce
from flows.i18n import LANGUAGES, N_, format_day, format_value
from flows.machines import EDITABLE_STATUSES, Mode, move
from flows.model import Evidence, Form, ItemType, Question
from flows.navigation import (
    failed_checks,
    first_open_in_section,
    is_open,
    is_visible,
    needs_evidence,
    next_item,
    summarise,
    values_of,
)
from flows.offers import Offers
from flows.parsing import (
    NO_ROWS,
    Confirm,
    Ok,
    Problem,
    Result,
    fold,
    format_answer,
    parse_answer,
    parse_document,
    parse_list_row,
    parse_with_evidence,
    parse_yes_no,
)
from flows.payload import Act, Payload, pack
from flows.state import (
    Answer,
    Choice,
    Context,
    ConversationState,
    Event,
    Incoming,
    Reply,
    Step,
    words_of,
)

_TRAIL = 50
_ITEM_BOUND = frozenset({"skip", "back", "na", "evidence"})
_MIN_REASON = 5

COMMANDS: dict[str, str] = {
    "start": "menu",
    "menu": "menu",
    "batdau": "menu",
    "tiep": "continue",
    "tieptuc": "continue",
    "continue": "continue",
    "bo": "skip",
    "boqua": "skip",
    "skip": "skip",
    "lai": "back",
    "quaylai": "back",
    "back": "back",
    "kad": "na",
    "khongapdung": "na",
    "na": "na",
    "sua": "edit",
    "edit": "edit",
    "xem": "review",
    "tomtat": "review",
    "review": "review",
    "nop": "submit",
    "submit": "submit",
    "help": "help",
    "trogiup": "help",
    "huongdan": "help",
    "lang": "lang",
    "ngonngu": "lang",
    # English aliases, so an official reading the English help can type what it says.
    "next": "continue",
    "resume": "continue",
    "previous": "back",
    "notapplicable": "na",
    "change": "edit",
    "summary": "review",
    "send": "submit",
    "language": "lang",
    "minhchung": "evidence",
    "evidence": "evidence",
    "proof": "evidence",
    "fix": "fix",
    # Reminders of the deadline (issue #11): /tatnhac turns them off, or on again when off;
    # /batnhac turns them on.
    "tatnhac": "mute",
    "mute": "mute",
    "batnhac": "unmute",
    "unmute": "unmute",
    # The provisional score (issue #12): ctx.scorer, handed in by the service.
    "diem": "score",
    "score": "score",
}
_DONE_WORDS = frozenset({"xong", "xong roi", "het", "het roi", "done", "finish", "finished"})
_AGREE = frozenset(
    {"dong y", "chinh xac", "xac nhan", "dung roi", "dung vay", "agree", "correct", "right"}
)
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)


def command_of(incoming: Incoming) -> str | None:
    """The action a typed command names ("/diem" → "score"), or None: lets the caller read
    what only one command needs (the reviewer verdicts for /diem) before calling handle."""
    match = _COMMAND.match((incoming.text or "").strip())
    if match is None:
        return None
    name = match.group(1).lower()
    return COMMANDS.get(name, name)


class _Run(Offers, Cells):
    """One handle() call's working set; discarded when the Step is built."""

    def __init__(
        self, form: Form, answers: Mapping[str, Answer], state: ConversationState, ctx: Context
    ) -> None:
        self.form = form
        self.answers: dict[str, Answer] = dict(answers)
        self.state = state
        self.ctx = ctx
        self.changes: dict[str, Answer | None] = {}
        self.replies: list[Reply] = []
        self.events: list[Event] = []
        self.transition: str | None = None
        # What this call answered, for ConversationState.last_answer (see _remember_answer).
        self.answered: dict[str, Any] | None = None

    # ---- small helpers -------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.state.lang

    @property
    def editable(self) -> bool:
        return self.ctx.status in EDITABLE_STATUSES

    def t(self, msgid: str, **params: Any) -> str:
        return prompts.t(self.lang, msgid, **params)

    def say(self, msgid: str, kind: str = "info", **params: Any) -> None:
        self.replies.append(Reply(self.t(msgid, **params), kind=kind))

    def to(self, trigger: str) -> None:
        self.state.mode = move(self.state.mode, trigger, editable=self.editable)

    def label(self, item: str) -> str:
        """The item's number as the official reads it (never a column's internal id)."""
        return prompts.label_of(self.form, item, self.lang)

    def current(self) -> Question | None:
        return self.form.question(self.state.item) if self.state.item else None

    def step(self) -> Step:
        return Step(
            self.state, self.changes, tuple(self.replies), tuple(self.events), self.transition
        )

    # ---- entry ---------------------------------------------------------------------------
    def dispatch(self, incoming: Incoming) -> None:
        self._follow_status()
        if self.on_offer(incoming):  # "♻️ Giữ nguyên" / "✅ Đúng", typed or pressed
            return
        if incoming.payload is not None:
            payload = Payload.unpack(incoming.payload)
            if payload is None:
                self.stale()
            else:
                self.on_payload(payload)
            return
        text = (incoming.text or "").strip()
        if incoming.attachment is not None:
            if _joins_album(self, incoming):
                return
            self.state.album = None
            if self.state.mode is Mode.AWAITING_EVIDENCE:
                if incoming.group:
                    self.state.album = {"group": incoming.group, "item": self.state.item}
                self.save_evidence(_file_evidence(incoming, self.ctx))
            else:
                if incoming.group:
                    self.state.album = {"group": incoming.group, "item": None}
                self.say(
                    N_(
                        "Đã nhận tệp, nhưng tệp chỉ dùng làm minh chứng khi Phiếu hỏi. "
                        "Mục này cần câu trả lời bằng chữ hoặc số."
                    ),
                    "error",
                )
                self.reshow()
            return
        match = _COMMAND.match(text)
        if match:
            self.on_command(match.group(1).lower(), (match.group(2) or "").strip())
            return
        picked = self._picked_choice(text)
        if picked is not None:
            self.dispatch(Incoming(payload=picked))
            return
        self.on_text(text)

    def _follow_status(self) -> None:
        """A reviewer or another official may have moved the submission since the last turn."""
        if not self.editable and self.state.mode is not Mode.SUBMITTED:
            self.to("lock")
        elif self.editable and self.state.mode is Mode.SUBMITTED:
            self.to("open_menu")

    def _choices_now(self) -> tuple[Choice, ...]:
        """The choices the user is looking at, rebuilt from state (nothing kept in memory)."""
        mode, q = self.state.mode, self.current()
        if mode in (Mode.MENU, Mode.SUBMITTED):
            return prompts.menu(self.form, self.answers, self.ctx, self.lang).choices
        if mode is Mode.REVIEWING:
            s = summarise(self.form, self.answers, self.state.skipped)
            return prompts.summary(self.form, s, self.lang, editable=self.editable).choices
        if mode is Mode.ANSWERING and q is not None:
            keep = self.keep_choice(q)
            return prompts.answer_choices(self.lang, q, self._rows(q.id)) + (
                (keep,) if keep else ()
            )
        if mode is Mode.CONFIRMING_SUBMIT:
            return self._submit_choices()
        if mode in (Mode.CONFIRMING_VALUE, Mode.LIST_MORE) and q:
            return self._confirm_choices(q.id)
        if mode is Mode.AWAITING_EVIDENCE and q and "evidence" in (self.state.pending or {}):
            return self._confirm_choices(q.id)
        return ()

    def _picked_choice(self, text: str) -> str | None:
        """A typed "2" or "Có" picks the second / the "Có" choice, where choices are shown."""
        choices = self._choices_now()
        if not choices or not text:
            return None
        # At most 6 digits: int() refuses strings of 4,301+ digits, and no menu is that long.
        if text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= len(choices):
            return choices[int(text) - 1].payload
        folded = fold(words_of(text))
        hits = [c for c in choices if fold(c.words) == folded]
        return hits[0].payload if len(hits) == 1 else None

    # ---- payloads and commands ----------------------------------------------------------
    def on_payload(self, p: Payload) -> None:
        if p.act is Act.COMMAND:
            if p.item and p.value in _ITEM_BOUND and p.item != self.state.item:
                # Skip / back / not applicable pressed under an older question.
                self.stale()
            else:
                self.on_command(p.value, "")
        elif p.act is Act.SECTION:
            self.open_section(p.value)
        elif p.act is Act.EDIT:
            self.edit(p.item)
        elif p.act is Act.LANG:
            self.set_language(p.value)
        elif p.act is Act.ANSWER:
            if self.state.mode is not Mode.ANSWERING or p.item != self.state.item:
                self.stale()
            else:
                self.answer_choice(p.item, p.value)
        elif p.act is Act.CONFIRM:
            self.on_confirm(p)

    def on_command(self, name: str, arg: str) -> None:
        action = COMMANDS.get(name, name)
        if action in ("continue", "back", "menu", "submit", "fix"):
            self.state.back_to = None  # the official chose where to go: no detour to end
        if action == "menu":
            self.show_menu()
        elif action == "help":
            self.replies.append(prompts.help_text(self.lang))
        elif action == "lang":
            self.set_language(arg or ("en" if self.lang == "vi" else "vi"))
        elif action == "review":
            self.review(arg)
        elif action in ("mute", "unmute"):
            # Whether reminders are on is kept outside the conversation (reminder_mutes): the
            # caller records the change in the same transaction and says what it did.
            self.events.append(
                Event("reminders_mute", {"muted": None if action == "mute" else False})
            )
        elif action == "score":
            self.show_score()
        elif not self.editable:
            self.read_only()
        elif action == "continue":
            self.resume()
        elif action == "skip":
            self.skip()
        elif action == "back":
            self.back()
        elif action == "na" and arg:
            self.not_applicable_group(arg)
        elif action == "na":
            self.not_applicable()
        elif action == "edit":
            self.edit(arg)
        elif action == "evidence":
            self.change_evidence(arg or self.state.item or "")
        elif action == "fix":
            self.fix_blockers()
        elif action == "submit":
            self.submit()
        else:
            self.say(N_("Không hiểu lệnh /{name}. Gõ /help để xem các lệnh."), "error", name=name)
            self.reshow()

    def show_score(self) -> None:
        """/diem: the agency's provisional score, from the scorer the service handed in
        (the engine stays pure: the scorer is a pure function of the answers)."""
        if self.ctx.scorer is None:
            self.say(N_("Phiếu này chưa có thang điểm, nên chưa tính được điểm tạm tính."))
            return
        self.replies.append(Reply(self.ctx.scorer(self.answers, self.lang), kind="info"))

    def on_confirm(self, p: Payload) -> None:
        mode, yes = self.state.mode, p.value in ("yes", "more")
        if mode is Mode.CONFIRMING_SUBMIT and p.item == "":
            self.finish_submit() if yes else self.show_menu()
        elif p.item != self.state.item:
            self.stale()
        elif mode is Mode.AWAITING_EVIDENCE and (q := self.current()):
            if not self._evidence_confirmed(q, None, yes=p.value == "yes"):
                self.stale()
        elif mode is Mode.AWAITING_NA_REASON:
            self.on_na_choice(p.value)
        elif mode is Mode.CONFIRMING_VALUE and (self.state.pending or {}).get("clear"):
            self.state.pending = None
            if yes:
                self.store(p.item, Answer(value=[]))
            else:
                self.ask(p.item, push=False)
        elif mode is Mode.CONFIRMING_VALUE:
            value = (self.state.pending or {}).get("value")
            evidence = (self.state.pending or {}).get("evidence")
            self.state.pending = None
            if yes:
                self.store(p.item, Answer(value=value, evidence=evidence))
            else:
                self.ask(p.item, push=False)
        elif mode is Mode.LIST_MORE:
            if yes:
                keep = self.state.pending
                self.ask(p.item, push=False)
                self.state.pending = keep
            else:
                was_complete = bool((self.state.pending or {}).get("was_complete", True))
                self.state.pending = None
                q = self.form.question(p.item)
                if q is not None:
                    self._announce_completed(q, was_complete)
                self.after_saved(p.item)
        elif mode is Mode.ANSWERING and (q := self.current()) and q.type is ItemType.COMPUTED:
            if yes:
                value = values_of(self.form, self.answers).get(q.id)
                self.store(q.id, Answer(value=value))
            else:
                first = next((r for r in _formula_refs(q) if self.form.question(r)), None)
                self.edit(first or q.id)
        else:
            self.stale()

    # ---- text by mode ---------------------------------------------------------------------
    def on_text(self, text: str) -> None:
        mode, q = self.state.mode, self.current()
        if mode is Mode.SUBMITTED:
            self.read_only()
        elif mode is Mode.AWAITING_NA_REASON and q:
            self.save_na_reason(q, text)
        elif mode is Mode.AWAITING_EVIDENCE and q:
            self.evidence_text(q, text)
        elif mode is Mode.CONFIRMING_SUBMIT:
            yes = _yes_no(text)
            if yes is None:
                self.say(N_("Vui lòng trả lời Có hoặc Không."), "error")
                self.submit()
            else:
                self.on_confirm(Payload(Act.CONFIRM, "", "yes" if yes else "no"))
        elif mode in (Mode.CONFIRMING_VALUE, Mode.LIST_MORE) and q:
            yes = _yes_no(text)
            if yes is not None:
                self.on_confirm(Payload(Act.CONFIRM, q.id, "yes" if yes else "no"))
            else:
                self.to("ask")
                if mode is Mode.CONFIRMING_VALUE:
                    self.state.pending = None
                self.answer_text(q, text)
        elif (
            mode is Mode.ANSWERING
            and q
            and q.type is ItemType.COMPUTED
            and _yes_no(text) is not None
        ):
            self.on_confirm(Payload(Act.CONFIRM, q.id, "yes" if _yes_no(text) else "no"))
        elif mode is Mode.ANSWERING and q:
            self.answer_text(q, text)
        else:
            self.say(N_("Chọn một mục trong menu, hoặc gõ /tiep để trả lời tiếp."), "error")
            self.show_menu()

    # ---- answering ------------------------------------------------------------------------
    def answer_choice(self, item: str, value: str) -> None:
        q = self.form.question(item)
        if q is None:
            self.stale()
            return
        if q.type is ItemType.YES_NO:
            self.store(item, Answer(value=value == "yes"))
        elif q.type is ItemType.LIST and value in ("none", "clear", "keep"):
            self.list_choice(q, value)
        elif value in {o.value for o in q.options} or q.type is ItemType.STATUS:
            self.store(item, Answer(value=value))
        else:
            self.stale()

    def answer_text(self, q: Question, text: str) -> None:
        if q.type is ItemType.COMPUTED:
            self.say(
                N_("Giá trị này được tính tự động; hãy xác nhận hoặc sửa số liệu đầu vào."), "error"
            )
            self.ask(q.id, push=False)
            return
        if self._answer_with_evidence(q, text) or self._no_such_table_row(q, text):
            return
        if q.type is ItemType.LIST and self._rows(q.id) and _says_done(text):
            self.list_choice(q, "keep")
            return
        if self.answer_cells(q, text):  # "150; 200": a table row (or column) at once
            return
        year = self.ctx.reporting_year
        result = (
            parse_list_row(q.columns, text, self.ctx.today, reporting_year=year)
            if q.type is ItemType.LIST
            else parse_answer(q, text, self.ctx.today, reporting_year=year)
        )
        if q.type is ItemType.LIST and isinstance(result, Ok) and result.value == NO_ROWS:
            self._no_rows(q)
            return
        self.on_result(q, result)

    def _answer_with_evidence(self, q: Question, text: str) -> bool:
        """ "Có, https://…" at an item that needs evidence: store both, ask nothing more. A
        reading to confirm (either part) asks once for both. False: not such a message."""
        both = parse_with_evidence(q, text, self.ctx.today, reporting_year=self.ctx.reporting_year)
        if both is None:
            return False
        answer, evidence = both
        if q.evidence is Evidence.NONE:  # "Có, https://…" at 3.6: the link is not kept
            self.say(
                N_("Câu {item} không cần minh chứng nên link không được lưu."),
                item=self.label(q.id),
            )
            self.on_result(q, answer)
            return True
        asks = [r for r in both if isinstance(r, Confirm) and not self._reads_the_same(r)]
        if not asks:
            self.store(q.id, Answer(value=answer.value, evidence=evidence.value))
            return True
        self.state.pending = {"value": answer.value, "evidence": evidence.value}
        self.to("need_confirmation")
        self.replies.append(
            Reply(
                "\n".join(self.t(c.msgid, **c.params) for c in asks),
                choices=self._confirm_choices(q.id),
                kind="confirm",
                item=q.id,
            )
        )
        return True

    def _no_such_table_row(self, q: Question, text: str) -> bool:
        """ "không có" typed as the name (first cell, a text) of a table row: the agency has
        no such thing, so the row is answered as empty (numbers 0, yes/no "Không", status
        "Chưa có", texts blank) instead of storing a software called "không có"."""
        if q.type is not ItemType.TEXT or q.table is None or q.row is None:
            return False
        cells = [c for c in self.form.questions if c.table == q.table and c.row == q.row]
        if len(cells) < 2 or cells[0].id != q.id or parse_yes_no(text) is not False:
            return False
        empty: dict[ItemType, Any] = {
            ItemType.TEXT: "",
            ItemType.INTEGER: 0,
            ItemType.DECIMAL: 0.0,
            ItemType.YES_NO: False,
            ItemType.STATUS: "chua_co",
        }
        for cell in cells:
            if cell.type in empty and (cell.id == q.id or cell.id not in self.answers):
                self._save(cell.id, Answer(value=empty[cell.type]))
        row = q.context[-1].get(self.lang) if q.context else q.id
        self.say(N_("Đã ghi nhận: không có “{row}”."), row=row)
        self.after_saved(cells[-1].id)
        return True

    def _no_rows(self, q: Question) -> None:
        """ "không có" typed as a list's row: no such row. Before any row it answers the list
        as empty (like the "Không có" button); after rows it ends the list."""
        rows = (self.answers.get(q.id) or Answer(value=[])).value or []
        if rows:
            self.to("ask_more_rows")
            self.on_confirm(Payload(Act.CONFIRM, q.id, "done"))
        else:
            self.store(q.id, Answer(value=[]))

    def on_result(self, q: Question, result: Result) -> None:
        if isinstance(result, Problem):
            self.problem(result)
            self.ask(q.id, push=False)
        elif isinstance(result, Confirm) and self._reads_the_same(result):
            self.on_result(q, Ok(result.value))
        elif isinstance(result, Confirm):
            self.state.pending = {"value": result.value}
            self.to("need_confirmation")
            self.replies.append(
                Reply(
                    self.t(result.msgid, **result.params),
                    choices=self._confirm_choices(q.id),
                    kind="confirm",
                    item=q.id,
                )
            )
        elif q.type is ItemType.LIST:
            rows = list((self.answers.get(q.id) or Answer(value=[])).value or [])
            rows.append(result.value)
            # The section's 🎉 waits for "Xong", so it does not interrupt "Thêm dòng nữa?".
            pending = self.state.pending or {}
            was_complete = pending.get("was_complete", self._section_done(q))
            index = pending.get("replace_row")
            if isinstance(index, int) and 0 <= index < len(rows) - 1:
                rows[index] = rows.pop()  # an edited message corrects its own row
            else:
                index = len(rows) - 1
            self.answered = {"item": q.id, "kind": "row", "row": index}
            self._save(q.id, Answer(value=rows))
            self.to("ask_more_rows")
            self.state.pending = {"was_complete": was_complete}
            self.replies.append(
                Reply(
                    self.t(
                        N_("Đã lưu dòng {n} của mục {item}. Thêm dòng nữa?"),
                        n=len(rows),
                        item=self.label(q.id),
                    ),
                    choices=self._confirm_choices(q.id, more=True),
                    kind="confirm",
                    item=q.id,
                )
            )
        else:
            self.store(q.id, Answer(value=result.value))

    def _reads_the_same(self, result: Confirm) -> bool:
        """No question to ask when the reading, written the user's way, is what they typed:
        "1.5" is ambiguous to a Vietnamese reader, not to an English one."""
        raw, shown = result.params.get("raw"), result.params.get("shown")
        if raw is None or shown is None:
            return False
        return str(raw).strip() == str(format_value(self.lang, shown))

    def _confirm_choices(self, item: str, more: bool = False) -> tuple[Choice, ...]:
        if more or self.state.mode is Mode.LIST_MORE:
            return (
                Choice(self.t(N_("➕ Thêm dòng")), pack(Act.CONFIRM, item, "more")),
                Choice(self.t(N_("✅ Xong")), pack(Act.CONFIRM, item, "done")),
            )
        if (self.state.pending or {}).get("clear"):
            # "Keep" first: a "1" typed out of habit keeps the rows.
            return (
                Choice(self.t(N_("↩ Giữ lại")), pack(Act.CONFIRM, item, "no")),
                Choice(self.t(N_("🗑 Xoá hết")), pack(Act.CONFIRM, item, "yes")),
            )
        return (
            Choice(self.t(N_("✅ Đúng")), pack(Act.CONFIRM, item, "yes")),
            Choice(self.t(N_("✏️ Nhập lại")), pack(Act.CONFIRM, item, "no")),
        )

    def problem(self, p: Problem) -> None:
        text = self.t(p.msgid, **p.params)
        if p.example:
            text += "\n" + self.t(
                N_("Ví dụ: {example}"), example=prompts.example_in(self.lang, p.example)
            )
        q = self.current()
        if q is not None and not q.required:
            text += "\n" + self.t(N_("Câu này không bắt buộc: gõ /bo để bỏ qua."))
        self.replies.append(Reply("❗ " + text, kind="error", item=self.state.item))

    def _save(self, item: str, answer: Answer) -> None:
        old = self.answers.get(item)
        if old == answer:
            return
        self.answers[item] = answer
        self.changes[item] = answer
        self.events.append(
            Event(
                "answer_saved",
                {
                    "item": item,
                    "old": old.to_json() if old else None,
                    "new": answer.to_json(),
                },
            )
        )

    def store(self, item: str, answer: Answer) -> None:
        """Save, acknowledge, then check, ask for evidence or move on."""
        q = self.form.question(item)
        if q is None:
            return
        before = self._section_done(q)
        old = self.answers.get(item)
        if old is not None and old.evidence and not answer.evidence and not answer.is_na:
            answer = replace(answer, evidence=old.evidence)
        self._save(item, answer)
        self.answered = {"item": item, "kind": "na" if answer.is_na else "value"}
        if item in self.state.skipped:
            self.state.skipped.remove(item)
        shown = (
            self.t(N_("không áp dụng"))
            if answer.is_na
            else format_answer(q, answer.value, self.lang)
        )
        if answer.evidence:
            shown += "\n📎 " + prompts.evidence_text(answer.evidence, self.lang)
        self.replies.append(
            Reply(
                self.t(N_("✅ Đã lưu {item}: {value}"), item=self.label(item), value=shown),
                kind="ack",
                item=item,
            )
        )
        values = values_of(self.form, self.answers)
        failures = failed_checks(self.form, values, item)
        if failures:
            for f in failures:
                self.replies.append(
                    Reply(
                        prompts.check_failure(self.form, f, self.lang),
                        actions=(
                            *prompts.fix_actions(self.lang, f, self.form),
                            Choice(
                                self.t(N_("▶ Để sau, tiếp tục")),
                                pack(Act.COMMAND, value="continue"),
                            ),
                        ),
                        kind="check",
                        item=item,
                    )
                )
            self.state.mode = move(self.state.mode, "ask")
            self.state.item = item
            return
        if needs_evidence(q, answer) and not answer.evidence:
            self.ask_evidence(q)
            return
        self._announce_completed(q, before)
        self.after_saved(item)

    def _section_done(self, q: Question) -> bool:
        """Really done: nothing required missing, no evidence owed, and nothing of the section
        left to ask (an optional item not yet skipped would be asked next, in the same section).
        One pass over the section's questions, values computed once."""
        section = self.form.section(q.section)
        if section is None:
            return False
        values = values_of(self.form, self.answers)
        for other in section.questions:
            if not is_visible(other, values):
                continue
            answer = self.answers.get(other.id)
            if needs_evidence(other, answer) and answer is not None and not answer.evidence:
                return False
            if is_open(other, self.answers, values) and (
                other.id not in self.state.skipped
                or other.required
                or other.type is ItemType.COMPUTED
            ):
                return False
        return True

    def _announce_completed(self, q: Question, was_complete: bool) -> None:
        """🎉 when saving `q` (an answer, a list row, evidence) finished its section."""
        if not was_complete and self._section_done(q):
            self.events.append(Event("section_completed", {"section": q.section}))
            self.say(N_("🎉 Đã xong Mục {section}."), section=q.section)

    def _return_to_place(self, item: str) -> bool:
        """After a detour (/sua, /kad on a group) is answered or skipped: back to where the
        official was (state.back_to) if that is still open. True when it was asked again.
        The detour first finishes what it opened: follow-ups of the item ("Nếu có" → 3.6.a),
        a computed total it changes (3.3.1 → 3.3) and the rest of its table row."""
        if self.state.back_to is None:
            return False
        nxt = next_item(self.form, self.answers, item, self.state.skipped)
        here, there = self.form.question(item), self.form.question(nxt) if nxt else None
        if (
            here is not None
            and there is not None
            and nxt not in self.state.skipped
            and (
                there.id.startswith(item + ".")
                or (there.type is ItemType.COMPUTED and item in _formula_refs(there))
                or (here.table is not None and (here.table, here.row) == (there.table, there.row))
            )
        ):
            return False
        back, self.state.back_to = self.state.back_to, None
        q = self.form.question(back) if back and back != item else None
        values = values_of(self.form, self.answers)
        if q is None or not is_visible(q, values) or not is_open(q, self.answers, values):
            return False
        self.ask(q.id)
        return True

    def after_saved(self, item: str) -> None:
        if self._return_to_place(item):
            return
        nxt = next_item(self.form, self.answers, item, self.state.skipped)
        if nxt is not None and nxt in self.state.skipped and not self._required(nxt):
            # Only optional items the official chose to skip are left: do not go round again.
            nxt = None
        if nxt is None:
            self.state.item = None
            self.all_required_done()
        else:
            self.ask(nxt)

    def _required(self, item: str) -> bool:
        q = self.form.question(item)
        return q is not None and q.required

    def all_required_done(self) -> None:
        """The end of the road: everything required answered (or said what is still missing)."""
        s = summarise(self.form, self.answers, self.state.skipped)
        if s.missing_required:
            self.say(N_("Các câu còn lại anh/chị đã bỏ qua. Xem tóm tắt bên dưới."))
        elif s.skipped:
            self.say(
                N_(
                    "Anh/chị đã trả lời hết các câu bắt buộc; các câu không bắt buộc đã bỏ "
                    "qua có thể để trống. Hãy xem lại và nộp phiếu."
                )
            )
        else:
            self.say(N_("Anh/chị đã trả lời hết các câu. Hãy xem lại và nộp phiếu."))
        self.review("")

    def ask(self, item: str, push: bool = True, card: bool = True) -> None:
        """Ask `item`: its question with the offered or current value, or — entering a
        prefilled section (`push`) and `card` — the section card ("Mục 1 giống năm trước?").
        `card=False` for /sua: the official named this item, so it is asked itself."""
        q = self.form.question(item)
        if q is None:
            self.show_menu()
            return
        self.to("ask")
        self.state.item = item
        self.state.pending = None
        if push and (not self.state.trail or self.state.trail[-1] != item):
            self.state.trail = [*self.state.trail, item][-_TRAIL:]
        if push and card and self.offer_section(q):  # "Mục 3 giống năm trước?"
            return
        reply = prompts.question(self.form, self.answers, q, self.lang)
        self.replies.append(self.with_cells_hint(self.with_offer(reply, q), q))

    # ---- not applicable and evidence ----------------------------------------------------
    def not_applicable(self) -> None:
        q = self.current()
        if q is None or self.state.mode not in (Mode.ANSWERING, Mode.CONFIRMING_VALUE):
            self.say(N_("Hãy mở một câu hỏi trước (gõ /tiep)."), "error")
            return
        if not q.na_allowed:
            self.say(
                N_(
                    "Câu {item} không có lựa chọn “không áp dụng”. Nếu chưa có số liệu, "
                    "anh/chị có thể /bo để trả lời sau."
                ),
                "error",
                item=self.label(q.id),
            )
            self.ask(q.id, push=False)
            return
        self.to("need_reason")
        self.ask_reason(q)

    def save_na_reason(self, q: Question, text: str) -> None:
        if (self.state.pending or {}).get("group") and len(text) >= _MIN_REASON:
            self.save_group_reason(str((self.state.pending or {})["group"]), text[:500])
            return
        if len(text) < _MIN_REASON:
            self.say(
                N_(
                    "Lý do cần rõ hơn (ít nhất {n} ký tự). Ví dụ: Cơ quan không cung cấp "
                    "dịch vụ công trực tuyến."
                ),
                "error",
                n=_MIN_REASON,
            )
            return
        self.state.mode = move(self.state.mode, "ask")
        self.store(q.id, Answer(na_reason=text[:500]))

    def ask_evidence(self, q: Question) -> None:
        self.to("need_evidence")
        self.state.item = q.id
        msgid = (
            N_(
                "Mục {item} cần minh chứng: gửi số văn bản và liên kết (link) đăng tải.\n"
                "Ví dụ: 12/KH-UBND; 15/01/2019; https://sotttt.binhdinh.gov.vn/ke-hoach-2019"
            )
            if q.evidence is Evidence.DOCUMENT
            else N_(
                "Mục {item} cần minh chứng: gửi liên kết (link) tới trang hoặc văn bản.\n"
                "Ví dụ: https://sotttt.binhdinh.gov.vn/tin-tuc"
            )
        )
        text = self.t(msgid, item=self.label(q.id))
        current = self.answers.get(q.id)
        if current is not None and current.evidence:
            text += "\n" + self.t(
                N_("Minh chứng hiện tại: {evidence}. Gửi minh chứng mới để thay."),
                evidence=prompts.evidence_text(current.evidence, self.lang),
            )
        self.replies.append(
            Reply(
                text,
                actions=(Choice(self.t(N_("⏭ Bổ sung sau")), pack(Act.COMMAND, q.id, "skip")),),
                kind="question",
                item=q.id,
            )
        )

    def evidence_text(self, q: Question, text: str) -> None:
        if self._evidence_confirmed(q, text):
            return
        year = self.ctx.reporting_year
        added = self._link_for_document(q, text)
        if added is not None:
            self.save_evidence(added)
            return
        if q.evidence is Evidence.DOCUMENT:
            # A number without a link is kept ("chưa có link"); a link sent alone later
            # completes it (`_link_for_document`). README, Evidence.
            result = parse_document(text, self.ctx.today, reporting_year=year)
        else:
            url_q = replace(q, type=ItemType.URL, unit=None, min=None, max=None, example=None)
            result = parse_answer(url_q, text, self.ctx.today)
        if isinstance(result, Ok):
            self.save_evidence(result.value)
        elif isinstance(result, Problem):
            self.problem(result)
            self.ask_evidence(q)
        else:
            self._ask_evidence_confirm(q, result)

    def _ask_evidence_confirm(self, q: Question, result: Confirm) -> None:
        """Evidence to question before keeping it (a document dated after the reporting year,
        a link whose host has Vietnamese letters): kept in `pending` until the answer."""
        self.state.pending = {"evidence": result.value}
        self.replies.append(
            Reply(
                self.t(result.msgid, **result.params),
                choices=self._confirm_choices(q.id),
                kind="confirm",
                item=q.id,
            )
        )

    def _evidence_confirmed(self, q: Question, text: str | None, yes: bool | None = None) -> bool:
        """The answer to `_ask_evidence_confirm`: yes keeps the evidence, no asks for it again;
        anything else is read as new evidence (False)."""
        pending = self.state.pending or {}
        if self.state.mode is not Mode.AWAITING_EVIDENCE or "evidence" not in pending:
            return False
        self.state.pending = None
        if yes is None and text is not None:
            yes = parse_yes_no(text)
        if yes is None:
            return False
        if yes:
            self.save_evidence(pending["evidence"])
        else:
            self.ask_evidence(q)
        return True

    def save_evidence(self, evidence: Any) -> None:
        q = self.current()
        if q is None:
            return
        old = self.answers.get(q.id) or Answer()
        before = self._section_done(q)
        self._save(q.id, replace(old, evidence=evidence))
        # Even when unchanged: the same link sent again is asked to be checked again.
        self.events.append(Event("evidence_given", {"item": q.id}))
        self.answered = {"item": q.id, "kind": "evidence"}
        self.share_evidence(evidence)  # the other cells of a row typed at once
        self.say(
            N_("📎 Đã lưu minh chứng cho {item}: {evidence}"),
            item=self.label(q.id),
            evidence=prompts.evidence_text(evidence, self.lang),
        )
        if (
            isinstance(evidence, dict)
            and evidence.get("number")
            and not evidence.get("link")
            and not isinstance(evidence.get("file"), dict)  # a file sent is itself the proof
        ):
            self.say(
                N_("Có thể gửi link sau: gõ /minhchung {item} rồi gửi riêng đường link."),
                item=self.label(q.id),
            )
        self.state.mode = move(self.state.mode, "ask")
        self._announce_completed(q, before)
        self.after_saved(q.id)

    # ---- navigation ---------------------------------------------------------------------
    def resume(self) -> None:
        q = self.current()
        pending = self.state.pending or {}
        if (
            q is not None
            and self.state.mode in (Mode.MENU, Mode.REVIEWING)
            and "value" in pending
            and not pending.get("clear")
        ):
            # A value waiting for "✅ Đúng" when the menu was opened (/menu, or the console's
            # greeting after a restart): ask that confirmation again, not the question.
            self.reconfirm(q, pending)
            return
        values = values_of(self.form, self.answers)
        if q is not None and is_visible(q, values) and is_open(q, self.answers, values):
            self.ask(q.id)
            return
        nxt = next_item(self.form, self.answers, self.state.item, self.state.skipped)
        if nxt is None:
            self.say(N_("Anh/chị đã trả lời hết các câu. Hãy xem lại và nộp phiếu."))
            self.review("")
        else:
            self.ask(nxt)

    def reconfirm(self, q: Question, pending: dict[str, Any]) -> None:
        """Show again the confirmation of the typed value kept in `pending` ("lớn bất
        thường?"), read again from the value; a plain "save this?" if it reads as is."""
        self.to("ask")
        self.state.pending = dict(pending)
        self.to("need_confirmation")
        value = pending.get("value")
        shown = format_answer(q, value, "vi")
        again = parse_answer(q, shown, self.ctx.today, reporting_year=self.ctx.reporting_year)
        if isinstance(again, Confirm) and again.value == value:
            text = self.t(again.msgid, **again.params)
        else:
            text = self.t(
                N_("Anh/chị đã nhập {value} cho {item}. Lưu giá trị này?"),
                value=format_answer(q, value, self.lang),
                item=self.label(q.id),
            )
        self.replies.append(
            Reply(text, choices=self._confirm_choices(q.id), kind="confirm", item=q.id)
        )

    def skip(self) -> None:
        q = self.current()
        if q is None:
            nxt = next_item(self.form, self.answers, None, self.state.skipped)
            if nxt is None or nxt in self.state.skipped:
                self.all_required_done()
            else:
                self.ask(nxt)
            return
        if self.state.mode is Mode.AWAITING_EVIDENCE:
            self.say(
                N_("Đã ghi nhận; nhớ bổ sung minh chứng cho {item} trước khi nộp."),
                item=self.label(q.id),
            )
            self.state.mode = move(self.state.mode, "ask")
            self.after_saved(q.id)
            return
        was_done = self._section_done(q)
        if q.id not in self.state.skipped:
            self.state.skipped = [*self.state.skipped, q.id]
        self._announce_completed(q, was_done)
        if self._return_to_place(q.id):
            return
        nxt = next_item(self.form, self.answers, q.id, self.state.skipped)
        if nxt is None or nxt in self.state.skipped:
            # Everything left was skipped already: going round them again is a circle.
            self.state.item = None
            self.all_required_done()
        else:
            self.ask(nxt)

    def back(self) -> None:
        trail = list(self.state.trail)
        if trail and trail[-1] == self.state.item:
            trail.pop()
        if not trail:
            self.say(N_("Đây là câu đầu tiên anh/chị đã xem."))
            self.reshow()
            return
        previous = trail[-1]
        self.state.trail = trail
        self.ask(previous, push=False)

    def edit(self, item: str) -> None:
        if not self.editable:
            self.read_only()
            return
        item = item.strip().rstrip(".")
        q = self._edit_target(item) if item else None
        if q is None:
            # Never silent, never a guess: what to type, with a number this form really has.
            if item:
                self.say(
                    N_("Không có mục “{item}”. Gõ số mục như trên phiếu, ví dụ: /sua {example}"),
                    "error",
                    item=item,
                    example=self._edit_example(),
                )
            else:
                self.say(
                    N_("Gõ /sua và số mục muốn sửa, ví dụ: /sua {example}"),
                    "error",
                    example=self._edit_example(),
                )
            self.reshow()
            return
        if not is_visible(q, values_of(self.form, self.answers)):
            self.say(
                N_("Mục {item} chỉ hỏi khi câu trước đó được trả lời phù hợp (ví dụ “Có”)."),
                "error",
                item=item,
            )
            self.reshow()
            return
        if q.id != self.state.item and self.state.mode is Mode.ANSWERING:
            self.state.back_to = self.state.item
        # Straight to the item, even where a prefilled section would show its card first:
        # its question shows the prefilled / last year's / current value and how to keep it.
        self.ask(q.id, card=False)

    def _edit_example(self) -> str:
        """An item number for /sua's examples: the current item's, else the form's first."""
        q = self.current() or (self.form.questions[0] if self.form.questions else None)
        return self.label(q.id) if q is not None else "1.1"

    def _edit_target(self, typed: str) -> Question | None:
        """What /sua names, as /xem and the headers show it: an item id ("3.2.b"); a cell's
        label, accents and case ignored ("3.8.1 (so luong)"); a group, table or row number
        ("4.2", "5.4", "3.8.1") → its first visible question in form order. None: no such item."""
        q = self.form.question(typed)
        if q is not None:
            return q
        folded = fold(typed)
        for other in self.form.questions:
            if fold(prompts.label(other, self.lang)) == folded:
                return other
        inside = [other for other in self.form.questions if other.id.startswith(typed + ".")]
        if not inside:
            return None
        values = values_of(self.form, self.answers)
        return next((other for other in inside if is_visible(other, values)), inside[0])

    def open_section(self, section: str) -> None:
        if not self.editable:
            self.review(section)
            return
        first = first_open_in_section(self.form, self.answers, section)
        if first is None:
            self.say(N_("Không có mục {section}."), "error", section=section)
            self.show_menu()
        else:
            self.ask(first)

    def show_menu(self) -> None:
        self.to("open_menu")
        if not self.editable:
            self.state.mode = Mode.SUBMITTED
        self.replies.append(prompts.menu(self.form, self.answers, self.ctx, self.lang))

    def reshow(self) -> None:
        q = self.current()
        if q is not None and self.at_section_card() and self.offer_section(q, again=True):
            return  # the card left unanswered is shown again, not its first question
        if self.state.mode is Mode.ANSWERING and q is not None:
            self.ask(q.id, push=False)
        elif self.state.mode is Mode.AWAITING_EVIDENCE and q is not None:
            self.ask_evidence(q)
        elif self.state.mode is Mode.MENU:
            self.show_menu()

    def stale(self) -> None:
        self.say(N_("Nút này thuộc một tin nhắn cũ. Đây là câu hỏi hiện tại:"), "stale")
        if self.state.mode in (Mode.CONFIRMING_VALUE, Mode.LIST_MORE) and self.current():
            q = self.current()
            assert q is not None
            self.replies.append(
                Reply(
                    self.t(N_("Vui lòng trả lời Có hoặc Không.")),
                    choices=self._confirm_choices(q.id),
                    kind="confirm",
                    item=q.id,
                )
            )
        elif self.state.mode is Mode.CONFIRMING_SUBMIT:
            self.submit()
        elif self.state.mode is Mode.SUBMITTED:
            self.read_only()
        elif self.state.mode is Mode.MENU or self.current() is None:
            self.show_menu()
        else:
            self.reshow()

    def set_language(self, lang: str) -> None:
        lang = lang.strip().lower()[:2]
        if lang not in LANGUAGES:
            self.say(N_("Ngôn ngữ hỗ trợ: vi, en. Ví dụ: /lang en"), "error")
            return
        self.state.lang = lang
        self.events.append(Event("language_changed", {"lang": lang}))
        self.say(N_("Đã chuyển sang tiếng Việt."))
        self.show_menu()

    # ---- review and submission ---------------------------------------------------------
    def review(self, section: str) -> None:
        if section:
            self.replies.append(
                prompts.section_answers(self.form, self.answers, section, self.lang)
            )
            return
        s = summarise(self.form, self.answers, self.state.skipped)
        self.to("review")
        if not self.editable:
            self.state.mode = Mode.SUBMITTED
        self.replies.append(prompts.summary(self.form, s, self.lang, editable=self.editable))

    def submit(self) -> None:
        s = summarise(self.form, self.answers, self.state.skipped)
        if not s.ready:
            self.say(N_("Chưa thể nộp phiếu."), "error")
            self.review("")
            return
        self.to("confirm_submit")
        text = self.t(
            N_(
                "Nộp phiếu của {agency}? Sau khi nộp, câu trả lời chỉ xem được, trừ khi "
                "Sở TTTT trả lại để bổ sung."
            ),
            agency=self.ctx.agency_name,
        )
        if s.missing_evidence:
            # Said where it still matters: a link missing scores 0 (scoring "no_link"), and
            # after submitting nothing can be added until a return.
            text += "\n" + self.t(
                N_(
                    "⚠️ {n} mục chưa có minh chứng (link): {ids}. Mục thiếu link có thể không "
                    "được tính điểm; bổ sung trước khi nộp: /minhchung {first}"
                ),
                n=len(s.missing_evidence),
                ids=prompts._ids(s.missing_evidence, self.form, self.lang),
                first=s.missing_evidence[0],
            )
        self.replies.append(
            Reply(
                text,
                choices=self._submit_choices(),
                kind="confirm",
            )
        )

    def _submit_choices(self) -> tuple[Choice, ...]:
        return (
            Choice(self.t(N_("📤 Nộp phiếu")), pack(Act.CONFIRM, "", "yes")),
            Choice(self.t(N_("Huỷ")), pack(Act.CONFIRM, "", "no")),
        )

    def finish_submit(self) -> None:
        s = summarise(self.form, self.answers, self.state.skipped)
        if not s.ready:
            self.submit()
            return
        self.transition = "submit"
        self.to("submitted")
        late_days = self._days_late()
        self.events.append(
            Event(
                "submitted",
                {
                    "answered": len(s.answered),
                    "not_applicable": len(s.not_applicable),
                    "missing_evidence": len(s.missing_evidence),
                    "late": late_days > 0,
                    "days_late": late_days,
                },
            )
        )
        self.say(
            N_("📤 Đã nộp phiếu. Sở TTTT sẽ thẩm định và báo lại nếu cần bổ sung. Cảm ơn anh/chị!")
        )
        if late_days > 0:
            self.say(
                N_(
                    "⏰ Phiếu được nộp sau hạn {deadline} ({days} ngày). Phiếu vẫn được nhận và "
                    "được ghi là nộp muộn."
                ),
                deadline=format_day(self.lang, self.ctx.deadline) if self.ctx.deadline else "",
                days=late_days,
            )

    def _days_late(self) -> int:
        """Days past the campaign's deadline (0 when on time or without a deadline)."""
        if self.ctx.deadline is None:
            return 0
        return max(0, (self.ctx.today - self.ctx.deadline).days)

    def read_only(self) -> None:
        self.say(
            N_("Phiếu đang ở trạng thái: {status}. Câu trả lời chỉ xem được (/xem)."),
            status=prompts.status_text(self.lang, self.ctx.status),
        )

    # ---- lists: keeping and removing saved rows -----------------------------------------
    def _rows(self, item: str) -> int:
        a = self.answers.get(item)
        return len(a.value) if a is not None and isinstance(a.value, list) else 0

    def list_choice(self, q: Question, value: str) -> None:
        """ "Không có" / "Xong, giữ" / "Xoá" at a list. Saved rows go only after a confirm."""
        rows = self._rows(q.id)
        if value == "keep" or (value == "none" and rows == 0 and q.id in self.answers):
            self.after_saved(q.id)
        elif rows == 0:
            self.store(q.id, Answer(value=[]))
        else:
            self.state.pending = {"clear": True}
            self.to("need_confirmation")
            self.replies.append(
                Reply(
                    self.t(
                        N_("Xoá cả {n} dòng đã lưu của mục {item}? Việc này không hoàn tác được."),
                        n=rows,
                        item=self.label(q.id),
                    ),
                    choices=self._confirm_choices(q.id),
                    kind="confirm",
                    item=q.id,
                )
            )

    # ---- evidence of an answered item ----------------------------------------------------
    def change_evidence(self, item: str) -> None:
        """Keep the value, give (or replace) its evidence: `/minhchung 8.2`, or the button."""
        q = self.form.question(item.strip().rstrip("."))
        answer = self.answers.get(q.id) if q is not None else None
        if q is None or q.evidence is Evidence.NONE:
            self.say(
                N_("Mục “{item}” không cần minh chứng. Ví dụ: /minhchung 8.1"), "error", item=item
            )
            self.reshow()
            return
        if not needs_evidence(q, answer):
            self.say(
                N_("Mục {item} chưa có câu trả lời cần minh chứng. Hãy trả lời trước."),
                "error",
                item=self.label(q.id),
            )
            self.edit(q.id)
            return
        self.state.mode = move(self.state.mode, "ask")
        self.state.item = q.id
        self.state.pending = None
        self.ask_evidence(q)

    def _link_for_document(self, q: Question, text: str) -> dict[str, Any] | None:
        """A link alone, sent for a document already saved without one, completes it."""
        old = (self.answers.get(q.id) or Answer()).evidence
        if (
            q.evidence is not Evidence.DOCUMENT
            or not isinstance(old, dict)
            or not old.get("number")
        ):
            return None
        url_q = replace(q, type=ItemType.URL, unit=None, min=None, max=None, example=None)
        read = parse_answer(url_q, text, self.ctx.today)
        return {**old, "link": read.value} if isinstance(read, Ok) else None

    # ---- what blocks submission, first ---------------------------------------------------
    def fix_blockers(self) -> None:
        """ "Trả lời tiếp" after a refused /nop: failed checks, then evidence, then items."""
        s = summarise(self.form, self.answers, self.state.skipped)
        if s.failed:
            f = s.failed[0]
            first = next((i for i, v in f.values.items() if v is not None), None)
            self.replies.append(
                Reply(
                    prompts.check_failure(self.form, f, self.lang),
                    actions=prompts.fix_actions(self.lang, f, self.form),
                    kind="check",
                    item=first,
                )
            )
            if first is not None:
                self.ask(first)
        elif s.missing_evidence:
            q = self.form.question(s.missing_evidence[0])
            assert q is not None
            self.state.mode = move(self.state.mode, "ask")
            self.state.item = q.id
            self.ask_evidence(q)
        elif s.missing_required:
            # Where the official was, then onwards in form order (NEWCOMER #10: /xem then
            # "Trả lời tiếp" continues in Mục 3, not at 1.1).
            ids = [q.id for q in self.form.questions]
            at = ids.index(self.state.item) if self.state.item in ids else 0
            missing = sorted((i for i in s.missing_required if i in ids), key=ids.index)
            after = [i for i in missing if ids.index(i) >= at]
            self.ask((after or missing or s.missing_required)[0])
        else:
            self.resume()

    # ---- "không áp dụng" for a whole group or table ---------------------------------------
    def _group_of(self, q: Question) -> str | None:
        """The innermost group or table around `q` with more than one item allowing "không
        áp dụng"; None when there is none."""
        section = self.form.section(q.section)
        if section is None:
            return None
        heads = [
            h.id
            for h in section.outline
            if getattr(h, "kind", None) in ("group", "table") and q.id.startswith(h.id + ".")
        ]
        for head in sorted(heads, key=len, reverse=True):
            if len(self._group_items(head)) > 1:
                return head
        return None

    def _group_items(self, group: str) -> list[str]:
        values = values_of(self.form, self.answers)
        return [
            q.id
            for q in self.form.questions
            if (q.id.startswith(group + ".") or q.table == group)
            and q.na_allowed
            and is_visible(q, values)
        ]

    def _previous_reason(self, item: str) -> str | None:
        """The reason given last before `item` in form order (any, if none before)."""
        reasons = [
            (q.id, a.na_reason)
            for q in self.form.questions
            if (a := self.answers.get(q.id)) is not None and a.na_reason
        ]
        if not reasons:
            return None
        ids = [q.id for q in self.form.questions]
        before = [r for i, r in reasons if item in ids and ids.index(i) < ids.index(item)]
        return before[-1] if before else reasons[-1][1]

    def ask_reason(self, q: Question, group: str | None = None) -> None:
        actions: list[Choice] = []
        previous = self._previous_reason(q.id)
        if previous:
            shown = previous if len(previous) <= 40 else previous[:39] + "…"
            actions.append(
                Choice(
                    self.t(N_("♻️ Dùng lại: {reason}"), reason=shown),
                    pack(Act.CONFIRM, q.id, "reuse"),
                )
            )
        whole = self._group_of(q) if group is None else None
        if whole is not None:
            actions.append(
                Choice(
                    self.t(
                        N_("🚫 Cả {group} ({n} câu)"), group=whole, n=len(self._group_items(whole))
                    ),
                    pack(Act.CONFIRM, q.id, "group"),
                )
            )
        actions.append(Choice(self.t(N_("↩ Quay lại")), pack(Act.EDIT, q.id)))
        if group is None:
            text = self.t(
                N_(
                    "Vì sao mục {item} không áp dụng với cơ quan? Nêu lý do ngắn gọn.\n"
                    "Ví dụ: Cơ quan không cung cấp dịch vụ công trực tuyến."
                ),
                item=self.label(q.id),
            )
        else:
            text = self.t(
                N_(
                    "Một lý do cho cả {n} câu của mục {group} ({items}): vì sao không áp dụng?\n"
                    "Ví dụ: Cơ quan không cung cấp dịch vụ công trực tuyến."
                ),
                n=len(self._group_items(group)),
                group=group,
                items=", ".join(self.label(i) for i in self._group_items(group)),
            )
        self.replies.append(Reply(text, actions=tuple(actions), kind="question", item=q.id))

    def not_applicable_group(self, group: str) -> None:
        """`/kad 6.4`: one reason for every item of a group or table that allows it."""
        group = group.strip().rstrip(".")
        q = self.form.question(group)
        if q is not None and not (items := self._group_items(group)):
            self.state.item, self.state.mode = q.id, move(self.state.mode, "ask")
            self.not_applicable()
            return
        items = self._group_items(group)
        if items and self.state.item not in items and self.state.mode is Mode.ANSWERING:
            self.state.back_to = self.state.item
        if not items:
            self.say(
                N_(
                    "Mục {group} không có câu nào cho phép “không áp dụng”. Ví dụ: /kad 6.4 "
                    "(một nhóm hay bảng có lựa chọn này)."
                ),
                "error",
                group=group,
            )
            self.reshow()
            return
        first = self.form.question(items[0])
        assert first is not None
        self.state.mode = move(self.state.mode, "ask")
        self.state.item = first.id
        self.to("need_reason")
        self.state.pending = {"group": group}
        self.ask_reason(first, group)

    def on_na_choice(self, value: str) -> None:
        q = self.current()
        if q is None:
            self.stale()
            return
        group = (self.state.pending or {}).get("group")
        if value == "reuse":
            reason = self._previous_reason(q.id)
            if reason is None:
                self.stale()
            elif group:
                self.save_group_reason(str(group), reason)
            else:
                self.state.mode = move(self.state.mode, "ask")
                self.store(q.id, Answer(na_reason=reason))
        elif value == "group" and (whole := self._group_of(q)) is not None:
            self.state.pending = {"group": whole}
            self.ask_reason(q, whole)
        else:
            self.stale()

    def save_group_reason(self, group: str, reason: str) -> None:
        items = self._group_items(group)
        self.state.pending = None
        self.state.mode = move(self.state.mode, "ask")
        for item in items:
            self._save(item, Answer(na_reason=reason))
            if item in self.state.skipped:
                self.state.skipped.remove(item)
        self.say(
            N_("✅ Đã ghi “không áp dụng” ({reason}) cho {n} câu của mục {group}: {items}"),
            reason=reason,
            n=len(items),
            group=group,
            items=", ".join(self.label(i) for i in items),
        )
        if items:
            self.after_saved(items[-1])
        else:
            self.resume()


def _says_done(text: str) -> bool:
    """ "xong" typed at a list that has rows ends it; it is never a row named "Xong"."""
    return fold(text).strip(" .!") in _DONE_WORDS


def _yes_no(text: str) -> bool | None:
    """A yes/no reply to a confirmation: the parser's words, plus agreement phrases a
    confirmation gets ("đồng ý", "chính xác", "xác nhận", "agree", "correct")."""
    read = parse_yes_no(text)
    if read is not None:
        return read
    return True if fold(text).strip(" .!,") in _AGREE else None


def _formula_refs(q: Question) -> tuple[str, ...]:
    return expr.refs(q.formula) if q.formula else ()


def handle(
    form: Form,
    answers: Mapping[str, Answer],
    state: ConversationState,
    incoming: Incoming,
    ctx: Context,
) -> Step:
    """Apply one incoming event. The inputs are not modified."""
    run = _Run(form, answers, state.copy(), ctx)
    try:
        if not _continues_split(run, incoming):
            run.dispatch(incoming)
        _remember_answer(run, incoming)
    except MachineError as e:
        run = _recovered(form, answers, state, ctx, e)
    return _one_message_per_turn(run.step())


def _recovered(
    form: Form,
    answers: Mapping[str, Answer],
    state: ConversationState,
    ctx: Context,
    error: MachineError,
) -> _Run:
    """A move the conversation machine forbids is a bug; the official still gets the menu
    and the caller logs the event. Property tests assert this never happens."""
    run = _Run(form, answers, replace(state.copy(), mode=Mode.MENU, pending=None), ctx)
    run.events.append(Event("engine_recovered", {"error": str(error)}))
    run.say(N_("Xin lỗi, đã có trục trặc. Câu trả lời đã lưu vẫn còn; mời chọn lại."))
    run.show_menu()
    return run


# ---- what chat apps do to messages: edits, albums, captions, split long texts ---------------
# Telegram clients split a text over 4096 UTF-16 units into several messages, cut at a line
# or word boundary, so the first part is a little shorter than 4096; they are sent at once.
SPLIT_NEAR = 3500  # UTF-16 units: a message this long may be the first part of a split
SPLIT_WINDOW = timedelta(seconds=3)  # the app sends the parts at once: same second, or next


def handle_edit(
    form: Form,
    answers: Mapping[str, Answer],
    state: ConversationState,
    incoming: Incoming,
    ctx: Context,
) -> Step:
    """Apply an edited message (`incoming.edited`, its `message_id`). Inputs not modified.

    An edit of the message that produced the latest answer (ConversationState.last_answer)
    answers that item again, as if the new text had been sent at its question (a list row
    is replaced, not added; evidence or a "không áp dụng" reason is saved again). Any other
    edit — an older message, a command, a closed form — gets one short reply saying how to
    change an answer (/sua), and changes nothing: never silence, never a guess.
    """
    run = _Run(form, answers, state.copy(), ctx)
    try:
        _on_edit(run, incoming)
        _remember_answer(run, incoming)
    except MachineError as e:
        run = _recovered(form, answers, state, ctx, e)
    return _one_message_per_turn(run.step())


def _on_edit(run: _Run, incoming: Incoming) -> None:
    run._follow_status()
    last = run.state.last_answer or {}
    text = (incoming.text or "").strip()
    same = incoming.message_id is not None and str(last.get("message_id")) == str(
        incoming.message_id
    )
    q = run.form.question(str(last.get("item"))) if same else None
    if not run.editable:
        run.read_only()
        return
    if q is None or _COMMAND.match(text):
        run.say(
            N_(
                "✏️ Phiếu không đổi câu trả lời theo một tin nhắn cũ đã sửa. Để sửa một mục, "
                "gõ /sua và số mục, ví dụ: /sua 3.2.b"
            )
        )
        return
    kind = last.get("kind")
    run.state.item = q.id
    run.state.pending = None
    run.state.album = None
    if kind == "evidence":
        run.state.mode = Mode.AWAITING_EVIDENCE
    elif kind == "na":
        run.state.mode = Mode.AWAITING_NA_REASON
    else:
        run.state.mode = Mode.ANSWERING
        if kind == "row":
            run.state.pending = {"replace_row": last.get("row")}
    run.dispatch(replace(incoming, edited=False, group=None))


def _remember_answer(run: _Run, incoming: Incoming) -> None:
    """Keep which message produced the latest answer (none if it was a button).

    A typed value waiting for "✅ Đúng" counts as an answer of its item already, and the
    button that confirms it keeps the typed message as the answer's source.
    """
    last = run.state.last_answer
    answered = run.answered
    if (
        answered is None
        and run.state.mode is Mode.CONFIRMING_VALUE
        and incoming.payload is None
        and run.state.item is not None
    ):
        answered = {"item": run.state.item, "kind": "value"}
    if answered is None:
        return
    if incoming.payload is not None and last and last.get("item") == answered.get("item"):
        return  # confirmed by a button: the typed message is still the source
    if incoming.message_id is None or incoming.payload is not None:
        run.state.last_answer = None
    else:
        run.state.last_answer = {**answered, "message_id": str(incoming.message_id)}


def _file_evidence(incoming: Incoming, ctx: Context) -> dict[str, Any]:
    """A file as evidence; its caption fills number, date, title and link when it reads as
    a document ("12/KH-UBND; 15/01/2019; https://…"), else is kept as written."""
    evidence: dict[str, Any] = {"file": incoming.attachment}
    caption = (incoming.text or "").strip()
    if caption:
        read = parse_document(caption, ctx.today)
        if isinstance(read, Problem) or not isinstance(read.value, dict):
            evidence["caption"] = caption[:500]
        else:
            evidence |= {k: v for k, v in read.value.items() if v}
    return evidence


def _joins_album(run: _Run, incoming: Incoming) -> bool:
    """A further photo or file of an album (media group) already being received.

    Kept with the item the album's first file went to, in the evidence's "files" (the first
    stays in "file"); no reply, so an album of N photos gets one answer. If the album was
    refused (not at an evidence prompt), the rest is dropped quietly: it was answered once.
    """
    album = run.state.album
    if not incoming.group or not album or album.get("group") != incoming.group:
        return False
    item = album.get("item")
    old = run.answers.get(str(item)) if item else None
    if old is None or not isinstance(old.evidence, dict) or incoming.attachment is None:
        return True
    evidence = dict(old.evidence)
    first = evidence.get("file")
    files = list(evidence.get("files") or ([first] if isinstance(first, dict) else []))
    key = incoming.attachment.get("file_unique_id")
    if key is not None and any(f.get("file_unique_id") == key for f in files):
        return True  # the same file again
    files.append(incoming.attachment)
    evidence["files"] = files
    evidence.setdefault("file", files[0])
    for k, v in _file_evidence(incoming, run.ctx).items():
        if k not in ("file", "caption"):
            evidence.setdefault(k, v)
    run._save(str(item), replace(old, evidence=evidence))
    return True


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _continues_split(run: _Run, incoming: Incoming) -> bool:
    """True when `incoming` is a later part of a text the chat app split (then answered).

    Rule (decision, README "Telegram"): a text of at least SPLIT_NEAR UTF-16 units marks the
    chat; a text arriving within SPLIT_WINDOW of the marked one, by the app's own send
    times, is its continuation — never saved alone as an answer nor read as a command (a
    text starting with "/" is a command, never a continuation). A continuation as long as
    the first part may be followed by another; a shorter one is the last part. The first
    part went through as usual (every answer is shorter than 4096, so it was refused as too
    long); the first continuation gets one short note, later parts none. A text from a
    channel without send times (the console) is never a continuation.
    """
    text = incoming.text or ""
    at = incoming.sent_at
    if at is None or incoming.payload is not None or incoming.attachment is not None:
        return False
    split = run.state.split
    if split and text.strip() and not text.lstrip().startswith("/"):
        try:
            since = at - datetime.fromisoformat(str(split.get("at")))
        except (TypeError, ValueError):
            since = SPLIT_WINDOW + SPLIT_WINDOW
        if timedelta(0) <= since <= SPLIT_WINDOW:
            # Only a part as long as the first can be followed by another.
            long = _utf16_len(text) >= SPLIT_NEAR
            run.state.split = {"at": at.isoformat(), "noted": True} if long else None
            if not split.get("noted"):
                run.say(
                    N_(
                        "✂️ Tin nhắn vừa gửi dài hơn 4096 ký tự nên Telegram đã tách làm nhiều "
                        "phần; phần tiếp theo không được lưu riêng thành câu trả lời. Vui lòng "
                        "gửi bản ngắn gọn hơn, hoặc gửi văn bản dài dưới dạng tệp khi Phiếu hỏi "
                        "minh chứng."
                    )
                )
            return True
    run.state.split = (
        {"at": at.isoformat(), "noted": False} if _utf16_len(text) >= SPLIT_NEAR else None
    )
    return False


def _one_message_per_turn(step: Step) -> Step:
    """The confirmation and the next question as one message (issue #8; flows.coalesce)."""
    return replace(step, replies=coalesce(step.replies))
