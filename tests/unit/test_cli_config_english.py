"""Configuration errors and band names in English runs: no Vietnamese left (`--lang en`).

Each bad or missing setting stops `phieu run …` / `phieu serve` with exit 2 and one line
naming the variable with an example, in the language of the run (bot/config.py,
bot/zalo/config.py, the sending pace of bot/workers/pacing.py and the database URL of
storage/database.py through gettext); the usual band names are translated too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.config import ConfigError
from scoring.model import DEFAULT_BANDS
from scoring.texts import band_text
from storage.database import describe_failure

VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)
TOKEN = "123456:" + "A" * 24
ZALO = "1234567890:" + "a" * 24
UNSET = {
    name: None
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "ZALO_BOT_TOKEN",
        "WEBHOOK_SECRET",
        "ZALO_WEBHOOK_SECRET",
        "PUBLIC_URL",
        "PORT",
        "DATABASE_URL",
        "TELEGRAM_API_BASE",
        "ZALO_API_BASE",
        "PHIEU_ZALO_SEND_RATE",
        "PHIEU_ZALO_MEDIA_MAX_MB",
        "PHIEU_SEND_RATE",
        "PHIEU_CHAT_BURST",
        "LC_ALL",
        "LC_MESSAGES",
    )
}

CASES: list[tuple[list[str], dict[str, str], str]] = [
    (["run", "telegram"], {}, "TELEGRAM_BOT_TOKEN is missing"),
    (["run", "telegram"], {"TELEGRAM_BOT_TOKEN": "bad"}, "TELEGRAM_BOT_TOKEN has the wrong format"),
    (["run", "telegram"], {"TELEGRAM_BOT_TOKEN": TOKEN, "PORT": "99999"}, "PORT is not valid"),
    (
        ["run", "telegram"],
        {"TELEGRAM_BOT_TOKEN": TOKEN, "WEBHOOK_SECRET": "short"},
        "WEBHOOK_SECRET must be 16–256 characters",
    ),
    (
        ["run", "telegram"],
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": "ftp://x"},
        "TELEGRAM_API_BASE is not valid",
    ),
    (["serve"], {}, "(or set ZALO_BOT_TOKEN to run the Zalo bot)"),
    (["serve"], {"TELEGRAM_BOT_TOKEN": TOKEN}, "PUBLIC_URL is missing"),
    (
        ["serve"],
        {"TELEGRAM_BOT_TOKEN": TOKEN, "PUBLIC_URL": "https://phieu.example.vn"},
        "WEBHOOK_SECRET is missing",
    ),
    (["serve"], {"ZALO_BOT_TOKEN": ZALO, "PUBLIC_URL": "http://x"}, "PUBLIC_URL is not valid"),
    (
        ["serve"],
        {"ZALO_BOT_TOKEN": ZALO, "PUBLIC_URL": "https://phieu.example.vn"},
        "ZALO_WEBHOOK_SECRET is missing",
    ),
    (["run", "zalo"], {}, "ZALO_BOT_TOKEN is missing"),
    (["run", "zalo"], {"ZALO_BOT_TOKEN": "no colon"}, "ZALO_BOT_TOKEN has the wrong format"),
    (
        ["run", "zalo"],
        {"ZALO_BOT_TOKEN": ZALO, "PHIEU_ZALO_SEND_RATE": "-1"},
        "PHIEU_ZALO_SEND_RATE is not valid",
    ),
    (
        ["run", "zalo"],
        {"ZALO_BOT_TOKEN": ZALO, "PHIEU_ZALO_MEDIA_MAX_MB": "nhiều"},
        "PHIEU_ZALO_MEDIA_MAX_MB is not valid",
    ),
    (["run", "zalo"], {"ZALO_BOT_TOKEN": ZALO, "ZALO_API_BASE": "x"}, "ZALO_API_BASE is not valid"),
    # the sending pace (bot/workers/pacing.py), read before either channel's settings
    (
        ["run", "telegram"],
        {"TELEGRAM_BOT_TOKEN": TOKEN, "PHIEU_SEND_RATE": "nhanh"},
        "PHIEU_SEND_RATE is not valid: 'nhanh'; it must be a positive number. "
        "Example: PHIEU_SEND_RATE=30",
    ),
    (
        ["run", "zalo"],
        {"ZALO_BOT_TOKEN": ZALO, "PHIEU_CHAT_BURST": "2.5"},
        "PHIEU_CHAT_BURST is not valid: '2.5'; it must be a positive whole number. "
        "Example: PHIEU_CHAT_BURST=3",
    ),
    (
        ["run", "telegram"],
        {"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x@localhost/phieu"},
        "DATABASE_URL accepts only PostgreSQL or SQLite, not 'mysql'. Example: "
        "postgresql://phieu:password@localhost:5432/phieu or sqlite+aiosqlite:///phieu.db",
    ),
]


def _run(args: list[str], env: dict[str, str], lang: str) -> Any:
    result = CliRunner().invoke(
        cli_app, ["--lang", lang, *args], env={**UNSET, "LANG": "C.UTF-8", **env}
    )
    assert "Traceback" not in result.output, result.output
    return result


@pytest.mark.parametrize(("args", "env", "said"), CASES)
def test_configuration_errors_are_english_in_an_english_run(
    args: list[str], env: dict[str, str], said: str
) -> None:
    result = _run(args, env, "en")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Configuration error: "), result.output
    assert said in result.output, result.output
    # the value the administrator typed is quoted back as typed (it may be Vietnamese)
    shown = result.output.replace("'nhiều'", "''").replace("'nhanh'", "''")
    assert not VIETNAMESE.search(shown), shown


@pytest.mark.parametrize(("args", "env", "_"), CASES[:4] + CASES[-3:])
def test_the_same_errors_stay_vietnamese_by_default(
    args: list[str], env: dict[str, str], _: str
) -> None:
    result = _run(args, env, "vi")
    assert result.exit_code == 2 and result.output.startswith("Lỗi cấu hình: "), result.output


def test_pacing_and_database_url_errors_keep_their_vietnamese_wording() -> None:
    said = [_run(args, env, "vi").output.strip() for args, env, _ in CASES[-3:]]
    assert said == [
        "Lỗi cấu hình: PHIEU_SEND_RATE không hợp lệ: 'nhanh', cần một số dương. "
        "Ví dụ: PHIEU_SEND_RATE=30",
        "Lỗi cấu hình: PHIEU_CHAT_BURST không hợp lệ: '2.5', cần một số nguyên dương. "
        "Ví dụ: PHIEU_CHAT_BURST=3",
        "Lỗi cấu hình: DATABASE_URL chỉ nhận PostgreSQL hoặc SQLite, không nhận 'mysql'. "
        "Ví dụ: postgresql://phieu:mật-khẩu@localhost:5432/phieu hoặc sqlite+aiosqlite:///phieu.db",
    ]


def test_a_message_made_elsewhere_is_said_as_it_is() -> None:
    e = ConfigError("DATABASE_URL: {not a field}")
    assert e.said("en") == str(e) == "DATABASE_URL: {not a field}"
    hinted = ConfigError("PORT không hợp lệ: {text}. Ví dụ: PORT=8080", text="'x'").with_hint(
        "hoặc đặt ZALO_BOT_TOKEN để chạy bot Zalo"
    )
    assert hinted.said("en") == (
        "PORT is not valid: 'x'. Example: PORT=8080 (or set ZALO_BOT_TOKEN to run the Zalo bot)"
    )


def test_the_usual_band_names_are_english_in_an_english_run() -> None:
    english = [band_text(b.name, "en") for b in DEFAULT_BANDS]
    assert english == ["Very good", "Good", "Average", "Weak"]
    assert [band_text(b.name, "vi") for b in DEFAULT_BANDS] == ["Tốt", "Khá", "Trung bình", "Yếu"]
    assert band_text("Xuất sắc", "en") == "Xuất sắc"  # a scale's own name, as written


# ---- the database named on the command line (storage/database.py) ---------------------------

BAD_URLS = [
    ("mysql://phieu:secret@localhost/phieu", "DATABASE_URL accepts only PostgreSQL or SQLite"),
    ("::not a url::", "DATABASE_URL is not a valid URL"),
]


@pytest.mark.parametrize(("url", "said"), BAD_URLS)
def test_a_bad_database_url_is_said_in_english(url: str, said: str) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["--lang", "en", "score", "--campaign", "1"],
        env={**UNSET, "LANG": "C.UTF-8", "DATABASE_URL": url},
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Configuration error: {said}"), result.output
    assert "Example: postgresql://phieu:password@" in result.output
    assert "secret" not in result.output and not VIETNAMESE.search(result.output)


def test_an_unopenable_db_file_is_said_in_english(tmp_path: Path) -> None:
    db = tmp_path / "no-folder" / "phieu.db"
    result = CliRunner().invoke(
        cli_app,
        ["--lang", "en", "score", "--campaign", "1", "--db", str(db)],
        env={**UNSET, "LANG": "C.UTF-8"},
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Configuration error: --db: cannot open the SQLite file")
    assert not VIETNAMESE.search(result.output), result.output


def test_the_same_database_errors_stay_vietnamese_by_default() -> None:
    result = CliRunner().invoke(
        cli_app,
        ["score", "--campaign", "1"],
        env={**UNSET, "LANG": "C.UTF-8", "DATABASE_URL": "mysql://x@localhost/phieu"},
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        "Lỗi cấu hình: DATABASE_URL chỉ nhận PostgreSQL hoặc SQLite, không nhận 'mysql'. Ví dụ: "
        "postgresql://phieu:mật-khẩu@localhost:5432/phieu hoặc sqlite+aiosqlite:///phieu.db"
    ), result.output


def test_a_database_that_cannot_be_reached_is_said_in_either_language() -> None:
    from sqlalchemy.engine import make_url

    url = make_url("postgresql+asyncpg://phieu:secret@db.example.vn:6543/phieu")
    down = describe_failure(ConnectionRefusedError("Connection refused"), url)
    assert down.said("en") == (
        "DATABASE_URL: cannot connect to the database server db.example.vn:6543 "
        "(postgresql+asyncpg://phieu:***@db.example.vn:6543/phieu): Connection refused. "
        "Check that the PostgreSQL server is running and the address and port are right."
    )
    assert str(down) == (
        "DATABASE_URL: không kết nối được máy chủ cơ sở dữ liệu db.example.vn:6543 "
        "(postgresql+asyncpg://phieu:***@db.example.vn:6543/phieu): Connection refused. "
        "Kiểm tra máy chủ PostgreSQL đang chạy và địa chỉ, cổng đúng."
    )
    refused = describe_failure(RuntimeError('role "x" does not exist'), url, "--db")
    assert refused.said("en").startswith("--db: the database server refused the connection")
    assert str(refused).startswith("--db: máy chủ cơ sở dữ liệu từ chối kết nối")


@pytest.mark.parametrize(
    ("args", "en", "vi"),
    [
        (
            ["--agency", "NOPE"],
            "No agency with code 'NOPE'. See: phieu agencies list",
            "Không có cơ quan mã 'NOPE'. Xem: phieu agencies list",
        ),
        (["--user", "99"], "No user number 99.", "Không có người dùng số 99."),
    ],
)
def test_chat_as_someone_unknown_is_said_in_the_run_language(
    args: list[str], en: str, vi: str, tmp_path: Path
) -> None:
    """bot/channels/console.py stops `phieu chat` for an unknown agency or user."""
    for lang, said in (("en", en), ("vi", vi)):
        result = CliRunner().invoke(
            cli_app,
            ["--lang", lang, "chat", *args, "--db", str(tmp_path / "p.db")],
            env={**UNSET, "LANG": "C.UTF-8"},
            input="",
        )
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == said, result.output
