"""Start-up as an operator meets it, through the real `phieu` process.

A database that cannot be used (malformed or unsupported URL, no server, wrong database or
user, a folder that does not exist) stops every command with one line naming the setting,
exit code 2, no traceback and no password. A Bot API that is down when the bot starts is
retried with a log line. A new SQLite file is private to its owner (0600).
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.e2e.telegram_support import TOKEN
from tests.fakes import FakeTelegram
from tests.integration.conftest import PG_URL

TIMEOUT = 60
PASSWORD = "mat-khau-bi-mat-123"
_PG = make_url(PG_URL)
PG_HOST = f"{_PG.host or '127.0.0.1'}:{_PG.port or 5432}"
SECRET = "s" * 32

# The commands an operator runs, each with the other settings it needs to reach the database.
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "chat": (["chat"], {}),
    "agencies list": (["agencies", "list"], {}),
    "campaign list": (["campaign", "list"], {}),
    "run telegram": (["run", "telegram"], {"TELEGRAM_BOT_TOKEN": TOKEN}),
    "serve": (
        ["serve"],
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "PUBLIC_URL": "https://phieu.example.gov.vn",
            "WEBHOOK_SECRET": SECRET,
            "PORT": "1",  # never reached: the database check comes first
        },
    ),
    "worker": (["worker"], {"TELEGRAM_BOT_TOKEN": TOKEN}),
}
_SETTINGS = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE", "PUBLIC_URL", "WEBHOOK_SECRET", "PORT")


def phieu(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "PYTHONWARNINGS", *_SETTINGS)
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        cwd=cwd,
        env=base | env,
        check=False,
    )


def assert_one_clear_line(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    assert PASSWORD not in out, out
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Lỗi cấu hình: ") and "DATABASE_URL" in lines[0], lines[0]
    for part in expected:
        assert part in lines[0], lines[0]


BAD_URLS = {
    "mysql": (f"mysql://phieu:{PASSWORD}@localhost/phieu", "không nhận 'mysql'"),
    "malformed": ("::khong phai url::", "không đúng định dạng"),
    "no server": (f"postgresql://phieu:{PASSWORD}@127.0.0.1:1/phieu", "127.0.0.1:1"),
    "no folder": ("sqlite+aiosqlite:////khong/co/thu/muc/phieu.db", "không mở được tệp SQLite"),
}


@pytest.mark.parametrize("case", sorted(BAD_URLS))
def test_chat_with_an_unusable_database_url_stops_with_one_line(case: str, tmp_path: Path) -> None:
    url, expected = BAD_URLS[case]
    proc = phieu(["chat"], {"DATABASE_URL": url}, tmp_path, stdin="/menu\n")
    assert_one_clear_line(proc, expected)
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("command", "case"),
    [(c, "no server") for c in sorted(COMMANDS)]
    + [(c, "mysql") for c in ("run telegram", "serve", "worker", "agencies list")],
)
def test_every_command_refuses_an_unusable_database_url(
    command: str, case: str, tmp_path: Path
) -> None:
    args, env = COMMANDS[command]
    url, expected = BAD_URLS[case]
    proc = phieu(args, env | {"DATABASE_URL": url}, tmp_path)
    assert_one_clear_line(proc, expected)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"postgresql://{_PG.username or 'postgres'}@{PG_HOST}/khong_co_csdl", '"khong_co_csdl"'),
        (f"postgresql://nguoi_la:{PASSWORD}@{PG_HOST}/test", '"nguoi_la"'),
    ],
)
def test_a_wrong_database_or_user_is_named(url: str, expected: str, tmp_path: Path) -> None:
    probe = phieu(["agencies", "list"], {"DATABASE_URL": PG_URL}, tmp_path)
    if probe.returncode != 0 and os.environ.get("PHIEU_REQUIRE_POSTGRES") != "1":
        pytest.skip(f"PostgreSQL at {PG_HOST} unreachable: {probe.stderr.strip()}")
    proc = phieu(["agencies", "list"], {"DATABASE_URL": url}, tmp_path)
    assert_one_clear_line(proc, expected, "does not exist")


def test_a_bad_db_option_is_named_as_such(tmp_path: Path) -> None:
    proc = phieu(["chat", "--db", str(tmp_path / "khong-co" / "phieu.db")], {}, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Lỗi cấu hình: --db: không mở được tệp SQLite")


# ------------------------------------------------------------------ SQLite permissions
def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    old = os.umask(0)  # the most permissive umask: the mode must not depend on it
    try:
        proc = phieu(["chat", "--db", str(db)], {}, tmp_path, stdin="/sua 3.1.a\n12\n")
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert "✅ Đã lưu 3.1.a" in proc.stdout
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


async def test_sqlite_wal_and_shm_files_are_owner_only_too(tmp_path: Path) -> None:
    from storage.repository import Storage

    db = tmp_path / "answers.db"
    old = os.umask(0)
    try:
        storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    finally:
        os.umask(old)
    try:
        async with storage.unit() as unit:
            await unit.add_agency("X", "Cơ quan X", "so")
        files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        assert {"answers.db", "answers.db-wal", "answers.db-shm"} <= set(files), files
        assert set(files.values()) == {0o600}, files
    finally:
        await storage.close()


async def test_an_existing_sqlite_file_keeps_its_mode(tmp_path: Path) -> None:
    from storage.repository import Storage

    db = tmp_path / "shared.db"
    db.touch()
    db.chmod(0o640)  # chosen by the operator (e.g. a backup group): not ours to change
    storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
    await storage.close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o640


# ------------------------------------------------------------ Bot API down at start-up
async def test_run_telegram_retries_a_bot_api_that_is_down_at_start(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.drop_connections_next("deleteWebhook")  # no answer at all
        tg.fail_next("deleteWebhook", status=502)  # the front end is up, the API is not
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", *_SETTINGS)},
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": tg.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot.cli", "run", "telegram"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await tg.wait_for_call("getUpdates", answered=False, timeout=TIMEOUT)
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = err.decode()
        statuses = [c.status for c in tg.call_log if c.method == "deleteWebhook"]
        assert statuses == [0, 502, 200]
        retries = [line for line in log.splitlines() if "Bot API unreachable at start-up" in line]
        assert len(retries) == 2, log
        assert all(" bot.telegram_app: " not in line for line in log.splitlines()[2:]), log
        assert "retrying in 1 s" in retries[0] and "retrying in 2 s" in retries[1]
        assert "Traceback" not in log and TOKEN not in log
        assert tg.violations == []


async def test_a_token_telegram_refuses_stops_with_one_line(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        other = "987654:" + "B" * 35  # well-formed, but not this bot's
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", *_SETTINGS)},
            "TELEGRAM_BOT_TOKEN": other,
            "TELEGRAM_API_BASE": tg.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot.cli", "run", "telegram"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=TIMEOUT)
    log = err.decode()
    assert proc.returncode == 2, log
    assert log.strip().splitlines() == [
        "Lỗi cấu hình: Telegram từ chối TELEGRAM_BOT_TOKEN (401 Unauthorized): kiểm tra "
        "token @BotFather cấp, hoặc tạo token mới bằng /token."
    ]


async def test_webhook_registration_waits_for_the_bot_api(caplog: pytest.LogCaptureFixture) -> None:
    """`phieu serve` registers its webhook through the same retry: 502, 429, then success."""
    from bot.config import ConfigError
    from bot.telegram_app import ALLOWED_UPDATES, when_reachable
    from tests.e2e.test_telegram import admin_bot

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with FakeTelegram(token=TOKEN) as tg:
        tg.fail_next("setWebhook", status=502)
        tg.fail_next("setWebhook", status=503)
        tg.fail_next("setWebhook", status=429, retry_after=7)
        async with admin_bot(tg) as bot:
            done = await when_reachable(
                "setWebhook",
                lambda: bot.set_webhook(
                    "https://phieu.example.gov.vn/telegram/webhook",
                    allowed_updates=ALLOWED_UPDATES,
                ),
                sleep=sleep,
            )
            assert done is True
        assert slept == [1.0, 2.0, 7.0]
        assert [c.status for c in tg.call_log if c.method == "setWebhook"] == [502, 503, 429, 200]
        (hook,) = [c for c in tg.calls_to("setWebhook") if c.get("allowed_updates")][-1:]
        assert "edited_message" in hook["allowed_updates"]
    assert sum("retrying in" in r.getMessage() for r in caplog.records) == 3

    async with FakeTelegram(token=TOKEN) as tg:
        wrong = bot_for(tg, "987654:" + "B" * 35)
        async with wrong as bot:
            with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
                await when_reachable("getMe", bot.get_me, sleep=sleep)


def bot_for(tg: FakeTelegram, token: str) -> Any:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
