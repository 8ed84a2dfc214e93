"""`phieu chat` driven as a real subprocess, the way a newcomer meets Phiếu.

Each run is the installed command (`python -m bot.cli chat --db …`) with messages piped on
stdin, one per line. The console echoes each line as "> line" and prints what the outbox
delivered after the commit, so what is asserted here is what the official really reads.
Two processes on the same file show that an interrupted session resumes where it stopped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 60  # seconds; a run takes ~1-2 s, the margin is for slow CI machines

# Items of section 3 that may be asked before any answer rules a follow-up out: the 19 always
# visible (3.1.a-b, 3.2.a, 3.2.b.1-4, 3.2.b, 3.2.c, 3.3, 3.4, 3.5, 3.6, 3.7.a-d, 3.7.đ, 3.8)
# + the follow-ups a "Có" would open (3.6.a, 3.7.a.1, 3.7.b.1, the 3.8 table: 5 × 2 + 3.8.6).
SECTION_3_BASE = 33
# What this official's answers make visible: + 3.6.a, 3.7.a.1, the table (5 × Có, 2 ×
# Số lượng) and the open list 3.8.6 = 29.
SECTION_3_ANSWERED = frozenset(
    (  # noqa: SIM905 - ids read better as one string
        "3.1.a 3.1.b 3.2.a 3.2.b.1 3.2.b.2 3.2.b.3 3.2.b.4 3.2.b 3.2.c 3.3 3.4 3.5 3.6 3.6.a "
        "3.7.a 3.7.a.1 3.7.b 3.7.c 3.7.d 3.7.đ 3.8 3.8.1.co 3.8.1.so_luong 3.8.2.co 3.8.3.co "
        "3.8.4.co 3.8.4.so_luong 3.8.5.co 3.8.6"
    ).split()
)
# How the official reads a table cell's number: the row's number and the column's name.
SHOWN = {"co": "Có", "so_luong": "Số lượng"}


def shown_id(item: str) -> str:
    head, _, column = item.rpartition(".")
    return f"{head} ({SHOWN[column]})" if column in SHOWN else item


def run_phieu(db: Path, lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `phieu chat --db DB [args]` with `lines` piped in, as a newcomer would."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONWARNINGS")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--db", str(db), *args],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        cwd=db.parent,
        env=env,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def chat(db: Path, lines: list[str] | None = None, *args: str) -> list[tuple[str, str]]:
    """The turns `phieu chat` printed: (what was typed, what Phiếu answered).

    The first turn's input is "" (the menu the console shows on start). Fails on a
    non-zero exit, a traceback or anything on stderr.
    """
    proc = run_phieu(db, lines or [], *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    return turns(proc.stdout)


def turns(stdout: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("", "")]
    for line in stdout.splitlines():
        if line.startswith("> "):
            out.append((line[2:], ""))
        else:
            typed, said = out[-1]
            out[-1] = (typed, f"{said}\n{line}" if said else line)
    return [(typed, said.strip("\n")) for typed, said in out]


def reply_to(conversation: list[tuple[str, str]], typed: str, nth: int = 1) -> str:
    """What Phiếu answered the `nth` time the official typed `typed`."""
    hits = [said for t, said in conversation if t == typed]
    assert len(hits) >= nth, f"{typed!r} typed {len(hits)} times, wanted #{nth}"
    return hits[nth - 1]


def all_replies(conversation: list[tuple[str, str]]) -> str:
    return "\n".join(said for _, said in conversation)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "phieu.db"


# The first sitting: the staff counts of section 1 (the cross-check of 3.1.a and the ratio
# 3.2.c read them), then section 3 from the menu, with the usual slips, up to 3.3.
FIRST_SITTING = [
    "/sua 1.8",
    "30",
    "/sua 1.9",
    "50",
    "/menu",
    "4",  # the menu's fourth line is "Mục 3"
    "mười hai",  # 3.1.a: words in a number field
    "45",  # 3.1.a: more than the 30 of 1.8 → cross-item check fails
    "/sua 3.1.a",
    "25",  # fixed
    "-3",  # 3.1.b: a negative count
    "1,5",  # 3.1.b: a fraction of a person
    "40",
    "35",  # 3.2.a
    "1.5",  # 3.2.b.1: "1.5" may be 1,5 or 15 (dot as thousands separator) → confirm
    "1",  # ✅ Đúng
    "20",  # 3.2.b.2
    "10",  # 3.2.b.3
    "0",  # 3.2.b.4 (optional, answered anyway)
    "1",  # 3.2.b computed: ✅ Đúng
    "1",  # 3.2.c computed: ✅ Đúng
    "5",  # 3.3
    "/quit",
    "999",  # after /quit: must not be read
]

SECOND_SITTING = [
    "/xem 3",
    "/tiep",
    "ba",  # 3.4: words again
    "3",
    "4",  # 3.5
    "co",  # 3.6: "Có" typed without accents
    "Mạng truyền số liệu chuyên dùng",  # 3.6.a (asked because 3.6 = Có)
    "1",  # 3.7.a Có
    "0",  # 3.7.a.1: "Số lượng" after Có must be at least 1
    "2",
    "Không",  # 3.7.b (so 3.7.b.1 is not asked)
    "1",  # 3.7.c
    "1",  # 3.7.d
    "120",  # 3.7.đ
    "Có",  # 3.8 → its table of solutions
    "1",  # 3.8.1.co Băng từ: Có
    "2",  # 3.8.1.so_luong
    "2",  # 3.8.2.co Tủ đĩa: Không
    "2",  # 3.8.3.co SAN: Không
    "1",  # 3.8.4.co NAS: Có
    "1",  # 3.8.4.so_luong
    "2",  # 3.8.5.co DAS: Không
    "Sao lưu đám mây",  # 3.8.6 (open list): the number column missing
    "Sao lưu đám mây; 2",
    "Xong",
    "/menu",
    "/xem 3",
    "/quit",
]


def test_newcomer_fills_section_3_over_two_sittings(db: Path) -> None:
    first = chat(db, FIRST_SITTING)

    # First run: the demo agency and its campaign exist, the menu shows the 8 sections.
    assert "Sở Thông tin và Truyền thông (demo)" in first[0][1]
    assert f"◻ Mục 3 — 0/{SECTION_3_BASE} · HẠ TẦNG KỸ THUẬT" in first[0][1]
    assert "✅ Đã lưu 1.8: 30 người" in reply_to(first, "30")
    assert "Mục 3 · 3.1.a · câu 1/33" in reply_to(first, "4")

    wrong = reply_to(first, "mười hai")
    assert wrong.startswith("❗") and "Ví dụ:" in wrong and "Đã lưu" not in wrong
    assert "Mục 3 · 3.1.a" in wrong  # the same question again

    check = reply_to(first, "45")
    assert "✅ Đã lưu 3.1.a: 45 người" in check
    assert "không được lớn hơn tổng số CBCC khối Văn phòng (1.8)" in check
    assert "3.1.a = 45 người; 1.8 = 30 người" in check
    assert "/sua 3.1.a" in check  # the way out is offered
    assert "✅ Đã lưu 3.1.a: 25 người" in reply_to(first, "25")

    negative = reply_to(first, "-3")
    assert "số âm" in negative and "Ví dụ:" in negative and "Đã lưu" not in negative
    fraction = reply_to(first, "1,5")
    assert "số nguyên" in fraction and "Ví dụ:" in fraction and "Đã lưu" not in fraction
    assert "✅ Đã lưu 3.1.b: 40 người" in reply_to(first, "40")

    ambiguous = reply_to(first, "1.5")
    assert "Ý anh/chị là 1,5?" in ambiguous and "Đã lưu" not in ambiguous
    assert "✅ Đã lưu 3.2.b.1: 1,5 Mbps" in reply_to(first, "1", nth=1)
    assert "✅ Đã lưu 3.2.b.4: 0 Mbps" in reply_to(first, "0")
    # (1,5 + 20) × 5 + 10 + 0 = 117,5; 117,5 / (30 + 50) = 1,469 (rounded for display)
    assert "Giá trị tính được: 117,5 Mbps" in reply_to(first, "0")
    assert "✅ Đã lưu 3.2.b: 117,5 Mbps" in reply_to(first, "1", nth=2)
    assert "✅ Đã lưu 3.2.c: 1,469 Mbps" in reply_to(first, "1", nth=3)
    assert "Mục 3 · 3.4 · câu 11/33" in reply_to(first, "5")
    assert first[-1][0] == "5"  # "/quit" ended the session; "999" was never read
    assert "Traceback" not in all_replies(first)

    second = chat(db, SECOND_SITTING)

    # Resumed: 10 of the 33 items answered, and every value kept.
    assert f"◻ Mục 3 — 10/{SECTION_3_BASE} · HẠ TẦNG KỸ THUẬT" in second[0][1]
    saved = reply_to(second, "/xem 3", nth=1)
    for line in (
        "3.1.a: 25 người",
        "3.1.b: 40 người",
        "3.2.a: 35 máy",
        "3.2.b.1: 1,5 Mbps",
        "3.2.b.2: 20 Mbps",
        "3.2.b.3: 10 Mbps",
        "3.2.b.4: 0 Mbps",
        "3.2.b: 117,5 Mbps",
        "3.2.c: 1,469 Mbps",
        "3.3: 5 máy",
        "3.4: —",  # not "999"
    ):
        assert line in saved.splitlines(), (line, saved)
    assert "Mục 3 · 3.4 · câu 11/33" in reply_to(second, "/tiep")  # the same question

    assert "Ví dụ:" in reply_to(second, "ba")
    assert "✅ Đã lưu 3.6: Có" in reply_to(second, "co")
    # The follow-up appears, and the total does not move under the official's feet.
    assert "3.6.a · câu 14/33" in reply_to(second, "co")
    too_few = reply_to(second, "0")
    assert "từ 1 trở lên" in too_few and "Ví dụ:" in too_few
    assert "✅ Đã lưu 3.7.a.1: 2 thiết bị" in reply_to(second, "2", nth=1)
    assert "✅ Đã lưu 3.7.b: Không" in reply_to(second, "Không")
    missing = reply_to(second, "Sao lưu đám mây")
    assert "Số lượng" in missing and "Ví dụ:" in missing
    assert "Đã lưu dòng 1 của mục 3.8.6" in reply_to(second, "Sao lưu đám mây; 2")

    done = all_replies(second)
    assert "🎉 Đã xong Mục 3." in done
    menu = reply_to(second, "/menu")
    assert "✅ Mục 3 — 29/29 · HẠ TẦNG KỸ THUẬT" in menu
    final = reply_to(second, "/xem 3", nth=2)
    for line in (
        "3.6.a: Mạng truyền số liệu chuyên dùng",
        "3.7.đ: 120 máy",
        "3.8.4 (Số lượng): 1 thiết bị",  # the column's name, never its id "so_luong"
    ):
        assert line in final.splitlines(), (line, final)
    assert "3.8.6: Sao lưu đám mây; 2 thiết bị" in final

    # Every visible item of section 3 was acknowledged: 3.1.a twice (45, then 25), the others
    # once, the open list 3.8.6 by its row ("Đã lưu dòng 1").
    acked = re.findall(r"✅ Đã lưu (3\.[^:]+):", all_replies(first + second))
    assert sorted(set(acked)) == sorted(shown_id(i) for i in SECTION_3_ANSWERED - {"3.8.6"})
    assert acked.count("3.1.a") == 2
    assert len(acked) == len(SECTION_3_ANSWERED)

    # A third start on the same file still shows the section complete.
    third = chat(db, [])
    assert "✅ Mục 3 — 29/29" in third[0][1]


def test_script_mode_skips_comments_and_blank_lines(db: Path, tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text(
        "# Kịch bản: mở mục 3 và trả lời hai câu\n"
        "\n"
        "/sua 3.1.a\n"
        "   # a comment indented, even while a number is expected\n"
        "12\n"
        "#45\n"
        "abc\n"
        "40\n"
        "/quit\n"
        "7\n",
        encoding="utf-8",
    )
    conversation = chat(db, None, "--script", str(script))
    typed = [t for t, _ in conversation[1:]]
    assert typed == ["/sua 3.1.a", "12", "abc", "40"]  # echoed; comments, blanks, /quit not
    assert "✅ Đã lưu 3.1.a: 12 người" in reply_to(conversation, "12")
    assert "Ví dụ:" in reply_to(conversation, "abc")
    assert "✅ Đã lưu 3.1.b: 40 người" in reply_to(conversation, "40")

    after = chat(db, ["/xem 3"])
    saved = reply_to(after, "/xem 3").splitlines()
    assert "3.1.a: 12 người" in saved  # not 45: "#45" was a comment
    assert "3.2.a: —" in saved  # nothing after /quit was read


def test_a_district_agency_chats_on_the_district_form(db: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    added = CliRunner().invoke(
        app,
        [
            "agencies",
            "add",
            "--code",
            "QN",
            "--name",
            "UBND thành phố Quy Nhơn",
            "--cohort",
            "huyen",
            "--db",
            str(db),
        ],
    )
    assert added.exit_code == 0, added.output
    menu = chat(db, ["/sua 3.5"], "--agency", "QN")
    assert "Cơ quan: UBND thành phố Quy Nhơn" in menu[0][1]
    assert "UBND CÁC HUYỆN" in menu[0][1]
    assert "Tổng số máy quét (Scan)" in reply_to(menu, "/sua 3.5")


def test_chatting_as_an_agency_never_creates_a_campaign_where_the_desk_set_them_up(
    db: Path,
) -> None:
    """The demo campaign is for a database without any campaign. Where the Sở TTTT has
    opened campaigns, `phieu chat --agency X` for an agency none targets says so and leaves
    the campaigns alone: no "năm 2027" campaign for every agency appears."""
    from datetime import date, timedelta

    from typer.testing import CliRunner

    from bot.cli import app

    runner = CliRunner()
    at = ["--db", str(db)]
    for code, name, cohort in (
        ("STTTT", "Sở Thông tin và Truyền thông", "so"),
        ("QN", "UBND thành phố Quy Nhơn", "huyen"),
        ("NL", "UBND xã Nhơn Lý", "xa"),
    ):
        added = runner.invoke(
            app, ["agencies", "add", "--code", code, "--name", name, "--cohort", cohort, *at]
        )
        assert added.exit_code == 0, added.output
    due = date.today() + timedelta(days=30)
    when = ["--year", str(due.year), "--deadline", due.strftime("%d/%m/%Y")]
    opened = runner.invoke(app, ["campaign", "open", "--form", "binh-dinh-2019-so", *when, *at])
    assert opened.exit_code == 0, opened.output
    before = runner.invoke(app, ["campaign", "list", *at]).output
    for code in ("QN", "NL"):
        menu = chat(db, [], "--agency", code)
        assert "chưa có đợt thu thập phiếu nào đang mở" in menu[0][1]
    after = runner.invoke(app, ["campaign", "list", *at]).output
    assert after == before and "#2" not in after


def test_chatting_as_an_agency_with_imported_officials_is_one_of_them(db: Path) -> None:
    """`phieu chat --agency STTTT` on a database where the desk imported STTTT's official
    answers as that official: no extra "Cán bộ đầu mối" appears (it would be reminded and
    counted as one more official of the agency)."""
    import asyncio

    from typer.testing import CliRunner

    from bot.cli import app
    from storage import Storage

    at = ["--db", str(db)]
    added = CliRunner().invoke(
        app, ["agencies", "add", "--code", "STTTT", "--name", "Sở TTTT", "--cohort", "so", *at]
    )
    assert added.exit_code == 0, added.output

    async def people(add: bool) -> list[tuple[str, str]]:
        storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
        try:
            async with storage.unit() as u:
                agency = await u.agency_by_code("STTTT")
                assert agency is not None
                if add:
                    await u.add_user("Trần Thị B", agency.id, "official")
                return [(p.name, p.role) for p in await u.people_of([agency.id])]
        finally:
            await storage.close()

    assert asyncio.run(people(True)) == [("Trần Thị B", "official")]
    menu = chat(db, [], "--agency", "STTTT")
    assert "Xin chào Trần Thị B!" in menu[0][1]
    chat(db, [], "--agency", "STTTT")  # and again: still one person
    assert asyncio.run(people(False)) == [("Trần Thị B", "official")]


def test_unknown_agency_is_refused_without_a_traceback(db: Path) -> None:
    proc = run_phieu(db, [], "--agency", "NOPE")
    assert proc.returncode != 0
    assert "Không có cơ quan mã 'NOPE'" in proc.stdout + proc.stderr


def test_a_set_up_database_gets_no_demo_agency(db: Path) -> None:
    """On a database the Sở TTTT has set up, `phieu chat` without --agency must not add a
    demo agency (it would join the open campaign: counted, reminded, exported)."""
    import asyncio

    from storage import Storage

    async def seed() -> None:
        storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
        try:
            async with storage.unit() as u:
                await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
        finally:
            await storage.close()

    async def codes() -> list[str]:
        storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
        try:
            async with storage.unit() as u:
                return [a.code for a in await u.list_agencies()]
        finally:
            await storage.close()

    asyncio.run(seed())
    proc = run_phieu(db, [])
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    said = proc.stdout + proc.stderr
    assert "đã có 1 cơ quan" in said and "phieu chat --agency STTTT" in said
    assert asyncio.run(codes()) == ["STTTT"]  # nothing added
    english = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--lang", "en", "chat", "--db", str(db)],
        input="",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        cwd=db.parent,
        check=False,
    )
    assert "already has 1 agencies" in english.stdout + english.stderr
    assert "phieu chat --agency STTTT" in english.stdout + english.stderr
    assert chat(db, ["/quit"], "--agency", "STTTT")  # the agency itself still chats


def test_a_typed_line_starting_with_hash_is_an_answer(db: Path) -> None:
    """Comments belong to --script files; in the console '#' starts an ordinary message."""
    conversation = chat(db, ["/sua 3.6", "co", "# Mạng LAN nội bộ", "#", "/xem 3"])
    typed = [t for t, _ in conversation[1:]]
    assert typed == ["/sua 3.6", "co", "# Mạng LAN nội bộ", "#", "/xem 3"]  # none skipped
    assert "✅ Đã lưu 3.6.a: # Mạng LAN nội bộ" in reply_to(conversation, "# Mạng LAN nội bộ")
    assert reply_to(conversation, "#") != ""  # answered, never silence
    assert "3.6.a: # Mạng LAN nội bộ" in reply_to(conversation, "/xem 3").splitlines()


def test_the_demo_campaign_is_due_the_next_26_november(db: Path) -> None:
    from datetime import UTC, datetime

    from bot.channels.console import demo_deadline

    due = demo_deadline(datetime.now(UTC).date())
    menu = chat(db, [])[0][1]
    assert f"Hạn nộp: {due:%d/%m/%Y}" in menu


@pytest.mark.parametrize(
    ("lang", "lines", "card", "unknown", "offered", "saved", "next_item"),
    [
        (
            "vi",
            ["/tiep", "/sua 9.9", "/sua 1.1", "2026", "/quit"],
            "Giữ nguyên cả 2 câu",
            "Không có mục “9.9”. Gõ số mục như trên phiếu, ví dụ: /sua 1.1",
            "Phiếu đã điền sẵn: 2027",
            "✅ Đã lưu 1.1: 2026",
            "Phiếu đã điền sẵn: Sở Thông tin và Truyền thông (demo)",
        ),
        (
            "en",
            ["/lang en", "/tiep", "/edit 9.9", "/edit 1.1", "2026", "/quit"],
            "Keep all 2 answers",
            "There is no item “9.9”. Type the item number as shown on the form, "
            "for example: /edit 1.1",
            "Filled in by Phiếu: 2027",
            "✅ Saved 1.1: 2026",
            "Filled in by Phiếu: Sở Thông tin và Truyền thông (demo)",
        ),
    ],
)
def test_sua_inside_the_prefilled_section_asks_the_item_not_the_card(
    db: Path,
    lang: str,
    lines: list[str],
    card: str,
    unknown: str,
    offered: str,
    saved: str,
    next_item: str,
) -> None:
    """NEWCOMER: under "Mục 1: Phiếu đã điền sẵn", `/sua 1.1` showed the card again."""
    talk = chat(db, lines)
    edit = "/sua" if lang == "vi" else "/edit"
    assert card in reply_to(talk, "/tiep")
    # the item itself, with the prefilled value and its one-tap keep, not the card
    asked = reply_to(talk, f"{edit} 1.1")
    assert card not in asked
    assert "1.1" in asked and offered in asked
    # an unknown number (typed before): said politely with an example, the card still there
    wrong = reply_to(talk, f"{edit} 9.9")
    assert unknown in wrong and card in wrong
    # answered: on to the next item of the section, one by one
    after = reply_to(talk, "2026")
    assert saved in after and next_item in after and card not in after
