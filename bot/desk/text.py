"""The text helper the desk commands share: a catalog text in the language of the run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.i18n import translate


def cli_lang() -> str:
    """The run's language: the one `--lang` or the locale chose (bot/cli/lang.py), so the
    desk commands speak the language every other command of the run speaks (issue #9)."""
    # Imported here: bot.cli's package imports the commands, which import the desk.
    from bot.cli.lang import language

    return language()


def tr(msgid: str, params: Mapping[str, Any] | None = None, lang: str | None = None) -> str:
    """`msgid` (a Vietnamese N_ text) in the run's language, fields filled."""
    return translate(lang or cli_lang(), msgid, params)
