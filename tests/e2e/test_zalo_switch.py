"""One person, two chat apps: the same official on Telegram and on Zalo continues the same
section at the same question, whichever app they pick up (the place is the person's per
campaign — issue #9's positions — not the chat's).

Both real adapters run: Telegram's dispatcher over FakeTelegram, the Zalo channel over
FakeZalo, on one database. The position is stored per (user, campaign) by the service
(bot/service.py save_position), so either app's next answer goes to the same question.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.repository import Storage
from tests.e2e.telegram_support import TOKEN, answers_of, polling_rig, seed_campaign
from tests.e2e.zalo_support import zalo_rig
from tests.fakes import FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.integration.conftest import storage as storage  # the fixture, re-exported

TG_LAN = 5005
ZALO_LAN = "9f1c3a88ce4ea2cd518d"


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


def has(shown: list[str], *parts: str) -> None:
    text = "\n---\n".join(shown)
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


async def test_switching_telegram_and_zalo_mid_section_continues_at_the_same_question(
    tg: FakeTelegram, zalo: FakeZalo, storage: Storage, tmp_path: Path
) -> None:
    agency, campaign = await seed_campaign(storage)
    async with storage.unit() as unit:
        lan = await unit.add_user("Lan", agency.id, "official")
        await unit.bind_identity(lan.id, "telegram", str(TG_LAN), "Lan")
        await unit.bind_identity(lan.id, "zalo", ZALO_LAN, "Lan")
    async with polling_rig(tg, storage) as trig, zalo_rig(zalo, storage, tmp_path) as zrig:
        on_tg = trig.chat(TG_LAN)
        on_zalo = zrig.chat(ZALO_LAN, "Lan")

        await on_tg.say("/menu")
        has(await on_tg.press("Mục 3"), "3.1.a · câu 1/33")
        has(await on_tg.say("40"), "✅ Đã lưu 3.1.a: 40 người", "3.1.b · câu 2/33")

        # Lan picks up her phone's Zalo: her next message answers 3.1.b
        has(await on_zalo.say("10"), "✅ Đã lưu 3.1.b: 10 người", "3.2.a")
        has(await on_zalo.say("nhiều"), "❗ Câu này cần một con số", "3.2.a")
        has(await on_zalo.say("45"), "✅ Đã lưu 3.2.a", "3.2.b.1")

        # back on Telegram: /tiep shows where she is, the next answer goes to 3.2.b.1
        has(await on_tg.say("/tiep"), "3.2.b.1")
        has(await on_tg.say("100"), "✅ Đã lưu 3.2.b.1: 100 Mbps", "3.2.b.2")

        # and Zalo again, "quay lại" goes back from where Telegram left it
        has(await on_zalo.say("quay lại"), "3.2.b.1")

    answers = await answers_of(storage, campaign.id, agency.id)
    assert {k: answers[k] for k in ("3.1.a", "3.1.b", "3.2.a", "3.2.b.1")} == {
        "3.1.a": 40,
        "3.1.b": 10,
        "3.2.a": 45,
        "3.2.b.1": 100,
    }
    assert tg.violations == [] and zalo.violations == []
