"""`phieu score --manual FILE`: reviewer-scored points read politely (issue #12)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from bot.cli.score import read_manual
from scoring.scales import builtin_scales

SCALE = builtin_scales()["binh-dinh-2019-so"]


def test_manual_points_are_read_by_agency_code_and_criterion(tmp_path: Path) -> None:
    path = tmp_path / "diem.yaml"
    path.write_text("SO-TTTT:\n  '4.3': 15\nSO-YT:\n  '4.3': 0\n", encoding="utf-8")
    assert read_manual(path, SCALE) == {"SO-TTTT": {"4.3": 15.0}, "SO-YT": {"4.3": 0.0}}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("SO-TTTT:\n  '3.1': 5\n", "SO-TTTT, tiêu chí 3.1: không phải tiêu chí do thẩm định chấm"),
        ("SO-TTTT:\n  '4.3': nhiều\n", "SO-TTTT, tiêu chí 4.3: điểm phải là số"),
        ("SO-TTTT:\n  '4.3': 25\n", "SO-TTTT, tiêu chí 4.3: 25 ngoài khoảng 0–20"),
        ("SO-TTTT: 15\n", "SO-TTTT: cần {mã tiêu chí: điểm}"),
        ("- 1\n", "tệp phải là bảng"),
        ("SO: [\n", "Không đọc được"),
    ],
)
def test_bad_manual_file_says_what_and_gives_an_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    path = tmp_path / "diem.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(typer.Exit) as e:
        read_manual(path, SCALE)
    assert e.value.exit_code == 2
    err = capsys.readouterr().err
    assert said in err and "Ví dụ:" in err and "Traceback" not in err
