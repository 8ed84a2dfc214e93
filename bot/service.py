"""Handle one incoming update: one transaction around the pure engine, replies to the outbox.

Every channel (console, Telegram, Zalo) calls `Phieu.handle`. Inside ONE unit of work it
records the update id (a redelivery changes nothing), locks the chat's conversation row (one
chat's updates in order, across workers), runs the engine, writes answers with history, moves
the submission with a compare-and-set, saves the state and queues the replies. Replies leave
only after the commit, so an answer is acknowledged only once it is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.render import reply_to_json
from flows import engine
from flows.i18n import N_, normalise_language, translate
from flows.loader import builtin_forms
from flows.machines import Status, next_status
from flows.model import Form
from flows.state import Context, ConversationState, Incoming, Reply, Step
from storage.records import AgencyRec, CampaignRec, UserRec
from storage.repository import Storage, Unit

log = logging.getLogger(__name__)

_CONFLICT_RETRIES = 3


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


def forms_for_cohort(forms: dict[str, Form], cohort: str) -> list[str]:
    return [f.id for f in forms.values() if not f.cohorts or cohort in f.cohorts]


class Phieu:
    """The application service channels talk to; holds no per-chat state."""

    def __init__(
        self,
        storage: Storage,
        forms: dict[str, Form] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.storage = storage
        self.forms = forms if forms is not None else builtin_forms()
        self.clock = clock

    async def handle(
        self,
        channel: str,
        chat_id: str,
        update_id: str | None,
        incoming: Incoming,
        sender: Sender,
        before: Callable[[Unit, str, str, Sender, Incoming], Awaitable[bool]] | None = None,
        after: Callable[[Unit, str, str, Step], Awaitable[None]] | None = None,
    ) -> Outcome:
        """Handle one update exactly once, in one transaction.

        `before` lets a channel act first (invitations; True means handled, stop there);
        `after` lets it add to the same transaction once the engine has run (Telegram edits
        the pressed message).
        """
        for attempt in range(_CONFLICT_RETRIES):
            try:
                async with self.storage.unit() as unit:
                    if update_id is not None and not await unit.mark_processed(channel, update_id):
                        log.info("duplicate update %s/%s ignored", channel, update_id)
                        return Outcome(duplicate=True)
                    if before is not None and await before(
                        unit, channel, chat_id, sender, incoming
                    ):
                        return Outcome()
                    outcome = await self._in_unit(unit, channel, chat_id, incoming, sender)
                    if after is not None and outcome.step is not None:
                        await after(unit, channel, chat_id, outcome.step)
                    return outcome
            except SubmissionMoved:
                log.info("submission moved concurrently; retry %d", attempt + 1)
        raise RuntimeError("submission kept moving; giving up")

    async def _in_unit(
        self, unit: Unit, channel: str, chat_id: str, incoming: Incoming, sender: Sender
    ) -> Outcome:
        conv_id, state, _ = await unit.lock_conversation(channel, chat_id)
        found = await unit.identity(channel, sender.external_id)
        fresh = state == ConversationState()
        # A chat Phiếu has never answered speaks the language the chat app reports.
        lang = normalise_language(sender.language if fresh else state.lang)
        if found is None:
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
        user, agency = found
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
        campaign = await unit.open_campaign_for_form_ids(
            forms_for_cohort(self.forms, agency.cohort)
        )
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
            state.lang = normalise_language(user.lang)
        return await self._run_engine(
            unit, channel, chat_id, conv_id, state, incoming, user, agency, campaign
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
    ) -> Outcome:
        form = self.forms[campaign.form_id]
        sub = await unit.submission(campaign.id, agency.id)
        answers = await unit.load_answers(sub.id)
        now = self.clock()
        local_now = now.astimezone(ZoneInfo(campaign.timezone))
        ctx = Context(
            now=local_now,
            agency_name=agency.name,
            deadline=campaign.deadline,
            status=Status(sub.status),
            user_name=user.name,
        )
        step = engine.handle(form, answers, state, incoming, ctx)
        await unit.apply_changes(sub.id, step.changes, user.id, channel, now)
        if step.transition:
            new = next_status(sub.status, step.transition)
            if new is None or not await unit.move_submission(
                sub.id, Status(sub.status), new, user.id, now
            ):
                raise SubmissionMoved
        await unit.save_conversation(conv_id, step.state, user.id)
        if step.state.lang != state.lang:
            await unit.set_user_lang(user.id, step.state.lang)
        await unit.enqueue_many(channel, chat_id, [reply_to_json(r) for r in step.replies])
        if any(e.name == "submitted" for e in step.events):
            await self._notify_reviewers(unit, agency, form)
        return Outcome(step=step, replies=len(step.replies))

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
