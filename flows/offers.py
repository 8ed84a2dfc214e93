"""Answers Phiếu already knows, offered for one tap: prefill and last year's answers.

Two sources, both read by the caller and passed in the Context (the engine stays pure):

- prefill (`prefill:` on an item, flows.model.PREFILL_KEYS): the campaign's reporting year,
  the agency record's name, address, website, phone and e-mail (`phieu agencies add`). The
  known value is read with the item's own parser, so what is offered is what would be stored
  had the official typed it; a record value the parser refuses is simply not offered.
- last year's answers (`Context.previous`): the agency's answers to its latest earlier
  campaign of a form that carries over (flows.model.CarryOver); prefill wins over them.

An open question with an offer shows it ("Năm trước: 12 người" / "Phiếu đã điền sẵn: …") and
a button after the question's own choices ("♻️ Giữ nguyên" / "✅ Đúng"); typing "giữ nguyên",
"đúng" or "ok" (or the button's number) keeps it. Entering a section in which two or more open
questions have an offer first shows the list ("Mục 3 giống năm trước?") with "✅ Giữ nguyên
cả mục" (one tap) and "✏️ Trả lời từng câu". A kept value is saved like a typed one and the
cross-checks run on it (issue #8: "changed values are still checked").

`Offers` is a mixin of the engine's `_Run`; it reads and writes the run's working set.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flows import prompts
from flows.i18n import N_
from flows.machines import Mode, move
from flows.model import Evidence, ItemType, Question
from flows.navigation import (
    failed_checks,
    first_open_in_section,
    is_open,
    is_visible,
    needs_evidence,
    values_of,
)
from flows.parsing import Ok, Problem, fold, format_answer, parse_answer, parse_document
from flows.payload import Act, Payload, pack
from flows.state import Answer, Choice, Incoming, Reply, words_of

if TYPE_CHECKING:
    from flows.navigation import FailedCheck

KEEP_WORDS = frozenset(
    {
        "giu nguyen",
        "giu",
        "nhu cu",
        "nhu nam truoc",
        "dung",
        "dung roi",
        "ok",
        "oke",
        "okay",
        "keep",
        "correct",
        "same",
    }
)
"""Typed words that keep the offered value (folded: no accents, lower case)."""
_KEEP_WORDS_STRICT = frozenset({"giu nguyen", "giu", "nhu cu", "nhu nam truoc", "keep", "same"})
"""For questions whose own answers include "đúng"/"ok"-like words (yes/no, choices)."""
_LINE_TEXT = 48
_SECTION_OFFER = "offer_section"
_SHARED_EVIDENCE = "evidence_for"


class Offers:
    """Prefill and last year's answers (mixin of flows.engine._Run)."""

    # ---- what is offered -----------------------------------------------------------------
    def offer_for(self, q: Question) -> tuple[Answer, str] | None:
        """The offered answer and its source ("prefill" / "previous"), or None."""
        run: Any = self
        if q.type is ItemType.COMPUTED:
            return None
        if q.prefill is not None:
            known = run.ctx.known.get(q.prefill)
            if known not in (None, ""):
                result = parse_answer(q, str(known), run.ctx.today)
                if isinstance(result, Ok):
                    return Answer(value=result.value), "prefill"
        previous = run.ctx.previous.get(q.id)
        if (
            previous is not None
            and run.form.carry_over.carries(q.id)
            and (previous.value is not None or previous.is_na)
        ):
            return previous, "previous"
        return None

    def _open_offer(self, q: Question) -> tuple[Answer, str] | None:
        run: Any = self
        if q.id in run.answers:
            return None
        return self.offer_for(q)

    def _current_to_keep(self, q: Question) -> Answer | None:
        """The saved answer of `q` when it is asked again (/lai, /sua), kept by one tap.

        Not for computed items (confirmed their own way) nor lists (their rows have their
        own "keep" choice). Without it a typed "1" at a text item would be saved as the text.
        """
        run: Any = self
        if q.type in (ItemType.COMPUTED, ItemType.LIST) or not q.answerable:
            return None
        return run.answers.get(q.id)

    def keep_choice(self, q: Question) -> Choice | None:
        offer = self._open_offer(q)
        if offer is None:
            if self._current_to_keep(q) is None:
                return None
            return Choice(
                prompts.t(self._lang(), N_("✅ Giữ nguyên")), pack(Act.KEEP, q.id, "current")
            )
        label = N_("✅ Đúng") if offer[1] == "prefill" else N_("♻️ Giữ nguyên")
        return Choice(prompts.t(self._lang(), label), pack(Act.KEEP, q.id, "keep"))

    def _lang(self) -> str:
        run: Any = self
        return str(run.state.lang)

    def _shown(self, q: Question, answer: Answer) -> str:
        lang = self._lang()
        if answer.is_na:
            return prompts.t(lang, N_("không áp dụng"))
        shown = format_answer(q, answer.value, lang)
        return shown + (" 📎" if answer.evidence else "")

    def with_offer(self, reply: Reply, q: Question) -> Reply:
        """The question, plus the offered value and its one-tap button."""
        offer = self._open_offer(q)
        choice = self.keep_choice(q)
        if choice is None:
            return reply
        if offer is None:  # answered already: "Hiện tại: …" is shown, offer to keep it
            line = prompts.t(
                self._lang(), N_("Giữ nguyên thì chọn “✅ Giữ nguyên”, khác thì gõ lại.")
            )
            return Reply(
                reply.text + "\n" + line,
                choices=(*reply.choices, choice),
                actions=reply.actions,
                kind=reply.kind,
                item=reply.item,
            )
        msgid = (
            N_(
                "Phiếu đã điền sẵn: {value}. Đúng thì chọn “✅ Đúng” (hoặc gõ: đúng), "
                "sai thì gõ lại."
            )
            if offer[1] == "prefill"
            else N_("Năm trước: {value}. Giữ nguyên thì chọn “♻️ Giữ nguyên”, khác thì gõ lại.")
        )
        line = prompts.t(self._lang(), msgid, value=self._shown(q, offer[0]))
        return Reply(
            reply.text + "\n" + line,
            choices=(*reply.choices, choice),
            actions=reply.actions,
            kind=reply.kind,
            item=reply.item,
        )

    # ---- a section at once ---------------------------------------------------------------
    def _section_offers(self, section: str) -> list[tuple[Question, Answer, str]]:
        """Open questions of `section` with an offer, visibility following the offers."""
        run: Any = self
        sec = run.form.section(section)
        if sec is None:
            return []
        answers = dict(run.answers)
        values = dict(values_of(run.form, answers))
        found = []
        for q in sec.questions:
            if not is_visible(q, values) or not is_open(q, answers, values):
                continue
            offer = self.offer_for(q)
            if offer is not None:
                found.append((q, offer[0], offer[1]))
                # a kept "Có" shows its follow-up (3.6 → 3.6.a)
                answers[q.id] = offer[0]
                values[q.id] = offer[0].value
        return found

    def at_section_card(self) -> bool:
        """Whether the official is looking at the section card ("Mục 3 giống năm trước?")
        of the current question: its keep-all / one-by-one choice still unanswered."""
        run: Any = self
        q = run.current()
        section = (run.state.pending or {}).get(_SECTION_OFFER)
        return q is not None and run.state.mode is Mode.ANSWERING and section == q.section

    def offer_section(self, q: Question, again: bool = False) -> bool:
        """On entering a section, show its offers as one list with one-tap keep; True if shown.

        Shown when `q` is the section's first open question, the official comes from another
        section (or from nowhere), and at least two open questions have an offer. `again`:
        the card is shown once more where it was left unanswered (an unknown /sua under it),
        wherever the official came from.
        """
        run: Any = self
        trail = run.state.trail
        came_from = trail[-2] if len(trail) >= 2 and trail[-1] == q.id else None
        if came_from is not None and not again:
            prev = run.form.question(came_from)
            if prev is not None and prev.section == q.section:
                return False
        if first_open_in_section(run.form, run.answers, q.section) != q.id or q.id in run.answers:
            return False
        offers = self._section_offers(q.section)
        if len(offers) < 2:
            return False
        lang = self._lang()
        sec = run.form.section(q.section)
        title = sec.title.get(lang) if sec else ""
        lines = [
            prompts.t(lang, N_("Mục {section} giống năm trước?"), section=q.section)
            if any(source == "previous" for _, _, source in offers)
            else prompts.t(lang, N_("Mục {section}: Phiếu đã điền sẵn"), section=q.section),
            title,
        ]
        for oq, answer, _ in offers:
            text = oq.full_text(lang)
            if len(text) > _LINE_TEXT:
                text = text[: _LINE_TEXT - 1].rstrip() + "…"
            lines.append(f"• {oq.id} {text}: {self._shown(oq, answer)}")
        lines.append(
            prompts.t(
                lang,
                N_(
                    "Giữ nguyên cả {n} câu trên bằng một lựa chọn (hoặc gõ: đúng), "
                    "hay trả lời từng câu?"
                ),
                n=len(offers),
            )
        )
        run.state.pending = {_SECTION_OFFER: q.section}
        run.replies.append(
            Reply(
                "\n".join(line for line in lines if line),
                choices=(
                    Choice(
                        prompts.t(lang, N_("✅ Giữ nguyên cả mục")),
                        pack(Act.KEEP, "", q.section),
                    ),
                    Choice(prompts.t(lang, N_("✏️ Trả lời từng câu")), pack(Act.KEEP, q.id, "ask")),
                ),
                actions=prompts.command_actions(lang, q),
                kind="question",
                item=q.id,
            )
        )
        return True

    # ---- what the official does ----------------------------------------------------------
    def on_offer(self, incoming: Incoming) -> bool:
        """Handle a keep button or a typed keep word, or the evidence awaited when the menu
        was opened (`resume_evidence`); True when handled."""
        run: Any = self
        if self.resume_evidence(incoming):
            return True
        if incoming.payload is not None:
            p = Payload.unpack(incoming.payload)
            if p is None or p.act is not Act.KEEP:
                return False
            self._on_keep(p)
            return True
        text = (incoming.text or "").strip()
        q = run.current()
        if not text or q is None or run.state.mode is not Mode.ANSWERING or not run.editable:
            return False
        if text.startswith("/"):
            # A command is never a keep word, and the section card stays pending: /sua asks
            # the item it names, an unknown /sua or /help leaves the card to answer (reshow).
            return False
        folded = fold(words_of(text)).rstrip(".!")
        section = (run.state.pending or {}).get(_SECTION_OFFER)
        if section is not None:
            # the buttons' numbers or labels typed ("Giữ nguyên cả mục", "Trả lời từng câu")
            keep_all = folded.startswith(("giu nguyen", "keep")) or folded == "1"
            if keep_all or folded in KEEP_WORDS:
                self._on_keep(Payload(Act.KEEP, "", str(section)))
                return True
            if folded == "2" or folded.endswith(("tung cau", "one by one")):
                self._on_keep(Payload(Act.KEEP, q.id, "ask"))
                return True
            run.state.pending = None
            return False
        if self._open_offer(q) is None and self._current_to_keep(q) is None:
            return False
        strict = q.type in (ItemType.YES_NO, ItemType.CHOICE, ItemType.STATUS)
        words = _KEEP_WORDS_STRICT if strict else KEEP_WORDS
        shown = len(prompts.answer_choices(self._lang(), q)) + 1
        if folded in words or folded == str(shown):
            keep = "keep" if self._open_offer(q) is not None else "current"
            self._on_keep(Payload(Act.KEEP, q.id, keep))
            return True
        return False

    def _on_keep(self, p: Payload) -> None:
        run: Any = self
        if not run.editable:
            run.read_only()
            return
        if p.item == "":
            self.keep_section(p.value)
            return
        q = run.current()
        if q is None or p.item != q.id or run.state.mode is not Mode.ANSWERING:
            run.stale()
            return
        if p.value == "ask":
            run.state.pending = None
            run.replies.append(
                self.with_offer(prompts.question(run.form, run.answers, q, self._lang()), q)
            )
            return
        if p.value == "current":
            current = self._current_to_keep(q)
            if current is None:
                run.stale()
                return
            run.state.pending = None
            run.store(q.id, current)  # unchanged: saving the same answer changes nothing
            return
        offer = self._open_offer(q)
        if offer is None:
            run.stale()
            return
        run.state.pending = None
        run.store(q.id, offer[0])

    def keep_section(self, section: str) -> None:
        """Save every open offer of `section`, check them, then go on to what is left."""
        run: Any = self
        offers = self._section_offers(section)
        if not offers:
            run.stale()
            return
        first = offers[0][0]
        was_complete = run._section_done(first)
        for q, answer, _ in offers:
            run._save(q.id, answer)
            if q.id in run.state.skipped:
                run.state.skipped.remove(q.id)
        run.say(
            N_("✅ Đã giữ nguyên {n} câu của Mục {section}."),
            kind="ack",
            n=len(offers),
            section=section,
        )
        self.settle([q for q, _, _ in offers], was_complete)

    # ---- evidence awaited when the menu was opened -------------------------------------
    def _evidence_awaited(self) -> Question | None:
        """The item whose evidence the chat was asked for when the menu was opened (/menu,
        or the menu a channel greets a restarted chat with), else None: the current item,
        answered with a value that needs evidence, and none given. The cells that share
        that evidence are still listed in `pending` (`settle`)."""
        run: Any = self
        if run.state.mode is not Mode.MENU or not run.editable:
            return None
        q = run.current()
        answer = run.answers.get(q.id) if q is not None else None
        if q is None or answer is None or not needs_evidence(q, answer) or answer.evidence:
            return None
        return q

    def _reads_as_evidence(self, q: Question, text: str) -> bool:
        """Whether `text` is evidence for `q` as its evidence prompt would read it: a link,
        or for a document item a document (number, date) too. Menu words and numbers are
        not ("1", "tiếp", "Có")."""
        run: Any = self
        url_q = replace(q, type=ItemType.URL, unit=None, min=None, max=None, example=None)
        if not isinstance(parse_answer(url_q, text, run.ctx.today), Problem):
            return True
        if q.evidence is not Evidence.DOCUMENT:
            return False
        year = run.ctx.reporting_year
        return not isinstance(parse_document(text, run.ctx.today, reporting_year=year), Problem)

    def resume_evidence(self, incoming: Incoming) -> bool:
        """At the menu, with an item's evidence still awaited (`_evidence_awaited`): a link or
        document typed is that evidence, saved for the item and every cell sharing it, and
        ▶ Tiếp tục (button, its number, /tiep) asks for it again instead of moving on and
        forgetting the cells. True when handled; anything else goes on as at the menu."""
        run: Any = self
        q = self._evidence_awaited()
        if q is None:
            return False
        if incoming.payload is not None:
            p = Payload.unpack(incoming.payload)
            if p is None or p.act is not Act.COMMAND or p.value != "continue":
                return False
            self._ask_evidence_again(q)
            return True
        text = (incoming.text or "").strip()
        if not text or incoming.attachment is not None:
            return False
        if text.startswith("/"):
            from flows.engine import command_of  # the engine imports this module

            if command_of(incoming) != "continue":
                return False
            self._ask_evidence_again(q)
            return True
        if not self._reads_as_evidence(q, text):
            return False
        run.to("ask")
        run.to("need_evidence")
        run.evidence_text(q, text)
        return True

    def _ask_evidence_again(self, q: Question) -> None:
        run: Any = self
        shared = (run.state.pending or {}).get(_SHARED_EVIDENCE) or []
        if shared:
            run.say(
                N_("Minh chứng sau đây dùng chung cho {n} ô: {items}."),
                n=len(shared) + 1,
                items=", ".join([q.id, *shared]),
            )
        run.to("ask")
        run.ask_evidence(q)

    def share_evidence(self, evidence: Any) -> None:
        """Evidence sent after several cells were saved at once counts for all of them."""
        run: Any = self
        for item in (run.state.pending or {}).get(_SHARED_EVIDENCE, []):
            old = run.answers.get(item)
            if old is not None and not old.evidence:
                run._save(item, replace(old, evidence=evidence))
        run.state.pending = None

    def settle(self, saved: list[Question], was_complete: bool) -> None:
        """After several answers saved at once: their failed checks, else 🎉, evidence, next."""
        run: Any = self
        run.state.pending = None
        values = values_of(run.form, run.answers)
        failures: dict[str, FailedCheck] = {}
        for q in saved:
            for f in failed_checks(run.form, values, q.id):
                failures.setdefault(f.check.id, f)
        if run.state.mode is not Mode.ANSWERING:
            run.state.mode = move(run.state.mode, "ask", editable=run.editable)
        if failures:
            for f in failures.values():
                run.replies.append(
                    Reply(
                        prompts.check_failure(run.form, f, self._lang()),
                        actions=(
                            *prompts.fix_actions(self._lang(), f),
                            Choice(
                                prompts.t(self._lang(), N_("▶ Để sau, tiếp tục")),
                                pack(Act.COMMAND, value="continue"),
                            ),
                        ),
                        kind="check",
                        item=saved[-1].id,
                    )
                )
            run.state.item = saved[-1].id
            return
        run._announce_completed(saved[0], was_complete)
        lacking = [
            q
            for q in saved
            if needs_evidence(q, run.answers.get(q.id)) and not run.answers[q.id].evidence
        ]
        if lacking:
            # One proof for the cells answered together; each can be changed later (/sua).
            if len(lacking) > 1:
                run.say(
                    N_("Minh chứng sau đây dùng chung cho {n} ô: {items}."),
                    n=len(lacking),
                    items=", ".join(q.id for q in lacking),
                )
            run.ask_evidence(lacking[0])
            run.state.pending = {_SHARED_EVIDENCE: [q.id for q in lacking[1:]]}
            return
        if run._return_to_place(saved[-1].id):  # a /sua detour ends where it began
            return
        # Forward in form order first (the rest of the table, then of the section); what the
        # official skipped comes back only after that, by after_saved's no-circles rule.
        values = values_of(run.form, run.answers)
        section = run.form.section(saved[0].section)
        position = {q.id: i for i, q in enumerate(run.form.questions)}
        left = [
            q
            for q in (section.questions if section is not None else ())
            if q.id not in run.state.skipped
            and is_visible(q, values)
            and is_open(q, run.answers, values)
        ]
        ahead = [q for q in left if position[q.id] > position[saved[-1].id]]
        if ahead or left:
            run.ask((ahead or left)[0].id)
        else:
            run.after_saved(saved[-1].id)
