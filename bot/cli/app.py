"""The `phieu` command: thin entry points over the service, storage and forms."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import typer

from bot.cli.agencies import agencies_app
from bot.cli.campaign import campaign_app
from bot.cli.export import export_app
from bot.cli.forms import app as forms_app
from bot.cli.invite import invite_app
from bot.cli.invite_bulk import invite_bulk  # noqa: F401 - registers `invite bulk`
from bot.cli.progress import PROGRESS_HELP, progress
from bot.config import ConfigError, Settings, load_settings
from storage.database import DatabaseSetupError
from storage.repository import Storage

app = typer.Typer(
    help="Phiếu — thu thập phiếu đánh giá mức độ ứng dụng CNTT qua Telegram, Zalo và console.",
    no_args_is_help=True,
)
app.add_typer(forms_app, name="forms")
app.add_typer(agencies_app, name="agencies")
app.add_typer(campaign_app, name="campaign")
app.add_typer(invite_app, name="invite")
app.command("progress", help=PROGRESS_HELP)(progress)
app.add_typer(export_app, name="export")


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


def setting_of(db: Path | None) -> str:
    """The name an official set the database with, for error messages."""
    return "--db" if db is not None else "DATABASE_URL"


def database_problem(error: DatabaseSetupError) -> typer.Exit:
    """Say once, on stderr, why the database cannot be used; the exit to raise (code 2)."""
    typer.echo(f"Lỗi cấu hình: {error}", err=True)
    return typer.Exit(2)


def with_storage(
    url: str | None,
    work: Callable[[Storage], Awaitable[None]],
    setting: str = "DATABASE_URL",
) -> None:
    """Open the database (migrating it), run `work`, close it: one command's lifetime.

    A database that cannot be used stops the command with one message naming `setting`."""

    async def main() -> None:
        storage = await Storage.open(url, setting=setting)
        try:
            await work(storage)
        finally:
            await storage.close()

    try:
        asyncio.run(main())
    except DatabaseSetupError as e:
        raise database_problem(e) from None
    except ConfigError as e:  # found once running, e.g. a token Telegram refuses
        typer.echo(f"Lỗi cấu hình: {e}", err=True)
        raise typer.Exit(2) from None


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

    async def main(storage: Storage) -> None:
        user = await ensure_demo(storage, utcnow().date(), agency)
        phieu = Phieu(storage)
        if script is not None:
            lines: Iterator[str] = iter(script.read_text(encoding="utf-8").splitlines())
            await run_lines(phieu, user, lines, typer.echo, echo=True, comments=True)
        elif sys.stdin.isatty():
            typer.echo("Phiếu — gõ /help để xem lệnh, /quit để thoát.\n")
            await run_lines(phieu, user, _tty_lines(), typer.echo)
        else:
            await run_lines(phieu, user, iter(sys.stdin.readline, ""), typer.echo, echo=True)

    with_storage(database_url(db), main, setting_of(db))


run_app = typer.Typer(help="Chạy bot trên một kênh.", no_args_is_help=True)
app.add_typer(run_app, name="run")


def _settings(webhook: bool = False) -> Settings:

    from bot.workers.pacing import SendSettings

    try:
        SendSettings.from_env()  # checked here, so a bad rate stops start-up politely
        return load_settings(webhook=webhook)
    except ConfigError as e:
        typer.echo(f"Lỗi cấu hình: {e}", err=True)
        raise typer.Exit(2) from None


@run_app.command("telegram")
def run_telegram(
    no_worker: bool = typer.Option(False, "--no-worker", help="Không gửi tin (chạy worker riêng)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Telegram by long polling: for one machine (a laptop, a small server)."""
    _setup_logging(verbose)
    settings = _settings()
    from bot.telegram_app import run_polling

    with_storage(
        settings.database_url,
        lambda storage: run_polling(settings, storage, with_worker=not no_worker),
    )


@app.command()
def serve(
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Không chạy worker dự phòng (trả lời vẫn gửi ngay)"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Webhook server (aiohttp): POST /telegram/webhook, GET /healthz."""
    _setup_logging(verbose)
    settings = _settings(webhook=True)
    from aiohttp import web

    from bot.telegram_app import make_bot, make_web_app

    async def build() -> web.Application:
        storage = await Storage.open(settings.database_url)
        app_ = make_web_app(settings, storage, make_bot(settings), with_worker=not no_worker)

        async def close_storage(_: web.Application) -> None:
            await storage.close()

        app_.on_cleanup.append(close_storage)
        return app_

    try:
        web.run_app(build(), host=settings.host, port=settings.port, print=None)
    except DatabaseSetupError as e:
        raise database_problem(e) from None
    except ConfigError as e:
        typer.echo(f"Lỗi cấu hình: {e}", err=True)
        raise typer.Exit(2) from None


@app.command()
def worker(
    rate: float | None = typer.Option(
        None, "--rate", help="Tin/giây của cả bot, chia cho mọi tiến trình gửi (PHIEU_SEND_RATE)"
    ),
    health_port: int | None = typer.Option(
        None, "--health-port", help="Cổng cho GET /healthz (503 khi mất cơ sở dữ liệu)"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Only send queued messages (run beside `phieu serve --no-worker`)."""
    _setup_logging(verbose)
    settings = _settings()
    from bot.telegram_app import run_worker

    with_storage(
        settings.database_url,
        lambda storage: run_worker(settings, storage, rate, health_port),
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
