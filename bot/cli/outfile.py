"""What the commands that write a file (`phieu progress --out`, `phieu forms export --out`)
share beyond `writable()`: the format read from the file's name, and a write that fails said
in one sentence of the run's language — never a traceback (found by a newcomer writing to
`--out out/dir.xlsx` where out/dir.xlsx was a folder)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from bot.cli.lang import t
from flows.i18n import N_

T = TypeVar("T")

# errno → why a file could not be written, in words an administrator acts on.
_WHY = {
    errno.EISDIR: N_("đó là một thư mục, không phải tệp"),
    errno.EACCES: N_("không có quyền ghi"),
    errno.EPERM: N_("không có quyền ghi"),
    errno.EROFS: N_("ổ đĩa chỉ cho đọc"),
    errno.ENOSPC: N_("ổ đĩa đã đầy"),
    errno.ENOENT: N_("nơi này không cho tạo tệp"),
}


def why(error: OSError) -> str:
    """Why `error` stopped a write, in the run's language (the system's own words, English,
    only for an error not foreseen here)."""
    msgid = _WHY.get(error.errno or 0)
    return t(msgid) if msgid else (error.strerror or str(error))


def _stop(msgid: str, code: int, **params: str) -> NoReturn:
    typer.echo(t(msgid, **params), err=True)
    raise typer.Exit(code)


def format_of(
    out: Path | None, fmt: str | None, default: str, to_file: tuple[str, ...], stem: str
) -> str:
    """The format to write: `--format` if given, else the extension of `--out` when it is
    one of `to_file` (the formats this command writes to a file), else `default`.

    Stops the command (exit 2) with an example `--out {stem}.{ext}` when `--out`'s extension
    is not the format asked for, or names no format of `to_file` — a workbook named .csv
    opens as garbage, and an `--out` quietly ignored writes nothing."""
    if out is None:
        return fmt or default
    ext = out.suffix.lower().lstrip(".")
    if fmt is None:
        if ext in to_file:
            return ext
        _stop(
            N_("Tệp {file}: đuôi tệp phải là {allowed}, ví dụ: --out {example}"),
            2,
            file=str(out),
            allowed=", ".join(f".{e}" for e in to_file),
            example=f"{stem}.{to_file[0]}",
        )
    if fmt not in to_file:
        _stop(
            N_("--format {format} không ghi ra tệp: bỏ --out, hoặc ví dụ: {example}"),
            2,
            format=fmt,
            example=f"--format {to_file[0]} --out {stem}.{to_file[0]}",
        )
    if ext != fmt:
        _stop(
            N_("Tên tệp phải có đuôi .{ext} (--format {ext}), ví dụ: --out {example}"),
            2,
            ext=fmt,
            example=f"{stem}.{fmt}",
        )
    return fmt


def write_or_say(path: Path, write: Callable[[], T]) -> T:
    """`write()`'s result; if it fails with an OSError (a folder where the file should be,
    no right to write, a full disk), stop the command (exit 1) saying why, with an example
    of a place that usually works (the current folder)."""
    try:
        return write()
    except OSError as e:
        _stop(
            N_("Không ghi được tệp {file}: {reason}. Chọn nơi khác, ví dụ: --out {example}"),
            1,
            file=str(e.filename or path),
            reason=why(e),
            example=path.name or "ket-qua.xlsx",
        )
