"""The engine's messages: questions, menu, summary. Plain text and choices, no chat app.

Kept short for a phone screen: where the item is, what is asked, the unit, one example.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flows import expr
from flows.i18n import N_, format_day, translate
from flows.machines import EDITABLE_STATUSES, Status
from flows.model import STATUS_LEVELS, Form, ItemType, Question
from flows.navigation import (
    Answers,
    FailedCheck,
    Summary,
    is_visible,
    position_in_section,
    progress,
    values_of,
)
from flows.parsing import example_for, fold, format_answer, status_label
from flows.payload import Act, pack
from flows.state import Choice, Context, Reply

_LIST_PREVIEW = 8
_BUTTON_TITLE = 28


_EXAMPLE_WORDS_EN = {"có": "yes", "không": "no"}
"""Vietnamese yes/no words in examples (parsing's fixed ones), said in English (both parse)."""


def example_in(lang: str, example: str) -> str:
    """`example` (an answer example, cells joined by "; ") with its yes/no words in `lang`.

    Only "có"/"không" are changed: other examples are data (names, units) kept as written.
    """
    if lang != "en":
        return example
    parts = [p.strip() for p in example.split(";")]
    if len(parts) == 1:
        return _EXAMPLE_WORDS_EN.get(example.strip(), example)
    return "; ".join(_EXAMPLE_WORDS_EN.get(p, p) for p in parts)


def t(lang: str, msgid: str, **params: Any) -> str:
    return translate(lang, msgid, params)


def command_actions(lang: str, q: Question | None) -> tuple[Choice, ...]:
    """Navigation under a question: skip, back, not applicable (where allowed), menu."""
    item = q.id if q is not None else ""
    actions = [
        Choice(t(lang, N_("⏭ Bỏ qua")), pack(Act.COMMAND, item, "skip")),
        Choice(t(lang, N_("↩ Quay lại")), pack(Act.COMMAND, item, "back")),
    ]
    if q is not None and q.na_allowed:
        actions.append(Choice(t(lang, N_("🚫 Không áp dụng")), pack(Act.COMMAND, item, "na")))
    actions.append(Choice(t(lang, N_("☰ Menu")), pack(Act.COMMAND, value="menu")))
    return tuple(actions)


def answer_choices(lang: str, q: Question, rows: int = 0) -> tuple[Choice, ...]:
    """Buttons that answer the question itself (numbered where a channel has no buttons).

    A list that already has `rows` saved offers "keep them" and "delete them" (which the
    engine confirms) instead of "Không có", so a "1" typed twice never wipes saved rows.
    """
    if q.type is ItemType.YES_NO:
        return (
            Choice(t(lang, N_("Có")), pack(Act.ANSWER, q.id, "yes")),
            Choice(t(lang, N_("Không")), pack(Act.ANSWER, q.id, "no")),
        )
    if q.type is ItemType.STATUS:
        return tuple(
            Choice(status_label(level, lang), pack(Act.ANSWER, q.id, level))
            for level in STATUS_LEVELS
        )
    if q.type is ItemType.CHOICE:
        return tuple(Choice(o.text.get(lang), pack(Act.ANSWER, q.id, o.value)) for o in q.options)
    if q.type is ItemType.LIST and rows:
        return (
            Choice(t(lang, N_("✅ Xong, giữ {n} dòng"), n=rows), pack(Act.ANSWER, q.id, "keep")),
            Choice(t(lang, N_("🗑 Xoá các dòng đã lưu")), pack(Act.ANSWER, q.id, "clear")),
        )
    if q.type is ItemType.LIST:
        return (Choice(t(lang, N_("Không có")), pack(Act.ANSWER, q.id, "none")),)
    if q.type is ItemType.COMPUTED:
        return (
            Choice(t(lang, N_("✅ Đúng")), pack(Act.CONFIRM, q.id, "yes")),
            Choice(t(lang, N_("✏️ Sửa số liệu đầu vào")), pack(Act.CONFIRM, q.id, "no")),
        )
    return ()


def _where(form: Form, answers: Answers, q: Question, lang: str) -> str:
    n, total = position_in_section(form, answers, q.id)
    return t(
        lang,
        N_("Mục {section} · {item} · câu {n}/{total}"),
        section=q.section,
        item=label(q, lang),
        n=n,
        total=total,
    )


def question(form: Form, answers: Answers, q: Question, lang: str) -> Reply:
    """The question as one message: where, what, unit, help, current answer, example."""
    lines = [_where(form, answers, q, lang)]
    headings, text = chat_wording(q, lang)
    lines.extend(headings)
    lines.append(("➤ " if headings else "") + text)
    if q.unit:
        lines.append(t(lang, N_("Đơn vị: {unit}"), unit=q.unit.get(lang)))
    hint = chat_help(q, lang)
    if hint:
        lines.append("ℹ️ " + hint)
    if not q.required and q.answerable:
        lines.append(t(lang, N_("Câu này không bắt buộc: nếu không có, gõ /bo để bỏ qua.")))
    current = answers.get(q.id)
    values = values_of(form, answers)
    if q.type is ItemType.COMPUTED:
        shown = format_answer(q, values.get(q.id), lang)
        lines.append(
            t(lang, N_("Giá trị tính được: {value}. Anh/chị xác nhận giá trị này?"), value=shown)
        )
        for ref in expr.refs(q.formula or ""):
            ref_q = form.question(ref)
            if ref_q is not None:
                lines.append(f"  {ref} = {format_answer(ref_q, values.get(ref), lang)}")
    elif current is not None and current.is_na:
        lines.append(t(lang, N_("Hiện tại: không áp dụng ({reason})"), reason=current.na_reason))
    elif current is not None and current.value is not None:
        lines.append(t(lang, N_("Hiện tại: {value}"), value=format_answer(q, current.value, lang)))
        if current.evidence:
            lines.append(
                t(
                    lang,
                    N_("📎 Minh chứng: {evidence}"),
                    evidence=evidence_text(current.evidence, lang),
                )
            )
    if q.type is ItemType.LIST:
        cols = "; ".join(c.text.get(lang) for c in q.columns)
        lines.append(
            t(lang, N_("Mỗi tin nhắn là một dòng, các cột cách nhau bởi dấu ;: {cols}"), cols=cols)
        )
    if q.type is ItemType.MULTI_CHOICE:
        lines.extend(f"{i}. {o.text.get(lang)}" for i, o in enumerate(q.options, 1))
        lines.append(t(lang, N_("Gõ các số, cách nhau bởi dấu phẩy; 0 nếu không chọn mục nào.")))
    free_text = q.type is ItemType.TEXT and q.example is None
    if not free_text and q.type not in (
        ItemType.YES_NO,
        ItemType.STATUS,
        ItemType.CHOICE,
        ItemType.COMPUTED,
    ):
        lines.append(t(lang, N_("Ví dụ: {example}"), example=example_in(lang, example_for(q))))
    rows = len(current.value) if current and isinstance(current.value, list) else 0
    return Reply(
        text="\n".join(lines),
        choices=answer_choices(lang, q, rows),
        actions=(*evidence_actions(lang, q, current), *command_actions(lang, q)),
        kind="question",
        item=q.id,
    )


def _days_left(ctx: Context) -> int | None:
    return (ctx.deadline - ctx.today).days if ctx.deadline else None


def status_text(lang: str, status: Status) -> str:
    labels = {
        Status.DRAFT: N_("đang soạn"),
        Status.SUBMITTED: N_("đã nộp, chờ thẩm định"),
        Status.IN_REVIEW: N_("đang thẩm định"),
        Status.RETURNED: N_("được trả lại để bổ sung"),
        Status.RESUBMITTED: N_("đã nộp lại, chờ thẩm định"),
        Status.ACCEPTED: N_("đã được chấp nhận"),
        Status.CONFIRMED: N_("đã xác nhận"),
    }
    return t(lang, labels[status])


def menu(form: Form, answers: Answers, ctx: Context, lang: str) -> Reply:
    """Greeting with agency and deadline, then continue / sections / review / submit."""
    lines = []
    if ctx.user_name:
        lines.append(t(lang, N_("Xin chào {name}!"), name=ctx.user_name))
    lines.append(t(lang, N_("Cơ quan: {agency}"), agency=ctx.agency_name))
    lines.append(form.title.get(lang))
    left = _days_left(ctx)
    if ctx.deadline is not None and left is not None:
        if left >= 0:
            lines.append(
                t(
                    lang,
                    N_("Hạn nộp: {deadline} (còn {days} ngày)"),
                    deadline=format_day(lang, ctx.deadline),
                    days=left,
                )
            )
        else:
            lines.append(
                t(
                    lang,
                    N_("Hạn nộp: {deadline} (đã quá hạn {days} ngày)"),
                    deadline=format_day(lang, ctx.deadline),
                    days=-left,
                )
            )
    lines.append(t(lang, N_("Trạng thái phiếu: {status}"), status=status_text(lang, ctx.status)))
    choices = [Choice(t(lang, N_("▶ Tiếp tục")), pack(Act.COMMAND, value="continue"))]
    for sp in progress(form, answers):
        section = form.section(sp.id)
        title = section.title.get(lang) if section else ""
        if len(title) > _BUTTON_TITLE:
            title = title[: _BUTTON_TITLE - 1].rstrip() + "…"
        mark = "✅" if sp.complete else "◻"
        label = t(
            lang,
            N_("{mark} Mục {section} — {done}/{total}"),
            mark=mark,
            section=sp.id,
            done=sp.done,
            total=sp.total,
        )
        choices.append(Choice(f"{label} · {title}", pack(Act.SECTION, value=sp.id)))
    choices.append(Choice(t(lang, N_("📋 Xem lại câu trả lời")), pack(Act.COMMAND, value="review")))
    if ctx.status in EDITABLE_STATUSES:
        # Once submitted, the form is read-only: nothing to submit until it is returned.
        choices.append(Choice(t(lang, N_("📤 Nộp phiếu")), pack(Act.COMMAND, value="submit")))
    choices += [
        Choice(t(lang, N_("❓ Trợ giúp")), pack(Act.COMMAND, value="help")),
        Choice(
            "🌐 English" if lang == "vi" else "🌐 Tiếng Việt",
            pack(Act.LANG, value="en" if lang == "vi" else "vi"),
        ),
    ]
    return Reply("\n".join(lines), choices=tuple(choices), kind="menu")


def _ids(ids: list[str], form: Form | None = None, lang: str = "vi") -> str:
    if form is not None:
        ids = [label_of(form, i, lang) for i in ids]
    shown = ", ".join(ids[:_LIST_PREVIEW])
    return shown + (f", … (+{len(ids) - _LIST_PREVIEW})" if len(ids) > _LIST_PREVIEW else "")


def check_failure(form: Form, failed: FailedCheck, lang: str) -> str:
    """The rule's message, then the totals it compares ("4.1.3: 10 người > 4.1.1 + 4.1.2:
    9 người"), then every answered item of the rule with its value, so either can be fixed."""
    lines = ["⚠️ " + failed.check.message.get(lang)]
    compared = expr.sides(failed.check.rule, failed.values)
    if compared is not None and compared.left is not None and compared.right is not None:
        lines.append(
            f"{_side_name(form, compared.left_refs, lang)}: "
            f"{_side_value(form, compared.left_refs, compared.left, lang)} {compared.op} "
            f"{_side_name(form, compared.right_refs, lang)}: "
            f"{_side_value(form, compared.right_refs, compared.right, lang)}"
        )
    parts = []
    for item, value in failed.values.items():
        q = form.question(item)
        if value is None:
            continue
        shown = format_answer(q, value, lang) if q else str(value)
        parts.append(f"{label_of(form, item, lang)} = {shown}")
    if parts:
        lines.append("; ".join(parts))
    return "\n".join(lines)


def _side_name(form: Form, refs: tuple[str, ...], lang: str) -> str:
    """Item numbers of one side, a run of items that makes up a whole group named by the
    group ("4.1.1.a + 4.1.1.b" → "4.1.1"), as the printed form numbers them."""
    ids = [q.id for q in form.questions]
    names: list[str] = []
    done: set[str] = set()
    for ref in refs:
        if ref in done:
            continue
        parent = ref.rsplit(".", 1)[0] if "." in ref else ""
        family = [i for i in ids if parent and i.startswith(parent + ".")]
        if parent and len(family) > 1 and set(family) <= set(refs) and parent not in ids:
            names.append(parent)
            done.update(family)
        else:
            names.append(label_of(form, ref, lang))
            done.add(ref)
    return " + ".join(names)


def _side_value(form: Form, refs: tuple[str, ...], value: Any, lang: str) -> str:
    q = form.question(refs[0]) if refs else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return format_answer(q, value, lang) if q else str(value)


def fix_actions(lang: str, failed: FailedCheck, form: Form | None = None) -> tuple[Choice, ...]:
    """ "✏️ Sửa" for each item of a failed check that has an answer (a blank has nothing to fix)."""
    return tuple(
        Choice(
            t(lang, N_("✏️ Sửa {item}"), item=label_of(form, item, lang) if form else item),
            pack(Act.EDIT, item),
        )
        for item, value in failed.values.items()
        if value is not None
    )


def summary(form: Form, s: Summary, lang: str, *, editable: bool) -> Reply:
    lines = [t(lang, N_("📋 Tóm tắt phiếu"))]
    lines.append(t(lang, N_("Đã trả lời: {n}/{total}"), n=len(s.answered), total=s.total))
    listed = (
        (N_("Không áp dụng: {n} — {ids}"), s.not_applicable),
        (N_("Đã bỏ qua: {n} — {ids}"), s.skipped),
        (N_("Còn thiếu (bắt buộc): {n} — {ids}"), s.missing_required),
    )
    for msgid, ids in listed:
        if ids:
            lines.append(t(lang, msgid, n=len(ids), ids=_ids(ids, form, lang)))
    if s.failed:
        lines.append(t(lang, N_("Kiểm tra chưa đạt: {n}"), n=len(s.failed)))
        lines.extend(check_failure(form, f, lang) for f in s.failed[:3])
    if s.missing_evidence:
        lines.append(
            t(
                lang,
                N_("Thiếu minh chứng (link): {n} — {ids}"),
                n=len(s.missing_evidence),
                ids=_ids(s.missing_evidence, form, lang),
            )
        )
    lines.append(t(lang, N_("Xem câu trả lời từng mục: /xem 3 (số mục).")))
    choices: list[Choice] = []
    if editable:
        if s.ready:
            choices.append(Choice(t(lang, N_("📤 Nộp phiếu")), pack(Act.COMMAND, value="submit")))
        else:
            lines.append(
                t(lang, N_("Cần bổ sung các mục còn thiếu và sửa kiểm tra chưa đạt trước khi nộp."))
            )
        # With something blocking (checks, evidence, required items), "Trả lời tiếp" goes there.
        blocked = s.failed or s.missing_evidence or s.missing_required
        choices.append(
            Choice(
                t(lang, N_("▶ Trả lời tiếp")),
                pack(Act.COMMAND, value="fix" if blocked else "continue"),
            )
        )
    choices.append(Choice(t(lang, N_("☰ Menu")), pack(Act.COMMAND, value="menu")))
    return Reply("\n".join(lines), choices=tuple(choices), kind="summary")


def _has_answered_input(form: Form, answers: Answers, q: Question) -> bool:
    """True when some input of the computed `q` (through computed inputs too) is answered.

    A sum of unanswered inputs evaluates to 0; shown as "—" (not answered), not "0 Mbps".
    """
    seen: set[str] = set()
    todo = list(expr.refs(q.formula or ""))
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        if ref in answers:
            return True
        ref_q = form.question(ref)
        if ref_q is not None and ref_q.type is ItemType.COMPUTED:
            todo.extend(expr.refs(ref_q.formula or ""))
    return False


def section_answers(form: Form, answers: Answers, section_id: str, lang: str) -> Reply:
    section = form.section(section_id)
    if section is None:
        return Reply(
            t(lang, N_("Không có mục {section}. Ví dụ: /xem 3"), section=section_id), kind="error"
        )
    values = values_of(form, answers)
    lines = [
        t(lang, N_("Mục {section}. {title}"), section=section.id, title=section.title.get(lang))
    ]
    for q in section.questions:
        if not is_visible(q, values):
            continue
        a = answers.get(q.id)
        if q.type is ItemType.COMPUTED:
            value: Mapping[str, Any] | Any = values.get(q.id)
            known = value is not None and _has_answered_input(form, answers, q)
            shown = format_answer(q, value, lang) if known else "—"
        elif a is None:
            shown = "—"
        elif a.is_na:
            shown = t(lang, N_("không áp dụng ({reason})"), reason=a.na_reason)
        else:
            shown = format_answer(q, a.value, lang)
        if a is not None and a.evidence:
            shown += f"  📎 {evidence_text(a.evidence, lang)}"
        lines.append(f"{label(q, lang)}: {shown}")
    return Reply("\n".join(lines), kind="info")


def evidence_text(evidence: Any, lang: str = "vi") -> str:
    """Stored evidence as understood, on one line: a link; a document as "số 12/KH-UBND,
    ngày 15/01/2019, “trích yếu”, link" (date dd/mm/yyyy); a file (or an album: "kh.pdf
    và 3 tệp khác") followed by what its caption gave (number, date, title, link)."""
    if isinstance(evidence, str):
        return evidence
    if isinstance(evidence, dict):
        parts = []
        sent = evidence.get("file")
        if isinstance(sent, dict):
            name = str(sent.get("file_name") or sent.get("kind") or t(lang, N_("tệp")))
            more = len(evidence.get("files") or []) - 1
            if more > 0:
                name = t(lang, N_("{name} và {n} tệp khác"), name=name, n=more)
            parts.append(name)
        if evidence.get("number"):
            parts.append(t(lang, N_("số {number}"), number=evidence["number"]))
        if evidence.get("date"):
            parts.append(t(lang, N_("ngày {date}"), date=_day(evidence["date"], lang)))
        if evidence.get("title"):
            parts.append(f"“{evidence['title']}”")
        if evidence.get("link"):
            parts.append(str(evidence["link"]))
        elif not isinstance(sent, dict):  # a file sent is itself the evidence
            parts.append(t(lang, N_("chưa có link")))
        return ", ".join(parts)
    return str(evidence)


def _day(value: Any, lang: str) -> str:
    try:
        return format_day(lang, date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def evidence_actions(lang: str, q: Question, current: Any) -> tuple[Choice, ...]:
    """On an answered item that needs evidence: keep the value, change (or add) the evidence."""
    if q.evidence.value == "none" or current is None or current.is_na or current.value is None:
        return ()
    if current.value in (False, "chua_co", 0, [], ""):
        return ()
    return (
        Choice(
            t(lang, N_("📎 Giữ câu trả lời, sửa minh chứng")),
            pack(Act.COMMAND, q.id, "evidence"),
        ),
    )


# ---- chat wording ------------------------------------------------------------------------
# The forms keep the paper's words verbatim; these rules say them the way a chat asks.
_PAPER_MARKS = ("danh dau x", "□", "o □")
_OF_WHICH = frozenset({"trong do", "of which"})
_BARE_YES = frozenset({"co", "yes"})


def label(q: Question, lang: str) -> str:
    """The number an official reads for an item: the printed number; for a table cell the
    row's number and the column's name ("5.4.1 (Tên phần mềm)"), never "5.4.1.ten_phan_mem"."""
    if q.printed:
        return q.printed
    if q.column and q.id.endswith("." + q.column) and q.id != f"{q.table}.{q.row}":
        return f"{q.id[: -len(q.column) - 1]} ({q.text.get(lang)})"
    return q.id


def label_of(form: Form, item: str, lang: str) -> str:
    q = form.question(item)
    return label(q, lang) if q is not None else item


def chat_wording(q: Question, lang: str) -> tuple[list[str], str]:
    """(headings, question) as shown in chat. A table cell that reads just "Có" is asked
    about its row ("Băng từ — có không?"), its row heading folded into the question."""
    headings = [h.get(lang) for h in q.context]
    text = q.text.get(lang)
    if fold(text).strip(" :") in _BARE_YES and headings:
        row = headings.pop()
        text = t(lang, N_("{row}: có hay không?"), row=row)
    return headings, text


def chat_help(q: Question, lang: str) -> str | None:
    """The item's help for chat: a paper instruction ("Nếu có đánh dấu X vào ô □") becomes
    what to do here; an orphan "Trong đó" says which item it is part of."""
    if q.help is None:
        return None
    hint = q.help.get(lang)
    folded = fold(hint)
    if any(mark in folded for mark in _PAPER_MARKS):
        if q.type is ItemType.MULTI_CHOICE:
            return t(lang, N_("Chọn các phương án đúng với cơ quan."))
        if q.type in (ItemType.CHOICE, ItemType.YES_NO, ItemType.STATUS):
            return t(lang, N_("Chọn một phương án đúng với cơ quan."))
        return None
    if folded.strip(" :") in _OF_WHICH:
        parent = q.id.rsplit(".", 1)[0]
        return t(lang, N_("Đây là một phần của mục {item} (tính trong số đó)."), item=parent)
    return hint


def help_text(lang: str) -> Reply:
    return Reply(
        t(
            lang,
            N_(
                "Cách trả lời: gõ câu trả lời hoặc chọn một lựa chọn.\n"
                "/tiep — tiếp tục câu đang dở\n"
                "/bo — bỏ qua câu này, trả lời sau\n"
                "/lai — quay lại câu trước\n"
                "/kad — đánh dấu không áp dụng (cần nêu lý do)\n"
                "/sua 3.2.b — sửa câu trả lời một mục (theo số mục)\n"
                "/minhchung 8.1 — giữ câu trả lời, sửa minh chứng\n"
                "/xem — tóm tắt; /xem 3 — câu trả lời mục 3\n"
                "/nop — nộp phiếu\n"
                "/diem — điểm tạm tính và những mục mất nhiều điểm nhất\n"
                "/menu — về menu; /lang en — English"
            ),
        ),
        kind="info",
    )
