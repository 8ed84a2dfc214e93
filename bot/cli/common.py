"""What every administration command shares: the database option, one transaction per
command, dates and choices read from the command line, the vocabularies it checks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import typer

from flows.i18n import translate
from flows.parsing import Confirm, Ok, Problem
from storage.database import DatabaseSetupError
from storage.records import Conflict
from storage.repository import Storage, Unit

T = TypeVar("T")
TZ = "Asia/Ho_Chi_Minh"
COHORTS = ("so", "huyen", "xa")
ROLES = ("official", "reviewer", "admin")

DB_OPTION = typer.Option(None, "--db", help="Tệp SQLite (mặc định DATABASE_URL hoặc ./phieu.db)")


def url_of(db: Path | None) -> str | None:
    if db is not None:
        return f"sqlite+aiosqlite:///{db}"
    return os.environ.get("DATABASE_URL") or None


def in_unit(db: Path | None, work: Callable[[Unit], Awaitable[T]]) -> T:
    """Run one transaction against the configured database from a sync CLI command."""

    async def main() -> T:
        storage = await Storage.open(url_of(db), setting="--db" if db else "DATABASE_URL")
        try:
            async with storage.unit() as unit:
                return await work(unit)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except Conflict as e:
        typer.echo(f"Không lưu được: {e}", err=True)
        raise typer.Exit(1) from None
    except DatabaseSetupError as e:
        typer.echo(f"Lỗi cấu hình: {e}", err=True)
        raise typer.Exit(2) from None


def parse_day(text: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        typer.echo(f"Ngày không hợp lệ: {text!r}. Ví dụ: 26/11/2026", err=True)
        raise typer.Exit(2) from None


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        typer.echo(f"{name} phải là một trong: {', '.join(allowed)}", err=True)
        raise typer.Exit(2)
    return value


def contact_ok(option: str, read: Ok | Problem | Confirm) -> None:
    """A contact field is read by the same parser as the question it prefills (1.4–1.6), so
    what officials are offered is an answer Phiếu would accept; anything else stops here with
    the parser's message and example (exit 2), not later as a silently dropped prefill."""
    if isinstance(read, Ok):
        return
    message = translate("vi", read.msgid, read.params)
    example = f" Ví dụ: {read.example}" if isinstance(read, Problem) and read.example else ""
    typer.echo(f"{option}: {message}{example}", err=True)
    raise typer.Exit(2)
