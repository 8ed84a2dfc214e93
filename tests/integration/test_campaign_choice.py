"""Officials of an agency in several campaigns (issue #9), on SQLite and PostgreSQL.

Each campaign keeps its own submission and its own place; the official picks from a list
(button, number or name) and /phieu brings it back; with one campaign nothing changes. The
place belongs to the person and the campaign, so another chat app of the same person goes
on at the same question. The reporting year, not the deadline's, is prefilled as 1.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bot.render import as_plain_text, reply_from_json
from bot.service import Phieu, Sender
from flows.machines import Mode
from flows.state import Incoming
from storage import Storage

NOW = datetime(2019, 11, 20, 2, 0, tzinfo=UTC)
YEARLY = "binh-dinh-2019-so"
WEBSITE = "dien-bien-2014-website"


@dataclass
class Chat:
    phieu: Phieu
    channel: str
    chat_id: str
    n: list[int] = field(default_factory=lambda: [0])

    @property
    def sender(self) -> Sender:
        return Sender(self.chat_id, "Lan", "vi")

    async def send(self, text: str | None = None, payload: str | None = None) -> str:
        self.n[0] += 1
        await self.phieu.handle(
            self.channel,
            self.chat_id,
            f"{self.chat_id}-{self.n[0]}",
            Incoming(text=text, payload=payload),
            self.sender,
        )
        async with self.phieu.storage.unit() as u:
            rows = await u.pending_for_chat(self.channel, self.chat_id)
            for r in rows:
                await u.mark_sent(r.id, NOW)
        # As the console and Zalo show it: the choices as numbered lines.
        return "\n".join(as_plain_text(reply_from_json(r.payload)) for r in rows)

    async def state(self) -> Any:
        return await self.phieu.state_of(self.channel, self.chat_id, self.chat_id)


async def _world(storage: Storage, *, website: bool = True) -> dict[str, Any]:
    async with storage.unit() as u:
        so = await u.add_agency("SO1", "Sở Một", "so")
        other = await u.add_agency("SO2", "Sở Hai", "so")
        lan = await u.add_user("Lan", so.id, "official")
        await u.bind_identity(lan.id, "telegram", "t-lan", None)
        await u.bind_identity(lan.id, "console", "c-lan", None)
        minh = await u.add_user("Minh", other.id, "official")
        await u.bind_identity(minh.id, "telegram", "t-minh", None)
        yearly = await u.add_campaign(
            YEARLY, 1, "Năm 2018", date(2019, 11, 26), reporting_year=2018, cohorts=["so"]
        )
        web = None
        if website:
            web = await u.add_campaign(
                WEBSITE, 1, "Website", date(2019, 12, 15), cohorts=[], agency_ids=[so.id]
            )
    phieu = Phieu(storage, clock=lambda: NOW)
    return {"phieu": phieu, "so": so, "other": other, "yearly": yearly, "web": web}


async def _answers(storage: Storage, campaign_id: int, agency_id: int) -> dict[str, Any]:
    async with storage.unit() as u:
        sub = await u.submission(campaign_id, agency_id, create=False)
        if sub is None:
            return {}
        return {k: a.value for k, a in (await u.load_answers(sub.id)).items()}


async def test_an_agency_in_two_campaigns_chooses_and_each_keeps_its_place(
    storage: Storage,
) -> None:
    w = await _world(storage)
    lan = Chat(w["phieu"], "telegram", "t-lan")
    first = await lan.send("/start")
    assert "Sở Một đang có 2 phiếu cần trả lời" in first
    assert "1. 📋 Năm 2018 — 26/11/2019" in first and "2. 📋 Website — 15/12/2019" in first
    # Anything but a choice shows the list again, and stores nothing.
    assert "đang có 2 phiếu" in await lan.send("12")
    assert await _answers(storage, w["yearly"].id, w["so"].id) == {}

    picked = await lan.send(payload=f"campaign|{w['web'].id}")
    assert picked.startswith("Phiếu: Website (hạn 15/12/2019)")
    assert "Điện Biên" in picked  # the website survey's menu
    await lan.send("/tiep")
    await lan.send("https://so1.binhdinh.gov.vn")
    assert await _answers(storage, w["web"].id, w["so"].id) == {
        "1.1": "https://so1.binhdinh.gov.vn"
    }
    web_place = (await lan.state()).item
    assert web_place is not None and web_place.startswith("2.")

    # /phieu: the list again, the campaign in use marked; "1" picks the yearly form.
    listed = await lan.send("/phieu")
    assert "2. 📋 Website — 15/12/2019 (đang làm)" in listed
    yearly = await lan.send("1")
    assert yearly.startswith("Phiếu: Năm 2018")
    await lan.send("/sua 3.1.a")
    await lan.send("12")
    assert await _answers(storage, w["yearly"].id, w["so"].id) == {"3.1.a": 12}
    assert (await lan.state()).item == "3.1.b"
    # The website survey's answers were not touched, and its place was kept.
    assert await _answers(storage, w["web"].id, w["so"].id) == {
        "1.1": "https://so1.binhdinh.gov.vn"
    }
    back = await lan.send(payload=f"campaign|{w['web'].id}")
    assert back.startswith("Phiếu: Website")
    state = await lan.state()
    assert (state.item, state.mode) == (web_place, Mode.ANSWERING)  # resumed where it was


async def test_the_place_follows_the_person_to_another_chat_app(storage: Storage) -> None:
    w = await _world(storage, website=False)
    tg = Chat(w["phieu"], "telegram", "t-lan")
    await tg.send("/sua 3.1.a")
    await tg.send("12")
    assert (await tg.state()).item == "3.1.b"
    # One campaign: the console (another identity of Lan) asks no question about campaigns
    # and goes on at 3.1.b.
    console = Chat(w["phieu"], "console", "c-lan")
    out = await console.send("/tiep")
    assert "phiếu cần trả lời" not in out and "3.1.b" in out
    await console.send("5")
    assert await _answers(storage, w["yearly"].id, w["so"].id) == {"3.1.a": 12, "3.1.b": 5}
    # …and back on Telegram, the next question after the console's answer.
    assert (await tg.state()).item == (await console.state()).item != "3.1.b"


async def test_with_one_campaign_nothing_changes(storage: Storage) -> None:
    w = await _world(storage)
    minh = Chat(w["phieu"], "telegram", "t-minh")  # Sở Hai: not in the website survey
    out = await minh.send("/start")
    assert "phiếu cần trả lời" not in out and "/phieu" not in out
    assert "BÌNH ĐỊNH" in out
    # /phieu is no command of theirs: the engine says so, as before.
    assert "Không hiểu lệnh /phieu" in await minh.send("/phieu")


async def test_reporting_year_not_deadline_year_is_prefilled(storage: Storage) -> None:
    w = await _world(storage, website=False)
    lan = Chat(w["phieu"], "telegram", "t-lan")
    await lan.send("/start")
    out = await lan.send("/tiep")
    assert "1.1 Năm báo cáo: 2018" in out and "2019" not in out.split("1.2")[0]


async def test_a_closed_campaign_s_button_shows_the_list(storage: Storage) -> None:
    async with storage.unit() as u:
        so = await u.add_agency("SO1", "Sở Một", "so")
        lan = await u.add_user("Lan", so.id, "official")
        await u.bind_identity(lan.id, "telegram", "t-lan", None)
        a = await u.add_campaign(YEARLY, 1, "A", date(2019, 11, 26), cohorts=["so"])
        b = await u.add_campaign(WEBSITE, 1, "B", date(2019, 12, 15), cohorts=["so"])
        c = await u.add_campaign(WEBSITE, 1, "C", date(2019, 12, 20), cohorts=["so"])
        await u.close_campaign(b.id, NOW)
    chat = Chat(Phieu(storage, clock=lambda: NOW), "telegram", "t-lan")
    out = await chat.send(payload=f"campaign|{b.id}")
    assert "Phiếu này không còn mở" in out
    assert "1. 📋 A" in out and "2. 📋 C" in out and "📋 B" not in out
    assert (await chat.send("C")).startswith("Phiếu: C")  # picked by its name
    assert a.id != c.id


async def test_the_list_speaks_the_official_s_language(storage: Storage) -> None:
    w = await _world(storage)
    lan = Chat(w["phieu"], "telegram", "t-lan")
    lan_en = Sender("t-lan", "Lan", "en")
    phieu = w["phieu"]
    await phieu.handle("telegram", "t-lan", "en-1", Incoming(text="/start"), lan_en)
    async with storage.unit() as u:
        rows = await u.pending_for_chat("telegram", "t-lan")
    text = rows[-1].payload["text"]
    assert text.startswith("Sở Một has 2 questionnaires to answer.")
    assert [label for label, _ in rows[-1].payload["choices"]] == [
        "📋 Năm 2018 — 26/11/2019",
        "📋 Website — 15/12/2019",
    ]
    await phieu.handle("telegram", "t-lan", "en-2", Incoming(text="2"), lan_en)
    listed = await lan.send("/phieu")
    assert "Website — 15/12/2019 (in progress)" in listed
