"""The language of one CLI run and the text helpers the desk commands share."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flows.i18n import normalise_language, translate


def cli_lang() -> str:
    """The run's language: what `--lang` or the locale set (bot/cli/lang.py `language()`,
    from the campaigns work), else PHIEU_LANG, else Vietnamese."""
    try:  # the campaigns work's one-language-per-run module, once merged
        from bot.cli import lang as run_lang  # type: ignore[attr-defined,unused-ignore]

        return normalise_language(str(run_lang.language()))
    except (ImportError, AttributeError):
        pass
    return normalise_language(os.environ.get("PHIEU_LANG"))


def tr(msgid: str, params: Mapping[str, Any] | None = None, lang: str | None = None) -> str:
    """`msgid` (a Vietnamese N_ text) in the run's language, fields filled."""
    return translate(lang or cli_lang(), msgid, params)
