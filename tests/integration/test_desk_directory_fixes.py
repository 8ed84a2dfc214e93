"""A newcomer administrator's agency bugs, on SQLite and PostgreSQL: an archived agency
stays a target of the campaigns it already started (and only those), and removing an agency
a campaign names takes it out of that campaign's list."""

from __future__ import annotations

from datetime import date

from bot.desk.progress import campaign_progress
from bot.desk.targets import campaign_agencies
from flows.machines import Status
from flows.state import Answer
from storage import Storage
from tests.integration.test_desk import DEADLINE, EARLY, FORM, ON_TIME, agency, person

FORMS = {"t": ("so",)}  # what the service serves: form "t", for the cohort so


async def test_archived_agency_stays_a_target_where_it_answered(storage: Storage) -> None:
    async with storage.unit() as u:
        await u.import_directory(
            [agency("A", "so"), agency("B", "so"), agency("C", "so")], [person("A", "Lan")]
        )
        ids = {a.code: a.id for a in await u.list_agencies()}
        lan = (await u.people_of([ids["A"]]))[0]
        await u.bind_identity(lan.id, "telegram", "lan", None)
        first = await u.add_campaign("t", 1, "Đợt 1", DEADLINE, opened_at=EARLY, cohorts=["so"])
        closed = await u.add_campaign("t", 1, "Đợt cũ", DEADLINE, opened_at=EARLY, cohorts=["so"])
        # A answered the open campaign and submitted the closed one; B only opened the menu
        # (an empty submission); C nothing.
        sub = await u.submission(first.id, ids["A"])
        assert sub is not None
        await u.apply_changes(sub.id, {"1.1": Answer(3)}, lan.id, "telegram", EARLY)
        old = await u.submission(closed.id, ids["A"])
        assert old is not None
        assert await u.move_submission(old.id, Status.DRAFT, Status.SUBMITTED, lan.id, ON_TIME)
        await u.submission(first.id, ids["B"])
        assert await u.close_campaign(closed.id, ON_TIME)
        later = await u.add_campaign("t", 1, "Đợt 2", DEADLINE, opened_at=EARLY, cohorts=["so"])
        for code in ("A", "B"):
            await u.update_agency(ids[code], {"archived_at": EARLY})

    async with storage.unit() as u:
        # Where A has answers (open or closed campaign) it is still asked; B is not.
        assert [a.code for a in await u.campaign_targets(first.id)] == ["A", "C"]
        assert [a.code for a in await u.campaign_targets(closed.id)] == ["A", "C"]
        assert [a.code for a in await campaign_agencies(u, first, FORM)] == ["A", "C"]
        rows = await campaign_progress(u, first, FORM, today=date(2026, 11, 21))
        assert [(r.code, r.stage) for r in rows] == [("A", "answering"), ("C", "not_started")]
        # A campaign A never started does not ask it: no offer, no notice, no reminder.
        assert [a.code for a in await u.campaign_targets(later.id)] == ["C"]
        offered = await u.open_campaigns_for_agency(ids["A"], FORMS, date(2026, 11, 21))
        assert [c.id for c in offered] == [first.id]
        assert await u.open_campaigns_for_agency(ids["B"], FORMS, date(2026, 11, 21)) == []
        officials = await u.campaign_officials(later.id)
        assert [user.name for user, _ in officials] == []
        assert [user.name for user, _ in await u.campaign_officials(first.id)] == ["Lan"]
        # The chat's one statement: Lan continues the campaign A started, offered no other.
        standing = await u.standing("telegram", "lan", FORMS, chosen=later.id)
        assert standing is not None and standing.campaign is not None
        assert (standing.campaigns_open, standing.campaign.id) == (1, first.id)
        assert standing.submission is not None and standing.submission.id == sub.id


async def test_an_agency_a_campaign_names_can_be_removed(storage: Storage) -> None:
    async with storage.unit() as u:
        await u.import_directory([agency("SYT", "so"), agency("SGD", "so")], [])
        ids = {a.code: a.id for a in await u.list_agencies()}
        survey = await u.add_campaign("t", 1, "Khảo sát", DEADLINE, cohorts=[])
        await u.add_campaign_agencies(survey.id, [ids["SYT"], ids["SGD"]])
        other = await u.add_campaign("t", 1, "Khác", DEADLINE, cohorts=["so"])
        await u.add_campaign_agencies(other.id, [ids["SGD"]])
        hoa = await u.add_user("Hoà", None, "reviewer")
        mai = await u.add_user("Mai", None, "reviewer")
        given = await u.assign_reviewer(survey.id, hoa.id, agency_id=ids["SGD"])
        kept = await u.assign_reviewer(survey.id, mai.id, agency_id=ids["SYT"])
    async with storage.unit() as u:
        unlisted = await u.unlist_agency(ids["SGD"])
        assert [c.id for c in unlisted] == [survey.id, other.id]
        assert [r.id for r in await u.drop_agency_assignments(ids["SGD"])] == [given.id]
        await u.delete_agency(ids["SGD"])  # no row refers to it any more
        assert [r.id for r in await u.reviewer_assignments(survey.id)] == [kept.id]
    async with storage.unit() as u:
        assert await u.agency_by_code_ci("SGD") is None
        assert await u.campaign_agency_ids(survey.id) == [ids["SYT"]]
        assert await u.campaign_agency_ids(other.id) == []
        assert await u.unlist_agency(ids["SYT"] + 100) == []
