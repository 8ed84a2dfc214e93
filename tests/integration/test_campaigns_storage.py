"""Campaign storage (issue #9), on SQLite and PostgreSQL: the new fields, targets by cohort
and by name, open campaigns of an agency, the life of a campaign, positions per person per
campaign, and the 0005 migration of databases made before campaigns had targets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.machines import Mode
from flows.state import ConversationState
from storage import Storage
from storage.database import make_engine
from storage.migrate import upgrade
from storage.records import CampaignRec, Conflict
from tests.integration.conftest import PG_URL, _create_schema, _drop_schema

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


async def _agencies(storage: Storage) -> dict[str, Any]:
    async with storage.unit() as u:
        return {
            "SO1": await u.add_agency("SO1", "Sở Một", "so"),
            "SO2": await u.add_agency("SO2", "Sở Hai", "so"),
            "HUYEN1": await u.add_agency("HUYEN1", "Huyện Một", "huyen"),
            "XA1": await u.add_agency("XA1", "Xã Một", "xa"),
        }


async def test_new_fields_round_trip(storage: Storage) -> None:
    async with storage.unit() as u:
        c = await u.add_campaign(
            "binh-dinh-2019-so",
            1,
            "Năm 2018",
            date(2019, 11, 26),
            reporting_year=2018,
            status="draft",
            opens_on=date(2019, 11, 1),
            cohorts=["so", "so", "huyen"],
        )
    async with storage.unit() as u:
        again = await u.campaign(c.id)
    assert again == c
    assert c.reporting_year == 2018  # not the deadline's year
    assert c.status == "draft" and not c.is_open
    assert c.opens_on == date(2019, 11, 1)
    assert c.cohorts == ("so", "huyen")  # once each, in the order given


async def test_defaults_keep_old_callers_working(storage: Storage) -> None:
    async with storage.unit() as u:
        c = await u.add_campaign("f", 1, "n", date(2025, 11, 26))
    assert (c.reporting_year, c.status, c.opens_on) == (2025, "open", None)
    assert c.cohorts == ("so", "huyen", "xa")
    assert c.is_open


async def test_bad_status_or_cohort_is_refused(storage: Storage) -> None:
    async with storage.unit() as u:
        with pytest.raises(ValueError, match="status"):
            await u.add_campaign("f", 1, "n", date(2025, 11, 26), status="running")
        with pytest.raises(ValueError, match="cohort"):
            await u.add_campaign("f", 1, "n", date(2025, 11, 26), cohorts=["Huyện"])


async def test_targets_are_cohorts_and_the_explicit_list(storage: Storage) -> None:
    ag = await _agencies(storage)
    async with storage.unit() as u:
        c = await u.add_campaign(
            "f",
            1,
            "n",
            date(2026, 11, 26),
            cohorts=["huyen"],
            agency_ids=[ag["SO1"].id, ag["HUYEN1"].id],  # HUYEN1 also by cohort: listed once
        )
        only_named = await u.add_campaign(
            "g", 1, "n", date(2026, 11, 26), cohorts=[], agency_ids=[ag["XA1"].id]
        )
        nobody = await u.add_campaign("h", 1, "n", date(2026, 11, 26), cohorts=[])
    async with storage.unit() as u:
        assert [a.code for a in await u.campaign_targets(c.id)] == ["HUYEN1", "SO1"]
        assert [a.code for a in await u.campaign_targets(only_named.id)] == ["XA1"]
        assert await u.campaign_targets(nobody.id) == []
        assert await u.campaign_targets(9999) == []
        assert await u.campaign_agency_ids(c.id) == sorted([ag["SO1"].id, ag["HUYEN1"].id])


async def test_open_campaigns_for_agency(storage: Storage) -> None:
    ag = await _agencies(storage)
    async with storage.unit() as u:
        yearly = await u.add_campaign("so-form", 1, "Năm", date(2026, 11, 26), cohorts=["so"])
        web = await u.add_campaign(
            "web", 1, "Web", date(2026, 7, 15), cohorts=[], agency_ids=[ag["SO1"].id]
        )
        draft = await u.add_campaign("so-form", 1, "D", date(2027, 1, 1), status="draft")
        shut = await u.add_campaign("so-form", 1, "S", date(2026, 1, 1), cohorts=["so"])
        await u.close_campaign(shut.id, NOW)
    async with storage.unit() as u:
        assert [c.id for c in await u.open_campaigns_for_agency(ag["SO1"].id)] == [
            yearly.id,
            web.id,
        ]
        assert [c.id for c in await u.open_campaigns_for_agency(ag["SO2"].id)] == [yearly.id]
        assert await u.open_campaigns_for_agency(ag["XA1"].id) == []
        # The draft targets everyone, but is not open yet.
        assert draft.id not in [c.id for c in await u.open_campaigns_for_agency(ag["XA1"].id)]


async def test_life_of_a_campaign(storage: Storage) -> None:
    async with storage.unit() as u:
        c = await u.add_campaign("f", 1, "n", date(2026, 11, 26), status="draft")
        assert await u.extend_campaign(c.id, date(2026, 12, 5))
        assert await u.start_campaign(c.id, NOW)
        assert not await u.start_campaign(c.id, NOW)  # not a draft any more
        opened = await u.campaign(c.id)
        assert opened is not None and opened.status == "open" and opened.opened_at == NOW
        assert opened.deadline == date(2026, 12, 5)
        assert await u.close_campaign(c.id, NOW)
        assert not await u.close_campaign(c.id, NOW)
        assert not await u.extend_campaign(c.id, date(2027, 1, 1))
        closed = await u.campaign(c.id)
    assert isinstance(closed, CampaignRec)
    assert (closed.status, closed.closed_at, closed.deadline) == ("closed", NOW, date(2026, 12, 5))
    async with storage.unit() as u:
        assert [x.id for x in await u.list_campaigns("closed")] == [c.id]
        assert await u.list_campaigns("open") == []


async def test_adding_targets(storage: Storage) -> None:
    ag = await _agencies(storage)
    async with storage.unit() as u:
        c = await u.add_campaign("f", 1, "n", date(2026, 11, 26), cohorts=["so"])
        c2 = await u.add_campaign_cohorts(c.id, ["huyen", "so"])
        assert c2.cohorts == ("so", "huyen")
        assert await u.add_campaign_agencies(c.id, [ag["XA1"].id, ag["XA1"].id]) == 1
        assert await u.add_campaign_agencies(c.id, [ag["XA1"].id]) == 0
        assert [a.code for a in await u.campaign_targets(c.id)] == [
            "HUYEN1",
            "SO1",
            "SO2",
            "XA1",
        ]
        with pytest.raises(LookupError):
            await u.add_campaign_cohorts(9999, ["so"])
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.add_campaign_agencies(c.id, [424242])


async def test_positions_per_person_per_campaign(storage: Storage) -> None:
    ag = await _agencies(storage)
    async with storage.unit() as u:
        user = await u.add_user("Lan", ag["SO1"].id, "official")
        a = await u.add_campaign("f", 1, "a", date(2026, 11, 26))
        b = await u.add_campaign("g", 1, "b", date(2026, 11, 26))
        assert await u.position(user.id, a.id) is None
        await u.save_position(user.id, a.id, ConversationState(Mode.ANSWERING, "2.1"), NOW)
        await u.save_position(user.id, b.id, ConversationState(Mode.ANSWERING, "1.3"), NOW)
        await u.save_position(user.id, a.id, ConversationState(Mode.ANSWERING, "2.2"), NOW)
    async with storage.unit() as u:
        pa, pb = await u.position(user.id, a.id), await u.position(user.id, b.id)
    assert pa is not None and pa.item == "2.2"
    assert pb is not None and pb.item == "1.3"


async def test_standing_counts_the_agency_s_campaigns_and_honours_the_choice(
    storage: Storage,
) -> None:
    ag = await _agencies(storage)
    forms = {"so-form": ("so",), "web": ()}
    async with storage.unit() as u:
        user = await u.add_user("Lan", ag["SO1"].id, "official")
        await u.bind_identity(user.id, "telegram", "t1", None)
        yearly = await u.add_campaign(
            "so-form", 1, "Năm", date(2026, 11, 26), cohorts=["so"], opened_at=NOW
        )
        web = await u.add_campaign(
            "web", 1, "Web", date(2026, 7, 15), cohorts=[], agency_ids=[ag["SO1"].id]
        )
        # Listed by cohort, but the form is for huyện: never offered to a sở by cohort.
        await u.add_campaign("so-form-huyen", 1, "H", date(2026, 11, 26), cohorts=["so"])
        await u.save_position(user.id, yearly.id, ConversationState(Mode.ANSWERING, "2.1"))
    forms["so-form-huyen"] = ("huyen",)
    async with storage.unit() as u:
        newest = await u.standing("telegram", "t1", forms)
        picked = await u.standing("telegram", "t1", forms, chosen=yearly.id)
        stale = await u.standing("telegram", "t1", forms, chosen=424242)
    assert newest is not None and picked is not None and stale is not None
    assert newest.campaigns_open == 2 and newest.campaign is not None
    assert newest.campaign.id == web.id and newest.position is None
    assert picked.campaign is not None and picked.campaign.id == yearly.id
    assert picked.position is not None and picked.position.item == "2.1"
    assert stale.campaign is not None and stale.campaign.id == web.id


# -- the 0005 migration ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def bare(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """An engine on an empty database (not migrated)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        try:
            yield engine
        finally:
            await engine.dispose()
        return
    schema = await _create_schema()
    engine = make_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield engine
    finally:
        await engine.dispose()
        await _drop_schema(schema)


async def test_migration_keeps_old_campaigns_and_places(bare: Any) -> None:
    await upgrade(bare, "0004")
    old_state = ConversationState(Mode.ANSWERING, "3.2").to_json()
    async with bare.begin() as conn:
        run = conn.execute

        async def one(sql: str, **params: Any) -> Any:
            return (await run(sa.text(sql), params)).scalar_one()

        so = await one(
            "INSERT INTO agencies (code, name, cohort, created_at) "
            "VALUES ('SO1', 'Sở', 'so', :t) RETURNING id",
            t=NOW,
        )
        user = await one(
            "INSERT INTO users (name, agency_id, role, lang, created_at) "
            "VALUES ('Lan', :a, 'official', 'vi', :t) RETURNING id",
            a=so,
            t=NOW,
        )
        camp = (
            "INSERT INTO campaigns (form_id, form_version, name, deadline, timezone, "
            "opened_at, closed_at) VALUES (:f, 1, :n, :d, 'Asia/Ho_Chi_Minh', :o, :c) "
            "RETURNING id"
        )
        shut = await one(camp, f="binh-dinh-2019-so", n="2024", d=date(2024, 11, 26), o=NOW, c=NOW)
        live = await one(camp, f="binh-dinh-2019-so", n="2025", d=date(2025, 11, 26), o=NOW, c=None)
        huyen = await one(
            camp, f="binh-dinh-2019-huyen", n="H", d=date(2025, 11, 26), o=NOW, c=None
        )
        unknown = await one(camp, f="gone-form", n="G", d=date(2025, 11, 26), o=NOW, c=None)
        # An answered submission: its foreign key must not stop the upgrade (SQLite).
        await run(
            sa.text(
                "INSERT INTO submissions (campaign_id, agency_id, status, version, updated_at) "
                "VALUES (:c, :a, 'draft', 1, :t)"
            ),
            {"c": live, "a": so, "t": NOW},
        )
        await run(
            sa.text(
                "INSERT INTO conversations (channel, chat_id, user_id, state, updated_at) "
                "VALUES ('telegram', '1', :u, :s, :t)"
            ).bindparams(sa.bindparam("s", type_=sa.JSON)),
            {"u": user, "s": old_state, "t": NOW},
        )
    await upgrade(bare)
    store = Storage(bare)
    async with store.unit() as u:
        by_id = {c.id: c for c in await u.list_campaigns()}
        position = await u.position(user, live)
        assert await u.position(user, huyen) is None
        targets = [a.code for a in await u.campaign_targets(live)]
    assert (by_id[shut].status, by_id[shut].reporting_year) == ("closed", 2024)
    assert (by_id[live].status, by_id[live].reporting_year) == ("open", 2025)
    assert by_id[live].cohorts == ("so",)
    assert by_id[huyen].cohorts == ("huyen",)
    assert by_id[unknown].cohorts == ("so", "huyen", "xa")
    assert position is not None and (position.mode, position.item) == (Mode.ANSWERING, "3.2")
    assert targets == ["SO1"]
    async with store.unit() as u:
        assert [s.campaign_id for s in await u.list_submissions(live)] == [live]
