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
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from bot import choosing
from bot.render import NUMBERED_CHANNELS, reply_to_json
from bot.review.desk import ReviewDesk
from bot.review.desk import SubmissionMoved as _SubmissionMoved
from bot.review.scope import REVIEW_ROLES
from bot.score_facts import facts_of, others_of
from bot.turn import ChatTurn
from bot.workers.linkjobs import EvidenceLink, links_in, new_links
from flows import engine
from flows.i18n import N_, normalise_language, translate
from flows.loader import builtin_forms
from flows.machines import EDITABLE_STATUSES, Mode, Status, next_status
from flows.model import Form
from flows.payload import Act, pack
from flows.review import runpack
from flows.state import (
    Answer,
    Choice,
    Context,
    ConversationState,
    Event,
    Incoming,
    Reply,
    Step,
)
from scoring.model import Scale
from scoring.scales import builtin_scales
from scoring.score import provisional
from scoring.texts import provisional_text
from storage.records import AgencyRec, CampaignRec, StandingRec, SubmissionRec, UserRec
from storage.repository import Storage, Unit
from storage.retry import DEFAULT_POLICY, RetryPolicy, retrying

log = logging.getLogger(__name__)
VN = ZoneInfo("Asia/Ho_Chi_Minh")

_CONFLICT_RETRIES = 3
_TURN_POLL = 0.02  # seconds between looks at whether an older update was applied


class PreviousAnswers:
    """Last year's answers per (agency, campaign, forms), read once and kept a short while.

    Every update offers them ("Giữ nguyên"), and they are up to a whole form of rows read
    on every update otherwise, yet they change only when an EARLIER campaign's submission of
    the agency is written. Rules that keep what is offered right:
    - `changed(agency, campaign)`: a write of this process to the agency's submission in
      `campaign` drops the agency's entries of every OTHER campaign (one of those may read
      that submission as its previous one); the entries of `campaign` itself stay, since
      they read only earlier campaigns.
    - an entry lives `ttl` seconds: what another process (a second worker, the CLI, a
      reviewer's correction) writes to an earlier campaign is offered at most that late.
    - at most `size` entries (least recently used dropped): memory stays flat in users.
    """

    def __init__(
        self, ttl: float = 30.0, size: int = 512, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[tuple[int, int, tuple[str, ...]], tuple[float, Any]] = (
            OrderedDict()
        )

    def get(self, agency_id: int, campaign_id: int, forms: tuple[str, ...]) -> Any | None:
        key = (agency_id, campaign_id, forms)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(
        self,
        agency_id: int,
        campaign_id: int,
        forms: tuple[str, ...],
        answers: Mapping[str, Answer],
    ) -> Mapping[str, Answer]:
        """Keep `answers` (read-only from now on) and return them."""
        kept = MappingProxyType(dict(answers))
        self._entries[(agency_id, campaign_id, forms)] = (self.clock() + self.ttl, kept)
        self._entries.move_to_end((agency_id, campaign_id, forms))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return kept

    def changed(self, agency_id: int, campaign_id: int) -> None:
        """The agency's submission in `campaign_id` was written (see the class rules)."""
        for key in [k for k in self._entries if k[0] == agency_id and k[1] != campaign_id]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class _NotYourTurn(Exception):
    """An older update of the same chat is still waiting: roll back and let it go first."""

    def __init__(self, older: int) -> None:
        super().__init__(f"older update {older} waiting")
        self.older = older


# Another worker (an official, a reviewer) moved the submission first: the whole update is
# handled again. Defined with the review desk, which raises it too.
SubmissionMoved = _SubmissionMoved


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent an update, as the channel knows them."""

    external_id: str
    display_name: str | None = None
    language: str | None = None


# A channel's hooks around the engine, under the chat lock (Phieu.handle): `before` acts
# first (True: handled, stop there), `after` adds to the same transaction (unit, channel,
# chat id, then the sender and update, or the engine's step).
BeforeHook = Callable[[Unit, str, str, Sender, Incoming], Awaitable[bool]]
AfterHook = Callable[[Unit, str, str, Step], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outcome:
    duplicate: bool = False
    step: Step | None = None
    replies: int = 0
    # Evidence links this update gave (new ones only), to check once it has committed.
    links: tuple[EvidenceLink, ...] = ()
    # Evidence links a reviewer just opened: checked again after the commit (check_link).
    recheck: tuple[str, ...] = ()


def utcnow() -> datetime:
    return datetime.now(UTC)


def known_facts(agency: AgencyRec, campaign: CampaignRec) -> dict[str, Any]:
    """What Phiếu prefills, by prefill key: the agency record's fields and the campaign's
    reporting year (the year reported on, set when the campaign is opened: a campaign due
    in 2019 may report on 2018, so it is not the deadline's year; issue #9)."""
    return {**agency.known(), "campaign.year": campaign.reporting_year}


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
        on_links: Callable[[list[EvidenceLink]], object] | None = None,
        check_link: Callable[[str], Awaitable[None]] | None = None,
        scales: dict[str, Scale] | None = None,
    ) -> None:
        """`retry`: how long a unit is retried on transient database errors (bounded by
        default; `retry.forever()` where giving up would lose the update). `on_retry` is
        told of each retry (the console shows "đang kết nối lại…"). `ordered` turns on the
        per-chat order of concurrent updates (webhooks), with `order_grace` seconds for
        siblings to arrive and at most `order_hold` seconds waiting for an older one.
        `on_links` is given the evidence links an update stored, after its commit
        (bot/workers/linkjobs.py LinkCheckQueue.submit); it must not block.
        `check_link(url)` re-checks an evidence link a reviewer opened, after the commit
        (bot/review/links.py refresh_link; None: not checked).
        `scales` by form id (default: scoring/scales/) give /diem its provisional score."""
        self.storage = storage
        self.forms = forms if forms is not None else builtin_forms()
        self.scales = scales if scales is not None else builtin_scales()
        self.clock = clock
        self.retry = retry
        self.on_retry = on_retry
        self.ordered = ordered
        self.order_grace = order_grace
        self.order_hold = order_hold
        # Forms served, with the cohorts each is for: what decides which campaigns are offered.
        self._form_cohorts = {f.id: f.cohorts for f in self.forms.values()}
        self.on_links = on_links
        self.check_link = check_link
        self.review = ReviewDesk(self.forms, lambda: self.clock(), self.scales)
        self._link_tasks: set[asyncio.Task[None]] = set()
        self.previous = PreviousAnswers()

    async def handle(
        self,
        channel: str,
        chat_id: str,
        update_id: str | None,
        incoming: Incoming,
        sender: Sender,
        before: BeforeHook | None = None,
        after: AfterHook | None = None,
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
                outcome = await retrying(
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
                continue
            self._check_links(outcome)
            self._recheck_links(outcome.recheck)
            return outcome

    def _check_links(self, outcome: Outcome) -> None:
        """Hand the committed update's new evidence links to the checker: never blocking,
        never failing the update (a link not handed over is found by the worker's sweep)."""
        if not outcome.links or self.on_links is None:
            return
        try:
            self.on_links(list(outcome.links))
        except Exception:
            log.exception("evidence links not queued for checking")

    def _today(self) -> date:
        """Today in Việt Nam: campaigns open on a date there (Campaign.opens_on)."""
        return self.clock().astimezone(VN).date()

    async def state_of(self, channel: str, chat_id: str, external_id: str) -> ConversationState:
        """Where a chat stands as the engine sees it: the person's place in the chat's
        campaign joined with the chat's own fields (tests, the console, support)."""
        async with self.storage.unit() as unit:
            _, chat, _ = await unit.lock_conversation(channel, chat_id)
            standing = await unit.standing(
                channel, external_id, self._form_cohorts, chosen=chat.campaign, today=self._today()
            )
        position = None
        campaign = standing.campaign if standing is not None else None
        if standing is not None and campaign is not None and chat.campaign in (None, campaign.id):
            position = standing.position
        return choosing.merged(chat, position)

    async def _handle_once(
        self,
        channel: str,
        chat_id: str,
        update_id: str | None,
        incoming: Incoming,
        sender: Sender,
        before: BeforeHook | None,
        after: AfterHook | None,
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
                    incoming = await _notice_pick(unit, channel, chat_id, incoming)
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

    def _recheck_links(self, urls: tuple[str, ...]) -> None:
        """Re-check the links a reviewer opened, in the background (never blocks a reply)."""
        if self.check_link is None:
            return
        for url in urls:
            task = asyncio.create_task(self.check_link(url))
            self._link_tasks.add(task)
            task.add_done_callback(self._link_tasks.discard)

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
        conv_id, state, bound = locked or await unit.lock_conversation(channel, chat_id)
        turn = ChatTurn(unit, channel, chat_id, conv_id)
        # Who, which agency, campaign, submission and place: one statement (the submission
        # locked). The campaign is the one this chat chose, if it still may answer it.
        standing = await unit.standing(
            channel,
            sender.external_id,
            self._form_cohorts,
            chosen=state.campaign,
            today=self._today(),
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
        if user.role in REVIEW_ROLES:
            if fresh:
                state.lang = normalise_language(user.lang)
            done = await self.review.reviewer_turn(turn, state, incoming, user)
            return Outcome(replies=done.replies, recheck=tuple(done.links))
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
        chat = state.copy()
        before: list[Reply] = []
        if standing.campaigns_open > 1 or choosing.picked_id(incoming) is not None:
            picked = await self._choose(turn, state, incoming, standing, sender.external_id)
            if picked is None:  # the list of campaigns was shown: nothing else to do
                return Outcome(replies=1)
            standing, incoming, before = picked
            campaign = standing.campaign
            assert campaign is not None
            chat.campaign, chat.last_answer, chat.album = campaign.id, None, None
        elif chat.campaign != campaign.id:
            if chat.campaign is not None:  # its campaign closed: an edit may not re-answer
                chat.last_answer, chat.album = None, None  # an item of another campaign
            chat.campaign = campaign.id
        sub = standing.submission or await unit.submission(campaign.id, agency.id)
        replied = await self.review.agency_turn(turn, state, incoming, user, agency, campaign, sub)
        if replied is not None:
            return Outcome(replies=replied)
        return await self._run_engine(
            turn,
            (state, bound, standing.position),
            chat,
            incoming,
            user,
            agency,
            campaign,
            sub,
            before,
        )

    async def _choose(
        self,
        turn: ChatTurn,
        state: ConversationState,
        incoming: Incoming,
        standing: StandingRec,
        external_id: str,
    ) -> tuple[StandingRec, Incoming, list[Reply]] | None:
        """An agency in several campaigns: which one this update is for (issue #9).

        The chat's chosen campaign goes on as usual; a campaign's button, its number or
        name while the list is shown picks it (then its place is resumed, under a line
        naming it); /phieu, or no valid choice yet, shows the list (None: it is queued and
        the chat's state saved). Returns the standing in the picked campaign, the update
        the engine is to see, and replies to send before the engine's.
        """
        assert standing.agency is not None and standing.campaign is not None
        unit, agency, lang = turn.unit, standing.agency, state.lang
        current = standing.campaign if state.campaign == standing.campaign.id else None
        pressed = choosing.picked_id(incoming) is not None
        if current is not None and not pressed and not choosing.is_switch(incoming):
            return standing, incoming, []
        offered = await unit.open_campaigns_for_agency(agency.id, self._form_cohorts, self._today())
        offered = [c for c in offered if c.form_id in self.forms]
        pick = choosing.chosen(incoming, offered) if (pressed or current is None) else None
        if pick is None:
            note = ""
            if pressed:
                note = translate(lang, N_("Phiếu này không còn mở. Mời chọn phiếu khác."))
            reply = choosing.picker(
                lang, agency.name, offered, current.id if current else None, note
            )
            await turn.send([reply])
            # No campaign chosen while the list is shown: the next "1" picks from it rather
            # than answering a question (the place itself stays in `positions`).
            await unit.save_conversation(
                turn.conv_id, choosing.chat_part(state, None), standing.user.id
            )
            return None
        if pick.id != standing.campaign.id:
            again = await unit.standing(
                turn.channel, external_id, self._form_cohorts, chosen=pick.id, today=self._today()
            )
            assert again is not None and again.campaign is not None
            standing = again
        place = standing.position
        resume = place is not None and place.mode not in (Mode.MENU, Mode.SUBMITTED)
        text = "/tiep" if resume else "/menu"
        return standing, Incoming(text=text), [choosing.header(lang, pick)]

    async def _run_engine(
        self,
        turn: ChatTurn,
        stored: tuple[ConversationState, int | None, ConversationState | None],
        chat: ConversationState,
        incoming: Incoming,
        user: UserRec,
        agency: AgencyRec,
        campaign: CampaignRec,
        sub: SubmissionRec,
        before: list[Reply],
    ) -> Outcome:
        """Run the engine on the person's place in `campaign` joined with the chat's own
        state (`chat`); store what changed of each. `stored` is what was read: the chat's
        state, the user it is bound to, the person's position (None: none yet)."""
        unit, channel, chat_id = turn.unit, turn.channel, turn.chat_id
        stored_chat, bound, position = stored
        state = choosing.merged(chat, position)
        form = self.forms[campaign.form_id]
        answers = await unit.load_answers(sub.id)
        now = self.clock()
        local_now = now.astimezone(ZoneInfo(campaign.timezone))
        status = Status(sub.status)
        # /diem needs the reviewers' verdicts: read only for that command.
        scorer = None
        if engine.command_of(incoming) == "score":
            scorer = await self._scorer(unit, form, campaign, agency, sub)
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
            scorer=scorer,
        )
        answers_before = dict(answers)  # the engine may change `answers` in place
        entry = engine.handle_edit if incoming.edited else engine.handle
        step = entry(form, answers, state, incoming, ctx)
        if await unit.apply_changes(sub.id, step.changes, user.id, channel, now):
            self.previous.changed(agency.id, campaign.id)
        links = await self._links_to_check(unit, answers_before, step, sub.id, channel, chat_id)
        if step.transition:
            new = next_status(sub.status, step.transition)
            # A submission after the deadline is accepted; its history row says it was late.
            late = any(e.name == "submitted" and e.data.get("late") for e in step.events)
            if new is None or not await unit.move_submission(
                sub.id,
                Status(sub.status),
                new,
                user.id,
                now,
                note="late" if late else None,
                channel=channel,
            ):
                raise SubmissionMoved
        # The place goes to the person's position in this campaign, the rest to the chat:
        # each written only when it changed (an answer costs one statement more than when
        # the chat row held both; tests/integration/test_capacity.py counts them).
        place = choosing.position_part(step.state)
        if position is None or place != choosing.position_part(position):
            await unit.save_position(user.id, campaign.id, place, now)
        new_chat = choosing.chat_part(step.state, campaign.id)
        if new_chat != stored_chat or bound != user.id:
            await unit.save_conversation(turn.conv_id, new_chat, user.id)
        if step.state.lang != state.lang:
            await unit.set_user_lang(user.id, step.state.lang)
        replies = (*before, *step.replies)
        await turn.send(replies)
        if any(e.name == "submitted" for e in step.events):
            moved = await unit.submission_by_id(sub.id)
            assert moved is not None
            await self.review.notify_submitted(unit, agency, campaign, form, moved)
        count = len(replies)
        for event in step.events:
            if event.name == "reminders_mute":
                await self._mute(turn, step.state.lang, user, campaign, event)
                count += 1
        return Outcome(step=step, replies=count, links=links)

    async def _mute(
        self,
        turn: ChatTurn,
        lang: str,
        user: UserRec,
        campaign: CampaignRec,
        event: Event,
    ) -> None:
        """/tatnhac, /batnhac: record the change (with its time and channel) and say it."""
        muted = await turn.unit.set_reminder_mute(
            campaign.id, user.id, event.data.get("muted"), self.clock(), turn.channel
        )
        msgid = (
            N_(
                "🔕 Đã tắt nhắc hạn nộp của đợt “{campaign}”. Gõ /batnhac (hoặc /tatnhac lần "
                "nữa) để bật lại."
            )
            if muted
            else N_("🔔 Đã bật lại nhắc hạn nộp của đợt “{campaign}”. Gõ /tatnhac để tắt.")
        )
        text = translate(lang, msgid, {"campaign": campaign.name})
        label = translate(lang, N_("▶️ Tiếp tục"))
        reply = Reply(text, actions=(Choice(label, pack(Act.COMMAND, "", "continue")),))
        await turn.send([reply])

    async def _links_to_check(
        self,
        unit: Unit,
        before: dict[str, Answer],
        step: Step,
        submission_id: int,
        channel: str,
        chat_id: str,
    ) -> tuple[EvidenceLink, ...]:
        """The evidence links this step gives to check after the commit: new ones, and ones
        given again whose last check failed (the official fixed the page and sends the same
        link). One check per link, even when a table row's cells share it."""
        given: dict[str, str] = {}
        again: dict[str, str] = {}
        for item, new in step.changes.items():
            fresh = new_links(before.get(item), new)
            given.update(dict.fromkeys(fresh, item))
            if new is not None:
                again.update({u: item for u in links_in(new.evidence) if u not in fresh})
        for event in step.events:  # evidence sent again unchanged: not in step.changes
            item = event.data.get("item") if event.name == "evidence_given" else None
            if isinstance(item, str) and item not in step.changes and item in before:
                again.update({u: item for u in links_in(before[item].evidence) if u not in given})
        if again:
            checks = await unit.link_checks(again)
            given.update({u: i for u, i in again.items() if u in checks and not checks[u].ok})
        return tuple(
            EvidenceLink(url, submission_id, item, channel, chat_id, step.state.lang)
            for url, item in given.items()
        )

    async def _scorer(
        self,
        unit: Unit,
        form: Form,
        campaign: CampaignRec,
        agency: AgencyRec,
        sub: SubmissionRec,
    ) -> Callable[[Mapping[str, Answer], str], str] | None:
        """The /diem scorer: the agency's provisional score on the form's scale (with the
        reviewers' verdicts so far, and the cohort's other agencies' current answers for
        the criteria measured against the best), as a pure function of the answers; None
        without a scale for the form."""
        scale = self.scales.get(form.id)
        if scale is None:
            return None
        facts = await facts_of(unit, campaign, agency, sub, answers={})
        others = await others_of(unit, scale, form, campaign, agency, sub)

        def scorer(answers: Mapping[str, Answer], lang: str) -> str:
            score = provisional(scale, form, replace(facts, answers=answers), others)
            return provisional_text(scale, score, lang)

        return scorer

    async def _previous(
        self,
        unit: Unit,
        form: Form,
        agency: AgencyRec,
        campaign: CampaignRec,
        status: Status,
    ) -> Mapping[str, Answer]:
        """Last year's answers to offer ("Giữ nguyên"); not read once nothing can change,
        read from the database at most once per `self.previous.ttl` (PreviousAnswers)."""
        if status not in EDITABLE_STATUSES:
            return {}
        forms = (form.id, *form.carry_over.forms)
        kept = self.previous.get(agency.id, campaign.id, forms)
        if kept is None:
            answers = await unit.previous_answers(agency.id, forms, campaign.id)
            kept = self.previous.put(agency.id, campaign.id, forms, answers)
        return kept

    async def say(self, unit: Unit, channel: str, chat_id: str, lang: str, msgid: str) -> None:
        await unit.enqueue(channel, chat_id, reply_to_json(Reply(translate(lang, msgid))))


async def _notice_pick(unit: Unit, channel: str, chat_id: str, incoming: Incoming) -> Incoming:
    """A number typed on a channel without buttons (bot/render.py NUMBERED_CHANNELS: the
    console, Zalo) right after a review notice with numbered choices (a reviewer's submission
    notice, an official's returned or accepted form): the notice's choice of that number, as
    if its button were pressed; anything else unchanged. The conversation's own numbered
    choices apply once the chat has spoken since the notice (storage
    `newest_notice_choices`). Call it under the chat's lock; the query runs only for a typed
    number of one or two digits on such a channel."""
    if incoming.payload is not None or channel not in NUMBERED_CHANNELS:
        return incoming
    text = (incoming.text or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 2):
        return incoming
    choices = await unit.newest_notice_choices(channel, chat_id)
    n = int(text)
    if not choices or not 1 <= n <= len(choices):
        return incoming
    if runpack(choices[n - 1]) is None:
        # Only the review loop's notices (issue #10): a reminder's choices must not turn an
        # official's typed answer "1" into a button press.
        return incoming
    return replace(incoming, text=None, payload=choices[n - 1])
