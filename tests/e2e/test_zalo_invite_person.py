"""One person on both apps through the real path: `phieu invite create --person` makes an
invitation for a person who already exists, so redeeming it on Telegram and on Zalo binds
both chat accounts to that one person (bot/invites.py redeem, invites.user_id), who then
switches app mid-section and continues at the same question.

The CLI writes to the test's database itself on SQLite (--db); on PostgreSQL (a schema per
test, which the CLI's DATABASE_URL cannot name) the same lookup (`_person`) and the same
`add_invite(..., user_id=…)` the command runs are called in a unit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app as cli_app
from bot.cli.invite import _person
from bot.invites import hash_code, new_code
from storage.repository import Storage
from tests.e2e.telegram_support import TOKEN, answers_of, polling_rig, seed_campaign
from tests.e2e.zalo_support import zalo_rig
from tests.fakes import FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.integration.conftest import storage as storage  # the fixture, re-exported

TG_LAN = 5105
ZALO_LAN = "7d2e4b11aa09cc31f0e2"


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


def is_sqlite(storage: Storage) -> bool:
    return storage.engine.dialect.name == "sqlite"


async def run_cli(*args: str) -> Result:
    """The command in a thread: it runs its own event loop (asyncio.run)."""
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args))


async def cli(*args: str) -> str:
    r = await run_cli(*args)
    assert r.exit_code == 0, r.output
    return r.output


async def invite_for(storage: Storage, db: Path, person: str, channel: str) -> str:
    """An invitation for an existing person of STTTT; the code to send."""
    if is_sqlite(storage):
        out = await cli(
            "invite", "create", "--agency", "STTTT", "--person", person,
            "--channel", channel, "--db", str(db),
        )  # fmt: skip
        assert "dành cho Trần Thị Lan" in out, out
        return out.split("Mã mời: ", 1)[1].split()[0]
    code = new_code()
    async with storage.unit() as unit:
        agency = await unit.agency_by_code("STTTT")
        assert agency is not None
        who = await _person(unit, agency, person)
        until = datetime.now(UTC) + timedelta(days=14)
        await unit.add_invite(hash_code(code), agency.id, who.role, 1, until, user_id=who.id)
    return code


async def test_invitations_for_one_person_bind_telegram_and_zalo_to_her(
    tg: FakeTelegram, zalo: FakeZalo, storage: Storage, tmp_path: Path
) -> None:
    agency, campaign = await seed_campaign(storage)
    async with storage.unit() as unit:
        lan = await unit.add_user("Trần Thị Lan", agency.id, "official")
        await unit.add_user("Lê Văn Minh", agency.id, "official")
    db = tmp_path / "phieu.db"  # the sqlite fixture's file
    # by name (case and spacing ignored) for Telegram, by number for Zalo
    tg_code = await invite_for(storage, db, "  trần thị  LAN ", "telegram")
    zalo_code = await invite_for(storage, db, str(lan.id), "zalo")

    async with polling_rig(tg, storage) as trig, zalo_rig(zalo, storage, tmp_path) as zrig:
        on_tg = trig.chat(TG_LAN)
        on_zalo = zrig.chat(ZALO_LAN, "Lan Zalo")
        await on_tg.start(tg_code)
        await on_zalo.say(zalo_code)

        async with storage.unit() as unit:
            tg_id = await unit.identity("telegram", str(TG_LAN))
            zalo_id = await unit.identity("zalo", ZALO_LAN)
            people = await unit.people_of([agency.id])
        assert tg_id is not None and zalo_id is not None
        assert tg_id[0].id == zalo_id[0].id == lan.id
        assert len(people) == 2  # no new user was made by either invitation

        await on_tg.say("/menu")
        has(await on_tg.press("Mục 3"), "3.1.a · câu 1/33")
        has(await on_tg.say("40"), "✅ Đã lưu 3.1.a: 40 người", "3.1.b")
        has(await on_zalo.say("10"), "✅ Đã lưu 3.1.b: 10 người", "3.2.a")
        has(await on_tg.say("45"), "✅ Đã lưu 3.2.a", "3.2.b.1")

    answers = await answers_of(storage, campaign.id, agency.id)
    assert (answers["3.1.a"], answers["3.1.b"], answers["3.2.a"]) == (40, 10, 45)
    assert tg.violations == [] and zalo.violations == []


# ------------------------------------------------------------------ the CLI's refusals
@pytest.fixture
async def desk_db(tmp_path: Path) -> AsyncIterator[tuple[Path, dict[str, int]]]:
    db = tmp_path / "p.db"
    store = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with store.unit() as unit:
            a = await unit.add_agency("STTTT", "Sở TTTT", "so")
            b = await unit.add_agency("UBXA", "UBND xã A", "xa")
            ids = {
                "lan": (await unit.add_user("Lan", a.id, "official")).id,
                "hung1": (await unit.add_user("Hùng", a.id, "official")).id,
                "hung2": (await unit.add_user("Hùng", a.id, "official")).id,
                "rev": (await unit.add_user("Thẩm", a.id, "reviewer")).id,
                "other": (await unit.add_user("Khác", b.id, "official")).id,
            }
    finally:
        await store.close()
    yield db, ids


async def refused(db: Path, *args: str) -> str:
    r = await run_cli("invite", "create", "--agency", "STTTT", *args, "--db", str(db))
    assert r.exit_code == 2, r.output
    return r.output


async def test_invite_person_refusals_say_what_to_write(
    desk_db: tuple[Path, dict[str, int]],
) -> None:
    db, ids = desk_db
    # nobody of that name; the message lists the agency's people with their numbers
    out = await refused(db, "--person", "Nguyễn Văn Không")
    assert "không có người" in out and f"#{ids['lan']} Lan" in out
    # a person of another agency: --agency and --person disagree, which is said
    out = await refused(db, "--person", str(ids["other"]))
    assert "không thuộc cơ quan STTTT" in out and f"#{ids['other']}" in out
    # two people share the name: the number is asked for
    out = await refused(db, "--person", "hùng")
    assert "2 người tên" in out and f"#{ids['hung1']}" in out and f"#{ids['hung2']}" in out
    # a role that contradicts the person's
    assert "có vai trò reviewer" in await refused(db, "--person", "Thẩm", "--role", "official")


async def test_invite_person_takes_the_persons_role(desk_db: tuple[Path, dict[str, int]]) -> None:
    db, ids = desk_db
    out = await cli("invite", "create", "--agency", "STTTT", "--person", "#" + str(ids["rev"]),
              "--channel", "zalo", "--db", str(db))  # fmt: skip
    assert "vai trò reviewer" in out and f"Thẩm (#{ids['rev']})" in out
    store = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with store.unit() as unit:
            (invite,) = await unit.list_invites()
    finally:
        await store.close()
    assert (invite.user_id, invite.role) == (ids["rev"], "reviewer")
    # without --person nothing changes: a new person, official by default
    out = await cli("invite", "create", "--agency", "STTTT", "--db", str(db))
    assert "vai trò official" in out and "dành cho" not in out


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_invite_person_needs_no_agency(
    desk_db: tuple[Path, dict[str, int]], lang: str
) -> None:
    """`invite create --person ID` demanded --agency although the person's agency is known:
    it is taken from the person; --agency that disagrees is refused; neither is asked for."""
    db, ids = desk_db
    d = ["--lang", lang]
    out = await cli(*d, "invite", "create", "--person", str(ids["other"]), "--db", str(db))
    assert ("Cơ quan UBXA" if lang == "vi" else "Agency UBXA") in out, out
    out = await cli(*d, "invite", "create", "--person", "khác", "--db", str(db))  # by name
    assert "UBXA" in out and f"#{ids['other']}" in out
    store = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with store.unit() as unit:
            ubxa = await unit.agency_by_code("UBXA")
            invites = await unit.list_invites()
    finally:
        await store.close()
    assert ubxa is not None
    assert [(i.agency_id, i.user_id) for i in invites] == [(ubxa.id, ids["other"])] * 2
    r = await run_cli(*d, "invite", "create", "--agency", "STTTT", "--person",
                      f"#{ids['other']}", "--db", str(db))  # fmt: skip
    assert r.exit_code == 2
    said = "không thuộc cơ quan STTTT" if lang == "vi" else "is not of agency STTTT"
    assert said in r.output and "UBXA" in r.output
    r = await run_cli(*d, "invite", "create", "--db", str(db))
    assert r.exit_code == 2 and "--agency" in r.output and "--person" in r.output
    r = await run_cli(*d, "invite", "create", "--person", "hùng", "--db", str(db))
    assert r.exit_code == 2 and f"#{ids['hung1']}" in r.output and f"#{ids['hung2']}" in r.output
    r = await run_cli(*d, "invite", "create", "--person", "Không Ai", "--db", str(db))
    assert r.exit_code == 2 and "phieu people list" in r.output


async def test_invite_list_names_whom_a_personal_code_is_for(
    desk_db: tuple[Path, dict[str, int]],
) -> None:
    """`invite list` did not show who a code made with --person (or invite bulk) is for."""
    db, ids = desk_db
    await cli("invite", "create", "--person", str(ids["lan"]), "--db", str(db))
    await cli("invite", "create", "--agency", "STTTT", "--db", str(db))
    lines = (await cli("invite", "list", "--db", str(db))).splitlines()
    assert [line.split("\t")[2:5] for line in lines] == [
        ["STTTT", "official", f"Lan (#{ids['lan']})"],
        ["STTTT", "official", "—"],
    ]
