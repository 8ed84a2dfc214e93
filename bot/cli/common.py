"""What every administration command shares: the database option, one transaction per
command, dates and choices read from the command line, the vocabularies it checks, and
messages in the language of the run (bot/cli/lang.py) — a database error never shows
through as "UNIQUE constraint failed" (issue #9)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.lang import language, t
from flows.i18n import N_, translate
from flows.parsing import Confirm, Ok, Problem
from storage.database import DatabaseSetupError
from storage.records import Conflict
from storage.repository import Storage, Unit

log = logging.getLogger(__name__)

T = TypeVar("T")
TZ = "Asia/Ho_Chi_Minh"
COHORTS = ("so", "huyen", "xa")
ROLES = ("official", "reviewer", "admin")
# How cohorts are written by people (issue #9: "huyện", "sở", "xã"), folded → code.
_COHORT_WORDS = {
    "so": "so",
    "sở": "so",
    "huyen": "huyen",
    "huyện": "huyen",
    "xa": "xa",
    "xã": "xa",
}


def date_option(default: Any, flag: str, help_msgid: str) -> Any:
    """An option taking a day typed DD/MM/YYYY (read with `parse_day`); `...` if required."""
    return typer.Option(default, flag, metavar=N_("DD/MM/YYYY"), help=help_msgid)


def campaign_option(help_msgid: str = N_("Số đợt (phieu campaign list)")) -> Any:
    """The required --campaign option: a campaign's number (`phieu campaign list`)."""
    return typer.Option(..., "--campaign", metavar=N_("SỐ"), help=help_msgid)


DB_OPTION = typer.Option(
    None,
    "--db",
    metavar=N_("TỆP"),
    help=N_("Tệp SQLite (mặc định: DATABASE_URL, nếu không có thì ./phieu.db)"),
)


DB_BUSY = N_(
    "Cơ sở dữ liệu đang bận hoặc không trả lời; không có gì thay đổi. Vui lòng thử lại sau ít phút."
)


def say(msgid: str, /, **params: Any) -> None:
    """Print a catalog text (stdout), in the language of the run."""
    typer.echo(t(msgid, **params))


def fail(msgid: str, exit_code: int = 2, /, **params: Any) -> NoReturn:
    """Print a catalog text on stderr and stop the command with `exit_code` (2: bad input,
    1: refused)."""
    typer.echo(t(msgid, **params), err=True)
    raise typer.Exit(exit_code)


def writable(path: Path) -> Path:
    """`path` if a file can be created there; else stop the command (exit 2) saying why, with
    an example — never openpyxl's traceback: the folder is missing (found trying `--out
    /khong-co/tien-do.xlsx` as a newcomer), `path` is itself a folder (IsADirectoryError), or
    the folder takes no new file (/proc, read-only, no right to write: tried for real with a
    file created and removed at once, as rights alone do not tell for root or /proc)."""
    # Imported here: bot.cli.outfile is a sibling module, kept out of this one's imports.
    import tempfile

    from bot.cli.outfile import why

    if path.is_dir():
        fail(
            N_(
                "Không ghi được tệp {file}: đó là một thư mục. Ghi vào một tệp trong thư mục "
                "đó, ví dụ: {example}"
            ),
            2,
            file=str(path),
            example=str(path / f"ket-qua{path.suffix or '.xlsx'}"),
        )
    folder = path.parent
    if not folder.is_dir():
        fail(
            N_(
                "Không ghi được tệp {file}: không có thư mục {folder}. Tạo thư mục đó trước, "
                "hoặc ghi vào thư mục hiện tại, ví dụ: {example}"
            ),
            2,
            file=str(path),
            folder=str(folder),
            example=path.name,
        )
    try:
        if path.exists():
            with path.open("ab"):  # appends nothing: only asks whether it may be written
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".phieu-"):
                pass
    except OSError as e:
        here = folder.resolve() == Path.cwd().resolve()
        fail(
            N_(
                "Không ghi được tệp {file}: không ghi được vào {folder} ({reason}). Chọn thư "
                "mục khác, ví dụ: {example}"
            ),
            2,
            file=str(path),
            folder=str(folder),
            reason=why(e),
            example=f"~/{path.name}" if here else path.name,
        )
    return path


def url_of(db: Path | None) -> str | None:
    if db is not None:
        return f"sqlite+aiosqlite:///{db}"
    return os.environ.get("DATABASE_URL") or None


# Constraint names (PostgreSQL) and table.column (SQLite) → what the administrator is told.
_CONFLICTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("uq_agencies_code", "agencies.code"), N_("mã cơ quan này đã có")),
    (
        ("uq_identities_channel_external_id", "identities.channel"),
        N_("tài khoản chat này đã gắn với một người khác"),
    ),
    (("uq_invites_code_hash", "invites.code_hash"), N_("mã mời này đã có")),
    (("pk_campaign_agencies", "campaign_agencies."), N_("cơ quan đã thuộc đợt này")),
    (
        ("uq_submissions_campaign_id_agency_id", "submissions."),
        N_("cơ quan đã có phiếu trong đợt này"),
    ),
)


def describe_conflict(message: str) -> str:
    """The database's refusal, said in the language of the run (never its own words)."""
    for keys, msgid in _CONFLICTS:
        if any(k in message for k in keys):
            return t(msgid)
    if re.search(r"foreign key", message, re.IGNORECASE):
        return t(N_("dữ liệu tham chiếu tới một bản ghi không có (cơ quan, đợt hoặc người)"))
    if re.search(r"unique|duplicate", message, re.IGNORECASE):
        return t(N_("dữ liệu trùng với một bản ghi đã có"))
    if re.search(r"check constraint|violates check", message, re.IGNORECASE):
        return t(N_("giá trị không nằm trong danh sách cho phép"))
    return t(N_("cơ sở dữ liệu từ chối thay đổi này"))


def in_unit(db: Path | None, work: Callable[[Unit], Awaitable[T]]) -> T:
    """Run one transaction against the configured database from a sync CLI command.

    Refusals of the database become one sentence in the run's language (exit 1); a database
    that cannot be used is a configuration error (exit 2). The database's own text goes to
    the log (INFO), never to the administrator's screen.
    """

    async def in_one_unit(storage: Storage) -> T:
        async with storage.unit() as unit:
            return await work(unit)

    return with_storage(db, in_one_unit)


def with_storage(db: Path | None, work: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the configured database, run `work` (which opens its own units), close it; the
    database's errors are said as in `in_unit` (exit 1 refused or busy, 2 configuration)."""

    async def main() -> T:
        storage = await Storage.open(url_of(db), setting="--db" if db else "DATABASE_URL")
        try:
            return await work(storage)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except Conflict as e:
        log.info("refused by the database: %s", e)
        fail(
            N_("Không lưu được: {reason}. Không có gì thay đổi."),
            1,
            reason=describe_conflict(str(e)),
        )
    except DatabaseSetupError as e:
        fail(N_("Lỗi cấu hình: {error}"), 2, error=e.said(language()))
    except SQLAlchemyError as e:
        log.info("database error: %s", e)
        fail(DB_BUSY, 1)


def today_local() -> date:
    """Today in Việt Nam (deadlines are dates in Asia/Ho_Chi_Minh)."""
    return datetime.now(ZoneInfo(TZ)).date()


def parse_day(text: str, option: str = "") -> date:
    """A date written DD/MM/YYYY (also D/M/YYYY, with - or .); stops with an example if not."""
    cleaned = text.strip().replace("-", "/").replace(".", "/")
    try:
        return datetime.strptime(cleaned, "%d/%m/%Y").date()
    except ValueError:
        fail(
            N_("{option}Ngày không hợp lệ: {text!r}. Ví dụ: 26/11/2026"),
            option=f"{option}: " if option else "",
            text=text,
        )


def day(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        fail(N_("{name} phải là một trong: {allowed}"), name=name, allowed=", ".join(allowed))
    return value


def cohort_code(option: str, value: str) -> str:
    """A cohort as people write it ("so", "Sở", "huyện") → its code; stops if unknown."""
    code = _COHORT_WORDS.get(value.strip().lower())
    if code is None:
        fail(
            N_("{option}: khối {value!r} không có. Dùng: so (sở, ban, ngành), huyen, xa."),
            option=option,
            value=value,
        )
    return code


def contact_ok(option: str, read: Ok | Problem | Confirm) -> None:
    """A contact field is read by the same parser as the question it prefills (1.4–1.6), so
    what officials are offered is an answer Phiếu would accept; anything else stops here with
    the parser's message and example (exit 2), not later as a silently dropped prefill."""
    if isinstance(read, Ok):
        return
    message = translate(language(), read.msgid, read.params)
    example = ""
    if isinstance(read, Problem) and read.example:
        example = " " + t(N_("Ví dụ: {example}"), example=read.example)
    typer.echo(f"{option}: {message}{example}", err=True)
    raise typer.Exit(2)


def refuse_overwrite(path: Path, force: bool, command: str) -> Path:
    """`path` if it may be written: it does not exist yet, or `force` (--force) was given.
    Otherwise stop the command (exit 1) naming the file, with the exact command to run
    again with --force, or with another file name — a workbook an administrator filled in,
    or the only copy of invitation codes, is never replaced silently. `command` is the
    command line as the administrator typed it, without --force, e.g.
    "phieu invite bulk --campaign 1 moi.xlsx"."""
    if force or not path.exists():
        return path
    n = 2
    other = path.with_name(f"{path.stem}-{n}{path.suffix}")
    while other.exists():
        n += 1
        other = path.with_name(f"{path.stem}-{n}{path.suffix}")
    fail(
        N_(
            "Tệp {file} đã có, nên không ghi đè (có thể đó là tệp đã điền, hoặc nơi duy nhất "
            "giữ các mã mời). Nếu chắc chắn muốn ghi đè: {command} --force. Hoặc ghi vào tệp "
            "khác, ví dụ: {other}"
        ),
        1,
        file=str(path),
        command=command,
        other=command.replace(str(path), str(other)) if str(path) in command else str(other),
    )
