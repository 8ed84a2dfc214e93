"""The language of one CLI run and the text helpers the desk commands share."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flows.i18n import normalise_language, translate


def cli_lang() -> str:
    """The run's language: what `--lang` set (bot/cli/common.py, once it exists), else
    PHIEU_LANG, else Vietnamese."""
    try:
        from bot.cli import common

        chosen = getattr(common, "cli_lang", None) or getattr(common, "current_lang", None)
        if callable(chosen):
            return normalise_language(str(chosen()))
    except ImportError:  # pragma: no cover - common always exists
        pass
    return normalise_language(os.environ.get("PHIEU_LANG"))


def tr(msgid: str, params: Mapping[str, Any] | None = None, lang: str | None = None) -> str:
    """`msgid` (a Vietnamese N_ text) in the run's language, fields filled."""
    return translate(lang or cli_lang(), msgid, params)
