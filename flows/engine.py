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
from typing import Any

from transitions import MachineError

from flows import expr, prompts
from flows.cells import Cells
from flows.coalesce import coalesce
from flows.i18n import LANGUAGES, N_, format_value
from flows.machines import EDITABLE_STATUSES, Mode, move
from flows.model import Evidence, Form, ItemType, Question
from flows.navigation import (
    failed_checks,
    first_open_in_section,
    is_open,
    is_visible,
    needs_evidence,
    next_item,
    section_progress,
    summarise,
    values_of,
)
from flows.offers import Offers
from flows.parsing import (
    Confirm,
    Ok,
    Problem,
    Result,
    fold,
    format_answer,
    parse_answer,
    parse_document,
    parse_list_row,
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
_ITEM_BOUND = frozenset({"skip", "back", "na"})
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
}
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)


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
            if self.state.mode is Mode.AWAITING_EVIDENCE:
                self.save_evidence({"file": incoming.attachment})
            else:
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
            return prompts.answer_choices(self.lang, q) + ((keep,) if keep else ())
        if mode is Mode.CONFIRMING_SUBMIT:
            return self._submit_choices()
        if mode in (Mode.CONFIRMING_VALUE, Mode.LIST_MORE) and q:
            return self._confirm_choices(q.id)
        return ()

    def _picked_choice(self, text: str) -> str | None:
        """A typed "2" or "Có" picks the second / the "Có" choice, where choices are shown."""
        choices = self._choices_now()
        if not choices or not text:
            return None
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(choices):
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
        if action == "menu":
            self.show_menu()
        elif action == "help":
            self.replies.append(prompts.help_text(self.lang))
        elif action == "lang":
            self.set_language(arg or ("en" if self.lang == "vi" else "vi"))
        elif action == "review":
            self.review(arg)
        elif not self.editable:
            self.read_only()
        elif action == "continue":
            self.resume()
        elif action == "skip":
            self.skip()
        elif action == "back":
            self.back()
        elif action == "na":
            self.not_applicable()
        elif action == "edit":
            self.edit(arg)
        elif action == "submit":
            self.submit()
        else:
            self.say(N_("Không hiểu lệnh /{name}. Gõ /help để xem các lệnh."), "error", name=name)
            self.reshow()

    def on_confirm(self, p: Payload) -> None:
        mode, yes = self.state.mode, p.value in ("yes", "more")
        if mode is Mode.CONFIRMING_SUBMIT and p.item == "":
            self.finish_submit() if yes else self.show_menu()
        elif p.item != self.state.item:
            self.stale()
        elif mode is Mode.CONFIRMING_VALUE:
            value = (self.state.pending or {}).get("value")
            self.state.pending = None
            if yes:
                self.store(p.item, Answer(value=value))
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
            yes = parse_yes_no(text)
            if yes is None:
                self.say(N_("Vui lòng trả lời Có hoặc Không."), "error")
                self.submit()
            else:
                self.on_confirm(Payload(Act.CONFIRM, "", "yes" if yes else "no"))
        elif mode in (Mode.CONFIRMING_VALUE, Mode.LIST_MORE) and q:
            yes = parse_yes_no(text)
            if yes is not None:
                self.on_confirm(Payload(Act.CONFIRM, q.id, "yes" if yes else "no"))
            else:
                self.to("ask")
                if mode is Mode.CONFIRMING_VALUE:
                    self.state.pending = None
                self.answer_text(q, text)
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
        elif q.type is ItemType.LIST and value == "none":
            self.store(item, Answer(value=[]))
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
        if self.answer_cells(q, text):  # "150; 200": a table row (or column) at once
            return
        result = (
            parse_list_row(q.columns, text, self.ctx.today)
            if q.type is ItemType.LIST
            else parse_answer(q, text, self.ctx.today)
        )
        self.on_result(q, result)

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
            was_complete = pending.get("was_complete", self._section_complete(q))
            self._save(q.id, Answer(value=rows))
            self.to("ask_more_rows")
            self.state.pending = {"was_complete": was_complete}
            self.replies.append(
                Reply(
                    self.t(
                        N_("Đã lưu dòng {n} của mục {item}. Thêm dòng nữa?"), n=len(rows), item=q.id
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
        return (
            Choice(self.t(N_("✅ Đúng")), pack(Act.CONFIRM, item, "yes")),
            Choice(self.t(N_("✏️ Nhập lại")), pack(Act.CONFIRM, item, "no")),
        )

    def problem(self, p: Problem) -> None:
        text = self.t(p.msgid, **p.params)
        if p.example:
            text += "\n" + self.t(N_("Ví dụ: {example}"), example=p.example)
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
        before = self._section_complete(q)
        old = self.answers.get(item)
        if old is not None and old.evidence and not answer.evidence and not answer.is_na:
            answer = replace(answer, evidence=old.evidence)
        self._save(item, answer)
        if item in self.state.skipped:
            self.state.skipped.remove(item)
        shown = (
            self.t(N_("không áp dụng"))
            if answer.is_na
            else format_answer(q, answer.value, self.lang)
        )
        self.replies.append(
            Reply(
                self.t(N_("✅ Đã lưu {item}: {value}"), item=item, value=shown),
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
                            *prompts.fix_actions(self.lang, f),
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
        self._announce_completed(q, before)
        if needs_evidence(q, answer) and not answer.evidence:
            self.ask_evidence(q)
            return
        self.after_saved(item)

    def _section_complete(self, q: Question) -> bool:
        section = self.form.section(q.section)
        return section is not None and section_progress(self.form, self.answers, section).complete

    def _announce_completed(self, q: Question, was_complete: bool) -> None:
        """🎉 when saving `q` (an answer or a list row) completed its section."""
        if not was_complete and self._section_complete(q):
            self.events.append(Event("section_completed", {"section": q.section}))
            self.say(N_("🎉 Đã xong Mục {section}."), section=q.section)

    def after_saved(self, item: str) -> None:
        nxt = next_item(self.form, self.answers, item, self.state.skipped)
        if nxt is None:
            self.state.item = None
            self.say(N_("Anh/chị đã trả lời hết các câu. Hãy xem lại và nộp phiếu."))
            self.review("")
        else:
            self.ask(nxt)

    def ask(self, item: str, push: bool = True) -> None:
        q = self.form.question(item)
        if q is None:
            self.show_menu()
            return
        self.to("ask")
        self.state.item = item
        self.state.pending = None
        if push and (not self.state.trail or self.state.trail[-1] != item):
            self.state.trail = [*self.state.trail, item][-_TRAIL:]
        if push and self.offer_section(q):  # "Mục 3 giống năm trước?"
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
                    "Mục {item} không có lựa chọn “không áp dụng”. Nếu chưa có số liệu, "
                    "anh/chị có thể /bo để trả lời sau."
                ),
                "error",
                item=q.id,
            )
            self.ask(q.id, push=False)
            return
        self.to("need_reason")
        self.replies.append(
            Reply(
                self.t(
                    N_(
                        "Vì sao mục {item} không áp dụng với cơ quan? Nêu lý do ngắn gọn.\n"
                        "Ví dụ: Cơ quan không cung cấp dịch vụ công trực tuyến."
                    ),
                    item=q.id,
                ),
                actions=(Choice(self.t(N_("↩ Quay lại")), pack(Act.EDIT, q.id)),),
                kind="question",
                item=q.id,
            )
        )

    def save_na_reason(self, q: Question, text: str) -> None:
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
        self.replies.append(
            Reply(
                self.t(msgid, item=q.id),
                actions=(Choice(self.t(N_("⏭ Bổ sung sau")), pack(Act.COMMAND, q.id, "skip")),),
                kind="question",
                item=q.id,
            )
        )

    def evidence_text(self, q: Question, text: str) -> None:
        if q.evidence is Evidence.DOCUMENT:
            result = parse_document(text, self.ctx.today, require_link=True)
        else:
            url_q = replace(q, type=ItemType.URL, unit=None, min=None, max=None, example=None)
            result = parse_answer(url_q, text, self.ctx.today)
        if isinstance(result, Ok):
            self.save_evidence(result.value)
        elif isinstance(result, Problem):
            self.problem(result)
            self.ask_evidence(q)
        else:
            self.save_evidence(result.value)

    def save_evidence(self, evidence: Any) -> None:
        q = self.current()
        if q is None:
            return
        old = self.answers.get(q.id) or Answer()
        self._save(q.id, replace(old, evidence=evidence))
        self.share_evidence(evidence)  # the other cells of a row typed at once
        self.say(N_("📎 Đã lưu minh chứng cho {item}."), item=q.id)
        self.state.mode = move(self.state.mode, "ask")
        self.after_saved(q.id)

    # ---- navigation ---------------------------------------------------------------------
    def resume(self) -> None:
        q = self.current()
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

    def skip(self) -> None:
        q = self.current()
        if q is None:
            self.resume()
            return
        if self.state.mode is Mode.AWAITING_EVIDENCE:
            self.say(N_("Đã ghi nhận; nhớ bổ sung minh chứng cho {item} trước khi nộp."), item=q.id)
            self.state.mode = move(self.state.mode, "ask")
            self.after_saved(q.id)
            return
        if q.id not in self.state.skipped:
            self.state.skipped = [*self.state.skipped, q.id]
        nxt = next_item(self.form, self.answers, q.id, self.state.skipped)
        if nxt is None or nxt == q.id:
            self.say(N_("Không còn câu nào khác chưa trả lời."))
            self.review("")
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
        q = self.form.question(item)
        if q is None:
            self.say(
                N_("Không có mục “{item}”. Gõ số mục như trên phiếu, ví dụ: /sua 3.2.b"),
                "error",
                item=item,
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
        self.ask(item)

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
        self.replies.append(
            Reply(
                self.t(
                    N_(
                        "Nộp phiếu của {agency}? Sau khi nộp, câu trả lời chỉ xem được, trừ khi "
                        "Sở TTTT trả lại để bổ sung."
                    ),
                    agency=self.ctx.agency_name,
                ),
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
        self.events.append(
            Event(
                "submitted",
                {
                    "answered": len(s.answered),
                    "not_applicable": len(s.not_applicable),
                    "missing_evidence": len(s.missing_evidence),
                },
            )
        )
        self.say(
            N_("📤 Đã nộp phiếu. Sở TTTT sẽ thẩm định và báo lại nếu cần bổ sung. Cảm ơn anh/chị!")
        )

    def read_only(self) -> None:
        self.say(
            N_("Phiếu đang ở trạng thái: {status}. Câu trả lời chỉ xem được (/xem)."),
            status=prompts.status_text(self.lang, self.ctx.status),
        )


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
        run.dispatch(incoming)
    except MachineError as e:
        # A move the conversation machine forbids is a bug; the official still gets the menu
        # and the caller logs the event. Property tests assert this never happens.
        run = _Run(form, answers, replace(state.copy(), mode=Mode.MENU, pending=None), ctx)
        run.events.append(Event("engine_recovered", {"error": str(e)}))
        run.say(N_("Xin lỗi, đã có trục trặc. Câu trả lời đã lưu vẫn còn; mời chọn lại."))
        run.show_menu()
    return _one_message_per_turn(run.step())


def _one_message_per_turn(step: Step) -> Step:
    """The confirmation and the next question as one message (issue #8; flows.coalesce)."""
    return replace(step, replies=coalesce(step.replies))
