"""The agency's side of review (issue #10), pure: fix returned items, resubmit, confirm.

A returned submission is asked again only on the items the reviewer returned (each with the
reviewer's comment); the rest stays read-only. When the official has gone through them, they
resubmit. After acceptance the officials confirm the final data (xác nhận số liệu), seeing
the values the reviewer corrected, or dispute it with a reason (back to the reviewer).

`handle(view, state, incoming, lang)` returns the new state, answer changes, replies, the
submission trigger to apply ("submit" | "confirm" | "dispute") and its note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flows import prompts
from flows.i18n import N_
from flows.machines import Status
from flows.model import Evidence, Form, Question
from flows.parsing import Problem, parse_document, parse_url, parse_with_evidence
from flows.review import rpack, runpack
from flows.review_turn import SubmissionView, TurnBase
from flows.review_values import problem_reply, read_value, shown, value_example
from flows.state import Answer, Choice, Incoming, Reply

_MIN_REASON = 5
_COMMAND_RESUBMIT = frozenset({"nop", "submit", "send", "noplai"})
_COMMAND_CONFIRM = frozenset({"xacnhan", "confirm"})
_COMMAND_DISPUTE = frozenset({"khongdongy", "dispute"})
# What the desk hands to this flow on an accepted submission (the rest goes to the engine).
ACCEPTED_COMMANDS = _COMMAND_CONFIRM | _COMMAND_DISPUTE
# Engine actions (flows/engine.py command_of) the engine answers even while a submission is
# returned: they read (/xem, /help, /diem) or change only the person's settings (/lang,
# /tatnhac), never an answer, so the fix flow need not wait for them.
READ_ONLY_ACTIONS = frozenset({"review", "help", "score", "lang", "mute", "unmute"})


@dataclass(frozen=True, slots=True)
class AgencyView(SubmissionView):
    """One submission as the agency's turn needs it: what both sides read, nothing more."""


@dataclass(frozen=True, slots=True)
class AgencyStep:
    state: dict[str, Any] | None
    replies: tuple[Reply, ...]
    changes: dict[str, Answer] = field(default_factory=dict)
    transition: str | None = None
    note: str | None = None


def returned_items(view: AgencyView) -> list[str]:
    """The items the reviewer returned (standing 'tra_lai'), in form order."""
    order = {q.id: n for n, q in enumerate(view.form.questions)}
    items = [i for i, v in view.verdicts.items() if v.verdict == "tra_lai"]
    return sorted(items, key=lambda i: order.get(i, len(order)))


def corrections(view: AgencyView) -> list[str]:
    return [i for i, v in view.verdicts.items() if v.verdict == "sua" and v.corrected is not None]


def _label(form: Form, item: str, lang: str) -> str:
    return prompts.label_of(form, item, lang)


def return_notice(view: AgencyView, lang: str) -> Reply:
    """The ONE message the officials get when the submission is returned."""
    lines = [
        prompts.t(
            lang,
            N_("↩️ Sở TTTT trả lại phiếu của {agency}: cần sửa {n} mục."),
            agency=view.agency_name,
            n=len(returned_items(view)),
        )
    ]
    for item in returned_items(view):
        comment = view.verdicts[item].comment or ""
        lines.append(f"• {_label(view.form, item, lang)}: {comment}")
    lines.append(prompts.t(lang, N_("Các mục khác giữ nguyên, chỉ xem được.")))
    button = Choice(prompts.t(lang, N_("✏️ Sửa các mục bị trả lại")), rpack(view.sub_id, "fix"))
    return Reply("\n".join(lines), (button,), kind="notice")


def accepted_notice(view: AgencyView, lang: str) -> Reply:
    """Asks the officials to confirm the final data, listing the reviewer's corrections."""
    lines = [
        prompts.t(
            lang,
            N_("✅ Sở TTTT đã chấp nhận phiếu của {agency}. Mời anh/chị xác nhận số liệu."),
            agency=view.agency_name,
        )
    ]
    fixed = corrections(view)
    if fixed:
        lines.append(prompts.t(lang, N_("Các giá trị Sở đã sửa:")))
        for item in fixed:
            v = view.verdicts[item]
            q = view.form.question(item)
            lines.append(
                f"• {_label(view.form, item, lang)}: {shown(q, view.answers.get(item), lang)} → "
                f"{shown(q, v.corrected, lang)} ({v.comment or ''})"
            )
    else:
        lines.append(prompts.t(lang, N_("Sở không sửa giá trị nào.")))
    lines.append(
        prompts.t(lang, N_("(Hoặc gõ /xacnhan để xác nhận, /khongdongy nếu không đồng ý.)"))
    )
    return Reply(
        "\n".join(lines),
        (
            Choice(prompts.t(lang, N_("✅ Xác nhận số liệu")), rpack(view.sub_id, "confirm")),
            Choice(prompts.t(lang, N_("❗ Không đồng ý")), rpack(view.sub_id, "dispute")),
        ),
        kind="notice",
    )


class _Turn(TurnBase[AgencyView, AgencyStep]):
    def __init__(self, view: AgencyView, state: dict[str, Any] | None, lang: str) -> None:
        super().__init__(view, state, lang)
        self.changes: dict[str, Answer] = {}
        self.transition: str | None = None
        self.note: str | None = None
        self.changed = dict(view.changed)

    def step(self) -> AgencyStep:
        self.state["sub"] = self.view.sub_id
        return AgencyStep(self.state, tuple(self.replies), self.changes, self.transition, self.note)

    def dispatch(self, incoming: Incoming) -> None:
        picked = runpack(incoming.payload)
        text = (incoming.text or "").strip()
        command = text[1:].split()[0].split("@")[0].lower() if text.startswith("/") else None
        if self.view.status is Status.RETURNED:
            self.fixing(picked, text, command, incoming)
        elif self.view.status is Status.ACCEPTED:
            self.confirming(picked, text, command)
        else:
            self.say(
                N_("Phiếu đang ở trạng thái: {status}."),
                status=prompts.status_text(self.lang, self.view.status),
            )

    # -- returned --------------------------------------------------------------------------
    def todo(self) -> list[str]:
        return [i for i in returned_items(self.view) if i not in self.changed]

    def fixing(
        self,
        picked: tuple[int, str] | None,
        text: str,
        command: str | None,
        incoming: Incoming,
    ) -> None:
        action = picked[1] if picked else None
        # "1" typed under "Nộp lại phiếu?" (its only choice); anywhere else it is no choice
        # (under the return notice, "1" is the notice's "Sửa", bot/service.py _notice_pick).
        typed_one = self.state.get("shown") == "resubmit" and text == "1"
        self.state.pop("shown", None)
        if action == "resubmit" or command in _COMMAND_RESUBMIT or typed_one:
            self.resubmit()
        elif action == "fix" or command is not None or picked is not None:
            if command == "sua" and text.split()[1:2]:
                self.ask_named(text.split()[1])
            else:
                self.ask_next()
        elif self.state.get("item") and (text or incoming.attachment):
            self.answer(self.state["item"], text, incoming.attachment)
        else:
            self.ask_next()

    def ask_named(self, item: str) -> None:
        if item not in returned_items(self.view):
            self.say(
                N_("Chỉ sửa được các mục bị trả lại: {items}."),
                "error",
                items=", ".join(self.label(i) for i in returned_items(self.view)),
            )
            self.ask_next()
            return
        self.ask(item)

    def ask_next(self) -> None:
        todo = self.todo()
        if todo:
            self.ask(todo[0])
            return
        self.state.pop("item", None)
        self.state["shown"] = "resubmit"
        self.replies.append(
            Reply(
                self.t(N_("Đã sửa xong các mục bị trả lại. Nộp lại phiếu cho Sở TTTT?")),
                (Choice(self.t(N_("📤 Nộp lại")), rpack(self.view.sub_id, "resubmit")),),
                kind="question",
            )
        )

    def ask(self, item: str) -> None:
        q = self.view.form.question(item)
        if q is None:
            return
        self.state["item"] = item
        answer = self.view.answers.get(item)
        lines = [
            f"{self.label(item)}. {q.text.get(self.lang)}",
            self.t(
                N_("Nhận xét của Sở: {comment}"), comment=self.view.verdicts[item].comment or ""
            ),
            self.t(N_("Hiện tại: {value}"), value=shown(q, answer, self.lang)),
        ]
        if answer is not None and answer.evidence:
            lines.append(
                self.t(
                    N_("📎 Minh chứng: {evidence}"),
                    evidence=prompts.evidence_text(answer.evidence, self.lang),
                )
            )
        lines.append(
            self.t(
                N_(
                    "Gõ câu trả lời mới (có thể kèm link minh chứng), hoặc chỉ link mới. "
                    "Ví dụ: {example}"
                ),
                example=value_example(q, self.lang),
            )
        )
        self.replies.append(
            Reply(
                "\n".join(lines),
                actions=(Choice(self.t(N_("📤 Nộp lại")), rpack(self.view.sub_id, "resubmit")),),
                kind="question",
                item=item,
            )
        )

    def answer(self, item: str, text: str, attachment: dict[str, Any] | None) -> None:
        q = self.view.form.question(item)
        if q is None:
            self.ask_next()
            return
        old = self.view.answers.get(item) or Answer()
        new = self.read(q, old, text, attachment)
        if new is None:
            return
        self.changes[item] = new
        self.changed[item] = old
        self.say(
            N_("Đã lưu {item}: {value}."),
            item=self.label(item),
            value=shown(q, new, self.lang)
            + (
                " · " + prompts.evidence_text(new.evidence, self.lang)
                if new.evidence and new.evidence != old.evidence
                else ""
            ),
        )
        self.ask_next()

    def read(
        self, q: Question, old: Answer, text: str, attachment: dict[str, Any] | None
    ) -> Answer | None:
        """The official's new answer: a value (+ link), a link or document alone (the value
        kept), or a file (evidence). None after saying what was wrong."""
        today, year = self.view.today, self.view.reporting_year
        if attachment is not None:
            return Answer(old.value, old.na_reason, {"file": attachment})
        both = parse_with_evidence(q, text, today, reporting_year=year)
        if both is not None:
            value, evidence = both
            return Answer(value.value, None, evidence.value)
        result = read_value(q, text, today, reporting_year=year)
        if not isinstance(result, Problem):
            return Answer(result.value, None, old.evidence)
        if q.evidence is not Evidence.NONE:
            evidence = (
                parse_document(text, today, reporting_year=year)
                if q.evidence is Evidence.DOCUMENT
                else parse_url(text)
            )
            if not isinstance(evidence, Problem):
                return Answer(old.value, old.na_reason, evidence.value)
        self.replies.append(problem_reply(self.lang, result))
        return None

    def resubmit(self) -> None:
        left = self.todo()
        self.transition = "submit"
        self.state.pop("item", None)
        lines = [self.t(N_("📤 Đã nộp lại phiếu; Sở TTTT sẽ thẩm định lại."))]
        if left:
            lines.append(
                self.t(
                    N_("Các mục giữ nguyên, chưa sửa: {items}."),
                    items=", ".join(self.label(i) for i in left),
                )
            )
        self.replies.append(Reply("\n".join(lines)))

    # -- accepted --------------------------------------------------------------------------
    def confirming(self, picked: tuple[int, str] | None, text: str, command: str | None) -> None:
        action = picked[1] if picked else None
        if action == "confirm" or command in _COMMAND_CONFIRM:
            self.state.pop("await", None)
            self.transition = "confirm"
            self.say(N_("🔒 Đã xác nhận số liệu. Phiếu đã khoá để chấm điểm. Cảm ơn anh/chị!"))
        elif action == "dispute" or command in _COMMAND_DISPUTE:
            self.state["await"] = "dispute"
            self.say(
                N_(
                    "Anh/chị không đồng ý với giá trị nào, vì sao? Gõ lý do, ví dụ: Mục 2.1 "
                    "đúng là 45 theo Quyết định 12/QĐ-UBND."
                )
            )
        elif self.state.get("await") == "dispute" and command is None and text:
            if len(text) < _MIN_REASON:
                self.say(N_("Lý do cần ít nhất {n} ký tự."), "error", n=_MIN_REASON)
                return
            self.state.pop("await", None)
            self.transition = "dispute"
            self.note = text[:1000]
            self.say(N_("Đã gửi ý kiến của anh/chị cho Sở TTTT; Sở sẽ xem lại."))
        else:
            self.replies.append(accepted_notice(self.view, self.lang))


def handle(
    view: AgencyView, state: dict[str, Any] | None, incoming: Incoming, lang: str
) -> AgencyStep:
    """One official turn while their submission is returned or accepted."""
    return _Turn.run(view, state, incoming, lang)
