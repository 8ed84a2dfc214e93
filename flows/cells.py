"""Several table cells in one message: `150; 200` for a row, `12; 3; 0; 5` for a column.

The loader expands a table into one question per cell. Typing them one by one costs a message
each, so where the official is asked the first open cell of a block, the prompt offers the
whole block in one message, cells separated by ";" (the separator open lists already use;
"," is the Vietnamese decimal comma and a space may group thousands, "1 234").

A block is:
- a table row with several cells (4.2.1: 2018; 2019 — 5.4.1: name; vendor; units; features),
- or, in a table whose rows each have a single cell (6.1.a, 6.2, 7: one number, yes/no or
  status per row), the whole column, sub-tables included (6.1.a.2.a, 6.1.a.3.b …).

Cells hidden by `when` given the values before them are passed over (3.8.1: "không" needs no
count, "có; 5" fills both). Every value is read by the cell's own parser; one bad value refuses
the whole message with the cell named, and nothing is stored (an answer is all or nothing). A
message with fewer values fills the first cells; more values than cells is refused.

`Cells` is a mixin of the engine's `_Run`; `settle` comes from flows.offers.Offers.
"""

from __future__ import annotations

from typing import Any

from flows import prompts
from flows.i18n import N_, format_value
from flows.model import ItemType, Question
from flows.navigation import is_open, is_visible, values_of
from flows.parsing import Confirm, Ok, Problem, example_for, format_answer, parse_answer
from flows.state import Answer, Reply

SEPARATOR = ";"
_NOT_CELLS = (ItemType.LIST, ItemType.COMPUTED)


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def table_block(questions: list[Question], q: Question) -> list[Question]:
    """The cells answered together with `q` (see the module doc); [] when `q` is no cell."""
    if q.table is None or q.type in _NOT_CELLS or q not in questions:
        return []
    i = questions.index(q)
    lo, hi, root = i, i, q.table
    while lo > 0:
        prev = questions[lo - 1]
        if prev.table is None or not _related(prev.table, root):
            break
        root = min(root, prev.table, key=len)
        lo -= 1
    while hi + 1 < len(questions):
        nxt = questions[hi + 1]
        if nxt.table is None or not _related(nxt.table, root):
            break
        hi += 1
    run = [c for c in questions[lo : hi + 1] if c.type not in _NOT_CELLS]
    rows: dict[tuple[str | None, str | None], int] = {}
    for c in run:
        rows[(c.table, c.row)] = rows.get((c.table, c.row), 0) + 1
    if all(n == 1 for n in rows.values()):
        return run
    return [c for c in run if (c.table, c.row) == (q.table, q.row)]


class Cells:
    """Several cells of a table in one message (mixin of flows.engine._Run)."""

    def _rest_of_block(self, q: Question) -> list[Question]:
        run: Any = self
        section = run.form.section(q.section)
        block = table_block(list(section.questions) if section else [], q)
        return block[block.index(q) :] if q in block else []

    def with_cells_hint(self, reply: Reply, q: Question) -> Reply:
        """Offer the rest of the block in one message, with an example, at its first cell."""
        run: Any = self
        block = self._rest_of_block(q)
        if len(block) < 2:
            return reply
        # Which cells the example fills: a count shows once its "có" is given (3.8.1).
        values = dict(values_of(run.form, run.answers))
        rest = []
        for cell in block:
            if is_visible(cell, values) and is_open(cell, run.answers, values):
                rest.append(cell)
                example = parse_answer(cell, example_for(cell), run.ctx.today)
                if isinstance(example, Ok):
                    values[cell.id] = example.value
        if len(rest) < 2 or rest[0] is not q:
            return reply
        lang = run.state.lang
        example = f"{SEPARATOR} ".join(example_for(c) for c in rest)
        line = prompts.t(
            lang,
            N_(
                "Có thể trả lời cả {n} ô ({first} → {last}) trong một tin nhắn, theo thứ tự, "
                "cách nhau bởi dấu ;\nVí dụ: {example}"
            ),
            n=len(rest),
            first=run.label(rest[0].id),
            last=run.label(rest[-1].id),
            example=prompts.example_in(lang, example),
        )
        return Reply(
            reply.text + "\n" + line,
            choices=reply.choices,
            actions=reply.actions,
            kind=reply.kind,
            item=reply.item,
        )

    def answer_cells(self, q: Question, text: str) -> bool:
        """Read `text` as several cells from `q` on; True when it was (saved or refused)."""
        run: Any = self
        if SEPARATOR not in text:
            return False
        rest = self._rest_of_block(q)
        if len(rest) < 2:
            return False
        tokens = [t.strip() for t in text.split(SEPARATOR)]
        while tokens and not tokens[-1]:
            tokens.pop()
        if not tokens:  # only separators (";"): an empty answer, refused as one
            return False
        answers = dict(run.answers)
        staged: list[tuple[Question, Any]] = []
        for cell in rest:
            if not tokens:
                break
            values = values_of(run.form, answers)
            if not is_visible(cell, values):
                continue
            token = tokens.pop(0)
            result = parse_answer(cell, token, run.ctx.today)
            if isinstance(result, Confirm) and self._same_reading(result):
                result = Ok(result.value)
            if not isinstance(result, Ok):
                self._refuse_cell(q, cell, token, result)
                return True
            staged.append((cell, result.value))
            answers[cell.id] = Answer(value=result.value)
        if tokens:
            run.say(
                N_("Có {n} giá trị thừa: từ {item} chỉ còn {cells} ô để điền. Ví dụ: {example}"),
                "error",
                n=len(tokens),
                item=run.label(q.id),
                cells=len(staged),
                example=f"{SEPARATOR} ".join(example_for(c) for c in rest),
            )
            run.ask(q.id, push=False)
            return True
        was_complete = run._section_done(q)
        lines = []
        for cell, value in staged:
            old = run.answers.get(cell.id)
            evidence = old.evidence if old is not None else None
            run._save(cell.id, Answer(value=value, evidence=evidence))
            if cell.id in run.state.skipped:
                run.state.skipped.remove(cell.id)
            lines.append(f"{run.label(cell.id)}: {format_answer(cell, value, run.state.lang)}")
        run.replies.append(
            Reply(
                prompts.t(run.state.lang, N_("✅ Đã lưu {n} ô:"), n=len(staged))
                + "\n"
                + "\n".join(lines),
                kind="ack",
                item=staged[-1][0].id,
            )
        )
        run.settle([cell for cell, _ in staged], was_complete)
        return True

    def _same_reading(self, result: Confirm) -> bool:
        run: Any = self
        raw, shown = result.params.get("raw"), result.params.get("shown")
        return (
            raw is not None
            and shown is not None
            and str(raw) == str(format_value(run.state.lang, shown))
        )

    def _refuse_cell(self, q: Question, cell: Question, token: str, result: Any) -> None:
        run: Any = self
        if isinstance(result, Problem):
            run.say(
                N_("Ô {item} (“{value}”) chưa đúng:"), "error", item=run.label(cell.id), value=token
            )
            run.problem(result)
        else:
            run.say(
                N_("Ô {item}: “{value}” cần xác nhận; hãy gõ riêng ô này."),
                "error",
                item=run.label(cell.id),
                value=token,
            )
        run.say(N_("Chưa lưu ô nào của tin nhắn này."), "error")
        run.ask(q.id, push=False)
