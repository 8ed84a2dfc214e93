"""The reviewer's conversation (issue #10), pure: a view of one submission in, a Step out.

`handle(view, state, incoming)` decides what a reviewer's message or button means for the
submission in `view` and returns the new review state, the replies and the operations the
caller commits in one transaction (verdicts, a status move, a link to re-check). No I/O, no
clock: the caller reads the submission, its answers, the standing verdicts and the link
checks into a `ReviewView` first, and checks that the reviewer may act on it at all.

Items to verify, in order (issue #10): those changed since they were returned (old → new),
those carrying evidence, those in a failed cross-check, those "không áp dụng" with their
reason; any other item opens on request (typed item number). An item is settled when it has
a verdict of this round (a 'tra_lai' given before the latest (re)submission is not).

Once every item is settled and none is returned, the scale's reviewer-scored criteria still
without points are asked one by one (flows/review_points.py); accepting needs them all.

Payloads: r|<submission id>|<action>, the actions:
    open · next · pause · bulk · bulk_ok · accept · return · v:<verdict>:<item> · i:<item>
    · m:<criterion> (enter a reviewer-scored criterion's points again)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from flows import prompts
from flows.i18n import N_
from flows.machines import Status
from flows.model import Form, ItemType, Question
from flows.navigation import failed_checks, needs_evidence, summarise, values_of, visible_questions
from flows.parsing import Confirm, Problem, fold, format_answer
from flows.payload import Act, Payload, pack
from flows.review_points import ManualCriterion, example_points, parse_points
from flows.review_turn import SubmissionView, TurnBase, VerdictView
from flows.review_values import problem_reply, read_value, shown, value_example
from flows.state import Answer, Choice, Incoming, Reply, words_of

VERDICTS = ("dat", "khong_dat", "tra_lai", "sua")
# Verdicts that need the reviewer's words (issue #10: Không đạt and Trả lại need a comment).
NEEDS_COMMENT = frozenset({"khong_dat", "tra_lai", "sua"})
VERDICT_LABELS = {
    "dat": N_("✅ Đạt"),
    "khong_dat": N_("❌ Không đạt"),
    "tra_lai": N_("↩️ Trả lại"),
    "sua": N_("✏️ Sửa"),
}
_MIN_COMMENT = 3
REVIEWABLE = frozenset({Status.SUBMITTED, Status.RESUBMITTED, Status.IN_REVIEW})


def rpack(sub_id: int, action: str) -> str:
    """A review button's payload: r|<submission>|<action> (under 64 bytes, else ValueError)."""
    return pack(Act.REVIEW, str(sub_id), action)


def runpack(raw: str | None) -> tuple[int, str] | None:
    """(submission id, action) of a review payload; None for anything else or malformed."""
    p = Payload.unpack(raw)
    if p is None or p.act is not Act.REVIEW or not p.item.isdigit() or not p.value:
        return None
    return int(p.item), p.value


@dataclass(frozen=True, slots=True)
class LinkView:
    """What the evidence link checker last said about a link (bot/workers/linkcheck.py)."""

    url: str
    status: int | None = None
    final_url: str | None = None
    title: str | None = None
    content_type: str | None = None
    size: int | None = None
    elapsed_ms: int | None = None
    error: str | None = None
    checked_at: datetime | None = None

    @property
    def answered(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def matches(self) -> bool:
        """Answered, and the page is still on the link's own site: a redirect to another host
        (a login page, a parked domain, a portal's home) is not the document linked."""
        if not self.answered:
            return False
        final = self.final_url or self.url
        return _host(final) == _host(self.url)


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewView(SubmissionView):
    """One submission as the reviewer's turn needs it (read by the caller, under its lock)."""

    campaign_name: str
    # When the submission was last (re)submitted: a 'tra_lai' before it is history.
    round_start: datetime | None = None
    links: Mapping[str, LinkView] = field(default_factory=dict)
    # The scale's reviewer-scored criteria, and the points standing for this submission.
    manual: tuple[ManualCriterion, ...] = ()
    points: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Op:
    """Something the caller commits: verdict {item, verdict, comment, corrected}, move
    {trigger}, check_link {url}, forward {item}, points {criterion, points}."""

    name: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReviewStep:
    state: dict[str, Any] | None
    replies: tuple[Reply, ...]
    ops: tuple[Op, ...] = ()


def evidence_link(answer: Answer | None) -> str | None:
    """The link an answer's evidence gives (a bare link, or a document's), if any."""
    if answer is None:
        return None
    ev = answer.evidence
    if isinstance(ev, str) and ev.startswith(("http://", "https://")):
        return ev
    if isinstance(ev, dict) and isinstance(ev.get("link"), str):
        return str(ev["link"])
    return None


def evidence_file(answer: Answer | None) -> dict[str, Any] | None:
    """The file an official sent as evidence ({"file_id", "kind", "file_name"…}), if any."""
    ev = answer.evidence if answer is not None else None
    if isinstance(ev, dict) and isinstance(ev.get("file"), dict):
        return dict(ev["file"])
    return None


def items_to_verify(form: Form, answers: Mapping[str, Answer]) -> list[str]:
    """Evidence first, then items missing the evidence they require ("thiếu minh chứng": a
    link/document asked for but not given — the reviewer must see them, newcomer report),
    then failed cross-checks, then "không áp dụng" (each in form order)."""
    values = values_of(form, answers)
    visible = [q.id for q in visible_questions(form, values) if q.answerable]
    with_evidence = [i for i in visible if i in answers and answers[i].evidence]
    missing = summarise(form, answers).missing_evidence
    in_checks = {i for f in failed_checks(form, values) for i in f.check.items}
    failed = [q.id for q in form.questions if q.id in in_checks and q.id in answers]
    na = [i for i in visible if i in answers and answers[i].is_na]
    out: list[str] = []
    for item in (*with_evidence, *missing, *failed, *na):
        if item not in out:
            out.append(item)
    return out


def is_settled(view: ReviewView, item: str) -> bool:
    v = view.verdicts.get(item)
    if v is None:
        return False
    # A 'tra_lai' of the last round is decided again after the agency's fix.
    return not (v.verdict == "tra_lai" and view.round_start is not None and v.at < view.round_start)


def review_items(view: ReviewView) -> list[str]:
    """What the reviewer walks through: returned-and-changed items first, then the rest."""
    again = [i for i in view.verdicts if not is_settled(view, i)]
    out = [i for i in (*view.changed, *again) if view.form.question(i) is not None]
    for item in items_to_verify(view.form, view.answers):
        if item not in out:
            out.append(item)
    return list(dict.fromkeys(out))


def unsettled(view: ReviewView) -> list[str]:
    return [i for i in review_items(view) if not is_settled(view, i)]


def bulk_candidates(view: ReviewView) -> list[str]:
    """Unsettled items whose evidence link answered and matches (the one-tap "Đạt" list)."""
    out = []
    for item in unsettled(view):
        link = evidence_link(view.answers.get(item))
        check = view.links.get(link) if link else None
        if item not in view.changed and check is not None and check.matches:
            out.append(item)
    return out


class _Turn(TurnBase[ReviewView, ReviewStep]):
    def __init__(self, view: ReviewView, state: dict[str, Any] | None, lang: str) -> None:
        super().__init__(view, state, lang)
        self.ops: list[Op] = []
        self.verdicts = dict(view.verdicts)
        self.points = dict(view.points)

    # -- helpers ---------------------------------------------------------------------------
    def b(self, msgid: str, action: str) -> Choice:
        return Choice(self.t(msgid), rpack(self.view.sub_id, action))

    @property
    def current_view(self) -> ReviewView:
        return replace(self.view, verdicts=self.verdicts)

    def step(self) -> ReviewStep:
        shown = [c.payload for r in self.replies for c in (*r.choices, *r.actions)]
        self.state["sub"] = self.view.sub_id
        self.state["choices"] = shown[-12:]
        return ReviewStep(self.state, tuple(self.replies), tuple(self.ops))

    # -- entry -----------------------------------------------------------------------------
    def dispatch(self, incoming: Incoming) -> None:
        if self.view.status not in REVIEWABLE:
            self.state.pop("await", None)
            self.say(
                N_("Phiếu của {agency} đang ở trạng thái: {status}; không thẩm định được nữa."),
                "error",
                agency=self.view.agency_name,
                status=prompts.status_text(self.lang, self.view.status),
            )
            return
        picked = runpack(incoming.payload)
        if incoming.payload is not None and picked is None:
            self.say(N_("Nút này đã cũ."), "error")
            self.show_next()
            return
        if picked is None:
            text = (incoming.text or "").strip()
            if self.state.get("await"):  # a comment, a corrected value or a reason
                self.on_text(text)
                return
            choice = self._typed_choice(text)
            if choice is not None:
                picked = runpack(choice)
            else:
                self.open_typed_item(text)
                return
        assert picked is not None
        _, action = picked
        if action != "bulk_ok" and not action.startswith("v:"):
            self.state.pop("await", None)
        self.on_action(action)

    def _typed_choice(self, text: str) -> str | None:
        shown: list[str] = list(self.state.get("choices") or [])
        if not shown or not text:
            return None
        if text.isascii() and text.isdigit() and len(text) <= 3:
            n = int(text)
            return shown[n - 1] if 1 <= n <= len(shown) else None
        # A typed label ("Đạt", "Trả lại"): only the verdicts of the item being shown.
        folded = fold(words_of(text))
        item = self.state.get("item")
        for verdict, msgid in VERDICT_LABELS.items():
            if item and fold(words_of(self.t(msgid))) == folded:
                return rpack(self.view.sub_id, f"v:{verdict}:{item}")
        return None

    def ensure_in_review(self) -> None:
        """A verdict or a decision on a submission not yet opened (an old card's button after
        a resubmission) first moves it in review, once."""
        if self.view.status is not Status.IN_REVIEW and not any(
            op.name == "move" for op in self.ops
        ):
            self.ops.append(Op("move", {"trigger": "start_review"}))

    def on_action(self, action: str) -> None:
        if action == "open":
            self.ensure_in_review()
            self.opening()
            self.show_next()
        elif action == "next":
            self.show_next()
        elif action == "pause":
            self.state.pop("item", None)
            self.say(
                N_(
                    "⏸ Đã lưu chỗ đang thẩm định phiếu của {agency}. Gõ /thamdinh để tiếp "
                    "tục khi nào anh/chị muốn."
                ),
                agency=self.view.agency_name,
            )
        elif action == "bulk":
            self.show_bulk()
        elif action == "bulk_ok":
            self.accept_bulk()
        elif action in ("accept", "return"):
            self.decide(action)
        elif action.startswith("v:"):
            _, verdict, item = [*action.split(":", 2), "", ""][:3]
            self.on_verdict(verdict, item)
        elif action.startswith("i:"):
            self.show_item(action[2:])
        elif action.startswith("m:") and self.criterion(action[2:]) is not None:
            self.ask_points(action[2:])
        else:
            self.say(N_("Nút này đã cũ."), "error")
            self.show_next()

    def opening(self) -> None:
        n = len(unsettled(self.current_view))
        self.say(
            N_("🔎 Thẩm định phiếu của {agency} ({campaign}): {n} mục cần xem."),
            agency=self.view.agency_name,
            campaign=self.view.campaign_name,
            n=n,
        )

    # -- items -----------------------------------------------------------------------------
    def show_next(self) -> None:
        todo = unsettled(self.current_view)
        if todo:
            self.show_item(todo[0], left=len(todo))
        elif self.unscored() and not self.returned():  # points only for a form to accept
            self.ask_points(self.unscored()[0])
        else:
            self.show_decision()

    def open_typed_item(self, text: str) -> None:
        item = text.removeprefix("/").strip()
        if self.view.form.question(item) is not None:
            self.show_item(item)
            return
        self.say(
            N_(
                "Chưa hiểu “{text}”. Chọn một lựa chọn bên dưới, hoặc gõ số mục để xem một mục "
                "bất kỳ (ví dụ: 3.1)."
            ),
            "error",
            text=text[:60],
        )
        self.show_next()

    def show_item(self, item: str, left: int | None = None) -> None:
        q = self.view.form.question(item)
        if q is None:
            self.say(N_("Không có mục {item} trong phiếu này."), "error", item=item)
            return
        self.state["item"] = item
        self.state.pop("await", None)
        self.replies.append(self.card(q, left))
        link = evidence_link(self.view.answers.get(item))
        if link:
            self.ops.append(Op("check_link", {"url": link}))
        if evidence_file(self.view.answers.get(item)):
            self.ops.append(Op("forward", {"item": item}))

    def card(self, q: Question, left: int | None) -> Reply:
        lang, answer = self.lang, self.view.answers.get(q.id)
        lines = []
        if left is not None:
            lines.append(self.t(N_("Còn {n} mục cần xem."), n=left))
        lines.append(f"{self.label(q.id)}. {q.text.get(lang)}")
        if q.id in self.view.changed:
            old = self.view.changed[q.id]
            lines.append(
                self.t(
                    N_("🔁 Đã sửa: {old} → {new}"),
                    old=shown(q, old, lang),
                    new=shown(q, answer, lang),
                )
            )
            before = old.evidence if old is not None else None
            after = answer.evidence if answer is not None else None
            if before != after:
                lines.append(
                    self.t(
                        N_("📎 Minh chứng cũ: {evidence}"),
                        evidence=prompts.evidence_text(before, lang) if before else "—",
                    )
                )
        else:
            lines.append(self.t(N_("Trả lời: {value}"), value=shown(q, answer, lang)))
        if answer is not None and answer.evidence:
            lines.append(
                self.t(
                    N_("📎 Minh chứng: {evidence}"),
                    evidence=prompts.evidence_text(answer.evidence, lang),
                )
            )
            if evidence_file(answer):
                lines.append(self.t(N_("📄 Tệp minh chứng được gửi kèm ngay sau tin này.")))
        elif needs_evidence(q, answer):
            lines.append(self.t(N_("⚠️ Thiếu minh chứng: mục này cần link/tài liệu nhưng chưa có.")))
        link = evidence_link(answer)
        if link:
            lines.append(link_line(self.lang, self.view.links.get(link)))
        for failed in failed_checks(self.view.form, values_of(self.view.form, self.view.answers)):
            if q.id in failed.check.items:
                lines.append(prompts.check_failure(self.view.form, failed, lang))
        standing = self.verdicts.get(q.id)
        if standing is not None:
            lines.append(
                self.t(
                    N_("Đã đánh giá: {verdict}{comment}"),
                    verdict=self.t(VERDICT_LABELS[standing.verdict]),
                    comment=f" — {standing.comment}" if standing.comment else "",
                )
            )
        choices = tuple(self.b(VERDICT_LABELS[v], f"v:{v}:{q.id}") for v in VERDICTS)
        actions = [self.b(N_("⏭ Mục sau"), "next"), self.b(N_("⏸ Tạm dừng"), "pause")]
        if bulk_candidates(self.current_view):
            actions.insert(0, self.b(N_("⚡ Đạt hàng loạt (link tốt)"), "bulk"))
        return Reply("\n".join(lines), choices, tuple(actions), kind="question", item=q.id)

    # -- verdicts --------------------------------------------------------------------------
    def on_verdict(self, verdict: str, item: str) -> None:
        q = self.view.form.question(item)
        if verdict not in VERDICTS or q is None:
            self.say(N_("Nút này đã cũ."), "error")
            self.show_next()
            return
        if verdict == "dat":
            self.record(item, "dat")
            self.show_next()
            return
        self.state["item"] = item
        if verdict == "sua":
            self.state["await"] = {"verdict": "sua", "item": item, "stage": "value"}
            self.say(
                N_(
                    "✏️ Gõ cả danh sách đúng cho mục {item}, mỗi dòng một hàng (hoặc “không "
                    "có”). Ví dụ:\n{example}"
                )
                if q.type is ItemType.LIST
                else N_("✏️ Gõ giá trị đúng cho mục {item}. Ví dụ: {example}"),
                item=self.label(item),
                example=value_example(q, self.lang),
            )
        else:
            self.state["await"] = {"verdict": verdict, "item": item, "stage": "comment"}
            self.say(
                N_("Nhập nhận xét cho mục {item} (bắt buộc), ví dụ: Link không mở được."),
                item=self.label(item),
            )

    def on_text(self, text: str) -> None:
        waiting: dict[str, Any] = self.state["await"]
        if "points" in waiting:
            self.on_points(str(waiting["points"]), text)
            return
        item, verdict = waiting["item"], waiting["verdict"]
        q = self.view.form.question(item)
        if q is None:
            self.state.pop("await", None)
            self.show_next()
            return
        if waiting.get("stage") == "value":
            result = read_value(q, text, self.view.today, reporting_year=self.view.reporting_year)
            if isinstance(result, Problem):
                self.replies.append(problem_reply(self.lang, result))
                return
            value = result.value
            self.state["await"] = {**waiting, "stage": "comment", "value": _jsonable(value)}
            old = self.view.answers.get(item)
            self.say(
                N_("Giá trị sửa: {old} → {new}. Nhập lý do sửa (bắt buộc)."),
                old=shown(q, old, self.lang),
                new=format_answer(q, value, self.lang),
            )
            if isinstance(result, Confirm):
                self.replies.append(
                    Reply(prompts.t(self.lang, result.msgid, **result.params), kind="info")
                )
            return
        if len(text.strip()) < _MIN_COMMENT:
            self.say(
                N_("Nhận xét cần ít nhất {n} ký tự, ví dụ: Số liệu không khớp báo cáo."),
                "error",
                n=_MIN_COMMENT,
            )
            return
        corrected = None
        if verdict == "sua":
            old = self.view.answers.get(item) or Answer()
            corrected = Answer(waiting.get("value"), None, old.evidence)
        self.state.pop("await", None)
        self.record(item, verdict, text.strip(), corrected)
        self.show_next()

    def record(
        self, item: str, verdict: str, comment: str | None = None, corrected: Answer | None = None
    ) -> None:
        self.ensure_in_review()
        self.ops.append(
            Op(
                "verdict",
                {"item": item, "verdict": verdict, "comment": comment, "corrected": corrected},
            )
        )
        # Settled now, for what is shown next (the stored row's time is the caller's clock).
        self.verdicts[item] = VerdictView(
            verdict, comment, corrected, _after(self.view.round_start)
        )
        self.say(
            N_("Đã ghi: {item} — {verdict}."),
            item=self.label(item),
            verdict=self.t(VERDICT_LABELS[verdict]),
        )

    # -- reviewer-scored criteria (issue #12) ------------------------------------------------
    def criterion(self, cid: str) -> ManualCriterion | None:
        return next((c for c in self.view.manual if c.id == cid), None)

    def unscored(self) -> list[str]:
        return [c.id for c in self.view.manual if c.id not in self.points]

    def ask_points(self, cid: str) -> None:
        c = self.criterion(cid)
        assert c is not None
        self.state.pop("item", None)
        self.state["await"] = {"points": cid}
        standing = self.points.get(cid)
        lines = [
            self.t(
                N_("🧮 Chấm điểm tiêu chí {id}: {text} (0–{max} điểm)."),
                id=cid,
                text=c.text_in(self.lang),
                max=f"{c.max:g}",
            )
        ]
        if standing is not None:
            lines.append(self.t(N_("Điểm đang ghi: {points}."), points=f"{standing:g}"))
        lines.append(self.t(N_("Gõ số điểm, ví dụ: {example}"), example=example_points(c.max)))
        pause = self.b(N_("⏸ Tạm dừng"), "pause")
        self.replies.append(Reply("\n".join(lines), (), (pause,), kind="question"))

    def on_points(self, cid: str, text: str) -> None:
        c = self.criterion(cid)
        if c is None:  # the scale changed since the question: go on
            self.state.pop("await", None)
            self.show_next()
            return
        result = parse_points(text, c.max)
        if not isinstance(result, float):
            problem = prompts.t(self.lang, result.msgid, **result.params)
            example = self.t(N_("Ví dụ: {example}"), example=result.example)
            self.replies.append(Reply(f"{problem}\n{example}", kind="error"))
            return
        self.state.pop("await", None)
        self.ensure_in_review()
        self.ops.append(Op("points", {"criterion": cid, "points": result}))
        self.points[cid] = result
        self.say(
            N_("Đã ghi điểm tiêu chí {id}: {points}/{max}."),
            id=cid,
            points=f"{result:g}",
            max=f"{c.max:g}",
        )
        self.show_next()

    # -- many at once ----------------------------------------------------------------------
    def show_bulk(self) -> None:
        items = bulk_candidates(self.current_view)
        if not items:
            self.say(N_("Không còn mục nào có link đã kiểm tra tốt."))
            self.show_next()
            return
        lines = [self.t(N_("Các mục có link mở được và đúng trang ({n}):"), n=len(items))]
        for item in items:
            link = evidence_link(self.view.answers.get(item)) or ""
            check = self.view.links.get(link)
            title = f" — {check.title}" if check and check.title else ""
            lines.append(f"• {self.label(item)}: {link}{title}")
        self.state["bulk"] = items
        self.replies.append(
            Reply(
                "\n".join(lines),
                (
                    self.b(N_("✅ Đạt tất cả các mục này"), "bulk_ok"),
                    self.b(N_("↩️ Xem từng mục"), "next"),
                ),
                kind="question",
            )
        )

    def accept_bulk(self) -> None:
        shown = list(self.state.pop("bulk", None) or [])
        still = set(bulk_candidates(self.current_view))
        items = [i for i in shown if i in still]
        if not items:
            self.say(N_("Nút này đã cũ."), "error")
            self.show_next()
            return
        self.ensure_in_review()
        for item in items:
            self.ops.append(
                Op("verdict", {"item": item, "verdict": "dat", "comment": None, "corrected": None})
            )
            self.verdicts[item] = VerdictView("dat", None, None, _after(self.view.round_start))
        self.say(N_("Đã ghi Đạt cho {n} mục."), n=len(items))
        self.show_next()

    # -- the submission --------------------------------------------------------------------
    def returned(self) -> list[str]:
        view = self.current_view
        return [
            i for i, v in self.verdicts.items() if v.verdict == "tra_lai" and is_settled(view, i)
        ]

    def show_decision(self) -> None:
        self.state.pop("item", None)
        counts = {v: 0 for v in VERDICTS}
        for v in self.verdicts.values():
            counts[v.verdict] += 1
        lines = [
            self.t(
                N_(
                    "Đã xem hết các mục cần thẩm định của {agency}: Đạt {dat} · Không đạt "
                    "{khong_dat} · Trả lại {tra_lai} · Sửa {sua}."
                ),
                agency=self.view.agency_name,
                **counts,
            )
        ]
        again: list[Choice] = []  # numbered after the decision: typed on the console, Zalo
        for c in self.view.manual:
            scored = self.points.get(c.id)
            lines.append(
                self.t(
                    N_("🧮 Tiêu chí {id} (thẩm định chấm): {points}/{max} điểm."),
                    id=c.id,
                    points=f"{scored:g}" if scored is not None else "—",
                    max=f"{c.max:g}",
                )
            )
            label = self.t(N_("🧮 Chấm lại {id}"), id=c.id)
            again.append(Choice(label, rpack(self.view.sub_id, f"m:{c.id}")))
        if self.returned():
            lines.append(self.t(N_("Có mục trả lại: gửi phiếu về cơ quan để sửa?")))
            decision = self.b(N_("↩️ Trả phiếu về cơ quan"), "return")
        else:
            lines.append(self.t(N_("Chấp nhận phiếu?")))
            decision = self.b(N_("✅ Chấp nhận phiếu"), "accept")
        pause = self.b(N_("⏸ Tạm dừng"), "pause")
        self.replies.append(Reply("\n".join(lines), (decision, *again), (pause,), kind="question"))

    def decide(self, action: str) -> None:
        if unsettled(self.current_view):
            self.say(N_("Còn mục chưa đánh giá; xem hết rồi mới quyết định được."), "error")
            self.show_next()
            return
        returned = self.returned()
        if action == "accept" and returned:
            self.say(N_("Có mục trả lại: không chấp nhận phiếu được, hãy trả phiếu về."), "error")
            self.show_decision()
            return
        if action == "return" and not returned:
            self.say(N_("Không có mục nào trả lại: hãy chấp nhận phiếu."), "error")
            self.show_decision()
            return
        if action == "accept" and self.unscored():
            self.say(
                N_("Còn tiêu chí chưa chấm điểm: {ids}; chấm rồi mới chấp nhận được."),
                "error",
                ids=", ".join(self.unscored()),
            )
            self.ask_points(self.unscored()[0])
            return
        trigger = "accept" if action == "accept" else "return_to_agency"
        self.ensure_in_review()
        self.ops.append(Op("move", {"trigger": trigger, "returned": returned}))
        self.state.pop("item", None)
        if action == "accept":
            self.say(
                N_("✅ Đã chấp nhận phiếu của {agency}; cơ quan được mời xác nhận số liệu."),
                agency=self.view.agency_name,
            )
        else:
            self.say(
                N_("↩️ Đã trả phiếu của {agency} với {n} mục cần sửa; cơ quan đã được báo."),
                agency=self.view.agency_name,
                n=len(returned),
            )


def _after(at: datetime | None) -> datetime:
    """A time no earlier than `at` (for verdicts recorded in this turn)."""
    return at if at is not None else datetime.min


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    return value


def unjson(value: Any) -> Any:
    """Undo _jsonable (the state is plain JSON; a Decimal travels tagged)."""
    if isinstance(value, dict) and set(value) == {"$decimal"}:
        return Decimal(value["$decimal"])
    return value


def link_line(lang: str, check: LinkView | None) -> str:
    """One line on what the link checker said: status, final URL, title, type, size, time."""
    if check is None:
        return prompts.t(lang, N_("🔗 Link: đang kiểm tra…"))
    if check.error or check.status is None:
        # `error` is a catalog msgid (bot/review/links.py): said in the reader's language.
        why = prompts.t(lang, check.error) if check.error else str(check.status)
        return prompts.t(lang, N_("🔗 Link không mở được: {error}"), error=why)
    parts = [str(check.status)]
    if check.final_url and check.final_url != check.url:
        parts.append(f"→ {check.final_url}")
    if check.title:
        parts.append(f"“{check.title}”")
    if check.content_type:
        parts.append(check.content_type.split(";")[0])
    if check.size is not None:
        parts.append(f"{check.size // 1024} KB" if check.size >= 1024 else f"{check.size} B")
    if check.elapsed_ms is not None:
        parts.append(f"{check.elapsed_ms} ms")
    mark = "✅" if check.matches else "⚠️"
    return prompts.t(lang, N_("🔗 {mark} Link: {details}"), mark=mark, details=" · ".join(parts))


def handle(
    view: ReviewView, state: dict[str, Any] | None, incoming: Incoming, lang: str
) -> ReviewStep:
    """One reviewer turn on the submission of `view` (see the module docstring)."""
    return _Turn.run(view, state, incoming, lang)
