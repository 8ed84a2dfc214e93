"""`phieu invite bulk` (issue #9): an invitation per imported official, a mail-merge
workbook with links and QR codes, the bot's name from getMe (the fake Bot API) or the
setting, never a placeholder; redeeming binds the chat account to the imported person."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image as PILImage
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.desk.invites import bot_username, clean_username, qr_png
from bot.invites import Redeem, hash_code, redeem
from storage import Storage
from tests.fakes import FakeTelegram

TOKEN = "123456:" + "A" * 35


async def test_bot_username_from_get_me_then_the_setting() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        assert await bot_username(TOKEN, tg.base_url, "other_bot") == "phieu_test_bot"
        tg.fail_next("getMe", status=401)  # a token Telegram refuses: the setting
        assert await bot_username(TOKEN, tg.base_url, "so_tttt_bot") == "so_tttt_bot"
        del tg.bot_user["username"]  # getMe answers without a username
        assert await bot_username(TOKEN, tg.base_url, "@so_tttt_bot") == "so_tttt_bot"
        assert await bot_username(TOKEN, tg.base_url, None) is None
    # Telegram unreachable: the setting; a placeholder is no username.
    assert (
        await bot_username(TOKEN, "http://127.0.0.1:9", "so_tttt_bot", timeout=2) == "so_tttt_bot"
    )
    assert await bot_username(None, None, "<ten_bot>") is None
    assert clean_username("https://t.me/phieu_bot") == "phieu_bot"
    assert clean_username("ab") is None


def test_qr_png_is_an_image_of_the_link() -> None:
    png = qr_png("https://t.me/phieu_bot?start=abc")
    with PILImage.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.size[0] == img.size[1] > 50


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    base = {"TELEGRAM_BOT_TOKEN": "", "TELEGRAM_BOT_USERNAME": ""}
    return CliRunner().invoke(cli_app, list(args), env={**base, **(env or {})})


async def _seed(db: Path) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            await u.import_directory(
                [
                    {"code": "STTTT", "name": "Sở TTTT", "cohort": "so"},
                    {"code": "SYT", "name": "Sở Y tế", "cohort": "so"},
                    {"code": "H1", "name": "Huyện Một", "cohort": "huyen"},
                ],
                [
                    {"agency_code": "STTTT", "name": "Trần Thị B", "role": "official",
                     "position": "Chuyên viên", "email": "ttb@stttt.gov.vn"},
                    {"agency_code": "STTTT", "name": "=Lê C", "role": "official"},
                    {"agency_code": "SYT", "name": "Phạm D", "role": "official"},
                    {"agency_code": "SYT", "name": "Ngô E", "role": "reviewer"},
                    {"agency_code": "H1", "name": "Đỗ G", "role": "official"},
                ],
            )  # fmt: skip
            await u.add_campaign("binh-dinh-2019-so", 1, "Sở 2019", date(2099, 11, 26))
            closed = await u.add_campaign("binh-dinh-2019-so", 1, "Cũ", date(2099, 1, 1))
            await u.close_campaign(closed.id, datetime.now(UTC))
    finally:
        await storage.close()


async def _redeem(db: Path, code: str) -> tuple[Redeem, list[str]]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            result = await redeem(u, code, "telegram", "777", "tg name", datetime.now(UTC))
            found = await u.identity("telegram", "777")
            assert found is not None
            agencies = await u.list_agencies()
            names = [p.name for p in await u.people_of([a.id for a in agencies])]
            return result.outcome, [found[0].name, *names]
    finally:
        await storage.close()


def test_invite_bulk_writes_links_and_qr_codes(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    out = tmp_path / "moi.xlsx"
    result = run("invite", "bulk", str(out), "--campaign", "1", "--db", str(db),
                 env={"TELEGRAM_BOT_USERNAME": "so_tttt_bot"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Đã tạo 3 mã mời cho cán bộ đầu mối của 2 cơ quan" in result.output
    wb = load_workbook(out)
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header == ["Mã cơ quan", "Cơ quan", "Họ và tên", "Chức vụ", "Điện thoại",
                      "Thư điện tử", "Mã mời", "Hết hạn", "Link", "Mã QR"]  # fmt: skip
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert [(r[0], r[2]) for r in rows] == [("STTTT", "Trần Thị B"), ("STTTT", "=Lê C"),
                                            ("SYT", "Phạm D")]  # fmt: skip
    assert ws["C3"].data_type == "s" and ws["C3"].quotePrefix  # a name is never a formula
    for i, r in enumerate(rows, start=2):
        code, link = r[6], r[8]
        assert link == f"https://t.me/so_tttt_bot?start={code}"
        assert ws.cell(row=i, column=9).hyperlink.target == link
    assert len(ws._images) == 3

    # Redeeming a code binds the account to the imported person: no new user.
    outcome, names = asyncio.run(_redeem(db, rows[0][6]))
    assert outcome is Redeem.BOUND
    assert names[0] == "Trần Thị B" and len(names) == 1 + 5

    # Again: nobody left (one joined, two hold a valid code) unless --all.
    again = run("invite", "bulk", str(tmp_path / "b.xlsx"), "--campaign", "1", "--db", str(db),
                "--bot", "so_tttt_bot")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "Không có cán bộ đầu mối nào cần mã mời (3 người" in again.output
    assert not (tmp_path / "b.xlsx").exists()
    fresh = run("invite", "bulk", str(tmp_path / "c.xlsx"), "--campaign", "1", "--db", str(db),
                "--bot", "so_tttt_bot", "--all")  # fmt: skip
    assert "Đã tạo 3 mã mời" in fresh.output
    old_code = rows[1][6]
    assert asyncio.run(_usable(db, old_code)) is False  # --all revoked the older codes


async def _usable(db: Path, code: str) -> bool:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            rec = await u.invite_by_hash(hash_code(code))
            assert rec is not None
            return rec.usable(datetime.now(UTC))
    finally:
        await storage.close()


def test_invite_bulk_never_writes_a_placeholder_link(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    out = tmp_path / "moi.xlsx"
    refused = run("invite", "bulk", str(out), "--campaign", "1", "--db", str(db))
    assert refused.exit_code == 2
    assert "Chưa biết tên bot" in refused.output and "--codes-only" in refused.output
    assert not out.exists()
    codes = run("invite", "bulk", str(out), "--campaign", "1", "--db", str(db), "--codes-only")
    assert codes.exit_code == 0, codes.output
    ws = load_workbook(out).active
    assert "Chưa biết tên bot" in ws["A1"].value
    text = " ".join(str(c.value) for r in ws.iter_rows() for c in r if c.value)
    assert "t.me" not in text and "<ten_bot>" not in text
    assert len([r for r in ws.iter_rows(min_row=3)]) == 3


@pytest.mark.parametrize(("args", "message"), [
    (["--campaign", "9"], "Không có đợt #9"),
    (["--campaign", "2"], "Đợt #2 đã đóng"),
    (["--campaign", "1", "--expires", "01/01/2020"], "đã qua"),
])  # fmt: skip
def test_invite_bulk_refusals(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    result = run(
        "invite", "bulk", str(tmp_path / "x.xlsx"), *args, "--db", str(db), "--bot", "so_tttt_bot"
    )
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.parametrize(
    ("lang", "said", "revoked"),
    [
        ([], "Tệp {file} đã có, nên không ghi đè", "Đã thu hồi 3 mã mời cũ"),
        (["--lang", "en"], "{file} already exists", "Revoked 3 earlier invitation codes"),
    ],
)
def test_invite_bulk_never_overwrites_the_only_copy_of_codes(
    tmp_path: Path, lang: list[str], said: str, revoked: str
) -> None:
    """A second `invite bulk` to the same file replaced the first workbook, the only place
    its codes were written; a second `--all` revoked the earlier codes without a word."""
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    out = tmp_path / "moi.xlsx"
    args = ["invite", "bulk", "--campaign", "1", str(out), "--bot", "so_tttt_bot", "--db", str(db)]
    first = run(*lang, *args)
    assert first.exit_code == 0, first.output
    before = out.read_bytes()
    for extra in ([], ["--all"]):
        again = run(*lang, *args, *extra)
        assert again.exit_code == 1, again.output
        assert said.format(file=out) in again.output
        command = f"phieu invite bulk --campaign 1 {out}" + (" --all" if extra else "")
        assert f"{command} --bot so_tttt_bot --force" in again.output
        assert f"phieu invite bulk --campaign 1 {tmp_path / 'moi-2.xlsx'}" in again.output
        assert out.read_bytes() == before
    code = load_workbook(out).active["G2"].value
    assert asyncio.run(_usable(db, code))  # refused before anything was revoked
    forced = run(*lang, *args, "--all", "--force")
    assert forced.exit_code == 0, forced.output
    assert revoked in forced.output
    assert out.read_bytes() != before
    assert asyncio.run(_usable(db, code)) is False


@pytest.mark.parametrize(
    "given",
    ["so_tttt_bot", "@so_tttt_bot", "t.me/so_tttt_bot", "https://t.me/so_tttt_bot",
     "https://t.me/so_tttt_bot/", " http://telegram.me/so_tttt_bot?start=abc "],
)  # fmt: skip
def test_every_form_of_the_bot_name_makes_one_link(tmp_path: Path, given: str) -> None:
    """`invite create --bot @ten_bot` printed https://t.me/@ten_bot?start=…, and
    `--bot https://t.me/ten_bot` https://t.me/https://t.me/ten_bot?start=…: the option and
    the setting now go through the one reading `invite bulk` uses."""
    assert clean_username(given) == "so_tttt_bot"
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    for how in (["--bot", given], []):
        made = run("invite", "create", "--agency", "SYT", *how, "--db", str(db),
                   env={"TELEGRAM_BOT_USERNAME": given})  # fmt: skip
        assert made.exit_code == 0, made.output
        code = made.output.split("Mã mời: ")[1].split()[0]
        assert f"Link: https://t.me/so_tttt_bot?start={code}\n" in made.output
    out = tmp_path / "moi.xlsx"
    bulk = run("invite", "bulk", "--campaign", "1", str(out), "--bot", given, "--db", str(db))
    assert bulk.exit_code == 0, bulk.output
    assert load_workbook(out).active["I2"].value.startswith("https://t.me/so_tttt_bot?start=")


@pytest.mark.parametrize(
    ("lang", "said"), [([], "không đúng"), (["--lang", "en"], "is not a bot username")]
)
@pytest.mark.parametrize("command", ["create", "bulk"])
def test_a_wrong_bot_name_is_refused_with_an_example(
    tmp_path: Path, lang: list[str], said: str, command: str
) -> None:
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    out = tmp_path / "moi.xlsx"
    args = ["--agency", "SYT"] if command == "create" else ["--campaign", "1", str(out)]
    for how, env in ((["--bot", "<ten_bot>"], None), ([], {"TELEGRAM_BOT_USERNAME": "ab"})):
        ran = run(*lang, "invite", command, *args, *how, "--db", str(db), env=env)
        assert ran.exit_code == 2, ran.output
        assert said in ran.output and "--bot so_tttt_bot" in ran.output
        assert "https://t.me/so_tttt_bot" in ran.output and "Traceback" not in ran.output
    assert not out.exists()
    assert "No invitations yet" in run("--lang", "en", "invite", "list", "--db", str(db)).output


async def _add_agencies(db: Path, codes: list[str]) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            await u.import_directory(
                [{"code": c, "name": f"Sở {c}", "cohort": "so"} for c in codes], []
            )
    finally:
        await storage.close()


@pytest.mark.parametrize(
    ("lang", "one", "many"),
    [
        ([], "1 cơ quan chưa có cán bộ đầu mối: SA01.",
         "12 cơ quan chưa có cán bộ đầu mối: SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, "
         "SA09, SA10 và 2 cơ quan khác."),
        (["--lang", "en"], "1 agency has no official (contact person) yet: SA01.",
         "12 agencies have no official (contact person) yet: SA01, SA02, SA03, SA04, SA05, "
         "SA06, SA07, SA08, SA09, SA10 and 2 other agencies."),
    ],
)  # fmt: skip
def test_invite_bulk_names_target_agencies_without_an_official(
    tmp_path: Path, lang: list[str], one: str, many: str
) -> None:
    """Agencies of the campaign with nobody on the people sheet got no invitation, and the
    output did not say so."""
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    everyone = run(*lang, "invite", "bulk", "--campaign", "1", str(tmp_path / "a.xlsx"),
                   "--bot", "so_tttt_bot", "--db", str(db))  # fmt: skip
    assert everyone.exit_code == 0, everyone.output
    assert "SA01" not in everyone.output and "official (contact" not in everyone.output
    assert "chưa có cán bộ đầu mối" not in everyone.output
    asyncio.run(_add_agencies(db, ["SA01"]))
    ran = run(*lang, "invite", "bulk", "--campaign", "1", str(tmp_path / "b.xlsx"),
              "--bot", "so_tttt_bot", "--db", str(db))  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert one in ran.output  # said even when nobody needed a code
    asyncio.run(_add_agencies(db, [f"SA{i:02}" for i in range(2, 13)]))
    ran = run(*lang, "invite", "bulk", "--campaign", "1", str(tmp_path / "c.xlsx"),
              "--bot", "so_tttt_bot", "--db", str(db), "--all")  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert many in ran.output


def test_english_counts_have_their_plural_forms(tmp_path: Path) -> None:
    """ "1 invitations made for … 1 agencies", "1 uses left": English said every count in
    the plural; the catalog's plural forms now choose (Vietnamese has one form)."""
    db = tmp_path / "p.db"
    asyncio.run(_seed(db))
    asyncio.run(_add_agencies(db, ["SA01", "SA02"]))
    en = ["--lang", "en"]
    bot = ["--bot", "so_tttt_bot", "--db", str(db)]
    first = run(*en, "invite", "bulk", "--campaign", "1", str(tmp_path / "a.xlsx"), *bot)
    assert "3 invitations made for the officials of 2 agencies" in first.output
    assert "2 agencies have no official" in first.output
    outcome, _ = asyncio.run(_redeem(db, load_workbook(tmp_path / "a.xlsx").active["G2"].value))
    assert outcome is Redeem.BOUND
    again = run(*en, "invite", "bulk", "--campaign", "1", str(tmp_path / "b.xlsx"), *bot)
    assert "(3 people have joined Phiếu or hold a valid code" in again.output
    asyncio.run(_add_agencies(db, [f"SA{i:02}" for i in range(3, 13)]))
    asyncio.run(_add_person(db, "SA01", "Vũ H"))
    one = run(*en, "invite", "bulk", "--campaign", "1", str(tmp_path / "c.xlsx"), *bot)
    assert "1 invitation made for the officials of 1 agency → " in one.output, one.output
    assert "Skipped 3 people who have joined" in one.output
    assert "and 1 other agency." in one.output  # 11 without an official: ten, then one
    vi = run("invite", "bulk", "--campaign", "1", str(tmp_path / "d.xlsx"), *bot, "--all")
    assert "Đã tạo 4 mã mời cho cán bộ đầu mối của 3 cơ quan" in vi.output
    assert "Đã thu hồi 4 mã mời cũ" in vi.output  # every earlier code not yet revoked
    listed = run(*en, "invite", "list", "--db", str(db)).output
    assert "\t1 use left\t" in listed and "uses left" not in listed.replace("0 uses left", "")
    made = run(*en, "invite", "create", "--agency", "SYT", "--uses", "1", *bot)
    assert ", 1 use, expires" in made.output
    made = run(*en, "invite", "create", "--agency", "SYT", "--uses", "2", *bot)
    assert ", 2 uses, expires" in made.output


async def _add_person(db: Path, agency: str, name: str) -> None:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with storage.unit() as u:
            person = {"agency_code": agency, "name": name, "role": "official"}
            await u.import_directory([], [person])
    finally:
        await storage.close()
