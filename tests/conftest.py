"""Test-wide settings: Hypothesis is deterministic in CI (a red CI must be reproducible)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Conversations in tests give links like https://sotttt.binhdinh.gov.vn/…: the apps under
# test must not try to open them on the Internet. Link-check tests build their own checker
# against local servers (tests/integration/test_linkcheck*.py).
os.environ.setdefault("PHIEU_LINKCHECK", "0")
