"""Where the answers export's rows go: the workbook (a sheet per cohort and the history
sheet, openpyxl through bot/desk/xlsx.py) or CSV files (UTF-8 with a BOM, so Excel opens
Vietnamese right; formula-like text neutralised by `csv_safe`).

The rows come already made (bot/desk/answers.py `produce`): a cohort sheet's row is a list
of (value, hyperlink or None); a history row is a list of eight values — for CSV already
safe text (`HistoryRows(csv=True)`), so a million of them are written by the csv module's
own loop.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.desk.cells import csv_safe
from bot.desk.directory import COHORT_LABELS
from bot.desk.files import partial_path, put_in_place
from bot.desk.text import tr
from flows.i18n import N_

if TYPE_CHECKING:
    from bot.desk.xlsx import Sheet

Row = list[tuple[Any, str | None]]  # a cohort sheet's row: (cell value, hyperlink or None)

HISTORY_HEADERS = (
    N_("Mã"),
    N_("Cơ quan"),
    N_("Câu"),
    N_("Người"),
    N_("Thời điểm"),
    N_("Kênh"),
    N_("Cũ"),
    N_("Mới"),
)


def history_headers(lang: str) -> list[str]:
    """The history sheet's (and CSV's) column names in `lang`."""
    return [tr(h, None, lang) for h in HISTORY_HEADERS]


def history_csv_path(path: Path) -> Path:
    """FILE-lich-su.csv beside FILE.xlsx / FILE.csv: where a history kept apart goes."""
    return path.with_name(f"{path.stem}-lich-su.csv")


def cohort_title(cohort: str) -> str:
    return COHORT_LABELS.get(cohort, cohort)


class XlsxSink:
    """The workbook (openpyxl write-only, bot/desk/xlsx.py): a sheet per cohort, its rows
    given a cohort at a time, then the history sheet(s) — or, when the history was written
    to its own CSV file, a history sheet that says where it is."""

    # Excel holds 1,048,576 rows a sheet: a longer history continues on "Lịch sử (2)"…
    rows_per_sheet = 1_048_575

    def __init__(self, path: Path, lang: str) -> None:
        from bot.desk.xlsx import XlsxBook  # openpyxl: only when a workbook is written

        self.book = XlsxBook(path)
        self.lang = lang
        self.headers: list[str] = []
        self._sheet: Sheet | None = None
        self._cohort: str | None = None
        self._history_sheets = 0
        self._in_sheet = 0

    def start(self, headers: list[str]) -> None:
        self.headers = headers

    def _new_sheet(self, title: str, freeze: str, headers: list[str]) -> Sheet:
        ws = self.book.sheet(title, freeze=freeze)
        ws.filter = True
        ws.append(headers, bold=True)
        return ws

    def rows(self, batch: list[tuple[str, Row]]) -> None:
        """(cohort, row) pairs; a cohort's rows come together (one sheet each)."""
        for cohort, values in batch:
            if cohort != self._cohort:  # the next cohort's sheet
                # the header row and the agency's name stay in view
                self._sheet = self._new_sheet(cohort_title(cohort), "B2", self.headers)
                self._cohort = cohort
            assert self._sheet is not None
            links = {i: link for i, (_, link) in enumerate(values) if link is not None}
            self._sheet.append([v for v, _ in values], links)

    def _new_history_sheet(self) -> None:
        self._history_sheets += 1
        title = tr(N_("Lịch sử"), None, self.lang)
        if self._history_sheets > 1:
            title += f" ({self._history_sheets})"
        self._sheet = self._new_sheet(title, "A2", history_headers(self.lang))
        self._cohort = None
        self._in_sheet = 0

    def history(self, batch: list[list[Any]]) -> None:
        """History rows, continued on a new sheet at Excel's row limit."""
        for values in batch:
            if not self._history_sheets or self._in_sheet >= self.rows_per_sheet:
                self._new_history_sheet()
            assert self._sheet is not None
            self._sheet.append(values)
            self._in_sheet += 1

    def history_elsewhere(self, where: Path) -> None:
        """The history sheet holds one line: the file the history is in, and why."""
        self._history_sheets += 1
        ws = self.book.sheet(tr(N_("Lịch sử"), None, self.lang), freeze=None)
        ws.append(
            [
                tr(
                    N_(
                        "Lịch sử thay đổi ở tệp {file} (cùng thư mục, mở bằng Excel). Lịch sử "
                        "dài hơn 100.000 dòng được ghi ra tệp riêng để Excel mở nhanh."
                    ),
                    {"file": where.name},
                    self.lang,
                )
            ]
        )

    def finish(self) -> None:
        """The workbook saved under its temporary name (bot/desk/xlsx.py `finish`)."""
        if not self._history_sheets:  # no history asked, or none yet: the sheet's headers
            self._new_history_sheet()
        self.book.finish()

    def commit(self) -> None:
        self.book.commit()

    def discard(self) -> None:
        self.book.discard()


class _CsvFile:
    """A CSV file Excel opens right (UTF-8 with a BOM), written under a temporary name and
    put in place by `commit()` (bot/desk/files.py)."""

    def __init__(self, path: Path, lang: str) -> None:
        self.path, self.lang = path, lang
        self.part = partial_path(path)
        self._fh = self.part.open("w", encoding="utf-8-sig", newline="")
        self._out = csv.writer(self._fh)

    def finish(self) -> None:
        self._fh.close()

    def commit(self) -> None:
        put_in_place(self.part, self.path)

    def discard(self) -> None:
        self._fh.close()
        self.part.unlink(missing_ok=True)


class CsvAnswers(_CsvFile):
    """FILE.csv: every agency, a cohort column first."""

    def start(self, headers: list[str]) -> None:
        self._out.writerow([csv_safe(h) for h in [tr(N_("Nhóm"), None, self.lang), *headers]])

    def rows(self, batch: list[tuple[str, Row]]) -> None:
        self._out.writerows(
            [csv_safe(cohort_title(cohort))] + [csv_safe(v) for v, _ in values]
            for cohort, values in batch
        )


class CsvHistory(_CsvFile):
    """FILE-lich-su.csv: the history, its rows already safe text (`HistoryRows(csv=True)`)."""

    def __init__(self, path: Path, lang: str) -> None:
        super().__init__(path, lang)
        self._out.writerow([csv_safe(h) for h in history_headers(lang)])

    def history(self, batch: list[list[Any]]) -> None:
        self._out.writerows(batch)
