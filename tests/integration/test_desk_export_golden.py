"""The answers workbook pinned cell by cell (value, type, hyperlink, number format, quote
prefix, font) for a small campaign of the real binh-dinh-2019-so form: every item type
answered, "không áp dụng", formula-like and control-character text, evidence links and
documents, missing answers, and a history with old → new. The golden file was written by the
export before it was made faster (desk-speed), so a speed change cannot change the content.

Regenerate (only for an intended change of content): PHIEU_GOLDEN_WRITE=1 pytest this file.
"""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bench.desk_bench import FORM_ID, _value
from bot.desk.answers import export_answers
from flows.loader import builtin_forms
from flows.machines import Status
from flows.model import Evidence, ItemType
from flows.state import Answer
from storage import Storage
from tests.integration.test_desk import agency, person

GOLDEN = Path(__file__).parent / "data" / "desk_export_golden.json"
AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _answers(form: Any, seed: int) -> dict[str, Answer]:
    """Every answerable item answered as the bench does, with odd values mixed in."""
    rng = random.Random(seed)
    out: dict[str, Answer] = {}
    for i, q in enumerate(q for q in form.questions if q.answerable):
        if q.type is ItemType.COMPUTED:
            continue
        value = _value(q, rng)
        evidence: Any = None
        if q.evidence is not Evidence.NONE:
            evidence = (
                "https://so.binhdinh.gov.vn/mc.pdf"
                if i % 3
                else {
                    "number": "5/QĐ",
                    "date": "2019-02-01",
                    "title": "Quyết định",
                    "link": "https://so.binhdinh.gov.vn/qd.pdf",
                }
            )
        if i % 11 == 5:
            out[q.id] = Answer(None, na_reason="=chưa có" if seed else "không có", evidence=None)
        elif i % 13 == 7:
            continue  # not answered
        elif q.type is ItemType.TEXT and i % 2:
            out[q.id] = Answer(
                rng.choice(("+84 905", "@all", "a\x1fb", "\tx", "-")), None, evidence
            )
        elif q.type is ItemType.DECIMAL and i % 2:
            out[q.id] = Answer(Decimal("1.50"), None, evidence)
        else:
            out[q.id] = Answer(value, None, evidence)
    return out


async def _seed(storage: Storage) -> int:
    form = builtin_forms()[FORM_ID]
    async with storage.unit() as u:
        await u.import_directory(
            [agency("S1", "so"), agency("S2", "so"), agency("H1", "huyen"), agency("S3", "so")],
            [person("S1", "Lan"), person("H1", "=Bình")],
        )
        campaign = await u.add_campaign(FORM_ID, form.version, "Vàng", date(2026, 11, 26))
        ids = {a.code: a.id for a in await u.list_agencies()}
        people = {p.name: p.id for p in await u.people_of([ids["S1"], ids["H1"]])}
        for n, (code, who) in enumerate((("S1", "Lan"), ("S2", None), ("H1", "=Bình"))):
            sub = await u.submission(campaign.id, ids[code])
            user = people.get(who) if who else None
            answers = _answers(form, n)
            await u.apply_changes(sub.id, answers, user, "telegram", AT)
            changed = dict(list(answers.items())[n::17])  # a few items changed later
            changed = {k: Answer(7, None, a.evidence) if isinstance(a.value, int) and not
                       isinstance(a.value, bool) else Answer(None, "đổi ý") for k, a in
                       changed.items()}  # fmt: skip
            await u.apply_changes(sub.id, changed, user, "zalo", AT.replace(hour=5))
            if n < 2:
                when = AT.replace(day=26 + n, hour=10)
                assert await u.move_submission(sub.id, Status.DRAFT, Status.SUBMITTED, user, when)
        return campaign.id


def _colour(color: Any) -> Any:
    if color is None:
        return None
    return color.rgb if isinstance(color.rgb, str) else f"theme {color.theme}"


def _snapshot(path: Path) -> dict[str, list[list[Any]]]:
    wb = load_workbook(path)
    out: dict[str, list[list[Any]]] = {}
    for ws in wb.worksheets:
        rows: list[list[Any]] = [[ws.freeze_panes, ws.auto_filter.ref]]
        for row in ws.iter_rows():
            for c in row:
                if c.value is None and not c.has_style:
                    continue
                value = c.value.isoformat() if isinstance(c.value, datetime) else c.value
                rows.append(
                    [
                        c.coordinate,
                        value,
                        c.data_type,
                        c.hyperlink.target if c.hyperlink else None,
                        c.number_format,
                        bool(c.quotePrefix),
                        bool(c.font.b),
                        c.font.u,
                        _colour(c.font.color),
                    ]
                )
        out[ws.title] = rows
    return out


@pytest.mark.parametrize("elsewhere", [True, False], ids=["two-processes", "one"])
async def test_the_answers_workbook_is_unchanged_cell_by_cell(
    storage: Storage, tmp_path: Path, elsewhere: bool
) -> None:
    campaign_id = await _seed(storage)
    async with storage.unit() as u:
        campaign = await u.campaign(campaign_id)
    assert campaign is not None
    path = tmp_path / "tra-loi.xlsx"
    result = await export_answers(
        storage, campaign, builtin_forms()[FORM_ID], path, chunk=2, elsewhere=elsewhere
    )
    got = json.loads(json.dumps(_snapshot(path), default=str))
    if os.environ.get("PHIEU_GOLDEN_WRITE") == "1":
        lines = [
            json.dumps(sheet, ensure_ascii=False)
            + ": [\n"
            + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
            + "\n]"
            for sheet, rows in got.items()
        ]
        GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert list(got) == list(want)
    for sheet in want:
        assert len(got[sheet]) == len(want[sheet]), sheet
        for g, w in zip(got[sheet], want[sheet], strict=True):
            assert g == w, sheet
    assert result.history == 396
