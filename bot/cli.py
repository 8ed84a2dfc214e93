"""The `phieu` command: thin entry points over the service, storage and forms."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from bot.forms_cli import app as forms_app

app = typer.Typer(
    help="Phiếu — thu thập phiếu đánh giá mức độ ứng dụng CNTT qua Telegram, Zalo và console.",
    no_args_is_help=True,
)
app.add_typer(forms_app, name="forms")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def database_url(db: Path | None) -> str | None:
    """--db PATH wins, then DATABASE_URL, then the storage default (phieu.db here)."""
    if db is not None:
        return f"sqlite+aiosqlite:///{db}"
    return os.environ.get("DATABASE_URL") or None


def _tty_lines() -> Iterator[str]:
    while True:
        try:
            yield input("> ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return


@app.command()
def chat(
    db: Path | None = typer.Option(None, "--db", help="Tệp SQLite (mặc định ./phieu.db)"),
    agency: str | None = typer.Option(None, "--agency", help="Mã cơ quan"),
    script: Path | None = typer.Option(None, "--script", help="Mỗi dòng là một tin nhắn"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Chat in the terminal as an agency's official (a demo agency on first run)."""
    _setup_logging(verbose)
    from bot.channels.console import ensure_demo, run_lines
    from bot.service import Phieu, utcnow
    from storage.repository import Storage

    async def main() -> None:
        storage = await Storage.open(database_url(db))
        try:
            user = await ensure_demo(storage, utcnow().date(), agency)
            phieu = Phieu(storage)
            if script is not None:
                lines: Iterator[str] = iter(script.read_text(encoding="utf-8").splitlines())
                await run_lines(phieu, user, lines, typer.echo, echo=True)
            elif sys.stdin.isatty():
                typer.echo("Phiếu — gõ /help để xem lệnh, /quit để thoát.\n")
                await run_lines(phieu, user, _tty_lines(), typer.echo)
            else:
                await run_lines(phieu, user, iter(sys.stdin.readline, ""), typer.echo, echo=True)
        finally:
            await storage.close()

    asyncio.run(main())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
