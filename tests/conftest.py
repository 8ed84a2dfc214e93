"""Test-wide settings: Hypothesis is deterministic in CI (a red CI must be reproducible)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _vietnamese_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """`phieu` speaks the locale's language (issue #9): tests read Vietnamese output unless
    they ask for English, whatever locale the machine running them has."""
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    # The run's language is process state (one run, one language): a test calling a command's
    # function directly must not inherit the English of an earlier test's `--lang en` run.
    from bot.cli.lang import set_language

    set_language("vi")


# Conversations in tests give links like https://sotttt.binhdinh.gov.vn/…: the apps under
# test must not try to open them on the Internet. Link-check tests build their own checker
# against local servers (tests/integration/test_linkcheck*.py).
os.environ.setdefault("PHIEU_LINKCHECK", "0")
