"""An agency a campaign names outside its form's cohorts (`campaign add 1 --agency H-ANNHON`
on the sở form, warned "vẫn thêm vì được nêu tên") is offered the campaign by the service
(storage `offered`: "unless an agency is named"), so it is reminded and reviewed like any
other target. Found trying Phiếu as a newcomer: the named district was offered the form but
left out of `remind plan` and of the reviewers' scope."""

from __future__ import annotations

from datetime import date

from bot.review.scope import campaign_targets as review_targets
from bot.workers.reminders import campaign_targets as remind_targets
from flows.loader import builtin_forms
from storage import Storage


async def _seed(storage: Storage) -> tuple[int, int, int]:
    """(campaign naming a district, campaign of the sở cohort only, the district's id)."""
    async with storage.unit() as u:
        await u.add_agency("STTTT", "Sở TTTT", "so")
        district = await u.add_agency("H-ANNHON", "UBND thị xã An Nhơn", "huyen")
        await u.add_agency("X-NHONLY", "UBND xã Nhơn Lý", "xa")
        named = await u.add_campaign(
            "binh-dinh-2019-so",
            1,
            "Năm 2026",
            date(2026, 12, 22),
            cohorts=["so"],
            agency_ids=[district.id],
        )
        plain = await u.add_campaign(
            "dien-bien-2014-website", 1, "Website", date(2026, 12, 15), cohorts=["so"]
        )
    return named.id, plain.id, district.id


async def test_a_named_agency_outside_the_cohorts_is_reminded_and_reviewed(
    storage: Storage,
) -> None:
    named, _, district = await _seed(storage)
    forms = builtin_forms()
    async with storage.unit() as u:
        campaign = await u.campaign(named)
        assert campaign is not None
        offered = await u.open_campaigns_for_agency(
            district, {f.id: f.cohorts for f in forms.values()}
        )
        assert [c.id for c in offered] == [named]  # the service offers it the form
        reminded = [a.code for a in await remind_targets(u, campaign, forms)]
        reviewed = [a.code for a in await review_targets(u, campaign, forms.get(campaign.form_id))]
    assert reminded == reviewed == ["H-ANNHON", "STTTT"]


async def test_a_cohort_the_form_is_not_for_stays_out_unless_named(storage: Storage) -> None:
    """A campaign targeting every cohort still asks the sở form only of sở agencies and of
    those it names: the commune (xa) is neither."""
    _, _, district = await _seed(storage)
    forms = builtin_forms()
    async with storage.unit() as u:
        every = await u.add_campaign(
            "binh-dinh-2019-so", 1, "Mọi khối", date(2026, 12, 20), agency_ids=[district]
        )
        reminded = [a.code for a in await remind_targets(u, every, forms)]
        reviewed = [a.code for a in await review_targets(u, every, forms["binh-dinh-2019-so"])]
    assert reminded == reviewed == ["H-ANNHON", "STTTT"]


async def test_a_campaign_naming_no_one_keeps_to_its_forms_cohorts(storage: Storage) -> None:
    _, plain, _ = await _seed(storage)
    forms = builtin_forms()
    async with storage.unit() as u:
        campaign = await u.campaign(plain)
        assert campaign is not None
        reminded = [a.code for a in await remind_targets(u, campaign, forms)]
        reviewed = [a.code for a in await review_targets(u, campaign, forms[campaign.form_id])]
    assert reminded == reviewed == ["STTTT"]
