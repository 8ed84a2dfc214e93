"""`phieu campaign …` as a Sở TTTT administrator meets it (issue #9), with officials answering
through the service in between: no command orphans answers, each agency answers its own
forms, dates in the past and forms no targeted cohort answers are refused in Vietnamese, an
extension reaches every identity of the targeted officials.

The commands run through typer's CliRunner on a SQLite file (--db); the storage they use is
tested on both databases in test_campaigns_storage.py.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.render import as_plain_text, reply_from_json
from bot.service import Phieu, Sender
from flows.state import Incoming
from storage import Storage

TODAY = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
DUE = TODAY + timedelta(days=30)
YEAR = str(DUE.year)
SO_FORM = "binh-dinh-2019-so"
WEBSITE = "dien-bien-2014-website"


def day(d: date) -> str:
    return f"{d:%d/%m/%Y}"


def cli(db: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(cli_app, [*args, "--db", str(db)], env=env)
    out = result.output
    assert "Traceback" not in out, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    for leak in ("UNIQUE constraint", "IntegrityError", "sqlite3", "asyncpg"):
        assert leak not in out, out
    return result


def agency(db: Path, code: str, cohort: str = "so", name: str | None = None) -> None:
    r = cli(
        db,
        "agencies",
        "add",
        "--code",
        code,
        "--name",
        name or f"Cơ quan {code}",
        "--cohort",
        cohort,
    )
    assert r.exit_code == 0, r.output


async def _with(db: Path, work: Any) -> Any:
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    try:
        return await work(storage)
    finally:
        await storage.close()


def official(db: Path, code: str, *channels: str) -> None:
    """An official of agency `code`, with one identity per channel ("telegram:ID")."""

    async def work(storage: Storage) -> None:
        async with storage.unit() as u:
            rec = await u.agency_by_code(code)
            assert rec is not None
            user = await u.add_user(f"Cán bộ {code}", rec.id, "official")
            for ch in channels:
                channel, external = ch.split(":", 1)
                await u.bind_identity(user.id, channel, external, None)

    asyncio.run(_with(db, work))


_updates = iter(range(1, 10**9))


def say(db: Path, chat: str, *texts: str) -> str:
    """An official types `texts` in chat "channel:id"; what the bot answered."""
    channel, external = chat.split(":", 1)

    async def work(storage: Storage) -> str:
        phieu = Phieu(storage)
        out = []
        for text in texts:
            incoming = Incoming(text=text)
            await phieu.handle(channel, external, str(next(_updates)), incoming, Sender(external))
            async with storage.unit() as u:
                rows = await u.pending_for_chat(channel, external)
                for r in rows:
                    await u.mark_sent(r.id, datetime.now(UTC))
            out += [as_plain_text(reply_from_json(r.payload)) for r in rows]
        return "\n".join(out)

    return str(asyncio.run(_with(db, work)))


def answers(db: Path, campaign_id: int, code: str) -> dict[str, Any]:
    async def work(storage: Storage) -> dict[str, Any]:
        async with storage.unit() as u:
            rec = await u.agency_by_code(code)
            assert rec is not None
            sub = await u.submission(campaign_id, rec.id, create=False)
            if sub is None:
                return {}
            return {k: a.value for k, a in (await u.load_answers(sub.id)).items()}

    return dict(asyncio.run(_with(db, work)))


def outbox(db: Path) -> list[Any]:
    async def work(storage: Storage) -> list[Any]:
        from sqlalchemy import select

        from storage.models import Outbox

        async with storage.engine.connect() as conn:
            return list((await conn.execute(select(Outbox).order_by(Outbox.id))).all())

    return list(asyncio.run(_with(db, work)))


def opened_id(output: str) -> int:
    found = re.search(r"Đã mở đợt #(\d+)", output)
    assert found, output
    return int(found.group(1))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "phieu.db"


# -- the slips --------------------------------------------------------------------------


def test_opening_the_same_form_twice_is_refused_and_answers_stay_reachable(db: Path) -> None:
    agency(db, "STTTT")
    official(db, "STTTT", "telegram:lan")
    first = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR)
    assert first.exit_code == 0, first.output
    cid = opened_id(first.output)
    say(db, "telegram:lan", "/sua 3.1.a", "12")
    assert answers(db, cid, "STTTT") == {"3.1.a": 12}

    # The realistic slip: the same command again (or with another deadline).
    for deadline in (DUE, DUE + timedelta(days=3)):
        again = cli(
            db, "campaign", "open", "--form", SO_FORM, "--deadline", day(deadline), "--year", YEAR
        )
        assert again.exit_code == 1
        assert f"Đã có đợt #{cid}" in again.output and "năm báo cáo " + YEAR in again.output
        assert "STTTT" in again.output and f"phieu campaign extend {cid}" in again.output
    listed = cli(db, "campaign", "list")
    assert listed.output.count(SO_FORM) == 1  # nothing was opened

    # The official goes on in the same campaign, the answer still there.
    out = say(db, "telegram:lan", "5")
    assert "✅ Đã lưu 3.1.b: 5" in out and "phiếu cần trả lời" not in out
    assert answers(db, cid, "STTTT") == {"3.1.a": 12, "3.1.b": 5}


def test_a_second_form_only_reaches_the_agencies_it_targets(db: Path) -> None:
    """Bình Định's departments answer their yearly form; opening Điện Biên's website survey
    for Điện Biên's agencies changes nothing for them (issue #9: "đã quá hạn 4.521 ngày")."""
    agency(db, "BD-STTTT")
    agency(db, "BD-SYT")
    agency(db, "DB-STTTT")
    official(db, "BD-STTTT", "telegram:bd")
    official(db, "DB-STTTT", "telegram:db")
    yearly = cli(
        db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR,
        "--agency", "BD-STTTT,BD-SYT",
    )  # fmt: skip
    assert yearly.exit_code == 0, yearly.output
    yid = opened_id(yearly.output)
    say(db, "telegram:bd", "/sua 3.1.a", "12")

    web = cli(
        db, "campaign", "open", "--form", WEBSITE, "--deadline", day(DUE), "--year", YEAR,
        "--agency", "db-stttt",  # codes are matched without regard to case
    )  # fmt: skip
    assert web.exit_code == 0, web.output
    assert "1 cơ quan" in web.output
    wid = opened_id(web.output)

    bd = say(db, "telegram:bd", "7")
    assert "✅ Đã lưu 3.1.b: 7" in bd and "Điện Biên" not in bd and "quá hạn" not in bd
    assert answers(db, yid, "BD-STTTT") == {"3.1.a": 12, "3.1.b": 7}
    db_out = say(db, "telegram:db", "/start")
    assert "Điện Biên" in db_out and "BÌNH ĐỊNH" not in db_out
    assert answers(db, wid, "BD-STTTT") == {}


def test_an_agency_in_two_campaigns_is_told_and_its_officials_choose(db: Path) -> None:
    agency(db, "STTTT")
    official(db, "STTTT", "telegram:lan")
    first = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR)
    say(db, "telegram:lan", "/sua 3.1.a", "12")
    second = cli(
        db, "campaign", "open", "--form", WEBSITE, "--deadline", day(DUE), "--year", YEAR,
        "--agency", "STTTT", "--name", "Khảo sát website",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert f"đợt khác mở (#{opened_id(first.output)})" in second.output
    # Lan heard of each campaign when it opened: the second time, how to choose.
    told = [r.payload["text"] for r in outbox(db) if r.kind == "notice"]
    assert len(told) == 2 and "Gõ /menu để bắt đầu" in told[0]
    assert "Có phiếu mới cần trả lời: “Khảo sát website”" in told[1] and "/phieu" in told[1]
    assert "Đã xếp 1 tin báo cho 1 cán bộ" in second.output
    out = say(db, "telegram:lan", "/phieu")
    assert "đang có 2 phiếu" in out and "Khảo sát website" in out
    assert answers(db, opened_id(first.output), "STTTT") == {"3.1.a": 12}


# -- refused or warned ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--form", SO_FORM, "--deadline", day(TODAY - timedelta(days=1)), "--year", YEAR),
            f"--deadline {day(TODAY - timedelta(days=1))} đã qua (hôm nay là {day(TODAY)})",
        ),
        (("--form", SO_FORM, "--deadline", "31/02/2027", "--year", YEAR), "Ngày không hợp lệ"),
        (("--form", "khong-co", "--deadline", day(DUE)), "Không có mẫu phiếu 'khong-co'"),
        (
            ("--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR, "--cohort", "xa"),
            "khối xa không trả lời mẫu này",
        ),
        (
            ("--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR, "--cohort", "tinh"),
            "khối 'tinh' không có",
        ),
        (("--form", SO_FORM, "--deadline", day(DUE)), "Cho biết năm báo cáo"),
        (
            ("--form", SO_FORM, "--deadline", day(DUE), "--year", str(DUE.year + 1)),
            "năm báo cáo phải từ 1990 đến năm của hạn nộp",
        ),
        (
            ("--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR, "--agency", "KHONGCO"),
            "Không có cơ quan mã KHONGCO",
        ),
        (
            ("--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR, "--opens",
             day(DUE + timedelta(days=1))),
            "ngày mở phải trước hạn nộp",
        ),
    ],
)  # fmt: skip
def test_open_refuses_in_vietnamese(db: Path, args: tuple[str, ...], message: str) -> None:
    agency(db, "STTTT")
    r = cli(db, "campaign", "open", *args)
    assert r.exit_code in (1, 2) and message in r.output, r.output
    assert "Chưa có đợt nào" in cli(db, "campaign", "list").output  # nothing was opened


def test_open_warns_about_named_agencies_outside_the_form_s_cohorts_and_empty_targets(
    db: Path,
) -> None:
    agency(db, "XA1", "xa")
    r = cli(
        db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR,
        "--agency", "XA1",
    )  # fmt: skip
    assert r.exit_code == 0 and "Cảnh báo: XA1 không thuộc khối" in r.output
    r = cli(db, "campaign", "open", "--form", "binh-dinh-2019-huyen", "--deadline", day(DUE),
            "--year", YEAR)  # fmt: skip
    assert r.exit_code == 0 and "chưa có cơ quan nào thuộc đợt này (khối huyen)" in r.output


def test_the_form_s_own_year_needs_no_year_option(db: Path) -> None:
    agency(db, "STTTT")
    r = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", "26/11/2019")
    assert r.exit_code == 2 and "đã qua" in r.output  # 2019 is past: refused for that
    # A future deadline in another year than the form's: the year must be said.
    r = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE))
    assert "--year" in r.output and "Mẫu phiếu binh-dinh-2019-so viết cho năm 2019" in r.output


def test_an_opens_date_keeps_the_campaign_from_officials_until_then(db: Path) -> None:
    agency(db, "STTTT")
    official(db, "STTTT", "telegram:lan")
    later = TODAY + timedelta(days=5)
    r = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR,
            "--opens", day(later))  # fmt: skip
    assert r.exit_code == 0 and f"Cán bộ thấy đợt này từ ngày {day(later)}" in r.output
    assert f"\tsắp mở (từ {day(later)})\t" in cli(db, "campaign", "list").output
    assert "Hiện chưa có đợt thu thập phiếu nào đang mở" in say(db, "telegram:lan", "/start")


# -- close, extend, add, list --------------------------------------------------------------------


def test_close_keeps_answers_and_stops_the_officials(db: Path) -> None:
    agency(db, "STTTT")
    official(db, "STTTT", "telegram:lan")
    cid = opened_id(
        cli(
            db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR
        ).output
    )
    say(db, "telegram:lan", "/sua 3.1.a", "12")
    r = cli(db, "campaign", "close", str(cid))
    assert r.exit_code == 0 and f"Đã đóng đợt #{cid}" in r.output and "0/1 cơ quan" in r.output
    assert "Hiện chưa có đợt" in say(db, "telegram:lan", "15")
    assert answers(db, cid, "STTTT") == {"3.1.a": 12}
    again = cli(db, "campaign", "close", str(cid))
    assert again.exit_code == 1 and f"Đợt #{cid} đã đóng" in again.output
    assert cli(db, "campaign", "close", "99").output.startswith("Không có đợt #99")
    # A closed campaign is no duplicate: the same form and year may be opened anew.
    r = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR)
    assert r.exit_code == 0, r.output


def test_extend_queues_a_notice_to_every_identity_of_the_targeted_officials(db: Path) -> None:
    agency(db, "STTTT")
    agency(db, "SYT")
    agency(db, "OTHER")
    official(db, "STTTT", "telegram:lan", "zalo:lan-zalo")
    official(db, "SYT", "telegram:minh")
    official(db, "SYT")  # never opened the bot
    official(db, "OTHER", "telegram:other")
    cid = opened_id(
        cli(
            db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR,
            "--agency", "STTTT,SYT", "--name", "Năm " + YEAR,
        ).output
    )  # fmt: skip
    before = len(outbox(db))
    new = DUE + timedelta(days=10)
    r = cli(db, "campaign", "extend", str(cid), "--deadline", day(new), "--note", "Do mưa lũ")
    assert r.exit_code == 0, r.output
    assert f"{day(DUE)} → {day(new)}" in r.output
    assert "Đã xếp 3 tin báo cho 2 cán bộ" in r.output and "1 cán bộ chưa mở bot" in r.output
    rows = outbox(db)[before:]
    assert sorted((row.channel, row.chat_id) for row in rows) == [
        ("telegram", "lan"),
        ("telegram", "minh"),
        ("zalo", "lan-zalo"),
    ]
    for row in rows:
        assert row.kind == "notice"
        assert f"hạn nộp mới là {day(new)} (trước đây {day(DUE)})" in row.payload["text"]
        assert "Do mưa lũ" in row.payload["text"]
    listed = cli(db, "campaign", "list").output
    assert f"hạn {day(new)}" in listed

    # Earlier, past, or without notices.
    r = cli(db, "campaign", "extend", str(cid), "--deadline", day(DUE))
    assert r.exit_code == 2 and "phải sau hạn hiện tại" in r.output
    r = cli(db, "campaign", "extend", str(cid), "--deadline", day(TODAY - timedelta(days=1)))
    assert r.exit_code == 2 and "đã qua" in r.output
    count = len(outbox(db))
    r = cli(db, "campaign", "extend", str(cid), "--deadline", day(new + timedelta(days=1)),
            "--no-notify")  # fmt: skip
    assert r.exit_code == 0 and "tin báo" not in r.output and len(outbox(db)) == count


def test_add_agencies_and_cohorts(db: Path) -> None:
    agency(db, "STTTT")
    agency(db, "SYT")
    agency(db, "H1", "huyen")
    cid = opened_id(
        cli(
            db, "campaign", "open", "--form", WEBSITE, "--deadline", day(DUE), "--year", YEAR,
            "--agency", "STTTT",
        ).output
    )  # fmt: skip
    official(db, "STTTT", "telegram:lan")
    official(db, "SYT", "telegram:minh")
    notices = len(outbox(db))
    r = cli(db, "campaign", "add", str(cid), "--agency", "syt")
    assert r.exit_code == 0 and "1 → 2 cơ quan" in r.output
    # Only the newly added agency's officials hear of it.
    assert [(x.chat_id, x.kind) for x in outbox(db)[notices:]] == [("minh", "notice")]
    r = cli(db, "campaign", "add", str(cid), "--agency", "syt")
    assert r.exit_code == 0 and len(outbox(db)) == notices + 1  # nothing new, nobody told
    r = cli(db, "campaign", "add", str(cid), "--cohort", "huyện", "--no-notify")
    assert r.exit_code == 0 and "2 → 3 cơ quan" in r.output and "tin báo" not in r.output
    r = cli(db, "campaign", "add", str(cid), "--agency", "SYT,NOPE")
    assert r.exit_code == 1 and "Không có cơ quan mã NOPE" in r.output
    r = cli(db, "campaign", "add", str(cid), "--cohort", "xa")
    assert r.exit_code == 2 and "khối xa không trả lời mẫu này" in r.output
    r = cli(db, "campaign", "add", str(cid))
    assert r.exit_code == 2 and "--agency MÃ hoặc --cohort" in r.output
    # Another reporting year of the same form is another campaign: no duplicate.
    other = cli(db, "campaign", "open", "--form", WEBSITE, "--deadline", day(DUE), "--year",
                str(DUE.year - 1), "--agency", "STTTT")  # fmt: skip
    assert other.exit_code == 0, other.output
    # A second campaign of the same form and year cannot take an agency of the first.
    agency(db, "NEW")
    third = cli(db, "campaign", "open", "--form", WEBSITE, "--deadline", day(DUE), "--year",
                YEAR, "--agency", "NEW")  # fmt: skip
    assert third.exit_code == 0, third.output
    r = cli(db, "campaign", "add", str(opened_id(third.output)), "--agency", "SYT")
    assert r.exit_code == 1 and f"Đã có đợt #{cid}" in r.output and "SYT" in r.output
    r = cli(db, "campaign", "add", str(opened_id(third.output)), "--cohort", "huyen")
    assert r.exit_code == 1 and f"Đã có đợt #{cid}" in r.output


def test_list_prints_a_line_when_empty_and_one_line_per_campaign(db: Path) -> None:
    r = cli(db, "campaign", "list")
    assert r.exit_code == 0 and r.output.startswith("Chưa có đợt nào. Mở đợt: phieu campaign open")
    agency(db, "STTTT")
    cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR,
        "--name", "Năm nay")  # fmt: skip
    line = cli(db, "campaign", "list").output.strip()
    assert line == (f"#1\t{SO_FORM} v1\tnăm {YEAR}\thạn {day(DUE)}\tđang mở\t1 cơ quan\tNăm nay")
    none = cli(db, "campaign", "list", "--status", "closed").output
    assert none.startswith("Không có đợt nào ở trạng thái “đã đóng”. Xem tất cả các đợt: ")
    assert "--status phải là một trong" in cli(db, "campaign", "list", "--status", "x").output


def test_list_says_soon_open_overdue_and_no_campaign_of_a_status(db: Path) -> None:
    """A campaign opening later was listed "đang mở", one past its deadline too, and
    `--status draft` with no draft said there were no campaigns at all."""
    agency(db, "STTTT")

    async def work(storage: Storage) -> None:
        async with storage.unit() as u:
            late = TODAY - timedelta(days=3)
            await u.add_campaign(SO_FORM, 1, "Quá hạn", late, reporting_year=int(YEAR))
            await u.add_campaign(SO_FORM, 1, "Hạn hôm nay", TODAY, reporting_year=int(YEAR))
            await u.add_campaign(
                WEBSITE, 1, "Sắp mở", DUE, reporting_year=int(YEAR), opens_on=TODAY + timedelta(1)
            )

    asyncio.run(_with(db, work))
    lines = cli(db, "campaign", "list").output.splitlines()
    assert "\tđang mở, quá hạn 3 ngày\t" in lines[0]
    assert "\tđang mở\t" in lines[1]  # the deadline day is whole: not overdue yet
    assert f"\tsắp mở (từ {day(TODAY + timedelta(1))})\t" in lines[2]
    en = cli(db, "--lang", "en", "campaign", "list").output.splitlines()
    assert "\topen, overdue by 3 day(s)\t" in en[0]
    assert f"\topens soon (from {day(TODAY + timedelta(1))})\t" in en[2]
    r = cli(db, "campaign", "list", "--status", "draft")
    assert r.exit_code == 0 and r.output == (
        "Không có đợt nào ở trạng thái “nháp”. Xem tất cả các đợt: phieu campaign list\n"
    )
    r = cli(db, "--lang", "en", "campaign", "list", "--status", "draft")
    assert r.output == "No campaign is “draft”. See them all: phieu campaign list\n"


def test_a_draft_is_prepared_unseen_then_started(db: Path) -> None:
    agency(db, "STTTT")
    official(db, "STTTT", "telegram:lan")
    r = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR,
            "--draft")  # fmt: skip
    assert r.exit_code == 0 and "là bản nháp" in r.output, r.output
    cid = opened_id(r.output)
    assert "\tnháp\t" in cli(db, "campaign", "list").output
    assert "Hiện chưa có đợt" in say(db, "telegram:lan", "/start")
    # A draft counts as a duplicate too: no second campaign of the form and year beside it.
    dup = cli(db, "campaign", "open", "--form", SO_FORM, "--deadline", day(DUE), "--year", YEAR)
    assert dup.exit_code == 1 and f"Đã có đợt #{cid}" in dup.output
    r = cli(db, "campaign", "start", str(cid))
    assert r.exit_code == 0 and f"Đã mở đợt #{cid}" in r.output and "1 cơ quan" in r.output
    assert "\tđang mở\t" in cli(db, "campaign", "list").output
    assert "BÌNH ĐỊNH" in say(db, "telegram:lan", "/start")
    again = cli(db, "campaign", "start", str(cid))
    assert again.exit_code == 1 and "không phải bản nháp" in again.output
