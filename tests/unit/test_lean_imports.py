"""What a running bot does not load (issue #8: idle within 40 MB of a bare echo bot).

openpyxl (with numpy, lxml and PIL), segno, alembic and rich are ~40 MB of resident memory that
only some `phieu` commands need: they are imported where those commands use them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("openpyxl", "numpy", "PIL", "lxml", "segno", "alembic", "mako", "typer.rich_utils", "rich")


def _loaded(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


@pytest.mark.parametrize(
    "module",
    ["bot.cli.app", "bot.telegram_app", "bot.zalo.app", "bot.service", "bot.desk.answers"],
)
def test_the_bot_and_the_cli_start_without_the_heavy_libraries(module: str) -> None:
    assert _loaded(f"import {module}") == []


def test_writing_a_workbook_still_loads_openpyxl(tmp_path: Path) -> None:
    """The lazy imports are really reached: the template is written and read back."""
    path = tmp_path / "t.xlsx"
    code = (
        "from pathlib import Path\n"
        "from bot.desk.directory import write_template, read_directory\n"
        f"write_template(Path({str(path)!r}))\n"
        f"assert not read_directory(Path({str(path)!r})).problems\n"
    )
    assert "openpyxl" in _loaded(code)
    assert path.stat().st_size > 0


def test_the_help_panels_are_translated_though_typer_loads_them_late() -> None:
    """bot/cli/lang.py sets the panel titles on a lazily loaded typer.rich_utils: nothing is
    loaded until typer uses it, and the titles set before survive the loading."""
    code = (
        "import importlib.util, sys\n"
        "from bot.cli.lang import _panels\n"
        "_panels('en')\n"
        "module = sys.modules['typer.rich_utils']\n"
        "assert type(module).__name__ == '_LazyModule', type(module)\n"
        "assert 'rich.markdown' not in sys.modules\n"
        "_panels('vi')\n"
        "assert module.OPTIONS_PANEL_TITLE == 'Tuỳ chọn', module.OPTIONS_PANEL_TITLE\n"
        "assert module.ERRORS_PANEL_TITLE == 'Lỗi' and callable(module.rich_format_help)\n"
        "_panels('en')\n"
        "assert module.OPTIONS_PANEL_TITLE == 'Options'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
