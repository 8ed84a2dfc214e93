"""Handle one incoming update: one transaction around the pure engine, replies to the outbox.

Every channel (console, Telegram, Zalo) calls `Phieu.handle`. Inside ONE unit of work it
records the update id (a redelivery changes nothing), locks the chat's conversation row (one
chat's updates in order, across workers), runs the engine, writes answers with history, moves
the submission with a compare-and-set, saves the state and queues the replies. Replies leave
only after the commit, so an answer is acknowledged only once it is stored. A transient
database error runs the whole unit again (storage/retry.py); with webhooks, one chat's
concurrent updates are applied in update-id order (storage/_order.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.render import reply_payloads, reply_to_json
from flows import engine
from flows.i18n import N_, normalise_language, translate
from flows.loader import builtin_forms
from flows.machines import EDITABLE_STATUSES, Status, next_status
from flows.model import Form
from flows.state import Answer, Context, ConversationState, Incoming, Reply, Step
from storage.records import AgencyRec, CampaignRec, SubmissionRec, UserRec
from storage.repository import Storage, Unit
from storage.retry import DEFAULT_POLICY, RetryPolicy, retrying

log = logging.getLogger(__name__)

_CONFLICT_RETRIES = 3
_TURN_POLL = 0.02  # seconds between looks at whether an older update was applied


class _NotYourTurn(Exception):
    """An older update of the same chat is still waiting: roll back and let it go first."""

    def __init__(self, older: int) -> None:
        super().__init__(f"older update {older} waiting")
        self.older = older


class SubmissionMoved(Exception):
    """Another worker moved the submission first; the whole update is handled again."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent an update, as the channel knows them."""

    external_id: str
    display_name: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    duplicate: bool = False
    step: Step | None = None
    replies: int = 0


def utcnow() -> datetime:
    return datetime.now(UTC)


def known_facts(agency: AgencyRec, campaign: CampaignRec) -> dict[str, Any]:
    """What Phiếu prefills, by prefill key: the agency record's fields and the campaign's
    reporting year (the year reported on, set when the campaign is opened: a campaign due
    in 2019 may report on 2018, so it is not the deadline's year; issue #9)."""
    return {**agency.known(), "campaign.year": campaign.reporting_year}


def forms_for_cohort(forms: dict[str, Form], cohort: str) -> list[str]:
    return [f.id for f in forms.values() if not f.cohorts or cohort in f.cohorts]


class Phieu:
    """The application service channels talk to; holds no per-chat state."""

    def __init__(
        self,
        storage: Storage,
        forms: dict[str, Form] | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        retry: RetryPolicy = DEFAULT_POLICY,
        on_retry: Callable[[int, BaseException], object] | None = None,
        ordered: bool = False,
        order_grace: float = 0.05,
        order_hold: float = 5.0,
    ) -> None:
        """`retry`: how long a unit is retried on transient database errors (bounded by
        default; `retry.forever()` where giving up would lose the update). `on_retry` is
        told of each retry (the console shows "đang kết nối lại…"). `ordered` turns on the
        per-chat order of concurrent updates (webhooks), with `order_grace` seconds for
        siblings to arrive and at most `order_hold` seconds waiting for an older one."""
        self.storage = storage
        self.forms = forms if forms is not None else builtin_forms()
        self.clock = clock
        self.retry = retry
        self.on_retry = on_retry
        self.ordered = ordered
        self.order_grace = order_grace
        self.order_hold = order_hold

    async def handle(
        self,
        channel: str,
        chat_id: str,
        update_id: str | None,
        incoming: Incoming,
        sender: Sender,
        before: Callable[[Unit, str, str, Sender, Incoming], Awaitable[bool]] | None = None,
        after: Callable[[Unit, str, str, Step], Awaitable[None]] | None = None,
        seq: int | None = None,
    ) -> Outcome:
        """Handle one update exactly once, in one transaction.

        `before` lets a channel act first (invitations; True means handled, stop there);
        `after` lets it add to the same transaction once the engine has run (Telegram edits
        the pressed message). Both run under the chat lock, so what they queue is ordered
        with the chat's other replies.

        A transient database error runs the whole unit again (storage/retry.py, policy
        `self.retry`): safe, because the update id is recorded in that same unit. With
        `self.ordered`, `seq` (default: a numeric update id) orders concurrent updates of
        one chat (storage/_order.py). Raises the last database error once the retry budget
        is spent (the webhook answers 500 and Telegram resends).
        """
        if seq is None and update_id is not None and update_id.isdigit():
            seq = int(update_id)
        ordered = self.ordered and seq is not None and update_id is not None
        what = f"update {channel}/{update_id or chat_id}"
        if ordered:
            assert seq is not None and update_id is not None

            async def note() -> None:
                async with self.storage.unit() as unit:
                    await unit.note_arrival(channel, chat_id, update_id, seq, self.clock())

            await retrying(note, what=what, policy=self.retry, on_retry=self.on_retry)
            # Siblings sent at the same instant get this long to note their arrival too.
            await asyncio.sleep(self.order_grace)
        waited_from = time.monotonic()
        while True:
            try:
                return await retrying(
                    lambda: self._handle_once(
                        channel,
                        chat_id,
                        update_id,
                        incoming,
                        sender,
                        before,
                        after,
                        seq if ordered else None,
                        time.monotonic() - waited_from > self.order_hold,
                    ),
                    what=what,
                    policy=self.retry,
                    on_retry=self.on_retry,
                )
            except _NotYourTurn as turn:
                log.debug("%s waits for older update %s of its chat", what, turn.older)
                await asyncio.sleep(_TURN_POLL)

    async def _handle_once(
        self,
        channel: str,
        chat_id: str,
        update_id: str | None,
        incoming: Incoming,
        sender: Sender,
        before: Callable[[Unit, str, str, Sender, Incoming], Awaitable[bool]] | None,
        after: Callable[[Unit, str, str, Step], Awaitable[None]] | None,
        seq: int | None,
        late: bool,
    ) -> Outcome:
        """One attempt: the unit of work for one update (see handle)."""
        for attempt in range(_CONFLICT_RETRIES):
            try:
                async with self.storage.unit() as unit:
                    if update_id is not None and not await unit.mark_processed(channel, update_id):
                        log.info("duplicate update %s/%s ignored", channel, update_id)
                        if seq is not None:
                            await unit.forget_arrival(channel, update_id)
                        return Outcome(duplicate=True)
                    locked = await unit.lock_conversation(channel, chat_id)
                    if seq is not None and update_id is not None:
                        await self._take_turn(unit, channel, chat_id, update_id, seq, late)
                    if before is not None and await before(
                        unit, channel, chat_id, sender, incoming
                    ):
                        return Outcome()
                    outcome = await self._in_unit(unit, channel, chat_id, incoming, sender, locked)
                    if after is not None and outcome.step is not None:
                        await after(unit, channel, chat_id, outcome.step)
                    return outcome
            except SubmissionMoved:
                log.info("submission moved concurrently; retry %d", attempt + 1)
        raise RuntimeError("submission kept moving; giving up")

    async def _take_turn(
        self, unit: Unit, channel: str, chat_id: str, update_id: str, seq: int, late: bool
    ) -> None:
        """Under the chat lock: go on only if no older update of this chat is waiting.

        Raises _NotYourTurn (the unit rolls back, the lock is released for the older one).
        After `order_hold` seconds of waiting the update goes on anyway: the older one's
        handler is gone, and its redelivery will be applied late (logged).
        """
        since = self.clock() - timedelta(seconds=self.order_hold)
        older = await unit.older_arrival(channel, chat_id, seq, since)
        if older is not None and not late:
            raise _NotYourTurn(older)
        if older is not None:
            log.warning("update %s/%s applied before older %s", channel, update_id, older)
        await unit.forget_arrival(channel, update_id)

    async def _in_unit(
        self,
        unit: Unit,
        channel: str,
        chat_id: str,
        incoming: Incoming,
        sender: Sender,
        locked: tuple[int, ConversationState, int | None] | None = None,
    ) -> Outcome:
        conv_id, state, _ = locked or await unit.lock_conversation(channel, chat_id)
        # Who, which agency, campaign and submission: one statement (the submission locked).
        standing = await unit.standing(
            channel, sender.external_id, {f.id: f.cohorts for f in self.forms.values()}
        )
        fresh = state == ConversationState()
        # A chat Phiếu has never answered speaks the language the chat app reports.
        lang = normalise_language(sender.language if fresh else state.lang)
        if standing is None:
            await self.say(
                unit,
                channel,
                chat_id,
                lang,
                N_(
                    "Xin chào! Phiếu chỉ dành cho cán bộ được mời. Để được cấp quyền, anh/chị "
                    "liên hệ Sở Thông tin và Truyền thông (phòng CNTT) để nhận mã mời, rồi mở "
                    "đường link mời hoặc gõ /start <mã mời>."
                ),
            )
            return Outcome(replies=1)
        user, agency, campaign = standing.user, standing.agency, standing.campaign
        if user.role != "official":
            await self.say(
                unit,
                channel,
                chat_id,
                normalise_language(user.lang) if fresh else lang,
                N_(
                    "Anh/chị dùng tài khoản thẩm định: Phiếu sẽ báo cho anh/chị mỗi khi "
                    "một cơ quan nộp phiếu."
                ),
            )
            return Outcome(replies=1)
        if agency is None:
            await self.say(
                unit,
                channel,
                chat_id,
                lang,
                N_("Tài khoản của anh/chị chưa gắn với cơ quan nào. Vui lòng liên hệ Sở TTTT."),
            )
            return Outcome(replies=1)
        if campaign is None or campaign.form_id not in self.forms:
            await self.say(
                unit,
                channel,
                chat_id,
                lang,
                N_("Hiện chưa có đợt thu thập phiếu nào đang mở cho cơ quan của anh/chị."),
            )
            return Outcome(replies=1)
        if fresh:
            # The user's chosen language; until one is chosen ("vi" is the default), the
            # language the chat app reports, so an English phone is greeted in English.
            state.lang = normalise_language(
                sender.language if user.lang == "vi" and sender.language else user.lang
            )
        sub = standing.submission or await unit.submission(campaign.id, agency.id)
        return await self._run_engine(
            unit, channel, chat_id, conv_id, state, incoming, user, agency, campaign, sub
        )

    async def _run_engine(
        self,
        unit: Unit,
        channel: str,
        chat_id: str,
        conv_id: int,
        state: ConversationState,
        incoming: Incoming,
        user: UserRec,
        agency: AgencyRec,
        campaign: CampaignRec,
        sub: SubmissionRec,
    ) -> Outcome:
        form = self.forms[campaign.form_id]
        answers = await unit.load_answers(sub.id)
        now = self.clock()
        local_now = now.astimezone(ZoneInfo(campaign.timezone))
        status = Status(sub.status)
        ctx = Context(
            now=local_now,
            agency_name=agency.name,
            deadline=campaign.deadline,
            status=status,
            user_name=user.name,
            # The year the campaign reports on, the same year prefilled as 1.1; the form's
            # own year only for a record built without one.
            reporting_year=campaign.reporting_year or form.reporting_year,
            known=known_facts(agency, campaign),
            previous=await self._previous(unit, form, agency, campaign, status),
        )
        entry = engine.handle_edit if incoming.edited else engine.handle
        step = entry(form, answers, state, incoming, ctx)
        await unit.apply_changes(sub.id, step.changes, user.id, channel, now)
        if step.transition:
            new = next_status(sub.status, step.transition)
            # A submission after the deadline is accepted; its history row says it was late.
            late = any(e.name == "submitted" and e.data.get("late") for e in step.events)
            if new is None or not await unit.move_submission(
                sub.id, Status(sub.status), new, user.id, now, note="late" if late else None
            ):
                raise SubmissionMoved
        await unit.save_conversation(conv_id, step.state, user.id)
        if step.state.lang != state.lang:
            await unit.set_user_lang(user.id, step.state.lang)
        payloads = [p for r in step.replies for p in reply_payloads(channel, r)]
        await unit.enqueue_many(channel, chat_id, payloads)
        if any(e.name == "submitted" for e in step.events):
            await self._notify_reviewers(unit, agency, form)
        return Outcome(step=step, replies=len(step.replies))

    async def _previous(
        self,
        unit: Unit,
        form: Form,
        agency: AgencyRec,
        campaign: CampaignRec,
        status: Status,
    ) -> dict[str, Answer]:
        """Last year's answers to offer ("Giữ nguyên"); not read once nothing can change."""
        if status not in EDITABLE_STATUSES:
            return {}
        forms = (form.id, *form.carry_over.forms)
        return await unit.previous_answers(agency.id, forms, campaign.id)

    async def _notify_reviewers(self, unit: Unit, agency: AgencyRec, form: Form) -> None:
        """Reviewers of the Sở TTTT hear of each submission on every channel they use."""
        for reviewer, identities in await unit.users_with_role("reviewer"):
            lang = normalise_language(reviewer.lang)
            text = translate(
                lang,
                N_("📥 {agency} đã nộp phiếu “{form}”. Mời thẩm định."),
                {"agency": agency.name, "form": form.title.get(lang)},
            )
            for ident in identities:
                await unit.enqueue(
                    ident.channel,
                    ident.external_id,
                    reply_to_json(Reply(text, kind="notice")),
                    kind="notice",
                )

    async def say(self, unit: Unit, channel: str, chat_id: str, lang: str, msgid: str) -> None:
        await unit.enqueue(channel, chat_id, reply_to_json(Reply(translate(lang, msgid))))
