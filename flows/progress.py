"""Who has submitted: each agency's standing in a campaign, and totals per cohort — pure.

The caller hands in the form, the campaign's deadline and, per agency, its submission (or
None) and answers; nothing here reads storage or a clock. Used by `phieu progress` (terminal
and workbook) and meant for the reviewers' /progress in chat:

    rows = [agency_progress(form, AgencyInput(code, name, cohort, sub_status, answers,
                                              submitted_at, updated_at), deadline, tz)
            for …]
    totals = cohort_totals(rows)

Stages (issue #9 "Who has submitted"): not_started (no answer yet), answering (draft with
answers: % of required items and sections done), then the submission lifecycle states of
flows.machines.Status — submitted, in_review, returned, resubmitted, accepted, confirmed.
A submission is late when its first submission's local date (campaign time zone) is after
the deadline; a draft past the deadline is "overdue" (not late: it has not arrived).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flows.i18n import N_, translate
from flows.machines import Status
from flows.model import Form
from flows.navigation import progress as section_progress_of
from flows.navigation import summarise
from flows.state import Answer

NOT_STARTED = "not_started"
ANSWERING = "answering"
# Every stage, in the order a campaign moves through them (tables and totals use it).
STAGES: tuple[str, ...] = (NOT_STARTED, ANSWERING, *(s.value for s in Status if s != "draft"))

STAGE_LABELS: dict[str, str] = {
    NOT_STARTED: N_("chưa bắt đầu"),
    ANSWERING: N_("đang trả lời"),
    Status.SUBMITTED.value: N_("đã nộp"),
    Status.IN_REVIEW.value: N_("đang thẩm định"),
    Status.RETURNED.value: N_("trả lại bổ sung"),
    Status.RESUBMITTED.value: N_("đã nộp lại"),
    Status.ACCEPTED.value: N_("đã chấp nhận"),
    Status.CONFIRMED.value: N_("đã xác nhận"),
}


def stage_label(lang: str, stage: str) -> str:
    return translate(lang, STAGE_LABELS[stage])


@dataclass(frozen=True, slots=True)
class AgencyInput:
    """One target agency as the caller knows it; `status` None = no submission row yet."""

    code: str
    name: str
    cohort: str
    status: Status | None = None
    answers: Mapping[str, Answer] = field(default_factory=dict)
    submitted_at: datetime | None = None  # the FIRST submission (lateness is judged on it)
    updated_at: datetime | None = None  # the submission's last change (answers touch it)


@dataclass(frozen=True, slots=True)
class AgencyProgress:
    code: str
    name: str
    cohort: str
    stage: str  # one of STAGES
    required_done: int
    required_total: int
    sections_done: int
    sections_total: int
    submitted_at: datetime | None
    late: bool | None  # None while not submitted
    days_late: int  # whole local days after the deadline it was first submitted (0: on time)
    overdue: bool  # not submitted and the deadline has passed (needs `today`)
    last_activity: datetime | None

    @property
    def percent(self) -> int:
        """Required items done, in whole percent (100 when the form requires nothing)."""
        if self.required_total == 0:
            return 100
        return self.required_done * 100 // self.required_total

    @property
    def submitted(self) -> bool:
        return self.stage not in (NOT_STARTED, ANSWERING)


def stage_of(status: Status | None, has_answers: bool) -> str:
    """The stage of STAGES for a submission status (None: no submission yet)."""
    if status is None or status is Status.DRAFT:
        return ANSWERING if has_answers else NOT_STARTED
    return status.value


def is_late(submitted_at: datetime, deadline: date, tz: str = "Asia/Ho_Chi_Minh") -> bool:
    """Submitted on a local day (campaign time zone) after the deadline day."""
    return submitted_at.astimezone(ZoneInfo(tz)).date() > deadline


def days_late(submitted_at: datetime | None, deadline: date, tz: str = "Asia/Ho_Chi_Minh") -> int:
    """Whole local days (campaign time zone) after the deadline day; 0 when on time."""
    if submitted_at is None:
        return 0
    return max(0, (submitted_at.astimezone(ZoneInfo(tz)).date() - deadline).days)


def answer_counts(
    form: Form | None, answers: Mapping[str, Answer]
) -> tuple[int, int, tuple[str, ...]]:
    """(answered incl. not applicable, questions asked now, ids of the sections with a
    required question unanswered, in form order): the reminder's "đã trả lời 112/204 câu,
    còn thiếu Mục 6 và Mục 8" (issue #11)."""
    if form is None:
        return 0, 0, ()
    s = summarise(form, answers)
    unanswered = set(s.missing_required)
    missing = {q.section for q in form.questions if q.id in unanswered}
    sections = tuple(sec.id for sec in form.sections if sec.id in missing)
    return len(s.answered) + len(s.not_applicable), s.total, sections


def agency_progress(
    form: Form,
    agency: AgencyInput,
    deadline: date,
    tz: str = "Asia/Ho_Chi_Minh",
    today: date | None = None,
) -> AgencyProgress:
    """Where one agency stands. Required items are those visible now (skip logic applied)
    and required; a section is done when none of its required items is missing."""
    answers = agency.answers
    summary = summarise(form, answers)
    missing = len(summary.missing_required)
    done = {*summary.answered, *summary.not_applicable}
    answered_required = sum(1 for q in form.questions if q.required and q.id in done)
    required_total = answered_required + missing
    sections = section_progress_of(form, answers)
    stage = stage_of(agency.status, bool(answers))
    submitted = stage not in (NOT_STARTED, ANSWERING)
    late = None
    if submitted and agency.submitted_at is not None:
        late = is_late(agency.submitted_at, deadline, tz)
    late_days = days_late(agency.submitted_at, deadline, tz) if submitted else 0
    overdue = not submitted and today is not None and today > deadline
    return AgencyProgress(
        code=agency.code,
        name=agency.name,
        cohort=agency.cohort,
        stage=stage,
        required_done=answered_required,
        required_total=required_total,
        sections_done=sum(1 for s in sections if s.complete),
        sections_total=len(sections),
        submitted_at=agency.submitted_at,
        late=late,
        days_late=late_days,
        overdue=overdue,
        last_activity=agency.updated_at if (answers or submitted) else None,
    )


@dataclass(frozen=True, slots=True)
class CohortTotal:
    cohort: str
    agencies: int
    by_stage: dict[str, int]
    submitted: int  # any stage from submitted on
    late: int
    last_activity: datetime | None


def cohort_totals(rows: Iterable[AgencyProgress]) -> list[CohortTotal]:
    """Totals per cohort, in the order cohorts first appear; add them for a grand total."""
    groups: dict[str, list[AgencyProgress]] = {}
    for r in rows:
        groups.setdefault(r.cohort, []).append(r)
    out = []
    for cohort, rs in groups.items():
        by_stage = dict.fromkeys(STAGES, 0)
        for r in rs:
            by_stage[r.stage] += 1
        acts = [r.last_activity for r in rs if r.last_activity is not None]
        out.append(
            CohortTotal(
                cohort=cohort,
                agencies=len(rs),
                by_stage=by_stage,
                submitted=sum(1 for r in rs if r.submitted),
                late=sum(1 for r in rs if r.late),
                last_activity=max(acts) if acts else None,
            )
        )
    return out
