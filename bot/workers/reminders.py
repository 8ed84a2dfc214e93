"""The reminder planner: turns each open campaign's plan into keyed outbox rows, on a timer.

Every `every` seconds (PHIEU_REMIND_EVERY, default 60) the planner reads each open campaign,
its plan (reminder_plans; none = the defaults), the agencies it targets with their
submission status, their officials and the mutes, asks the pure planner (flows/reminders.py)
what is due now, and queues one outbox row of kind "notice" per chat account of each person,
with ON CONFLICT DO NOTHING on the dedupe key. The outbox worker sends them like any notice:
after replies, paced per chat, within the bot's shared rate, backing off on 429.

Any number of planners may run (every `phieu worker`, several hosts): the keys make each
reminder one row. A reminder is considered given to a person once any row of theirs for that
(campaign, agency, slot) exists, so a chat account added later does not get a repeat.

Progress ("đã trả lời 112/204 câu, còn thiếu Mục 6 và Mục 8") is computed only for agencies
with a reminder still to queue: the answers of 10,000 agencies are not read every minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import ConfigError
from bot.desk.targets import campaign_agencies
from bot.render import reply_to_json
from flows import reminders as rp
from flows.assign import head_of, reviews
from flows.i18n import N_
from flows.machines import Status
from flows.model import Form
from flows.progress import answer_counts
from flows.prompts import label_of
from flows.state import Reply
from storage.records import (
    AgencyRec,
    CampaignRec,
    IdentityRec,
    ItemReviewRec,
    ReviewerAssignmentRec,
    UserRec,
)
from storage.repository import Storage, Unit
from storage.retry import DEFAULT_POLICY, RetryPolicy, retrying

log = logging.getLogger(__name__)

DEFAULT_EVERY = 60.0


def every_from_env(env: Mapping[str, str] | None = None) -> float:
    """PHIEU_REMIND_EVERY: seconds between planner runs (default 60); ConfigError if bad."""
    env = os.environ if env is None else env
    text = env.get("PHIEU_REMIND_EVERY", "").strip()
    if not text:
        return DEFAULT_EVERY
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 1 <= value <= 86400:
        raise ConfigError(
            N_(
                "PHIEU_REMIND_EVERY không hợp lệ: {text}, cần số giây từ 1 đến 86400. "
                "Ví dụ: PHIEU_REMIND_EVERY=60"
            ),
            text=repr(text),
        )
    return value


async def campaign_targets(
    unit: Unit, campaign: CampaignRec, forms: Mapping[str, Form]
) -> list[AgencyRec]:
    """Which agencies a campaign targets: those the service offers its form to, by the ONE
    rule the desk, review and reminders share (bot/desk/targets.py)."""
    return await campaign_agencies(unit, campaign, forms.get(campaign.form_id))


def progress(form: Form | None, answers: Mapping[str, Any]) -> tuple[int, int, tuple[str, ...]]:
    """The numbers of "đã trả lời 112/204 câu, còn thiếu Mục 6" (flows.progress, where
    `phieu progress` and /progress count too)."""
    return answer_counts(form, answers)


def returned_numbers(form: Form | None, verdicts: Mapping[str, ItemReviewRec]) -> tuple[str, ...]:
    """The numbers of the items whose standing verdict is 'tra_lai', in form order."""
    items = [i for i, v in verdicts.items() if v.verdict == "tra_lai"]
    if form is None:
        return tuple(sorted(items))
    order = {q.id: n for n, q in enumerate(form.questions)}
    items.sort(key=lambda i: order.get(i, len(order)))
    return tuple(label_of(form, i, "vi") for i in items)


def _person(user: UserRec) -> rp.Person:
    return rp.Person(user.id, user.name, user.lang or "vi")


def base_key(row_key: str) -> str:
    """The reminder's key (campaign, agency, person, slot) of a row key "…@channel:chat"."""
    return row_key.split("@", 1)[0]


@dataclass
class Snapshot:
    """What the planner read of one campaign, in one unit."""

    campaign: CampaignRec
    plan: rp.ReminderPlan
    info: rp.CampaignInfo
    agencies: list[AgencyRec]
    submissions: dict[int, tuple[int, str]]
    officials: dict[int, list[UserRec]]
    reviewers: list[UserRec]
    assignments: list[ReviewerAssignmentRec]
    muted: set[int]
    taken: set[str]


@dataclass
class ReminderPlanner:
    """Queues due reminders for every open campaign; run `run(stop)` as a task."""

    storage: Storage
    forms: Mapping[str, Form]
    now: Callable[[], datetime]
    every: float = DEFAULT_EVERY
    retry: RetryPolicy = DEFAULT_POLICY
    wake: asyncio.Event | None = None  # the outbox worker's, set when rows were queued
    _last: dict[int, int] = field(default_factory=dict)

    async def run_once(self) -> int:
        """Plan every open campaign once; the rows queued (0 when nothing was due)."""

        async def campaigns() -> list[CampaignRec]:
            async with self.storage.unit() as unit:
                return [c for c in await unit.list_campaigns() if c.is_open]

        total = 0
        for campaign in await retrying(campaigns, what="reminder campaigns", policy=self.retry):
            total += await self.plan_campaign(campaign.id)
        if total and self.wake is not None:
            self.wake.set()
        return total

    async def snapshot(self, campaign_id: int) -> Snapshot | None:
        async with self.storage.unit() as unit:
            campaign = await unit.campaign(campaign_id)
            if campaign is None:
                return None
            plan = rp.plan_from_row(await unit.reminder_plan(campaign_id))
            agencies = await campaign_targets(unit, campaign, self.forms)
            ids = [a.id for a in agencies]
            return Snapshot(
                campaign=campaign,
                plan=plan,
                info=rp.CampaignInfo(
                    campaign.id, campaign.name, campaign.deadline, campaign.timezone
                ),
                agencies=agencies,
                submissions=await unit.submissions_by_agency(campaign_id),
                officials=await unit.people_of_agencies(ids, "official"),
                # Each late agency's overdue digest goes to the reviewers assigned to it
                # (flows.assign.reviews: no assignment row = every reviewer, every agency).
                reviewers=[u for u, _ in await unit.users_with_role("reviewer")],
                assignments=await unit.reviewer_assignments(campaign_id),
                muted=await unit.muted_users(campaign_id),
                taken={base_key(k) for k in await unit.taken_keys(f"remind:{campaign_id}:")},
            )

    def standings(
        self,
        snap: Snapshot,
        agencies: Iterable[AgencyRec],
        answers: Mapping[int, Mapping[str, Any]] | None = None,
        with_progress: Iterable[int] = (),
        verdicts: Mapping[int, Mapping[str, ItemReviewRec]] | None = None,
    ) -> list[rp.AgencyStanding]:
        """The planner's view of `agencies`; progress is computed (from `answers`, by
        submission id) only for the agencies in `with_progress`, the items returned from
        `verdicts` (by submission id)."""
        form = self.forms.get(snap.campaign.form_id)
        counted = set(with_progress)
        blank: tuple[int, int, tuple[str, ...]] | None = None
        everyone = tuple(_person(u) for u in snap.reviewers)
        out = []
        for agency in agencies:
            sub_id, status = snap.submissions.get(agency.id, (0, Status.DRAFT.value))
            reviewers = (
                tuple(
                    _person(u)
                    for u in snap.reviewers
                    if reviews(snap.assignments, u.id, agency.id, agency.cohort)
                )
                if snap.assignments
                else everyone
            )
            officials = snap.officials.get(agency.id, [])
            head = head_of(agency.head, officials)
            if head is not None and len(officials) > 1:
                # The head is not chased like the one filling the form in: they get the
                # overdue copy (when the plan says so), not every reminder.
                officials = [u for u in officials if u.id != head.id]
            elif head is not None:
                head = None  # the agency's only person: reminded as its official
            returned = returned_numbers(form, (verdicts or {}).get(sub_id, {}))
            mine = (answers or {}).get(sub_id) or {}
            if agency.id not in counted:
                answered, total, missing = 0, 0, ()
            elif not mine:  # not started: the same numbers for every such agency
                blank = blank or progress(form, {})
                answered, total, missing = blank
            else:
                answered, total, missing = progress(form, mine)
            out.append(
                rp.AgencyStanding(
                    agency.id,
                    agency.name,
                    Status(status),
                    answered,
                    total,
                    missing,
                    len(returned) if returned else None,
                    tuple(_person(u) for u in officials),
                    _person(head) if head is not None else None,
                    reviewers,
                    sub_id,
                    returned,
                )
            )
        return out

    async def due(self, campaign_id: int, now: datetime | None = None) -> list[rp.Reminder]:
        """The reminders due now that are not queued yet, with progress filled in."""
        now = now or self.now()
        snap = await self.snapshot(campaign_id)
        if snap is None or rp.current_slot(snap.info, snap.plan, now) is None:
            return []
        rough = self.standings(snap, snap.agencies)
        todo = rp.due(snap.info, snap.plan, rough, now, snap.muted, taken=snap.taken)
        if not todo:
            return []
        wanted = {r.agency_id for r in todo}
        # A reviewer's digest (agency 0) names every late agency: all of them, no progress.
        agencies = [a for a in snap.agencies if a.id in wanted or 0 in wanted]
        subs = [snap.submissions[i][0] for i in wanted if i in snap.submissions]
        returned = [
            snap.submissions[i][0]
            for i in wanted
            if i in snap.submissions and snap.submissions[i][1] == Status.RETURNED.value
        ]
        async with self.storage.unit() as unit:
            answers = await unit.answers_of(subs)
            verdicts = {s: await unit.item_verdicts(s) for s in returned}
        standings = self.standings(snap, agencies, answers, wanted, verdicts)
        return rp.due(snap.info, snap.plan, standings, now, snap.muted, taken=snap.taken)

    async def plan_campaign(self, campaign_id: int) -> int:
        """Queue what is due now for one campaign; the rows inserted."""
        reminders = await retrying(
            lambda: self.due(campaign_id), what="reminder plan", policy=self.retry
        )
        if not reminders:
            return 0

        async def queue() -> int:
            async with self.storage.unit() as unit:
                chats = await unit.identities_of(sorted({r.user_id for r in reminders}))
                rows = rows_for(reminders, chats)
                return len(await unit.enqueue_once_many(rows))

        queued = await retrying(queue, what="reminder queue", policy=self.retry)
        if queued:
            log.info("campaign %s: %d reminder rows queued", campaign_id, queued)
        return queued

    async def run(self, stop: asyncio.Event) -> None:
        """Plan every `every` seconds until `stop`; a failed run is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("reminder planner run failed; next run in %ss", self.every)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)


def rows_for(
    reminders: Iterable[rp.Reminder], chats: Mapping[int, Sequence[IdentityRec]]
) -> list[dict[str, Any]]:
    """One outbox row per chat account of each reminder's person, keyed "<key>@chan:chat"."""
    rows = []
    for r in reminders:
        payload = reply_to_json(r.reply)
        for ident in chats.get(r.user_id, []):
            rows.append(
                {
                    "channel": ident.channel,
                    "chat_id": ident.external_id,
                    "payload": payload,
                    "kind": "notice",
                    "dedupe_key": f"{r.key}@{ident.channel}:{ident.external_id}",
                }
            )
    return rows


# -- broadcasts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Who a broadcast reaches: (user, their chat accounts) and how many chats in all."""

    people: list[tuple[UserRec, list[IdentityRec]]]

    @property
    def chats(self) -> int:
        return sum(len(ids) for _, ids in self.people)


async def broadcast_audience(
    unit: Unit, campaign: CampaignRec, forms: Mapping[str, Form], only_pending: bool
) -> Audience:
    """Officials of the campaign's target agencies; with `only_pending`, only of agencies
    with something to do (not submitted, returned, accepted but not confirmed)."""
    agencies = await campaign_targets(unit, campaign, forms)
    if only_pending:
        subs = await unit.submissions_by_agency(campaign.id)
        agencies = [
            a for a in agencies if Status(subs.get(a.id, (0, "draft"))[1]) in rp.CASE_OF_STATUS
        ]
    officials = await unit.people_of_agencies([a.id for a in agencies], "official")
    users = [u for a in agencies for u in officials.get(a.id, [])]
    chats = await unit.identities_of([u.id for u in users])
    return Audience([(u, chats.get(u.id, [])) for u in users])


async def broadcast(storage: Storage, campaign_id: int, text: str, audience: Audience) -> int:
    """Queue `text` to every chat of `audience` as notices; the rows inserted.

    Keyed by the text: the same announcement run twice (a retried command, two admins)
    reaches each chat once."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    payload = reply_to_json(Reply(text, kind="notice"))
    rows = [
        {
            "channel": ident.channel,
            "chat_id": ident.external_id,
            "payload": payload,
            "kind": "notice",
            "dedupe_key": f"broadcast:{campaign_id}:{digest}:{user.id}@{ident.channel}:"
            f"{ident.external_id}",
        }
        for user, idents in audience.people
        for ident in idents
    ]
    async with storage.unit() as unit:
        return len(await unit.enqueue_once_many(rows))
