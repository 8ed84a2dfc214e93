"""Test-wide settings: Hypothesis is deterministic in CI (a red CI must be reproducible)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
