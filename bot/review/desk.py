"""Review inside the service's unit of work (issue #10): the reviewer's turn, the agency's
turn on a returned or accepted submission, and the notices between them.

Everything here runs inside the unit `Phieu.handle` opened for the update: verdicts, moves
(compare-and-set; a lost race raises SubmissionMoved and the whole update runs again),
conversation state and outbox rows commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.render import reply_to_json
from bot.review import progress as progress_view
from bot.review.links import stored_checks
from bot.review.scope import allowed_agencies, may_review, reviewers_of
from bot.turn import ChatTurn
from flows import review as rflow
from flows import review_agency as aflow
from flows.engine import command_of as engine_command
from flows.i18n import LANGUAGES, N_, normalise_language, translate
from flows.machines import Status, next_status
from flows.model import Form
from flows.navigation import summarise
from flows.progress import answer_counts, days_late
from flows.review import LinkView, ReviewView, VerdictView, rpack, runpack
from flows.review_points import ManualCriterion
from flows.state import Answer, Choice, ConversationState, Incoming, Reply
from scoring.model import Scale
from storage.records import AgencyRec, CampaignRec, IdentityRec, SubmissionRec, UserRec
from storage.repository import Unit

log = logging.getLogger(__name__)

QUEUE_COMMANDS = frozenset({"review", "thamdinh", "queue", "hangdoi", "start", "menu"})
PROGRESS_COMMANDS = frozenset({"progress", "tiendo"})
HELP_COMMANDS = frozenset({"help", "trogiup", "huongdan"})
# The same words the official's engine takes (flows/engine.py): reviewers switch language too.
LANG_COMMANDS = frozenset({"lang", "ngonngu", "language"})
# Commands only reviewers and admins may use; an official typing one is told so.
REVIEWER_ONLY = frozenset({"thamdinh", "progress", "tiendo", "queue", "hangdoi"})
_QUEUE_BUTTONS = 20
_WAITING = (Status.SUBMITTED, Status.RESUBMITTED)


class SubmissionMoved(Exception):
    """Another reviewer moved the submission first; the whole update is handled again."""


@dataclass
class ReviewOutcome:
    replies: int = 0
    links: list[str] = field(default_factory=list)


def command_of(incoming: Incoming) -> str | None:
    text = (incoming.text or "").strip()
    if not text.startswith("/"):
        return None
    word = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    return word.split("@")[0].lower() or None


class ReviewDesk:
    def __init__(
        self,
        forms: dict[str, Form],
        clock: Callable[[], datetime],
        scales: dict[str, Scale] | None = None,
    ) -> None:
        """`scales` by form id: their reviewer-scored criteria are asked during review."""
        self.forms = forms
        self.clock = clock
        self.manual = {
            form_id: tuple(
                ManualCriterion(c.id, c.text, c.max, c.text_en) for c in scale.manual_criteria()
            )
            for form_id, scale in (scales or {}).items()
        }

    # -- helpers ---------------------------------------------------------------------------
    async def _tell_user(self, unit: Unit, identities: list[IdentityRec], reply: Reply) -> None:
        for ident in identities:
            await unit.enqueue(
                ident.channel, ident.external_id, reply_to_json(reply), kind="notice"
            )

    async def _open_campaigns(self, unit: Unit) -> list[CampaignRec]:
        return [c for c in await unit.list_campaigns() if c.is_open and c.form_id in self.forms]

    async def _common(
        self, unit: Unit, sub: SubmissionRec, agency: AgencyRec, campaign: CampaignRec
    ) -> dict[str, Any]:
        """What the reviewer's and the agency's views of a submission both hold."""
        verdicts = await _verdicts(unit, sub.id)
        return {
            "form": self.forms[campaign.form_id],
            "sub_id": sub.id,
            "agency_name": agency.name,
            "status": sub.status,
            "answers": await unit.load_answers(sub.id),
            "verdicts": verdicts,
            "today": self._today(campaign),
            "reporting_year": campaign.reporting_year or campaign.deadline.year,
            "changed": await _changed_since_return(unit, sub.id, verdicts),
        }

    async def _view(
        self, unit: Unit, sub: SubmissionRec, agency: AgencyRec, campaign: CampaignRec
    ) -> ReviewView:
        common = await self._common(unit, sub, agency, campaign)
        urls = [u for a in common["answers"].values() if (u := rflow.evidence_link(a))]
        links: dict[str, LinkView] = await stored_checks(unit, urls)
        manual = self.manual.get(campaign.form_id, ())
        return ReviewView(
            **common,
            campaign_name=campaign.name,
            round_start=sub.submitted_at,
            links=links,
            manual=manual,
            points=await unit.manual_scores(sub.id) if manual else {},
        )

    def _today(self, campaign: CampaignRec) -> date:
        return self.clock().astimezone(ZoneInfo(campaign.timezone)).date()

    # -- the reviewer ----------------------------------------------------------------------
    async def reviewer_turn(
        self, turn: ChatTurn, state: ConversationState, incoming: Incoming, user: UserRec
    ) -> ReviewOutcome:
        """A reviewer's or admin's update: the queue, progress, or a step of a review."""
        unit = turn.unit
        lang = normalise_language(state.lang)
        review = dict(state.review or {})
        incoming = _typed_choice(incoming, review)
        command = command_of(incoming)
        picked = runpack(incoming.payload)
        out = ReviewOutcome()
        replies: list[Reply] = []
        if command in PROGRESS_COMMANDS:
            replies = await self.progress(unit, user, lang)
        elif command in HELP_COMMANDS:
            replies = [Reply(translate(lang, REVIEWER_HELP))]
        elif command in LANG_COMMANDS:
            replies = await self._set_language(unit, state, user, incoming)
        elif command in QUEUE_COMMANDS:
            review.pop("await", None)
            replies, review["choices"] = await self.queue(unit, user, lang)
        elif picked is not None or (review.get("sub") and command is None):
            sub_id = picked[0] if picked else int(review["sub"])
            replies, review, out.links = await self._review_step(
                turn, user, sub_id, review, incoming, lang
            )
        else:
            if command is not None:
                # An official's command (/diem, /nop, /xem…): say so, not just the queue
                # ("Không có phiếu nào chờ thẩm định" answered /diem).
                typed = (incoming.text or "").split()[0]
                said = translate(
                    lang, N_("Lệnh {command} không dùng cho cán bộ thẩm định."), {"command": typed}
                )
                replies.append(Reply(f"{said}\n{translate(lang, REVIEWER_HELP)}", kind="error"))
            queue, review["choices"] = await self.queue(unit, user, lang)
            replies.extend(queue)
        state.review = review
        await unit.save_conversation(turn.conv_id, state, user.id)
        await turn.send(replies)
        out.replies = len(replies)
        return out

    async def _set_language(
        self, unit: Unit, state: ConversationState, user: UserRec, incoming: Incoming
    ) -> list[Reply]:
        """/lang vi|en: the conversation's and the person's language (kept for notices), in
        the same unit as the conversation save; anything else gets the usage with an example."""
        words = (incoming.text or "").split()
        wanted = words[1].strip().lower()[:2] if len(words) > 1 else ""
        if wanted not in LANGUAGES:
            return [
                Reply(
                    translate(state.lang, N_("Ngôn ngữ hỗ trợ: vi, en. Ví dụ: /lang en")),
                    kind="error",
                )
            ]
        state.lang = wanted
        await unit.set_user_lang(user.id, wanted)
        return [Reply(translate(wanted, N_("Đã chuyển sang tiếng Việt.")))]

    async def _review_step(
        self,
        turn: ChatTurn,
        user: UserRec,
        sub_id: int,
        review: dict[str, Any],
        incoming: Incoming,
        lang: str,
    ) -> tuple[list[Reply], dict[str, Any], list[str]]:
        unit, channel = turn.unit, turn.channel
        sub = await unit.submission_by_id(sub_id)
        campaign = await unit.campaign(sub.campaign_id) if sub else None
        agency = await unit.agency(sub.agency_id) if sub else None
        form = self.forms.get(campaign.form_id) if campaign else None
        if (
            sub is None
            or campaign is None
            or agency is None
            or form is None
            or not await may_review(unit, user, campaign, form, agency.id)
        ):
            # A stale or forged button, or an agency not assigned: nothing is revealed.
            log.warning("user %s refused review of submission %s", user.id, sub_id)
            review.pop("sub", None)
            review.pop("await", None)
            text = translate(lang, N_("Anh/chị không được giao thẩm định phiếu này."))
            queue, review["choices"] = await self.queue(unit, user, lang)
            return [Reply(text, kind="error"), *queue], review, []
        if review.get("sub") != sub.id:
            review = {"choices": review.get("choices") or []}
        view = await self._view(unit, sub, agency, campaign)
        step = rflow.handle(view, review, incoming, lang)
        links: list[str] = []
        forwards: list[dict[str, Any]] = []
        now = self.clock()
        for op in step.ops:
            if op.name == "verdict":
                d = op.data
                await unit.record_verdict(
                    sub.id,
                    d["item"],
                    d["verdict"],
                    user.id,
                    now,
                    comment=d["comment"],
                    corrected=_unjson_answer(d["corrected"]),
                    channel=channel,
                )
            elif op.name == "points":
                await unit.record_manual_score(
                    sub.id, op.data["criterion"], op.data["points"], user.id, now, channel=channel
                )
            elif op.name == "move":
                sub = await self._move(unit, sub, op.data["trigger"], user, channel, now)
                await self._after_move(unit, sub, agency, campaign, op.data["trigger"])
            elif op.name == "check_link":
                links.append(op.data["url"])
            elif op.name == "forward":
                file = rflow.evidence_file(view.answers.get(op.data["item"]))
                if file:
                    label = str(file.get("file_name") or file.get("kind") or "")
                    forwards.append(
                        {
                            "text": translate(
                                lang,
                                N_("📄 Tệp minh chứng mục {item}: {name}"),
                                {"item": op.data["item"], "name": label},
                            ),
                            "file": file,
                            "choices": [],
                            "actions": [],
                            "kind": "info",
                        }
                    )
        replies = list(step.replies)
        if forwards:
            await turn.send(replies)
            await unit.enqueue_many(channel, turn.chat_id, forwards)
            replies = []
        return replies, step.state or {}, links

    async def _move(
        self,
        unit: Unit,
        sub: SubmissionRec,
        trigger: str,
        user: UserRec,
        channel: str,
        now: datetime,
        note: str | None = None,
    ) -> SubmissionRec:
        new = next_status(sub.status, trigger)
        if new is None or not await unit.move_submission(
            sub.id, sub.status, new, user.id, now, note=note, channel=channel
        ):
            raise SubmissionMoved
        moved = await unit.submission_by_id(sub.id)
        assert moved is not None
        return moved

    async def _after_move(
        self,
        unit: Unit,
        sub: SubmissionRec,
        agency: AgencyRec,
        campaign: CampaignRec,
        trigger: str,
    ) -> None:
        """Returned: the officials get ONE message listing the returned items; accepted: they
        are asked to confirm the final data."""
        if trigger not in ("return_to_agency", "accept"):
            return
        view = await self._agency_view(unit, sub, agency, campaign)
        for official, identities in await unit.users_with_role("official", agency.id):
            lang = normalise_language(official.lang)
            reply = (
                aflow.return_notice(view, lang)
                if trigger == "return_to_agency"
                else aflow.accepted_notice(view, lang)
            )
            await self._tell_user(unit, identities, reply)

    async def queue(self, unit: Unit, user: UserRec, lang: str) -> tuple[list[Reply], list[str]]:
        """Submitted and resubmitted submissions the user may review, oldest first (late ones
        marked), then those in review (to resume). Returns the replies and the payloads."""
        lines: list[str] = []
        # Every entry is numbered (typed on the console or Zalo); Telegram shows buttons for
        # the first _QUEUE_BUTTONS.
        entries: list[Choice] = []
        reviewing: list[tuple[SubmissionRec, AgencyRec]] = []
        for campaign in await self._open_campaigns(unit):
            form = self.forms[campaign.form_id]
            allowed = {a.id: a for a in await allowed_agencies(unit, user, campaign, form)}
            waiting = await unit.submissions_with_status(_WAITING, campaign.id)
            mine = [s for s in waiting if s.agency_id in allowed]
            reviewing += [
                (s, allowed[s.agency_id])
                for s in await unit.submissions_with_status([Status.IN_REVIEW], campaign.id)
                if s.agency_id in allowed
            ]
            if not mine:
                continue
            lines.append(
                translate(
                    lang,
                    N_("📋 “{campaign}”: {n} phiếu chờ thẩm định"),
                    {"campaign": campaign.name, "n": len(mine)},
                )
            )
            for sub in mine:
                agency = allowed[sub.agency_id]
                late = days_late(sub.submitted_at, campaign.deadline, campaign.timezone)
                mark = " " + translate(lang, N_("⏰ trễ {n} ngày"), {"n": late}) if late else ""
                again = (
                    " " + translate(lang, N_("(nộp lại)"))
                    if sub.status is Status.RESUBMITTED
                    else ""
                )
                entries.append(Choice(f"🔎 {agency.name}"[:60], rpack(sub.id, "open")))
                lines.append(f"{len(entries)}. {agency.name}{again}{mark}")
        if reviewing:
            lines.append(translate(lang, N_("Đang thẩm định (chọn để tiếp tục):")))
            for sub, agency in reviewing:
                entries.append(Choice(f"▶️ {agency.name}"[:60], rpack(sub.id, "next")))
                lines.append(f"{len(entries)}. {agency.name}")
        if not lines:
            lines.append(translate(lang, N_("Không có phiếu nào chờ thẩm định.")))
        reply = Reply("\n".join(lines), tuple(entries[:_QUEUE_BUTTONS]), kind="question")
        return [reply], [c.payload for c in entries]

    async def progress(self, unit: Unit, user: UserRec, lang: str) -> list[Reply]:
        out = []
        for campaign in await self._open_campaigns(unit):
            form = self.forms[campaign.form_id]
            agencies = await allowed_agencies(unit, user, campaign, form)
            rows = await progress_view.rows(unit, campaign, form, agencies, self._today(campaign))
            out.append(Reply(progress_view.render(lang, campaign, rows)))
        if not out:
            out.append(Reply(translate(lang, N_("Hiện chưa có đợt thu thập phiếu nào đang mở."))))
        return out

    # -- notices ---------------------------------------------------------------------------
    async def notify_submitted(
        self,
        unit: Unit,
        agency: AgencyRec,
        campaign: CampaignRec,
        form: Form,
        sub: SubmissionRec,
    ) -> int:
        """Tell the agency's reviewers (each chat of each) that it (re)submitted; returns how
        many reviewers were told."""
        answers = await unit.load_answers(sub.id)
        done, total, _ = answer_counts(form, answers)  # as reminders and progress count
        evidence = sum(1 for a in answers.values() if a.evidence)
        missing_evidence = summarise(form, answers).missing_evidence
        late = days_late(sub.submitted_at, campaign.deadline, campaign.timezone)
        reviewers = await reviewers_of(unit, campaign, form, agency.id)
        changed: dict[str, Answer | None] = {}
        if sub.status is Status.RESUBMITTED:
            changed = await _changed_since_return(unit, sub.id, await _verdicts(unit, sub.id))
        for reviewer, identities in reviewers:
            lang = normalise_language(reviewer.lang)
            params = {"agency": agency.name, "form": form.title.get(lang)}
            lines = [
                translate(lang, N_("🔁 {agency} đã nộp lại phiếu “{form}”. Mời thẩm định."), params)
                if sub.status is Status.RESUBMITTED
                else translate(
                    lang, N_("📥 {agency} đã nộp phiếu “{form}”. Mời thẩm định."), params
                )
            ]
            lines.append(
                translate(lang, N_("⏰ Trễ hạn {n} ngày."), {"n": late})
                if late
                else translate(lang, N_("Đúng hạn."))
            )
            lines.append(
                translate(
                    lang,
                    N_("Đã trả lời {done}/{total} mục; {evidence} mục có minh chứng cần xem."),
                    {
                        "done": done,
                        "total": total,
                        "evidence": evidence,
                    },
                )
            )
            if missing_evidence:
                lines.append(
                    translate(
                        lang,
                        N_("⚠️ {n} mục thiếu minh chứng (cần link/tài liệu nhưng chưa có)."),
                        {"n": len(missing_evidence)},
                    )
                )
            if changed:
                lines.append(translate(lang, N_("Đã sửa {n} mục bị trả lại."), {"n": len(changed)}))
            button = Choice(translate(lang, N_("🔎 Bắt đầu thẩm định")), rpack(sub.id, "open"))
            await self._tell_user(
                unit, identities, Reply("\n".join(lines), (button,), kind="notice")
            )
        return len(reviewers)

    # -- the agency ------------------------------------------------------------------------
    async def _agency_view(
        self, unit: Unit, sub: SubmissionRec, agency: AgencyRec, campaign: CampaignRec
    ) -> aflow.AgencyView:
        return aflow.AgencyView(**await self._common(unit, sub, agency, campaign))

    async def agency_turn(
        self,
        turn: ChatTurn,
        state: ConversationState,
        incoming: Incoming,
        user: UserRec,
        agency: AgencyRec,
        campaign: CampaignRec,
        sub: SubmissionRec,
    ) -> int | None:
        """An official's update while review needs them; None when the engine should take it
        (a draft, a submission in review, an accepted one read with /xem…)."""
        unit, channel = turn.unit, turn.channel
        lang = normalise_language(state.lang)
        picked = runpack(incoming.payload)
        command = command_of(incoming)
        review = dict(state.review or {})
        if command in REVIEWER_ONLY or (picked is not None and picked[0] != sub.id):
            await turn.send([Reply(translate(lang, OFFICIALS_REFUSED), kind="error")])
            return 1
        if sub.status is Status.RETURNED and engine_command(incoming) in aflow.READ_ONLY_ACTIONS:
            return None  # /xem, /help, /diem… answered as usual; the fix flow stays where it is
        ours = sub.status is Status.RETURNED or (
            sub.status is Status.ACCEPTED
            and (
                picked is not None
                or review.get("await") == "dispute"
                or command in aflow.ACCEPTED_COMMANDS
            )
        )
        if not ours:
            if picked is not None:  # a review button of this submission, but too late
                await turn.send([Reply(translate(lang, N_("Nút này đã cũ.")), kind="stale")])
                return 1
            return None
        view = await self._agency_view(unit, sub, agency, campaign)
        if sub.status is Status.RETURNED and not aflow.returned_items(view):
            return None
        step = aflow.handle(view, review if review.get("sub") == sub.id else {}, incoming, lang)
        now = self.clock()
        if step.changes:
            await unit.apply_changes(sub.id, step.changes, user.id, channel, now)
        if step.transition:
            sub = await self._move(unit, sub, step.transition, user, channel, now, note=step.note)
            if step.transition == "submit":
                await self.notify_submitted(
                    unit, agency, campaign, self.forms[campaign.form_id], sub
                )
            elif step.transition == "dispute":
                await self._tell_dispute(unit, agency, campaign, sub, user, step.note or "")
        state.review = step.state
        await unit.save_conversation(turn.conv_id, state, user.id)
        await turn.send(step.replies)
        return len(step.replies)

    async def _tell_dispute(
        self,
        unit: Unit,
        agency: AgencyRec,
        campaign: CampaignRec,
        sub: SubmissionRec,
        official: UserRec,
        reason: str,
    ) -> None:
        form = self.forms[campaign.form_id]
        for reviewer, identities in await reviewers_of(unit, campaign, form, agency.id):
            lang = normalise_language(reviewer.lang)
            text = translate(
                lang,
                N_("❗ {agency} không đồng ý với số liệu đã chấp nhận ({who}): {reason}"),
                {"agency": agency.name, "who": official.name, "reason": reason},
            )
            button = Choice(translate(lang, N_("🔎 Xem lại")), rpack(sub.id, "open"))
            await self._tell_user(unit, identities, Reply(text, (button,), kind="notice"))


async def _verdicts(unit: Unit, sub_id: int) -> dict[str, VerdictView]:
    return {
        item: VerdictView(r.verdict, r.comment, r.corrected, r.at)
        for item, r in (await unit.item_verdicts(sub_id)).items()
    }


async def _changed_since_return(
    unit: Unit, sub_id: int, verdicts: dict[str, VerdictView]
) -> dict[str, Answer | None]:
    """Returned items the agency changed after the return: item → the answer before."""
    returned = {i: v.at for i, v in verdicts.items() if v.verdict == "tra_lai"}
    if not returned:
        return {}
    out: dict[str, Answer | None] = {}
    for row in await unit.answer_history(sub_id):
        since = returned.get(row.item_id)
        if since is not None and row.at > since and row.item_id not in out:
            out[row.item_id] = row.old
    return out


def _unjson_answer(answer: Answer | None) -> Answer | None:
    if answer is None:
        return None
    return Answer(rflow.unjson(answer.value), answer.na_reason, answer.evidence)


def _typed_choice(incoming: Incoming, review: dict[str, Any]) -> Incoming:
    """A typed number picks the queue's button of that number (console, Zalo)."""
    text = (incoming.text or "").strip()
    shown = review.get("choices") or []
    if review.get("await") or not (text.isascii() and text.isdigit() and len(text) <= 4):
        return incoming
    n = int(text)
    if 1 <= n <= len(shown):
        return Incoming(payload=shown[n - 1])
    return incoming


REVIEWER_HELP = N_(
    "Lệnh thẩm định:\n"
    "/thamdinh (/review) — danh sách phiếu chờ thẩm định\n"
    "/progress (/tiendo) — tiến độ các cơ quan\n"
    "/lang en (/lang vi) — đổi ngôn ngữ\n"
    "Trong một phiếu: chọn Đạt, Không đạt, Trả lại hoặc Sửa cho từng mục; gõ số mục (ví dụ "
    "3.1) để xem một mục bất kỳ; Tạm dừng để làm tiếp sau."
)
OFFICIALS_REFUSED = N_(
    "Lệnh này dành cho cán bộ thẩm định của Sở TTTT. Anh/chị gõ /menu để tiếp tục phiếu của "
    "cơ quan mình."
)
