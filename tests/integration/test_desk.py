"""The administrator's desk on SQLite and PostgreSQL (issue #9): the import in one unit,
re-import, remove/archive, progress figures for a seeded campaign, the answers workbook and
CSV read back."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.desk.answers import export_answers
from bot.desk.progress import campaign_progress, write_progress
from flows.machines import Status
from flows.progress import cohort_totals
from flows.state import Answer
from storage import Storage
from storage.records import Conflict
from tests.engine_driver import inline_form

FORM = inline_form("""
sections:
  - id: "1"
    title: Chung
    items:
      - {id: "1.1", type: integer, text: Số cán bộ, unit: người}
      - {id: "1.2", type: text, text: Ghi chú, required: false}
      - {id: "1.3", type: url, text: Trang thông tin điện tử}
  - id: "2"
    title: Hạ tầng
    items:
      - {id: "2.1", type: yes_no, text: Có mạng WAN, evidence: link}
      - {id: "2.2", type: decimal, text: Băng thông, unit: Mbps, na_allowed: true}
""")
DEADLINE = date(2026, 11, 26)
ON_TIME = datetime(2026, 11, 26, 16, 59, tzinfo=UTC)  # 23:59 in Hà Nội, the deadline day
LATE = datetime(2026, 11, 26, 17, 1, tzinfo=UTC)  # 00:01 the next day there
EARLY = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def agency(code: str, cohort: str, **extra: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "code": code,
        "name": f"Cơ quan {code}",
        "cohort": cohort,
        "address": None,
        "website": None,
        "phone": None,
        "email": None,
        "head": None,
    }
    row.update(extra)
    return row


def person(code: str, name: str, role: str = "official") -> dict[str, str | None]:
    return {"agency_code": code, "name": name, "position": None, "phone": None,
            "email": None, "role": role}  # fmt: skip


async def test_import_is_one_unit_and_reimport_updates(storage: Storage) -> None:
    async with storage.unit() as u:
        counts = await u.import_directory(
            [agency("STTTT", "so"), agency("H1", "huyen")],
            [person("STTTT", "Trần Thị B"), person("h1", "Lê C", "reviewer")],
        )
    assert (counts.agencies_added, counts.people_added) == (2, 2)
    async with storage.unit() as u:
        counts = await u.import_directory(
            [agency("stttt", "so", head="Nguyễn A"), agency("X1", "xa")],
            [person("STTTT", "trần  thị b", "reviewer"), person("X1", "Phạm D")],
        )
    assert counts.agencies_added == 1 and counts.agencies_updated == 1
    assert counts.people_added == 1 and counts.people_updated == 1
    async with storage.unit() as u:
        agencies = await u.list_agencies()
        assert sorted(a.code for a in agencies) == ["H1", "STTTT", "X1"]
        sttt = await u.agency_by_code_ci("sTtTt")
        assert sttt is not None and sttt.head == "Nguyễn A"
        people = await u.people_of([a.id for a in agencies])
        assert sorted((p.name, p.role) for p in people) == [
            ("Lê C", "reviewer"),
            ("Phạm D", "official"),
            ("Trần Thị B", "reviewer"),
        ]
    # A failure halfway (a code the database refuses: too long for PostgreSQL, or a person
    # naming no agency) leaves nothing of the unit behind.
    with pytest.raises(Conflict):
        async with storage.unit() as u:
            await u.import_directory([agency("NEW", "so")], [person("NOWHERE", "Ai")])
    async with storage.unit() as u:
        assert await u.agency_by_code_ci("NEW") is None


async def seed(storage: Storage) -> int:
    """Six agencies in two cohorts at every stage; returns the campaign id."""
    async with storage.unit() as u:
        await u.import_directory(
            [
                agency(c, k)
                for c, k in (
                    ("A", "so"),
                    ("B", "so"),
                    ("C", "so"),
                    ("D", "so"),
                    ("H1", "huyen"),
                    ("H2", "huyen"),
                )
            ],
            [person("A", "Lan"), person("B", "Minh")],
        )
        await u.update_agency((await u.agency_by_code_ci("D")).id, {"archived_at": EARLY})  # type: ignore[union-attr]
        campaign = await u.add_campaign("t", 1, "Thử", DEADLINE, opened_at=EARLY)
        ids = {a.code: a.id for a in await u.list_agencies()}
        lan = next(p for p in await u.people_of([ids["A"]]))
        # A: submitted on time, then in review. Every required item answered.
        a = await u.submission(campaign.id, ids["A"])
        await u.apply_changes(
            a.id,
            {
                "1.1": Answer(12),
                "1.2": Answer('=HYPERLINK("http://evil")'),
                "1.3": Answer("https://a.gov.vn"),
                "2.1": Answer(True, evidence="https://a.gov.vn/wan.pdf"),
                "2.2": Answer(None, na_reason="không có đường truyền riêng"),
            },
            lan.id,
            "telegram",
            EARLY,
        )
        await u.apply_changes(a.id, {"1.1": Answer(13)}, lan.id, "zalo", EARLY)
        assert await u.move_submission(a.id, Status.DRAFT, Status.SUBMITTED, lan.id, ON_TIME)
        assert await u.move_submission(a.id, Status.SUBMITTED, Status.IN_REVIEW, None, ON_TIME)
        # B: submitted late.
        b = await u.submission(campaign.id, ids["B"])
        await u.apply_changes(
            b.id,
            {
                "1.1": Answer(5),
                "1.3": Answer("https://b.gov.vn"),
                "2.1": Answer(False),
                "2.2": Answer(100),
            },
            None,
            "console",
            EARLY,
        )
        assert await u.move_submission(b.id, Status.DRAFT, Status.SUBMITTED, None, LATE)
        # C: answering, 2 of 4 required items (1.1, 1.3, 2.1, 2.2), section 1 complete.
        c = await u.submission(campaign.id, ids["C"])
        await u.apply_changes(
            c.id, {"1.1": Answer(-3), "1.3": Answer("https://c.gov.vn")}, None, "telegram", EARLY
        )
        # H1: a submission row with no answers (opened the menu): not started. H2: nothing.
        await u.submission(campaign.id, ids["H1"])
        return campaign.id


async def test_progress_figures_for_a_seeded_campaign(storage: Storage, tmp_path: Path) -> None:
    campaign_id = await seed(storage)
    async with storage.unit() as u:
        campaign = await u.campaign(campaign_id)
        assert campaign is not None
        rows = await campaign_progress(u, campaign, FORM, today=date(2026, 11, 30))
    by = {r.code: r for r in rows}
    assert [r.code for r in rows] == ["H1", "H2", "A", "B", "C"]  # archived D is not asked
    assert by["A"].stage == "in_review" and by["A"].late is False
    assert by["A"].submitted_at == ON_TIME
    assert (by["A"].required_done, by["A"].required_total) == (4, 4)
    assert by["B"].stage == "submitted" and by["B"].late is True
    assert by["C"].stage == "answering"
    assert (by["C"].required_done, by["C"].required_total, by["C"].percent) == (2, 4, 50)
    assert (by["C"].sections_done, by["C"].sections_total) == (1, 2)
    assert by["C"].overdue is True and by["C"].late is None
    assert by["H1"].stage == "not_started" and by["H1"].last_activity is None
    assert by["H2"].stage == "not_started"
    assert by["A"].last_activity == ON_TIME  # the last move touched the submission
    totals = {t.cohort: t for t in cohort_totals(rows)}
    assert totals["so"].agencies == 3 and totals["so"].submitted == 2 and totals["so"].late == 1
    assert totals["so"].by_stage["answering"] == 1 and totals["so"].by_stage["in_review"] == 1
    assert totals["huyen"].by_stage["not_started"] == 2 and totals["huyen"].submitted == 0
    assert totals["so"].last_activity == LATE

    path = tmp_path / "tien-do.xlsx"
    write_progress(path, "vi", campaign, rows)
    ws = load_workbook(path).worksheets[0]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][:5] == ["Mã", "Cơ quan", "Nhóm", "Tình trạng", "Chi tiết"]
    c_row = next(v for v in values if v[0] == "C")
    assert c_row[3:7] == ["đang trả lời", "50% câu bắt buộc, 1/2 phần xong", 50, "1/2"]
    b_row = next(v for v in values if v[0] == "B")
    assert b_row[3] == "đã nộp" and b_row[8] == "có"
    assert b_row[7] == datetime(2026, 11, 27, 0, 1)  # local time of the late submission


async def test_answers_workbook_reads_back(storage: Storage, tmp_path: Path) -> None:
    campaign_id = await seed(storage)
    async with storage.unit() as u:
        campaign = await u.campaign(campaign_id)
    assert campaign is not None
    path = tmp_path / "tra-loi.xlsx"
    result = await export_answers(storage, campaign, FORM, path, chunk=2)
    assert (result.agencies, result.submissions) == (5, 4)
    assert result.history == 12  # A: 5 + 1, B: 4, C: 2
    wb = load_workbook(path)
    assert wb.sheetnames == ["Huyện", "Sở", "Lịch sử"]
    so = wb["Sở"]
    assert so.freeze_panes == "B2"
    assert so.auto_filter.ref == "A1:K4"
    header = [c.value for c in so[1]]
    assert header[:5] == ["Cơ quan", "Mã", "Tình trạng", "Ngày nộp", "Muộn"]
    assert header[5:] == [
        "1.1 Số cán bộ (người)",
        "1.2 Ghi chú",
        "1.3 Trang thông tin điện tử",
        "2.1 Có mạng WAN",
        "2.1 Có mạng WAN — minh chứng",
        "2.2 Băng thông (Mbps)",
    ]
    rows = {row[1].value: row for row in so.iter_rows(min_row=2)}
    assert sorted(rows) == ["A", "B", "C"]  # one row per agency
    a = rows["A"]
    assert a[2].value == "đang thẩm định" and a[4].value is None
    assert a[5].value == 13  # a number stays a number
    assert a[6].value == '=HYPERLINK("http://evil")' and a[6].data_type == "s"
    assert a[6].quotePrefix
    assert a[7].hyperlink.target == "https://a.gov.vn"
    assert a[8].value == "Có"
    assert a[9].value == "https://a.gov.vn/wan.pdf"
    assert a[9].hyperlink.target == "https://a.gov.vn/wan.pdf"
    assert a[10].value == "không áp dụng: không có đường truyền riêng"
    assert rows["B"][4].value == "có" and rows["B"][10].value == 100
    assert rows["C"][5].value == -3 and rows["C"][2].value == "đang trả lời"
    assert [r[1].value for r in wb["Huyện"].iter_rows(min_row=2)] == ["H1", "H2"]
    history = [[c.value for c in r] for r in wb["Lịch sử"].iter_rows(min_row=2)]
    assert len(history) == 12
    changed = next(h for h in history if h[2] == "1.1" and h[5] == "zalo")
    assert changed[0] == "A" and changed[3] == "Lan"
    assert (changed[6], changed[7]) == ("12 người", "13 người")
    assert changed[4] == datetime(2026, 11, 20, 9, 0)  # local time


async def test_answers_csv_has_a_bom_and_neutralised_formulas(
    storage: Storage, tmp_path: Path
) -> None:
    campaign_id = await seed(storage)
    async with storage.unit() as u:
        campaign = await u.campaign(campaign_id)
    assert campaign is not None
    path = tmp_path / "tra-loi.csv"
    result = await export_answers(storage, campaign, FORM, path, fmt="csv")
    assert result.files == (path, tmp_path / "tra-loi-lich-su.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][:3] == ["Nhóm", "Cơ quan", "Mã"]
    assert len(rows) == 1 + 5
    a = next(r for r in rows if r[2] == "A")
    assert a[7] == '\'=HYPERLINK("http://evil")'
    assert a[6] == "13"
    c = next(r for r in rows if r[2] == "C")
    assert c[6] == "-3"  # a negative number is a number, not formula-like text
    history = (tmp_path / "tra-loi-lich-su.csv").read_bytes()
    assert (
        history.startswith(b"\xef\xbb\xbf") and len(history.decode("utf-8-sig").splitlines()) == 13
    )


async def test_remove_refuses_an_agency_with_answers_and_archives_it(storage: Storage) -> None:
    await seed(storage)
    async with storage.unit() as u:
        a = await u.agency_by_code_ci("a")
        h2 = await u.agency_by_code_ci("H2")
        assert a is not None and h2 is not None
        assert await u.agency_has_answers(a.id)
        assert not await u.agency_has_answers(h2.id)
        assert not await u.agency_has_members(a.id)
        await u.delete_agency(h2.id)
        assert await u.agency_by_code_ci("H2") is None
        h1 = await u.agency_by_code_ci("H1")
        assert h1 is not None
        await u.delete_agency(h1.id)  # its empty submission goes with it
        assert await u.agency_by_code_ci("H1") is None


async def test_a_long_history_continues_on_more_sheets(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.desk.answers import XlsxSink

    campaign_id = await seed(storage)
    async with storage.unit() as u:
        campaign = await u.campaign(campaign_id)
    assert campaign is not None
    monkeypatch.setattr(XlsxSink, "rows_per_sheet", 5)
    path = tmp_path / "a.xlsx"
    result = await export_answers(storage, campaign, FORM, path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Huyện", "Sở", "Lịch sử", "Lịch sử (2)", "Lịch sử (3)"]
    counts = [wb[n].max_row - 1 for n in wb.sheetnames[2:]]
    assert counts == [5, 5, 2] and sum(counts) == result.history
    assert wb["Lịch sử (3)"].auto_filter.ref == "A1:H3"
    none = await export_answers(storage, campaign, FORM, tmp_path / "b.xlsx", history="none")
    assert none.history == 0
    assert load_workbook(tmp_path / "b.xlsx")["Lịch sử"].max_row == 1


async def test_targets_are_the_campaigns_less_cohorts_the_form_is_not_for(
    storage: Storage,
) -> None:
    from bot.desk.targets import campaign_agencies

    async with storage.unit() as u:
        await u.import_directory(
            [agency("A", "so"), agency("B", "so"), agency("H1", "huyen"), agency("H2", "huyen")],
            [],
        )
        ids = {a.code: a.id for a in await u.list_agencies()}
        named = await u.add_campaign(
            "binh-dinh-2019-so", 1, "Sở", DEADLINE, cohorts=["so"], agency_ids=[ids["H1"]]
        )
        every = await u.add_campaign("binh-dinh-2019-so", 1, "Mọi nhóm", DEADLINE)
        assert [a.code for a in await campaign_agencies(u, named)] == ["H1", "A", "B"]
        assert [a.code for a in await campaign_agencies(u, every)] == ["A", "B"]
        await u.update_agency(ids["B"], {"archived_at": EARLY})
        await u.update_agency(ids["H1"], {"archived_at": EARLY})
        assert [a.code for a in await campaign_agencies(u, named)] == ["A"]


async def test_reimport_counts_only_changed_rows_as_updated(storage: Storage) -> None:
    """An unchanged workbook re-imported said every row was updated (newcomer report)."""
    rows = [agency("STTTT", "so"), agency("SYT", "so"), agency("H1", "huyen")]
    people = [person("STTTT", "Trần Thị B"), person("SYT", "Lê C"), person("H1", "Phạm D")]
    async with storage.unit() as u:
        await u.import_directory(rows, people)
    async with storage.unit() as u:
        counts = await u.import_directory(rows, people)
    assert (counts.agencies_added, counts.agencies_updated, counts.agencies_unchanged) == (0, 0, 3)
    assert (counts.people_added, counts.people_updated, counts.people_unchanged) == (0, 0, 3)
    # One agency's head and one person's role changed (a name's case alone is no change).
    rows2 = [agency("stttt", "so", head="Nguyễn A"), rows[1], rows[2]]
    people2 = [person("STTTT", "trần thị b"), person("SYT", "Lê C", "reviewer"), people[2]]
    async with storage.unit() as u:
        counts = await u.import_directory(rows2, people2)
    assert (counts.agencies_updated, counts.agencies_unchanged) == (1, 2)
    assert (counts.people_updated, counts.people_unchanged) == (1, 2)
    async with storage.unit() as u:
        sttt = await u.agency_by_code_ci("STTTT")
        assert sttt is not None and sttt.head == "Nguyễn A"
        await u.update_agency(sttt.id, {"archived_at": datetime(2026, 11, 20, tzinfo=UTC)})
    # An archived agency re-imported with the same values is brought back: an update.
    async with storage.unit() as u:
        counts = await u.import_directory(rows2, people2)
    assert (counts.agencies_updated, counts.agencies_unchanged) == (1, 2)
    assert (counts.people_updated, counts.people_unchanged) == (0, 3)


async def test_cohorts_interleaved_still_give_one_sheet_each(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workbook writes one sheet whole before the next: the export groups the rows by
    cohort even if the targets came interleaved (Sở, Huyện, Sở…)."""
    from bot.desk import answers as module

    campaign_id = await seed(storage)
    async with storage.unit() as u:
        campaign = await u.campaign(campaign_id)
    assert campaign is not None
    real = module.campaign_agencies

    async def interleaved(unit: Any, c: Any, *rest: Any) -> list[Any]:
        found = await real(unit, c, *rest)
        so = [a for a in found if a.cohort == "so"]
        huyen = [a for a in found if a.cohort != "so"]
        out = []
        for i in range(max(len(so), len(huyen))):
            out += so[i : i + 1] + huyen[i : i + 1]
        return out

    monkeypatch.setattr(module, "campaign_agencies", interleaved)
    path = tmp_path / "x.xlsx"
    await export_answers(storage, campaign, FORM, path, elsewhere=False)  # patched here only
    wb = load_workbook(path)
    assert wb.sheetnames == ["Sở", "Huyện", "Lịch sử"]
    assert [r[1].value for r in wb["Sở"].iter_rows(min_row=2)] == ["A", "B", "C"]
    assert [r[1].value for r in wb["Huyện"].iter_rows(min_row=2)] == ["H1", "H2"]
