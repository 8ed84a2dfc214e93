"""Fewer messages (issue #8) on real databases: prefill from the agency record and the
campaign, last year's answers read from storage, one outbox row per answer.

Every test runs on SQLite and PostgreSQL (the `storage` fixture).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bot.service import Phieu, Sender
from flows.loader import builtin_forms
from flows.payload import Act, pack
from flows.state import Answer, Incoming, Step
from storage import Storage, Unit

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
FORM = builtin_forms()["binh-dinh-2019-so"]
CONTACT = {
    "address": "01 Lê Lợi, phường Lê Lợi, TP. Quy Nhơn",
    "website": "sotttt.binhdinh.gov.vn",
    "phone": "0256 3822 345",
    "email": "sotttt@binhdinh.gov.vn",
}


async def setup(storage: Storage, **contact: str) -> tuple[int, int]:
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so", **contact)
        lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
        await u.bind_identity(lan.id, "telegram", "111", "Lan")
        campaign = await u.add_campaign(FORM.id, FORM.version, "Năm 2026", date(2026, 11, 26))
    return agency.id, campaign.id


class Official:
    def __init__(self, phieu: Phieu) -> None:
        self.phieu = phieu
        self.update = 0
        self.seen: set[int] = set()

    async def send(self, text: str | None = None, payload: str | None = None, **kw: Any) -> Step:
        self.update += 1
        outcome = await self.phieu.handle(
            "telegram",
            "111",
            str(self.update),
            Incoming(text, payload),
            Sender("111", "Lan", "vi"),
            **kw,
        )
        assert outcome.step is not None
        return outcome.step

    async def rows(self) -> list[dict[str, Any]]:
        async with self.phieu.storage.unit() as unit:
            rows = await unit.pending_for_chat("telegram", "111")
        fresh = [r for r in rows if r.id not in self.seen]
        self.seen.update(r.id for r in fresh)
        return [r.payload for r in fresh]


async def test_agency_record_keeps_its_contact_fields(storage: Storage) -> None:
    agency_id, _ = await setup(storage, **CONTACT)
    async with storage.unit() as u:
        rec = await u.agency(agency_id)
    assert rec is not None and rec.phone == "0256 3822 345" and rec.website == CONTACT["website"]
    assert rec.known()["agency.email"] == "sotttt@binhdinh.gov.vn"


async def test_section_1_is_prefilled_from_the_record_and_the_campaign(storage: Storage) -> None:
    agency_id, campaign_id = await setup(storage, **CONTACT)
    lan = Official(Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW))
    await lan.send("/tiep")
    [shown] = await lan.rows()
    assert "Mục 1: Phiếu đã điền sẵn" in shown["text"]
    assert "1.1 Năm báo cáo: 2026" in shown["text"]  # the year of the campaign's deadline
    assert "01 Lê Lợi" in shown["text"]
    await lan.send("đúng")
    [ack] = await lan.rows()
    assert "✅ Đã giữ nguyên 6 câu của Mục 1." in ack["text"]
    async with storage.unit() as u:
        answers = await u.load_answers((await u.submission(campaign_id, agency_id)).id)
    assert answers["1.1"] == Answer(2026)
    assert answers["1.4"] == Answer("02563822345")
    assert answers["1.5"].value == "https://sotttt.binhdinh.gov.vn"


async def test_previous_answers_come_from_the_latest_earlier_campaign(storage: Storage) -> None:
    agency_id, first = await setup(storage)
    async with storage.unit() as u:
        other = await u.add_agency("QUYNHON", "UBND thành phố Quy Nhơn", "so")
        sub = await u.submission(first, agency_id)
        await u.apply_changes(sub.id, {"3.1.a": Answer(40)}, None, "telegram", NOW)
        theirs = await u.submission(first, other.id)
        await u.apply_changes(theirs.id, {"3.1.a": Answer(7)}, None, "telegram", NOW)
        await u.close_campaign(first, NOW)
        second = await u.add_campaign(FORM.id, FORM.version, "Năm 2027", date(2027, 11, 26))
        sub2 = await u.submission(second.id, agency_id)
        await u.apply_changes(sub2.id, {"3.1.a": Answer(42)}, None, "telegram", NOW)
        third = await u.add_campaign(FORM.id, FORM.version, "Năm 2028", date(2028, 11, 26))
    async with storage.unit() as u:
        assert await u.previous_answers(agency_id, [FORM.id], second.id) == {"3.1.a": Answer(40)}
        assert await u.previous_answers(agency_id, [FORM.id], third.id) == {"3.1.a": Answer(42)}
        assert await u.previous_answers(other.id, [FORM.id], second.id) == {"3.1.a": Answer(7)}
        assert await u.previous_answers(agency_id, [FORM.id], first) == {}
        assert await u.previous_answers(agency_id, ["another-form"], second.id) == {}


async def test_the_second_year_offers_last_years_answers(storage: Storage) -> None:
    agency_id, first = await setup(storage)
    phieu = Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW)
    lan = Official(phieu)
    await lan.send("/sua 3.1.a")
    await lan.send("40")
    async with storage.unit() as u:
        await u.close_campaign(first, NOW)
        second = await u.add_campaign(FORM.id, FORM.version, "Năm 2027", date(2027, 11, 26))
    await lan.rows()
    step = await lan.send("/sua 3.1.a")
    [question] = await lan.rows()
    assert "Năm trước: 40 người" in question["text"]
    assert any(label == "♻️ Giữ nguyên" for label, _ in question["choices"])
    assert step.state.item == "3.1.a"
    await lan.send(payload=pack(Act.KEEP, "3.1.a", "keep"))
    async with storage.unit() as u:
        answers = await u.load_answers((await u.submission(second.id, agency_id)).id)
    assert answers == {"3.1.a": Answer(40)}


async def _mark_pressed(unit: Unit, channel: str, chat: str, step: Step) -> None:
    """What the Telegram channel adds to the unit for a pressed button (telegram.py)."""
    if not any(r.kind == "stale" for r in step.replies):
        await unit.enqueue(channel, chat, {"edit": {"message_id": 7, "text": "…\n\n👉 Có"}})


async def test_an_answer_costs_one_message_typed_or_pressed(storage: Storage) -> None:
    await setup(storage)
    lan = Official(Phieu(storage, {FORM.id: FORM}, clock=lambda: NOW))
    await lan.send("/sua 3.1.a")
    await lan.rows()
    await lan.send("12")  # the ack and the next question
    rows = await lan.rows()
    assert len(rows) == 1 and rows[0]["text"].startswith("✅ Đã lưu 3.1.a: 12 người")
    await lan.send("mười hai")  # the error and the question asked again
    rows = await lan.rows()
    assert len(rows) == 1 and rows[0]["kind"] == "error"
    await lan.send("/sua 3.6")
    await lan.rows()
    await lan.send(payload=pack(Act.ANSWER, "3.6", "yes"), after=_mark_pressed)
    rows = await lan.rows()
    new_messages = [r for r in rows if "edit" not in r]
    assert len(new_messages) == 1 and len(rows) == 2  # one new message + the pressed one edited
    assert new_messages[0]["text"].startswith("✅ Đã lưu 3.6: Có")
