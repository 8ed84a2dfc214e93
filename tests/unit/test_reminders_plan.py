"""The pure reminder planner (flows/reminders.py), with `now` as the controllable clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.machines import Status
from flows.reminders import (
    CONTINUE,
    AgencyStanding,
    CampaignInfo,
    Case,
    Person,
    PlanError,
    ReminderPlan,
    current_slot,
    due,
    parse_days,
    parse_quiet,
    progress_text,
    slot_times,
    upcoming,
    with_deadline,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def local(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN).astimezone(UTC)


def campaign(deadline: date = date(2026, 11, 26)) -> CampaignInfo:
    return CampaignInfo(id=1, name="Đợt 2026", deadline=deadline)


LAN = Person(10, "Lan")
HUNG = Person(11, "Hùng", lang="en")
HEAD = Person(20, "Giám đốc")
REVIEWER = Person(30, "Thẩm định")


def agency(status: Status = Status.DRAFT, agency_id: int = 5, **kw: object) -> AgencyStanding:
    base: dict[str, object] = {
        "name": "Sở Y tế",
        "status": status,
        "answered": 112,
        "total": 204,
        "missing_sections": ("6", "8"),
        "officials": (LAN,),
        "head": HEAD,
        "reviewers": (REVIEWER,),
    }
    base.update(kw)
    return AgencyStanding(agency_id, **base)  # type: ignore[arg-type]


# ---- when --------------------------------------------------------------------------------


def test_default_plan_is_7_3_1_days_the_deadline_morning_and_overdue_at_8_local() -> None:
    times = dict(slot_times(campaign(), ReminderPlan()))
    assert times == {
        "d-7": local(2026, 11, 19),
        "d-3": local(2026, 11, 23),
        "d-1": local(2026, 11, 25),
        "d-0": local(2026, 11, 26),
        "overdue": local(2026, 11, 27),
    }
    # 08:00 in Hà Nội is 01:00 UTC.
    assert times["d-7"] == datetime(2026, 11, 19, 1, 0, tzinfo=UTC)


def test_month_end_deadline_counts_back_into_the_previous_month() -> None:
    times = dict(slot_times(campaign(date(2026, 12, 2)), ReminderPlan()))
    assert times["d-7"] == local(2026, 11, 25)
    assert times["d-3"] == local(2026, 11, 29)
    assert times["d-1"] == local(2026, 12, 1)
    # 15/7 (seed 000): d-7 on 8/7, overdue on 16/7.
    times = dict(slot_times(campaign(date(2026, 7, 15)), ReminderPlan()))
    assert times["d-7"] == local(2026, 7, 8)
    assert times["overdue"] == local(2026, 7, 16)
    # 1 March of a non-leap year: d-1 is 28 February.
    assert dict(slot_times(campaign(date(2027, 3, 1)), ReminderPlan()))["d-1"] == local(2027, 2, 28)


def test_year_end_deadline_crosses_into_the_new_year_and_back() -> None:
    times = dict(slot_times(campaign(date(2026, 12, 31)), ReminderPlan()))
    assert times["overdue"] == local(2027, 1, 1)
    times = dict(slot_times(campaign(date(2027, 1, 2)), ReminderPlan()))
    assert times["d-3"] == local(2026, 12, 30)
    assert times["d-7"] == local(2026, 12, 26)
    # 08:00 local on 1/1 is still 31/12 in UTC: the slot is named by the local day.
    assert dict(slot_times(campaign(date(2027, 1, 2)), ReminderPlan()))["d-1"] == datetime(
        2027, 1, 1, 1, 0, tzinfo=UTC
    )


def test_a_slot_in_quiet_hours_waits_for_their_end() -> None:
    plan = ReminderPlan(at=time(22, 30))
    times = dict(slot_times(campaign(), plan))
    assert times["d-1"] == local(2026, 11, 26, 7, 0)  # 25/11 22:30 → 26/11 07:00
    early = ReminderPlan(at=time(5, 0))
    assert dict(slot_times(campaign(), early))["d-1"] == local(2026, 11, 25, 7, 0)


def test_nothing_is_due_while_now_is_in_quiet_hours() -> None:
    c, plan, a = campaign(), ReminderPlan(), [agency()]
    # Missed the morning (worker down all day): at 21:30 it waits, at 06:59 still waits.
    assert due(c, plan, a, local(2026, 11, 23, 21, 30)) == []
    assert due(c, plan, a, local(2026, 11, 24, 6, 59)) == []
    assert [r.slot for r in due(c, plan, a, local(2026, 11, 24, 7, 0))] == ["d-3"]
    assert [r.slot for r in due(c, plan, a, local(2026, 11, 23, 20, 59))] == ["d-3"]


def test_quiet_hours_that_do_not_wrap_midnight() -> None:
    plan = ReminderPlan(quiet_start=time(12, 0), quiet_end=time(13, 30), at=time(12, 15))
    assert dict(slot_times(campaign(), plan))["d-3"] == local(2026, 11, 23, 13, 30)
    assert plan.quiet(datetime(2026, 1, 1, 12, 0, tzinfo=VN))
    assert not plan.quiet(datetime(2026, 1, 1, 13, 30, tzinfo=VN))


def test_no_weekends_moves_a_saturday_slot_to_monday_at_the_plan_hour() -> None:
    plan = ReminderPlan(no_weekends=True)
    # Deadline Thursday 26/11/2026: d-3 = Monday 23, d-7 = Thursday 19 — no change.
    # Deadline Tuesday 1/12/2026: d-3 = Saturday 28/11 → Monday 30/11 08:00.
    times = dict(slot_times(campaign(date(2026, 12, 1)), plan))
    assert times["d-3"] == local(2026, 11, 30)
    assert times["d-1"] == local(2026, 11, 30)
    # Both fall at once: the later (d-1) supersedes, one message.
    assert [
        r.slot for r in due(campaign(date(2026, 12, 1)), plan, [agency()], local(2026, 11, 30, 9))
    ] == ["d-1"]
    # Nothing at all on the weekend itself.
    assert due(campaign(date(2026, 12, 1)), plan, [agency()], local(2026, 11, 28, 10)) == []
    assert due(campaign(date(2026, 12, 1)), plan, [agency()], local(2026, 11, 29, 10)) == []
    # Without the setting, Saturday is an ordinary day.
    assert [
        r.slot
        for r in due(
            campaign(date(2026, 12, 1)), ReminderPlan(), [agency()], local(2026, 11, 28, 10)
        )
    ] == ["d-3"]


def test_the_deadline_day_sends_its_morning_reminder() -> None:
    c = campaign()
    rs = due(c, ReminderPlan(), [agency()], local(2026, 11, 26, 8, 0))
    assert [r.slot for r in rs] == ["d-0"]
    assert "hôm nay là hạn cuối (26/11/2026)" in rs[0].reply.text
    assert due(c, ReminderPlan(), [agency()], local(2026, 11, 26, 7, 59))[0].slot == "d-1"
    assert current_slot(c, ReminderPlan(), local(2026, 11, 18, 23)) is None  # before d-7


def test_only_the_latest_past_slot_is_due() -> None:
    c = campaign()
    assert current_slot(c, ReminderPlan(), local(2026, 11, 24, 10)) == "d-3"
    assert current_slot(c, ReminderPlan(), local(2026, 11, 25, 8)) == "d-1"
    assert current_slot(c, ReminderPlan(), local(2026, 12, 20, 10)) == "overdue"
    assert current_slot(c, ReminderPlan(overdue=False), local(2026, 12, 20, 10)) == "d-0"


def test_deadline_extended_after_some_went_out_repeats_none_and_follows_the_new_date() -> None:
    """Simulates the outbox: a key queued once is never queued again."""
    c, plan, a = campaign(), ReminderPlan(), [agency()]
    sent: dict[str, datetime] = {}

    def run(camp: CampaignInfo, now: datetime) -> None:
        for r in due(camp, plan, a, now):
            sent.setdefault(r.key, now)

    for day in range(18, 24):  # hourly-ish runs up to 23/11 noon: d-7 and d-3 go out
        for hour in (7, 8, 12):
            run(c, local(2026, 11, day, hour))
    assert sorted(k.rsplit(":", 1)[1] for k in sent) == ["d-3", "d-7"]
    longer = with_deadline(c, date(2026, 12, 3))
    for day in range(23, 31):
        for hour in (8, 12):
            run(longer, local(2026, 11, day, hour))
    for day in range(1, 6):
        for hour in (8, 12):
            run(longer, local(2026, 12, day, hour))
    slots = {k.rsplit(":", 1)[1]: at for k, at in sent.items()}
    assert set(slots) == {"d-7", "d-3", "d-1", "d-0", "overdue"}
    assert slots["d-7"] == local(2026, 11, 19)  # never again for the new date's d-7
    assert slots["d-3"] == local(2026, 11, 23)
    assert slots["d-1"] == local(2026, 12, 2)  # the new date
    assert slots["d-0"] == local(2026, 12, 3)
    assert slots["overdue"] == local(2026, 12, 4)


# ---- who ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [Status.SUBMITTED, Status.IN_REVIEW, Status.RESUBMITTED, Status.CONFIRMED],
)
def test_nothing_to_agencies_that_submitted(status: Status) -> None:
    for now in (local(2026, 11, 19), local(2026, 11, 26), local(2026, 11, 27)):
        assert due(campaign(), ReminderPlan(), [agency(status)], now) == []


def test_each_case_has_its_own_words() -> None:
    now = local(2026, 11, 23, 8)
    draft, returned, accepted = (
        due(campaign(), ReminderPlan(), [agency(s)], now)[0]
        for s in (Status.DRAFT, Status.RETURNED, Status.ACCEPTED)
    )
    assert draft.case is Case.PENDING
    assert draft.reply.text == (
        "⏰ Nhắc nộp phiếu “Đợt 2026” của Sở Y tế: còn 3 ngày (hạn 26/11/2026).\n"
        "Anh/chị đã trả lời 112/204 câu, còn thiếu Mục 6 và Mục 8. Chọn “Tiếp tục” để làm "
        "tiếp đúng chỗ đã dừng."
    )
    assert returned.case is Case.RETURNED
    assert "có mục được trả lại, chưa nộp lại" in returned.reply.text
    assert accepted.case is Case.UNCONFIRMED
    assert "chưa xác nhận số liệu" in accepted.reply.text
    for r in (draft, returned, accepted):
        assert [a.payload for a in r.reply.actions] == [CONTINUE]
        assert r.reply.kind == "notice"


def test_returned_count_is_said_when_known() -> None:
    r = due(
        campaign(),
        ReminderPlan(),
        [agency(Status.RETURNED, returned_items=3)],
        local(2026, 11, 23, 9),
    )
    assert "3 mục được trả lại" in r[0].reply.text


def test_english_words_for_an_english_speaker() -> None:
    a = agency(officials=(HUNG,))
    r = due(campaign(), ReminderPlan(), [a], local(2026, 11, 25, 9))[0]
    assert r.lang == "en"
    assert "answered 112/204 questions, missing Section 6 and Section 8" in r.reply.text
    assert "due tomorrow" in r.reply.text


def test_progress_text_names_at_most_four_sections() -> None:
    assert progress_text("vi", agency()) == "đã trả lời 112/204 câu, còn thiếu Mục 6 và Mục 8"
    assert progress_text("vi", agency(missing_sections=("3",))) == (
        "đã trả lời 112/204 câu, còn thiếu Mục 3"
    )
    assert progress_text("vi", agency(missing_sections=("1", "2", "3"))) == (
        "đã trả lời 112/204 câu, còn thiếu Mục 1, Mục 2 và Mục 3"
    )
    assert progress_text("vi", agency(missing_sections=tuple("123456"))) == (
        "đã trả lời 112/204 câu, còn thiếu Mục 1, Mục 2, Mục 3, Mục 4 và 2 mục khác"
    )
    assert progress_text("vi", agency(missing_sections=(), answered=204)) == (
        "đã trả lời 204/204 câu"
    )


def test_overdue_also_goes_to_head_and_reviewer_unless_configured_off() -> None:
    now = local(2026, 11, 27, 9)
    rs = due(campaign(), ReminderPlan(), [agency()], now)
    assert {(r.user_id, r.role) for r in rs} == {(10, "official"), (20, "head"), (30, "reviewer")}
    assert "⚠️" in next(r for r in rs if r.role == "official").reply.text
    head = next(r for r in rs if r.role == "head")
    assert head.reply.text.startswith("⏰ Sở Y tế chưa nộp phiếu")
    assert "đã quá hạn 1 ngày" in head.reply.text
    assert head.reply.actions == ()
    off = ReminderPlan(overdue_to_head=False, overdue_to_reviewer=False)
    assert {r.role for r in due(campaign(), off, [agency()], now)} == {"official"}
    # Before the deadline, only officials.
    assert {
        r.role for r in due(campaign(), ReminderPlan(), [agency()], local(2026, 11, 25, 9))
    } == {"official"}
    # No head in the model: skipped, the rest still go.
    assert {r.role for r in due(campaign(), ReminderPlan(), [agency(head=None)], now)} == {
        "official",
        "reviewer",
    }


def test_overdue_is_not_sent_for_an_accepted_unconfirmed_form() -> None:
    assert due(campaign(), ReminderPlan(), [agency(Status.ACCEPTED)], local(2026, 11, 27, 9)) == []


def test_muted_people_are_skipped_others_still_reminded() -> None:
    a = agency(officials=(LAN, HUNG))
    rs = due(campaign(), ReminderPlan(), [a], local(2026, 11, 23, 9), muted={10})
    assert [r.user_id for r in rs] == [11]


def test_keys_are_per_campaign_agency_person_slot() -> None:
    rs = due(campaign(), ReminderPlan(), [agency(officials=(LAN, HUNG))], local(2026, 11, 23, 9))
    assert [r.key for r in rs] == ["remind:1:5:10:d-3", "remind:1:5:11:d-3"]
    again = due(
        campaign(), ReminderPlan(), [agency(officials=(LAN, HUNG))], local(2026, 11, 23, 15)
    )
    assert [r.key for r in again] == [r.key for r in rs]


def test_upcoming_lists_every_future_slot_in_order() -> None:
    rs = upcoming(campaign(), ReminderPlan(), [agency()], local(2026, 11, 24, 9))
    assert [r.slot for r in rs] == ["d-3", "d-1", "d-0", "overdue", "overdue", "overdue"]
    assert rs[1].at == local(2026, 11, 25)


# ---- settings ----------------------------------------------------------------------------


def test_parse_days_and_quiet() -> None:
    assert parse_days("10,3,1") == (10, 3, 1)
    assert parse_days("1, 3 ,10,3") == (10, 3, 1)
    assert parse_quiet("21:00-07:00") == (time(21), time(7))
    assert parse_quiet("22:30–06:15") == (time(22, 30), time(6, 15))
    for bad in ("", "0", "a,b", "3,,1", "-1", "400"):
        with pytest.raises(PlanError, match="Ví dụ: 7,3,1"):
            parse_days(bad)
    for bad in ("21-07", "25:00-07:00", "21:00", "x"):
        with pytest.raises(PlanError, match="Ví dụ"):
            parse_quiet(bad)


@given(st.text(max_size=20))
def test_parse_days_never_crashes(text: str) -> None:
    try:
        days = parse_days(text)
    except PlanError:
        return
    assert days and all(1 <= d <= 365 for d in days)
    assert list(days) == sorted(set(days), reverse=True)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_next_allowed_is_allowed_and_never_earlier(naive: datetime) -> None:
    plan = ReminderPlan(no_weekends=True)
    t = naive.replace(tzinfo=VN)
    out = plan.next_allowed(t)
    assert out >= t
    assert plan.allowed(out)
    assert out - t < timedelta(days=3)


def test_a_reviewer_gets_one_overdue_digest_for_all_late_agencies() -> None:
    late = [
        agency(agency_id=i, name=f"UBND xã {i}", officials=(Person(100 + i, "x"),))
        for i in range(12)
    ]
    done = agency(Status.SUBMITTED, agency_id=99, name="Sở Xong")
    rs = due(campaign(), ReminderPlan(), [*late, done], local(2026, 11, 27, 9))
    digest = [r for r in rs if r.role == "reviewer"]
    assert len(digest) == 1
    assert digest[0].key == "remind:1:0:30:overdue"
    text = digest[0].reply.text
    assert text.startswith(
        "⏰ 12 cơ quan chưa nộp (hoặc chưa nộp lại) phiếu “Đợt 2026”, đã quá hạn 1 ngày"
    )
    assert "• UBND xã 9" in text and "• 2 cơ quan khác" in text and "Sở Xong" not in text
    assert len([r for r in rs if r.role == "official"]) == 12


def test_taken_keys_are_left_out() -> None:
    a = agency(officials=(LAN, HUNG))
    now = local(2026, 11, 27, 9)
    rs = due(campaign(), ReminderPlan(), [a], now, taken={"remind:1:5:10:overdue"})
    assert [(r.user_id, r.role) for r in rs] == [(11, "official"), (20, "head"), (30, "reviewer")]
    rs = due(campaign(), ReminderPlan(), [a], now, taken=["remind:1:0:30:overdue"])
    assert (30, "reviewer") not in [(r.user_id, r.role) for r in rs]
