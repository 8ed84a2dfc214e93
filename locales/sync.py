"""Refresh the catalogs after text changed in the code.

Extracts msgids, updates both catalogs, makes `vi` the identity and lists the English
entries still to translate. Run from the repository root: `python3 locales/sync.py`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "locales" / "phieu.pot"


def run(*args: str) -> None:
    subprocess.run(["pybabel", *args], cwd=ROOT, check=True, capture_output=True)  # noqa: S603,S607


def main() -> int:
    run("extract", "-F", "babel.cfg", "-k", "N_", "--no-location", "--sort-output",
        "--project=Phieu", "--copyright-holder=Phiếu", "-o", str(POT), ".")
    run("update", "-i", str(POT), "-d", "locales", "-D", "phieu", "--no-fuzzy-matching",
        "--ignore-obsolete")
    vi_path = ROOT / "locales" / "vi" / "LC_MESSAGES" / "phieu.po"
    with vi_path.open("rb") as fh:
        vi = read_po(fh, locale="vi")
    for message in vi:
        if message.id:
            message.string = message.id
    with vi_path.open("wb") as fh:
        write_po(fh, vi, width=0, omit_header=False)
    en_path = ROOT / "locales" / "en" / "LC_MESSAGES" / "phieu.po"
    with en_path.open("rb") as fh:
        en = read_po(fh, locale="en")
    todo = [m.id for m in en if m.id and not m.string]
    for msgid in todo:
        print(f"untranslated (en): {msgid!r}")
    return 1 if todo else 0


if __name__ == "__main__":
    sys.exit(main())
