"""Reminder planning, pure: who is reminded of a campaign's deadline, with what words, when.

Source: issue #11 (seeds 000_…: forms due 15/7; 002_…: due 26/11; late forms are not ranked).
The default plan reminds 7, 3 and 1 days before the deadline and on its morning, at 08:00
local time (the campaign's zone, Asia/Ho_Chi_Minh), then sends an overdue notice the day
after. Nothing leaves in quiet hours (21:00–07:00 by default) nor, when configured, on
Saturdays and Sundays: a slot falling there moves to the next allowed instant.

`plan(...)` is a function of its inputs and `now` only (no clock, no I/O). The caller (the
reminder worker, bot/workers/reminders.py) reads the campaign, the agencies' statuses and
progress and the mutes, calls `due(...)` and queues each Reminder as an outbox row whose
dedupe key (campaign, agency, person, slot) lets it be queued once, ever: a planner run twice,
two workers at the same instant, a deadline extended after "d-3" went out — the key of "d-3"
is already taken, so it is not repeated, while the slots not yet sent follow the new date.

Which slot is due: the latest one whose (allowed) time has passed. Earlier past slots are
superseded (a campaign opened 2 days before its deadline sends the "d-1" reminder, not a
burst of "d-7", "d-3" and "d-1"). Nothing is due while `now` itself is in quiet hours or on a
skipped weekend: the next planner run in allowed time sends it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flows.i18n import N_, format_day, format_number, translate
from flows.machines import Status
from flows.payload import Act, pack
from flows.state import Choice, Reply

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
OVERDUE = "overdue"
DEADLINE_DAY = "d-0"
MAX_SECTIONS_NAMED = 4  # "còn thiếu Mục 1, Mục 2, Mục 3, Mục 4 và 5 mục khác"
MAX_ITEMS_NAMED = 10  # "có 12 mục được trả lại (1.1, …, 3.4, 2 mục khác)"


class Case(StrEnum):
    """Why an agency is reminded (issue #11: only these three, each with its own words)."""

    PENDING = "pending"  # not submitted yet (draft, or nothing started)
    RETURNED = "returned"  # items returned by the reviewer, not resubmitted
    UNCONFIRMED = "unconfirmed"  # accepted by the Sở TTTT, figures not confirmed


# What each submission status asks of the agency; statuses absent here need nothing of it
# (submitted, in review, resubmitted, confirmed).
CASE_OF_STATUS: dict[Status, Case] = {
    Status.DRAFT: Case.PENDING,
    Status.RETURNED: Case.RETURNED,
    Status.ACCEPTED: Case.UNCONFIRMED,
}
# Cases an overdue notice is about: a missing or returned form is late; an accepted one is not.
OVERDUE_CASES = frozenset({Case.PENDING, Case.RETURNED})


class PlanError(ValueError):
    """A plan setting that cannot work, with an example. `str()` is the Vietnamese message;
    `text(lang)` says it in another language (the `phieu --lang en` run)."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid, self.params = msgid, params
        super().__init__(self.text("vi"))

    def text(self, lang: str) -> str:
        # "what" names the setting: a msgid of its own.
        params = {k: translate(lang, v) if k == "what" else v for k, v in self.params.items()}
        return translate(lang, self.msgid, params)


def _hhmm(value: str, what: str) -> time:
    parts = value.strip().split(":")
    try:
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
            raise ValueError
        return time(int(parts[0]), int(parts[1]))
    except ValueError:
        raise PlanError(
            N_("{what} không hợp lệ: {value!r}. Ví dụ: 08:00"), what=what, value=value
        ) from None


def parse_days(text: str) -> tuple[int, ...]:
    """ "10,3,1" → (10, 3, 1): distinct whole days before the deadline, 1–365, largest first.

    Raises PlanError (with an example) for anything else. 0 is the deadline day, which is
    its own setting (`on_deadline`), so it is refused here."""
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= 365:
            raise PlanError(
                N_(
                    "Số ngày nhắc trước hạn không hợp lệ: {text!r}. "
                    "Cần các số nguyên từ 1 đến 365, cách nhau bằng dấu phẩy. Ví dụ: 7,3,1"
                ),
                text=text,
            )
        days.add(int(part))
    return tuple(sorted(days, reverse=True))


def parse_at(text: str) -> time:
    """ "08:00" → 08:00, the local hour reminders go at; raises PlanError with an example."""
    return _hhmm(text, N_("Giờ gửi"))


def parse_quiet(text: str) -> tuple[time, time]:
    """ "21:00-07:00" → (21:00, 07:00); raises PlanError with an example."""
    parts = text.replace("–", "-").split("-")
    if len(parts) != 2:
        raise PlanError(N_("Giờ yên lặng không hợp lệ: {text!r}. Ví dụ: 21:00-07:00"), text=text)
    return _hhmm(parts[0], N_("Giờ bắt đầu yên lặng")), _hhmm(parts[1], N_("Giờ kết thúc yên lặng"))


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    """One campaign's reminder settings (stored in reminder_plans; defaults from issue #11).

    days_before: days before the deadline a reminder goes, at `at` local time.
    on_deadline: also the morning of the deadline; overdue: a notice the day after it.
    quiet_start/quiet_end: local hours with no messages (may wrap midnight; equal = none).
    no_weekends: nothing on Saturday or Sunday (local).
    overdue_to_head / overdue_to_reviewer: the overdue notice also goes to the agency's head
    and to the reviewers assigned to it.
    """

    days_before: tuple[int, ...] = (7, 3, 1)
    at: time = time(8, 0)
    on_deadline: bool = True
    overdue: bool = True
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)
    no_weekends: bool = False
    overdue_to_head: bool = True
    overdue_to_reviewer: bool = True

    def slots(self) -> list[tuple[str, int]]:
        """(slot name, days from the deadline) in time order: ("d-7", -7) … ("overdue", 1)."""
        out = [(f"d-{n}", -n) for n in sorted(set(self.days_before), reverse=True) if n > 0]
        if self.on_deadline:
            out.append((DEADLINE_DAY, 0))
        if self.overdue:
            out.append((OVERDUE, 1))
        return out

    def quiet(self, local: datetime) -> bool:
        """True when `local` (wall time in the campaign's zone) is in quiet hours."""
        start, end, t = self.quiet_start, self.quiet_end, local.time()
        if start == end:
            return False
        if start < end:
            return start <= t < end
        return t >= start or t < end

    def allowed(self, local: datetime) -> bool:
        return not self.quiet(local) and not (self.no_weekends and local.weekday() >= 5)

    def next_allowed(self, local: datetime) -> datetime:
        """The first instant at or after `local` when a message may go (same zone)."""
        t = local
        for _ in range(10):  # at most: a weekend, then quiet hours (a few steps)
            if self.no_weekends and t.weekday() >= 5:
                t = datetime.combine(t.date() + timedelta(days=7 - t.weekday()), time(0), t.tzinfo)
                continue
            if self.quiet(t):
                end_day = t.date() if t.time() < self.quiet_end else t.date() + timedelta(days=1)
                t = datetime.combine(end_day, self.quiet_end, t.tzinfo)
                continue
            return t
        return t

    def describe(self) -> str:
        days = ",".join(str(d) for d in self.days_before) or "-"
        quiet = f"{self.quiet_start:%H:%M}-{self.quiet_end:%H:%M}"
        return f"days={days} at={self.at:%H:%M} quiet={quiet} no_weekends={self.no_weekends}"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a reminder can go to: `lang` picks the words."""

    user_id: int
    name: str
    lang: str = "vi"


@dataclass(frozen=True, slots=True)
class AgencyStanding:
    """What the planner needs of one targeted agency.

    status: its submission's status (DRAFT when it has none yet).
    answered / total: questions answered (incl. not applicable) of those asked of it.
    missing_sections: section ids with required questions unanswered, in form order.
    returned_items: how many items the reviewer returned (None = unknown).
    officials: its officials; head: its head when reachable (flows.assign.head_of; None:
    no person of the agency is its head); reviewers: reviewers assigned to it (overdue
    copies; flows.assign.reviews).
    submission_id: its submission (0: none yet), whose review buttons the reminder carries.
    returned: the numbers of the items returned ('tra_lai' standing verdicts), form order.
    """

    agency_id: int
    name: str
    status: Status = Status.DRAFT
    answered: int = 0
    total: int = 0
    missing_sections: tuple[str, ...] = ()
    returned_items: int | None = None
    officials: tuple[Person, ...] = ()
    head: Person | None = None
    reviewers: tuple[Person, ...] = ()
    submission_id: int = 0
    returned: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: int
    name: str
    deadline: date
    timezone: str = DEFAULT_TZ


@dataclass(frozen=True, slots=True)
class Reminder:
    """One message to one person: `key` is its dedupe key, `at` when it may go (UTC)."""

    campaign_id: int
    agency_id: int
    user_id: int
    slot: str  # "d-7", "d-0", "overdue"
    case: Case
    role: str  # "official", "head" or "reviewer"
    at: datetime
    lang: str
    reply: Reply = field(compare=False)

    @property
    def key(self) -> str:
        return dedupe_key(self.campaign_id, self.agency_id, self.user_id, self.slot)


def dedupe_key(campaign_id: int, agency_id: int, user_id: int, slot: str) -> str:
    """The outbox dedupe key of a reminder: one per (campaign, agency, person, slot)."""
    return f"remind:{campaign_id}:{agency_id}:{user_id}:{slot}"


def slot_times(campaign: CampaignInfo, plan: ReminderPlan) -> list[tuple[str, datetime]]:
    """Each slot's send time, moved out of quiet hours and weekends, as aware UTC datetimes,
    in time order. Local wall time in the campaign's zone (Vietnam has no DST, but zoneinfo
    does the arithmetic right wherever it would)."""
    zone = ZoneInfo(campaign.timezone)
    out = []
    for name, offset in plan.slots():
        day = campaign.deadline + timedelta(days=offset)
        if plan.no_weekends and day.weekday() >= 5:
            # Off the weekend to Monday at the plan's hour (not Monday 07:00): a Sunday "d-1"
            # before a Monday deadline then meets "d-0" and is superseded by it.
            day += timedelta(days=7 - day.weekday())
        local = plan.next_allowed(datetime.combine(day, plan.at, zone))
        out.append((name, local.astimezone(UTC)))
    return out


def current_slot(campaign: CampaignInfo, plan: ReminderPlan, now: datetime) -> str | None:
    """The slot due at `now`: the latest whose time has passed, if `now` may send at all."""
    local_now = now.astimezone(ZoneInfo(campaign.timezone))
    if not plan.allowed(local_now):
        return None
    passed = [name for name, at in slot_times(campaign, plan) if at <= now]
    return passed[-1] if passed else None


def due(
    campaign: CampaignInfo,
    plan: ReminderPlan,
    agencies: Iterable[AgencyStanding],
    now: datetime,
    muted: Iterable[int] = (),
    form_title: str = "",
    taken: Collection[str] = (),
) -> list[Reminder]:
    """The reminders to queue now (see the module docstring for the rules).

    `muted`: user ids who turned this campaign's reminders off (/tatnhac). `taken`: dedupe
    keys already queued, left out before their words are written (the planner's every-minute
    run for 10,000 agencies is then mostly a set lookup). `now` must be aware. The same
    inputs give the same reminders, whatever the number of calls."""
    slot = current_slot(campaign, plan, now)
    if slot is None:
        return []
    done = taken if isinstance(taken, set | frozenset) else frozenset(taken)
    return list(_reminders(campaign, plan, agencies, now, slot, frozenset(muted), form_title, done))


def upcoming(
    campaign: CampaignInfo,
    plan: ReminderPlan,
    agencies: Iterable[AgencyStanding],
    now: datetime,
    muted: Iterable[int] = (),
    form_title: str = "",
) -> list[Reminder]:
    """Every reminder the plan would send from `now` on if nothing changed (the dry run of
    `phieu remind plan`): the slot due now, then each later slot at its time."""
    agencies = list(agencies)
    silenced = frozenset(muted)
    out: list[Reminder] = []
    slot = current_slot(campaign, plan, now)
    if slot is not None:
        out += _reminders(campaign, plan, agencies, now, slot, silenced, form_title)
    for name, at in slot_times(campaign, plan):
        if at > now:
            out += _reminders(campaign, plan, agencies, at, name, silenced, form_title)
    return out


def _reminders(
    campaign: CampaignInfo,
    plan: ReminderPlan,
    agencies: Iterable[AgencyStanding],
    at: datetime,
    slot: str,
    muted: frozenset[int],
    form_title: str,
    taken: Collection[str] = frozenset(),
) -> Iterable[Reminder]:
    today = at.astimezone(ZoneInfo(campaign.timezone)).date()
    # Reviewers get one overdue digest each (the agencies they review that are late), not
    # one message per agency: a reviewer of 300 late agencies is told once.
    digests: dict[int, tuple[Person, list[str]]] = {}
    for agency in agencies:
        case = CASE_OF_STATUS.get(agency.status)
        if case is None or (slot == OVERDUE and case not in OVERDUE_CASES):
            continue
        people = [(p, "official") for p in agency.officials]
        if slot == OVERDUE:
            if plan.overdue_to_head and agency.head is not None:
                people.append((agency.head, "head"))
            if plan.overdue_to_reviewer:
                for reviewer in agency.reviewers:
                    if reviewer.user_id not in muted:
                        digests.setdefault(reviewer.user_id, (reviewer, []))[1].append(agency.name)
        seen: set[int] = set()
        for person, role in people:
            if person.user_id in muted or person.user_id in seen:
                continue
            seen.add(person.user_id)
            if dedupe_key(campaign.id, agency.agency_id, person.user_id, slot) in taken:
                continue
            reply = message(campaign, agency, case, slot, role, person.lang, today, form_title)
            yield Reminder(
                campaign.id, agency.agency_id, person.user_id, slot, case, role, at,
                person.lang, reply,
            )  # fmt: skip
    for reviewer, names in digests.values():
        if dedupe_key(campaign.id, 0, reviewer.user_id, slot) in taken:
            continue
        reply = reviewer_digest(campaign, names, reviewer.lang, today, form_title)
        yield Reminder(
            campaign.id, 0, reviewer.user_id, slot, Case.PENDING, "reviewer", at, reviewer.lang,
            reply,
        )  # fmt: skip


def reviewer_digest(
    campaign: CampaignInfo, names: Sequence[str], lang: str, today: date, form_title: str = ""
) -> Reply:
    """The reviewer's overdue notice: how many agencies are late, naming the first ten."""
    shown = list(names[:10])
    if len(names) > 10:
        shown.append(translate(lang, N_("{n} cơ quan khác"), {"n": len(names) - 10}))
    params = {
        "n": len(names),
        "form": form_title or campaign.name,
        "when": _when(lang, campaign.deadline, today),
        "agencies": "\n".join(f"• {name}" for name in shown),
    }
    msgid = N_("⏰ {n} cơ quan chưa nộp (hoặc chưa nộp lại) phiếu “{form}”, {when}:\n{agencies}")
    return Reply(translate(lang, msgid, params), kind="notice")


CONTINUE = pack(Act.COMMAND, "", "continue")


def _n(lang: str, value: int) -> str:
    """A count as officials write it (1.234 in vi); small ones without asking Babel, whose
    formatting is most of the planner's time for 10,000 agencies (bench/remind_bench.py)."""
    return str(value) if -1000 < value < 1000 else format_number(lang, value)


def _sections(lang: str, ids: Sequence[str]) -> str:
    """ "Mục 6 và Mục 8"; beyond MAX_SECTIONS_NAMED: "Mục 1, …, Mục 4 và 3 mục khác"."""
    names = [translate(lang, N_("Mục {section}"), {"section": s}) for s in ids]
    if len(names) > MAX_SECTIONS_NAMED:
        rest = len(names) - MAX_SECTIONS_NAMED
        names = [
            *names[:MAX_SECTIONS_NAMED],
            translate(lang, N_("{n} mục khác"), {"n": _n(lang, rest)}),
        ]
    if len(names) == 1:
        return names[0]
    return translate(
        lang, N_("{first} và {last}"), {"first": ", ".join(names[:-1]), "last": names[-1]}
    )


def progress_text(lang: str, agency: AgencyStanding) -> str:
    """ "đã trả lời 112/204 câu, còn thiếu Mục 6 và Mục 8" (or without the missing part)."""
    return _progress(lang, agency.answered, agency.total, agency.missing_sections)


@lru_cache(maxsize=4096)
def _progress(lang: str, answered: int, total: int, missing_sections: tuple[str, ...]) -> str:
    done = translate(
        lang,
        N_("đã trả lời {answered}/{total} câu"),
        {"answered": _n(lang, answered), "total": _n(lang, total)},
    )
    if not missing_sections:
        return done
    missing = _sections(lang, missing_sections)
    return translate(lang, N_("{done}, còn thiếu {missing}"), {"done": done, "missing": missing})


@lru_cache(maxsize=256)
def _when(lang: str, deadline: date, today: date) -> str:
    left = (deadline - today).days
    day = format_day(lang, deadline)
    if left > 1:
        return translate(
            lang, N_("còn {days} ngày (hạn {deadline})"), {"days": left, "deadline": day}
        )
    if left == 1:
        return translate(lang, N_("hạn là ngày mai, {deadline}"), {"deadline": day})
    if left == 0:
        return translate(lang, N_("hôm nay là hạn cuối ({deadline})"), {"deadline": day})
    return translate(
        lang, N_("đã quá hạn {days} ngày (hạn {deadline})"), {"days": -left, "deadline": day}
    )


def message(
    campaign: CampaignInfo,
    agency: AgencyStanding,
    case: Case,
    slot: str,
    role: str,
    lang: str,
    today: date,
    form_title: str = "",
) -> Reply:
    """The words of one reminder, in `lang`, with a button (a typed /tiep where the channel
    has no buttons) that continues the form exactly where the official stopped."""
    params: dict[str, Any] = {
        "agency": agency.name,
        "campaign": campaign.name,
        "form": form_title or campaign.name,
        "when": _when(lang, campaign.deadline, today),
        "progress": progress_text(lang, agency),
    }
    if role != "official":
        # The head and the reviewer are told about the agency; they have no form to continue.
        msgid = N_("⏰ {agency} chưa nộp phiếu “{form}”: {when}; {progress}.")
        if case is Case.RETURNED:
            msgid = N_("⏰ {agency} chưa nộp lại phiếu “{form}” đã bị trả lại: {when}.")
        return Reply(translate(lang, msgid, params), kind="notice")
    if case is Case.PENDING:
        msgid = N_(
            "⏰ Nhắc nộp phiếu “{form}” của {agency}: {when}.\n"
            "Anh/chị {progress}. Chọn “Tiếp tục” để làm tiếp đúng chỗ đã dừng."
        )
        if slot == OVERDUE:
            msgid = N_(
                "⚠️ Phiếu “{form}” của {agency} {when}. Phiếu nộp muộn không được xếp hạng; "
                "anh/chị vẫn nộp được. Anh/chị {progress}."
            )
    elif case is Case.RETURNED:
        params["returned"] = returned_text(lang, agency)
        msgid = N_(
            "↩️ Phiếu “{form}” của {agency} {returned}, chưa nộp lại: {when}. "
            "Anh/chị sửa các mục đó rồi nộp lại (chọn “Sửa các mục bị trả lại” hoặc gõ /tiep)."
        )
        if agency.submission_id:
            # Into the agency's fix flow (flows/review_agency.py), at the first returned item.
            label = translate(lang, N_("✏️ Sửa các mục bị trả lại"))
            fix = Choice(label, pack(Act.REVIEW, str(agency.submission_id), "fix"))
            return Reply(translate(lang, msgid, params), actions=(fix,), kind="notice")
    else:
        msgid = N_(
            "✅ Sở TTTT đã chấp nhận phiếu “{form}” của {agency}; anh/chị chưa xác nhận số "
            "liệu: {when}. Chọn “Xem và xác nhận” (hoặc gõ /xacnhan) để xác nhận."
        )
        if agency.submission_id:
            # Shows the accepted notice (the reviewer's corrections, confirm / dispute).
            label = translate(lang, N_("✅ Xem và xác nhận"))
            see = Choice(label, pack(Act.REVIEW, str(agency.submission_id), "show"))
            return Reply(translate(lang, msgid, params), actions=(see,), kind="notice")
    label = translate(lang, N_("▶️ Tiếp tục"))
    return Reply(translate(lang, msgid, params), actions=(Choice(label, CONTINUE),), kind="notice")


def returned_text(lang: str, agency: AgencyStanding) -> str:
    """ "có 2 mục được trả lại (1.3, 4.2)": the count and numbers of the items returned."""
    items = agency.returned
    if items:
        shown = ", ".join(items[:MAX_ITEMS_NAMED])
        if len(items) > MAX_ITEMS_NAMED:
            more = translate(
                lang, N_("{n} mục khác"), {"n": _n(lang, len(items) - MAX_ITEMS_NAMED)}
            )
            shown = f"{shown}, {more}"
        return translate(
            lang, N_("có {n} mục được trả lại ({items})"), {"n": len(items), "items": shown}
        )
    if agency.returned_items:
        return translate(lang, N_("{n} mục được trả lại"), {"n": agency.returned_items})
    return translate(lang, N_("có mục được trả lại"))


def with_deadline(campaign: CampaignInfo, deadline: date) -> CampaignInfo:
    """The same campaign with a new deadline (extensions; tests)."""
    return replace(campaign, deadline=deadline)


def plan_from_row(row: Mapping[str, Any] | None) -> ReminderPlan:
    """A ReminderPlan from a stored reminder_plans row's fields (None: the defaults)."""
    if not row:
        return ReminderPlan()
    days = row.get("days_before")
    return ReminderPlan(
        days_before=tuple(int(d) for d in days) if days is not None else (7, 3, 1),
        at=_hhmm(row.get("at") or "08:00", "Giờ nhắc"),
        on_deadline=bool(row.get("on_deadline", True)),
        overdue=bool(row.get("overdue", True)),
        quiet_start=_hhmm(row.get("quiet_start") or "21:00", "Giờ bắt đầu yên lặng"),
        quiet_end=_hhmm(row.get("quiet_end") or "07:00", "Giờ kết thúc yên lặng"),
        no_weekends=bool(row.get("no_weekends", False)),
        overdue_to_head=bool(row.get("overdue_to_head", True)),
        overdue_to_reviewer=bool(row.get("overdue_to_reviewer", True)),
    )


def plan_to_row(plan: ReminderPlan) -> dict[str, Any]:
    """The fields stored in reminder_plans for `plan` (plan_from_row reads them back)."""
    return {
        "days_before": list(plan.days_before),
        "at": f"{plan.at:%H:%M}",
        "on_deadline": plan.on_deadline,
        "overdue": plan.overdue,
        "quiet_start": f"{plan.quiet_start:%H:%M}",
        "quiet_end": f"{plan.quiet_end:%H:%M}",
        "no_weekends": plan.no_weekends,
        "overdue_to_head": plan.overdue_to_head,
        "overdue_to_reviewer": plan.overdue_to_reviewer,
    }
