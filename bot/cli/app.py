"""The `phieu` command: thin entry points over the service, storage and forms."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.agencies import agencies_app
from bot.cli.campaign import campaign_app
from bot.cli.common import DB_BUSY
from bot.cli.export import export_app
from bot.cli.forms import app as forms_app
from bot.cli.invite import invite_app
from bot.cli.invite_bulk import invite_bulk  # noqa: F401 - registers `invite bulk`
from bot.cli.lang import LANG_FLAG, LocalisedGroup, language, t
from bot.cli.people import people_app
from bot.cli.progress import PROGRESS_HELP, progress
from bot.cli.remind import remind_app
from bot.cli.review import review_app
from bot.cli.score import SCORE_HELP
from bot.cli.score import score as score_command
from bot.config import ConfigError, Settings, load_settings
from bot.zalo.config import ZaloSettings, load_zalo_settings, zalo_configured
from flows.i18n import N_
from storage.database import DatabaseSetupError
from storage.repository import Storage

S = TypeVar("S")

app = typer.Typer(
    cls=LocalisedGroup,
    help=N_("Phiếu — thu thập phiếu đánh giá mức độ ứng dụng CNTT qua Telegram, Zalo và console."),
    no_args_is_help=True,
)


@app.callback()
def root(
    lang: str | None = typer.Option(
        None,
        LANG_FLAG,
        help=N_(
            "Ngôn ngữ của lệnh: vi (mặc định) hoặc en; không nêu thì theo LC_ALL/LANG. Đặt "
            "ngay sau phieu: phieu --lang en campaign list"
        ),
    ),
) -> None:
    """The language itself is read before parsing (bot/cli/lang.py: LocalisedGroup)."""


app.add_typer(forms_app, name="forms")
app.add_typer(agencies_app, name="agencies")
app.add_typer(campaign_app, name="campaign")
app.add_typer(invite_app, name="invite")
app.add_typer(people_app, name="people")
app.add_typer(review_app, name="review")
app.add_typer(remind_app, name="remind")
app.command("score", help=SCORE_HELP)(score_command)
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
    typer.echo(t(N_("Lỗi cấu hình: {error}"), error=error.said(language())), err=True)
    return typer.Exit(2)


def _sending() -> Any:
    return typer.Option(
        True,
        "--worker/--no-worker",
        help=N_("Gửi tin ngay trong tiến trình này (--no-worker: chạy phieu worker riêng)"),
    )


def _verbose() -> Any:
    return typer.Option(False, "--verbose", "-v", help=N_("Ghi nhật ký chi tiết ra stderr"))


def config_failed(error: ConfigError) -> NoReturn:
    """Say a bad setting on stderr in the language of the run, and stop (exit 2)."""
    typer.echo(t(N_("Lỗi cấu hình: {error}"), error=error.said(language())), err=True)
    raise typer.Exit(2) from None


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
        config_failed(e)
    except SQLAlchemyError:  # lost or refused mid-run: the details go to the log only
        logging.getLogger(__name__).info("database error", exc_info=True)  # shown with -v
        typer.echo(t(DB_BUSY), err=True)
        raise typer.Exit(1) from None


def _tty_lines() -> Iterator[str]:
    while True:
        try:
            yield input("> ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return


@app.command(
    help=N_(
        "Trò chuyện trong cửa sổ dòng lệnh như cán bộ của một cơ quan (lần đầu: tự tạo cơ "
        "quan mẫu)."
    )
)
def chat(
    db: Path | None = typer.Option(None, "--db", help=N_("Tệp SQLite (mặc định ./phieu.db)")),
    agency: str | None = typer.Option(None, "--agency", help=N_("Mã cơ quan")),
    script: Path | None = typer.Option(
        None, "--script", help=N_("Tệp văn bản, mỗi dòng là một tin nhắn")
    ),
    as_user: int | None = typer.Option(
        None,
        "--user",
        help=N_("Chat với tư cách người dùng số này (cán bộ thẩm định, quản trị…)"),
    ),
    verbose: bool = _verbose(),
) -> None:
    """Chat in the terminal as an agency's official (a demo agency on first run)."""
    _setup_logging(verbose)
    from functools import partial

    from bot.channels.console import ensure_demo, ensure_user, run_lines
    from bot.review.links import refresh_link
    from bot.service import Phieu, utcnow
    from bot.workers.linkjobs import link_queue

    async def main(storage: Storage) -> None:
        if as_user is not None:
            user = await ensure_user(storage, as_user, language())
        else:
            user = await ensure_demo(storage, utcnow().date(), agency, language())
        links = link_queue(storage)  # evidence links checked in the background (issue #10)
        phieu = Phieu(
            storage,
            on_links=links.submit if links is not None else None,
            check_link=partial(refresh_link, storage),
        )
        try:
            if script is not None:
                lines: Iterator[str] = iter(script.read_text(encoding="utf-8").splitlines())
                await run_lines(phieu, user, lines, typer.echo, echo=True, comments=True)
            elif sys.stdin.isatty():
                typer.echo(t(N_("Phiếu — gõ /help để xem lệnh, /quit để thoát.")) + "\n")
                await run_lines(phieu, user, _tty_lines(), typer.echo)
            else:
                await run_lines(phieu, user, iter(sys.stdin.readline, ""), typer.echo, echo=True)
        finally:
            if links is not None:
                await links.close()

    with_storage(database_url(db), main, setting_of(db))


run_app = typer.Typer(help=N_("Chạy bot trên một kênh."), no_args_is_help=True)
app.add_typer(run_app, name="run")


def _checked(load: Callable[[], S]) -> S:
    """`load()` (a channel's settings) after the sending settings, a bad one stopping
    start-up politely (config_failed) rather than with a traceback."""
    from bot.workers.pacing import SendSettings

    try:
        SendSettings.from_env()
        return load()
    except ConfigError as e:
        config_failed(e)


def _channels(webhook: bool = False) -> tuple[Settings | None, ZaloSettings | None]:
    """The channels configured in the environment (TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN), each
    checked; neither set stops start-up naming both."""

    def load() -> tuple[Settings | None, ZaloSettings | None]:
        zalo = load_zalo_settings(webhook=webhook) if zalo_configured() else None
        if zalo is not None and not os.environ.get("TELEGRAM_BOT_TOKEN", "").strip():
            return None, zalo
        try:
            return load_settings(webhook=webhook), zalo
        except ConfigError as e:
            raise e.with_hint(N_("hoặc đặt ZALO_BOT_TOKEN để chạy bot Zalo")) from None

    return _checked(load)


@run_app.command(
    "zalo",
    help=N_("Zalo theo cách hỏi liên tục (getUpdates): cho một máy (máy xách tay, máy chủ nhỏ)."),
)
def run_zalo(sending: bool = _sending(), verbose: bool = _verbose()) -> None:
    """Zalo by long polling (getUpdates): for one machine (a laptop, a small server)."""
    _setup_logging(verbose)
    settings = _checked(load_zalo_settings)
    from bot.zalo.app import run_polling

    with_storage(
        settings.database_url, lambda storage: run_polling(settings, storage, with_worker=sending)
    )


@run_app.command(
    "telegram",
    help=N_(
        "Telegram theo cách hỏi liên tục (long polling): cho một máy (máy xách tay, máy chủ nhỏ)."
    ),
)
def run_telegram(sending: bool = _sending(), verbose: bool = _verbose()) -> None:
    """Telegram by long polling: for one machine (a laptop, a small server)."""
    _setup_logging(verbose)
    settings = _checked(load_settings)
    from bot.telegram_app import run_polling

    with_storage(
        settings.database_url, lambda storage: run_polling(settings, storage, with_worker=sending)
    )


@app.command(
    help=N_(
        "Máy chủ webhook (aiohttp): POST /telegram/webhook và/hoặc /zalo/webhook, GET /healthz."
    )
)
def serve(
    sending: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help=N_("Chạy cả worker dự phòng (--no-worker: không; trả lời vẫn gửi ngay)"),
    ),
    verbose: bool = _verbose(),
) -> None:
    """Webhook server (aiohttp): POST /telegram/webhook and/or /zalo/webhook, GET /healthz."""
    _setup_logging(verbose)
    telegram, zalo = _channels(webhook=True)
    from aiohttp import web

    async def build() -> web.Application:
        from bot.zalo import app as zalo_app

        url = telegram.database_url if telegram is not None else zalo and zalo.database_url
        storage = await Storage.open(url)
        if telegram is not None:
            from bot.telegram_app import make_bot, make_web_app

            app_ = make_web_app(telegram, storage, make_bot(telegram), with_worker=sending)
            if zalo is not None:
                zalo_app.install_webhook(  # Telegram's app sweeps the evidence links
                    app_,
                    zalo,
                    storage,
                    zalo_app.make_client(zalo),
                    with_worker=sending,
                    sweep=False,
                )
        else:
            assert zalo is not None
            app_ = zalo_app.make_web_app(
                zalo, storage, zalo_app.make_client(zalo), with_worker=sending
            )

        async def close_storage(_: web.Application) -> None:
            await storage.close()

        app_.on_cleanup.append(close_storage)
        return app_

    where = telegram if telegram is not None else zalo
    assert where is not None
    try:
        web.run_app(build(), host=where.host, port=where.port, print=None)
    except DatabaseSetupError as e:
        raise database_problem(e) from None
    except ConfigError as e:
        config_failed(e)


@app.command(
    help=N_(
        "Gửi các tin đang chờ của mọi kênh, lên lịch nhắc hạn và kiểm tra link minh chứng "
        "(chạy cạnh phieu serve --no-worker)."
    )
)
def worker(
    rate: float | None = typer.Option(
        None,
        "--rate",
        help=N_("Số tin/giây của cả bot, chia cho mọi tiến trình gửi (PHIEU_SEND_RATE)"),
    ),
    health_port: int | None = typer.Option(
        None,
        "--health-port",
        help=N_("Cổng cho GET /healthz (503 khi mất cơ sở dữ liệu)"),
    ),
    verbose: bool = _verbose(),
) -> None:
    """Send queued messages for every configured channel, plan reminders and sweep evidence
    links (run beside `phieu serve --no-worker`)."""
    _setup_logging(verbose)
    telegram, zalo = _channels()
    from bot.workers.channels import run_workers

    where = telegram if telegram is not None else zalo
    assert where is not None
    with_storage(
        where.database_url,
        lambda storage: run_workers(telegram, zalo, storage, rate, health_port, where.host),
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
