"""The answers export on two cores and the history kept apart (issue #9): the same content
whether the rows are made here or in the second process (bot/desk/elsewhere.py), a history
past HISTORY_SHEET_ROWS in FILE-lich-su.csv with a note in the workbook, `--history` forced
either way, Excel's hyperlink limit per sheet, and the second process's failures told in
words — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.desk import answer_sinks, answers, xlsx
from bot.desk.answers import Job, export_answers
from bot.desk.elsewhere import ExportFailed, produce_elsewhere
from storage import Storage
from storage.records import CampaignRec
from storage.repository import Reopen
from tests.integration.test_desk import FORM, seed

BOTH = pytest.mark.parametrize("elsewhere", [True, False], ids=["two-processes", "one"])


async def _campaign(storage: Storage) -> CampaignRec:
    campaign_id = await seed(storage)
    async with storage.unit() as u:
        campaign = await u.campaign(campaign_id)
    assert campaign is not None
    return campaign


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens Vietnamese right
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


@BOTH
async def test_a_history_past_the_limit_goes_to_its_own_csv(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: bool
) -> None:
    campaign = await _campaign(storage)
    monkeypatch.setattr(answers, "HISTORY_SHEET_ROWS", 11)  # the seed has 12 changes
    path = tmp_path / "tra-loi.xlsx"
    result = await export_answers(storage, campaign, FORM, path, elsewhere=elsewhere)
    apart = tmp_path / "tra-loi-lich-su.csv"
    assert result.files == (path, apart) and result.history == 12
    wb = load_workbook(path)
    assert wb.sheetnames == ["Huyện", "Sở", "Lịch sử"]
    note = wb["Lịch sử"]["A1"].value
    assert "tra-loi-lich-su.csv" in note and wb["Lịch sử"].max_row == 1
    assert [r[1].value for r in wb["Sở"].iter_rows(min_row=2)] == ["A", "B", "C"]
    rows = _csv_rows(apart)
    assert rows[0] == ["Mã", "Cơ quan", "Câu", "Người", "Thời điểm", "Kênh", "Cũ", "Mới"]
    assert len(rows) == 1 + 12
    changed = next(r for r in rows if r[2] == "1.1" and r[5] == "zalo")
    assert changed[0] == "A" and changed[3] == "Lan"
    assert changed[4] == "20/11/2026 09:00"  # local time, as Excel reads a date
    assert (changed[6], changed[7]) == ("12 người", "13 người")
    formula = next(r for r in rows if r[2] == "1.2")
    assert formula[7] == '\'=HYPERLINK("http://evil")'  # never evaluated by Excel


async def test_the_history_file_is_the_same_from_either_process(
    storage: Storage, tmp_path: Path
) -> None:
    campaign = await _campaign(storage)
    made = {}
    for elsewhere in (True, False):
        path = tmp_path / f"x{elsewhere}.xlsx"
        await export_answers(storage, campaign, FORM, path, history="csv", elsewhere=elsewhere)
        made[elsewhere] = (tmp_path / f"x{elsewhere}-lich-su.csv").read_bytes()
    assert made[True] == made[False] and made[True].count(b"\n") == 13


@BOTH
async def test_at_the_limit_and_forced_the_history_stays_in_the_workbook(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: bool
) -> None:
    campaign = await _campaign(storage)
    monkeypatch.setattr(answers, "HISTORY_SHEET_ROWS", 12)
    at_limit = await export_answers(storage, campaign, FORM, tmp_path / "a.xlsx")
    monkeypatch.setattr(answers, "HISTORY_SHEET_ROWS", 1)
    forced = await export_answers(
        storage, campaign, FORM, tmp_path / "b.xlsx", history="sheet", elsewhere=elsewhere
    )
    for result, name in ((at_limit, "a.xlsx"), (forced, "b.xlsx")):
        assert result.files == (tmp_path / name,) and result.history == 12
        history = load_workbook(tmp_path / name)["Lịch sử"]
        assert history.max_row == 1 + 12
        assert any(r[4].value == datetime(2026, 11, 20, 9, 0) for r in history.iter_rows(min_row=2))
    assert not list(tmp_path.glob("*-lich-su.csv"))
    small = await export_answers(
        storage, campaign, FORM, tmp_path / "c.xlsx", history="csv", elsewhere=elsewhere
    )
    assert small.files == (tmp_path / "c.xlsx", tmp_path / "c-lich-su.csv")
    none = await export_answers(
        storage, campaign, FORM, tmp_path / "d.xlsx", history="none", elsewhere=elsewhere
    )
    assert none.history == 0 and none.files == (tmp_path / "d.xlsx",)


async def test_an_unknown_history_mode_is_refused(storage: Storage, tmp_path: Path) -> None:
    campaign = await _campaign(storage)
    with pytest.raises(ValueError, match="auto, sheet, csv, none"):
        await export_answers(storage, campaign, FORM, tmp_path / "a.xlsx", history="sheets")
    assert not (tmp_path / "a.xlsx").exists()


@BOTH
async def test_links_past_excels_limit_per_sheet_stay_text(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: bool
) -> None:
    campaign = await _campaign(storage)
    full = tmp_path / "full.xlsx"
    await export_answers(storage, campaign, FORM, full, elsewhere=elsewhere)
    monkeypatch.setattr(xlsx, "MAX_LINKS", 2)  # the limit is kept where the workbook is
    capped = tmp_path / "capped.xlsx"
    await export_answers(storage, campaign, FORM, capped, elsewhere=elsewhere)

    def cells(path: Path) -> list[tuple[Any, str | None]]:
        ws = load_workbook(path)["Sở"]
        return [
            (c.value, c.hyperlink.target if c.hyperlink else None)
            for row in ws.iter_rows(min_row=2)
            for c in row
        ]

    before, after = cells(full), cells(capped)
    assert sum(1 for _, link in before if link) == 4  # A: site + evidence, B, C: site
    assert sum(1 for _, link in after if link) == 2
    assert [v for v, _ in before] == [v for v, _ in after]  # the text is all still there


async def test_a_failing_second_process_is_told_in_words(
    storage: Storage, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    campaign = await _campaign(storage)
    # A database the second process cannot open: it says so, it prints nothing.
    storage.reopen = Reopen(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such.db'}")
    with pytest.raises(ExportFailed, match="OperationalError"):
        await export_answers(storage, campaign, FORM, tmp_path / "a.xlsx", elsewhere=True)
    assert "Traceback" not in capfd.readouterr().err
    assert not (tmp_path / "a.xlsx").exists()


async def test_a_history_failing_after_the_workbook_leaves_no_file_in_place(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workbook is saved while the history is still being written; if the history then
    fails, neither file is put in place (an earlier good export stays as it was)."""
    campaign = await _campaign(storage)
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"an earlier export")

    def full_disk(self: Any, batch: Any) -> None:
        raise OSError(28, "No space left on device", str(self.part))

    monkeypatch.setattr(answer_sinks.CsvHistory, "history", full_disk)
    with pytest.raises(OSError, match="No space"):
        await export_answers(storage, campaign, FORM, path, history="csv", elsewhere=False)
    assert path.read_bytes() == b"an earlier export"
    assert not (tmp_path / "a-lich-su.csv").exists()
    assert not list(tmp_path.glob(".*.part"))  # nothing half-written left


@BOTH
async def test_a_history_file_that_cannot_be_written_names_it(
    storage: Storage, tmp_path: Path, elsewhere: bool
) -> None:
    campaign = await _campaign(storage)
    (tmp_path / "a-lich-su.csv").mkdir()  # in the way of the history file
    with pytest.raises(OSError) as raised:
        await export_answers(
            storage, campaign, FORM, tmp_path / "a.xlsx", history="csv", elsewhere=elsewhere
        )
    assert raised.value.filename == str(tmp_path / "a-lich-su.csv")


def _exporters() -> list[int]:
    """Process ids of second processes of an export still running."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"bot.desk.elsewhere" in cmdline:
            out.append(int(pid))
    return out


async def test_when_the_writer_fails_the_second_process_is_ended(
    storage: Storage, tmp_path: Path
) -> None:
    campaign = await _campaign(storage)

    class Broken:
        def rows(self, batch: Any) -> None:
            raise OSError(28, "No space left on device")

        def answers_done(self) -> None: ...
        def history(self, batch: Any) -> None: ...

    before = set(_exporters())
    job = Job(campaign, FORM, "vi", 1, "csv", tmp_path / "h.csv")
    with pytest.raises(OSError, match="No space"):
        await produce_elsewhere(storage, job, Broken())
    assert set(_exporters()) <= before


async def test_an_in_memory_database_is_exported_in_this_process(tmp_path: Path) -> None:
    storage = await Storage.open("sqlite+aiosqlite://")
    try:
        assert storage.reopen is None
        campaign = await _campaign(storage)
        result = await export_answers(storage, campaign, FORM, tmp_path / "a.xlsx")
        assert result.history == 12
    finally:
        await storage.close()


def test_reopen_never_shows_the_password() -> None:
    reopen = Reopen("postgresql+asyncpg://phieu:s3cret@db.example/phieu", {"pool_size": 2})
    assert "s3cret" not in repr(reopen) and "s3cret" not in str(reopen)
    assert "db.example" in repr(reopen)
