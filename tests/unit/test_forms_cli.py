"""`phieu forms list|show|export|check` as an administrator would use them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from flows.loader import builtin_forms

runner = CliRunner()
SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "004_0d8df6d0f4ccb949.txt"


def test_list_shows_ids_titles_and_counts() -> None:
    result = runner.invoke(app, ["forms", "list"])
    assert result.exit_code == 0
    assert "binh-dinh-2019-so\tv1\t201 mục" in result.output
    assert "binh-dinh-2019-huyen\tv1\t228 mục" in result.output
    assert "dien-bien-2014-website\tv1\t16 mục" in result.output


def test_show_is_a_readable_outline() -> None:
    result = runner.invoke(app, ["forms", "show", "binh-dinh-2019-so"])
    assert result.exit_code == 0
    out = result.output
    assert "MỤC 3. HẠ TẦNG KỸ THUẬT (tiêu đề khôi phục)" in out
    assert "3.2.b  Tổng băng thông kết nối Internet quy đổi" in out
    assert "computed, Mbps" in out
    assert "Nguồn: 3871/QĐ-UBND ngày 25/10/2019" in out


def test_show_unknown_form_exits_2() -> None:
    result = runner.invoke(app, ["forms", "show", "nope"])
    assert result.exit_code == 2
    assert "Không có mẫu phiếu 'nope'" in result.output


def test_export_json_lists_every_item_in_asking_order() -> None:
    for form in builtin_forms().values():
        result = runner.invoke(app, ["forms", "export", form.id, "--format", "json"])
        assert result.exit_code == 0
        data = json.loads(result.output)
        assert {"id", "title", "source", "items"} <= set(data)
        assert [i["id"] for i in data["items"]] == [q.id for q in form.questions]
        for item in data["items"]:
            assert {"id", "section", "text", "type"} <= set(item)


def test_export_contains_table_cells_and_formulas() -> None:
    result = runner.invoke(app, ["forms", "export", "binh-dinh-2019-so"])
    items = {i["id"]: i for i in json.loads(result.output)["items"]}
    assert items["4.2.1.2018"]["type"] == "decimal" and items["4.2.1.2018"]["unit"] == "Tr.đ"
    assert items["6.1.a.2.c"]["type"] == "integer"
    assert "[3.2.b.1] * 5" in items["3.2.b"]["formula"]
    assert items["7.2"]["bonus"] is True


def test_export_covers_every_table_row_of_the_seed() -> None:
    """Each Có/Không row printed in Phụ lục I is an exported item."""
    if not SEED.exists():
        pytest.skip(f"seed document not found beside the repository: {SEED}")
    text = SEED.read_text(encoding="utf-8")
    annex_one = text.split("MẪU PHIẾU ĐÁNH GIÁ SỐ LIỆU XÂY DỰNG CHÍNH QUYỀN ĐIỆN TỬ CỦA UBND")[0]
    boxed_rows = re.findall(r"^\S+ \| (.+?) \| □ \| □ \|", annex_one, re.MULTILINE)
    result = runner.invoke(app, ["forms", "export", "binh-dinh-2019-so"])
    texts = {i["text"] for i in json.loads(result.output)["items"]}
    missing = [row for row in boxed_rows if " ".join(row.split()) not in texts]
    assert boxed_rows and not missing, missing


def test_check_good_and_bad_files(tmp_path: Path) -> None:
    good = Path("flows/forms/dien-bien-2014-website.yaml")
    result = runner.invoke(app, ["forms", "check", str(good)])
    assert result.exit_code == 0 and "OK: dien-bien-2014-website" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        good.read_text(encoding="utf-8").replace("type: status", "type: stat"), encoding="utf-8"
    )
    result = runner.invoke(app, ["forms", "check", str(bad)])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "kiểu 'stat' không hợp lệ" in result.output
