"""One language per run of `phieu`: Vietnamese by default, English with `--lang en` on the
root command or an English locale (LC_ALL, LC_MESSAGES, LANG, in POSIX order).

Help texts and messages are Vietnamese msgids in the gettext catalog (flows/i18n.py), like
the bot's replies. The language is read from the command line before anything is parsed, so
`phieu --lang en campaign open --help` is English throughout; then every help text of the
command tree is translated in place (typer builds the click commands afresh on each run),
flags lose typer's `<bool>` type column, value options show a translated placeholder
(NĂM / YEAR), the help panels get their titles, and click's command-line mistakes ("Missing
option '--form'.") are said in the language of the run (issue #9, "The CLI as a Vietnamese
administrator meets it"). The language is process state: one run, one language.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import typer
from typer.core import TyperGroup

from flows.i18n import LANGUAGES, N_, normalise_language, translate

LANG_FLAG = "--lang"
_LOCALE_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")
# click's errors about the command line (typer._click.exceptions), matched by name: the
# module is typer's private copy of click.
_CLICK_USAGE = frozenset(
    {
        "UsageError",
        "BadParameter",
        "MissingParameter",
        "NoSuchOption",
        "BadOptionUsage",
        "BadArgumentUsage",
    }
)
_state = {"lang": "vi"}

# Texts typer and click add themselves, as msgids of our catalog.
HELP_OPTION = N_("Hiện hướng dẫn này rồi thoát.")
_TYPER_TEXTS = {
    "Install completion for the current shell.": N_(
        "Cài đặt tự hoàn thành lệnh cho shell đang dùng."
    ),
    "Show completion for the current shell, to copy it or customize the installation.": N_(
        "Hiện đoạn tự hoàn thành lệnh cho shell đang dùng, để chép hoặc tự cài."
    ),
    "Show this message and exit.": HELP_OPTION,
}
_PANELS = {
    "ARGUMENTS_PANEL_TITLE": N_("Tham số"),
    "OPTIONS_PANEL_TITLE": N_("Tuỳ chọn"),
    "COMMANDS_PANEL_TITLE": N_("Lệnh"),
    "ERRORS_PANEL_TITLE": N_("Lỗi"),
    "REQUIRED_LONG_STRING": N_("[bắt buộc]"),
    "DEFAULT_STRING": N_("[mặc định: {}]"),
    "ABORTED_TEXT": N_("Đã dừng."),
    "RICH_HELP": N_("Xem hướng dẫn: [blue]'{command_path} {help_option}'[/]"),
}


class LanguageError(ValueError):
    """--lang names a language Phiếu does not speak."""


def language() -> str:
    """The language of this run ("vi" or "en")."""
    return _state["lang"]


def set_language(lang: str) -> None:
    _state["lang"] = normalise_language(lang)


def t(msgid: str, /, **params: Any) -> str:
    """A catalog text in the language of the run, its {fields} filled."""
    return translate(language(), msgid, params or None)


def from_command_line(args: Sequence[str], environ: Mapping[str, str]) -> str:
    """The run's language: `--lang X` before the first command word, else the locale.

    Raises LanguageError for a language Phiếu does not speak (the message says which do).
    """
    for n, arg in enumerate(args):
        if arg == LANG_FLAG or arg.startswith(LANG_FLAG + "="):
            value = (
                arg.split("=", 1)[1] if "=" in arg else (args[n + 1] if n + 1 < len(args) else "")
            )
            short = value.strip().lower()
            if short not in LANGUAGES:
                raise LanguageError(
                    translate(
                        "vi",
                        N_("--lang: chỉ có vi (tiếng Việt) hoặc en (English), không có {value!r}."),
                        {"value": value},
                    )
                )
            return short
        if not arg.startswith("-"):
            break  # a command word: options after it are the command's own
    for var in _LOCALE_VARS:
        value = environ.get(var)
        if value:
            return normalise_language(value)
    return "vi"


def localise(command: Any, lang: str) -> None:
    """Translate the help texts of `command` and every command under it, in place.

    Duck-typed: typer ships its own copy of click (typer._click), whose classes are not
    the installed click's, so nothing here checks classes.
    """
    ctx = command.context_class(command, info_name=command.name)
    help_option = command.get_help_option(ctx)  # made (and cached) now: translated too
    if command.help:
        command.help = _tr(command.help, lang)
    if getattr(command, "short_help", None):
        command.short_help = _tr(command.short_help, lang)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "help", None):
            param.help = _tr(param.help, lang)
        flag = getattr(param, "is_flag", False) and not getattr(param, "count", False)
        if flag and param.metavar is None:
            param.metavar = ""  # a flag takes no value: no "<bool>" beside it
        elif param.metavar is None and getattr(param, "opts", [""])[0].startswith("-"):
            param.metavar = translate(lang, _placeholder(param))  # not "<int>", "<str>"
        elif param.metavar:
            param.metavar = _tr(param.metavar, lang)  # "NĂM" / "YEAR"
    for sub in getattr(command, "commands", {}).values():
        localise(sub, lang)


# An option's value without a placeholder of its own, by the type of the parameter.
_PLACEHOLDERS = {int: N_("SỐ"), float: N_("SỐ"), Path: N_("TỆP")}
_VALUE = N_("GIÁ_TRỊ")


def _placeholder(param: Any) -> str:
    """The msgid of the placeholder for an option's value: SỐ, TỆP or GIÁ_TRỊ (duck-typed:
    typer keeps the annotation in `type_descriptor`; `int | None`, `list[int]` unwrapped)."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    for candidate in (annotation, *get_args(annotation)):
        if candidate in _PLACEHOLDERS:
            return _PLACEHOLDERS[candidate]
    return _VALUE


def _tr(text: str, lang: str) -> str:
    msgid = _TYPER_TEXTS.get(text, text)
    return translate(lang, msgid)


def _rich_utils() -> ModuleType:
    """typer.rich_utils, loaded when typer first uses it (help, an error), not at every start:
    with rich's markdown and pygments it is ~3.5 MB of a running bot's memory. Attributes
    set before then (the panel titles) survive the loading: importlib's LazyLoader keeps
    what was changed on the module before it ran."""
    name = "typer.rich_utils"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _panels(lang: str) -> None:
    rich_utils = _rich_utils()
    for name, msgid in _PANELS.items():
        setattr(rich_utils, name, translate(lang, msgid))


# What click says when the command line is wrong, in English only: said in the run's
# language instead (the detail click adds, like a value it could not read, is kept).
_USAGE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Missing option '(?P<name>[^']+)'\.$"), N_("Thiếu tuỳ chọn {name}.")),
    (re.compile(r"^Missing argument '(?P<name>[^']+)'\.$"), N_("Thiếu tham số {name}.")),
    (
        re.compile(r"^No such option: (?P<name>\S+) \(Possible options: (?P<hint>.+)\)$"),
        N_("Không có tuỳ chọn {name}. Có phải ý anh/chị là: {hint}?"),
    ),
    (re.compile(r"^No such option: (?P<name>\S+)$"), N_("Không có tuỳ chọn {name}.")),
    (
        re.compile(r"^No such command '(?P<name>[^']+)'\. Did you mean '(?P<hint>[^']+)'\?$"),
        N_("Không có lệnh '{name}'. Có phải ý anh/chị là '{hint}'?"),
    ),
    (re.compile(r"^No such command '(?P<name>[^']+)'\.$"), N_("Không có lệnh '{name}'.")),
    (
        re.compile(r"^Option '(?P<name>[^']+)' requires an argument\.$"),
        N_("Tuỳ chọn {name} cần một giá trị."),
    ),
    (
        re.compile(r"^Invalid value for '?(?P<name>[^':]+)'?: .*valid integer.*$"),
        N_("{name}: phải là một số nguyên, ví dụ 2026."),
    ),
    (
        re.compile(r"^Invalid value for '?(?P<name>[^':]+)'?: (?P<detail>.*)$"),
        N_("Giá trị không hợp lệ cho {name}: {detail}"),
    ),
    (
        re.compile(r"^Got unexpected extra arguments? \((?P<args>.*)\)$"),
        N_("Thừa tham số: {args}"),
    ),
)


def usage_message(english: str, lang: str) -> str:
    """A usage error of click's, in `lang` (unchanged if no rule knows it)."""
    if lang == "en":
        return english
    for pattern, msgid in _USAGE:
        found = pattern.match(english.strip())
        if found:
            return translate(lang, msgid, found.groupdict())
    return english


def _localise_error(error: Exception) -> None:
    """Make a click error print its message in the run's language (duck-typed)."""
    format_message = getattr(error, "format_message", None)
    if format_message is None or type(error).__name__ == "NoArgsIsHelpError":
        return
    text = usage_message(str(format_message()), language())
    error.format_message = lambda: text  # type: ignore[attr-defined]


class LocalisedGroup(TyperGroup):
    """The root `phieu` group: picks the run's language, then translates the help."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            if type(e).__name__ in _CLICK_USAGE:
                _localise_error(e)
            raise

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        if parent is None:
            try:
                lang = from_command_line(args, os.environ)
            except LanguageError as e:
                typer.echo(str(e), err=True)
                raise typer.Exit(2) from None
            set_language(lang)
            localise(self, lang)
            _panels(lang)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except Exception as e:
            if type(e).__name__ in _CLICK_USAGE:
                _localise_error(e)
            raise
