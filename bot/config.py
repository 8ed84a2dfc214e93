"""Settings from the environment, checked at start-up with messages that say what to fix.

Secrets (the bot token, the webhook secret, a database password) are never logged:
`Settings.__repr__` masks them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from storage.database import DatabaseSetupError, resolve_url

_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


class ConfigError(ValueError):
    """A missing or bad setting; the message names the variable and gives an example."""


@dataclass(frozen=True)
class Settings:
    telegram_token: str
    telegram_api_base: str | None
    database_url: str | None
    public_url: str | None
    webhook_secret: str | None
    host: str
    port: int

    def __repr__(self) -> str:
        return (
            f"Settings(telegram_token='***', telegram_api_base={self.telegram_api_base!r}, "
            f"public_url={self.public_url!r}, host={self.host!r}, port={self.port})"
        )

    @property
    def webhook_path(self) -> str:
        return "/telegram/webhook"


def _url(name: str, value: str | None, *, https: bool) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    allowed = ("https",) if https else ("http", "https")
    if parts.scheme not in allowed or not parts.netloc:
        example = "https://phieu.sotttt.gov.vn" if https else "http://127.0.0.1:8081"
        raise ConfigError(f"{name} không hợp lệ: cần URL {'/'.join(allowed)}, ví dụ {example}")
    return value.rstrip("/")


def load_settings(env: Mapping[str, str] | None = None, *, webhook: bool = False) -> Settings:
    """Read and check the settings; `webhook=True` also requires PUBLIC_URL and the secret."""
    env = os.environ if env is None else env
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "Thiếu TELEGRAM_BOT_TOKEN: tạo bot với @BotFather rồi đặt biến "
            "TELEGRAM_BOT_TOKEN=123456789:AA… (xem README)."
        )
    if not _TOKEN.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN sai định dạng: cần dạng 123456789:AAE… như @BotFather cấp."
        )
    secret = env.get("WEBHOOK_SECRET", "").strip() or None
    if secret is not None and not _SECRET.match(secret):
        raise ConfigError(
            "WEBHOOK_SECRET phải dài 16–256 ký tự A-Z, a-z, 0-9, _ hoặc -. "
            "Ví dụ: tạo bằng `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`."
        )
    public = _url("PUBLIC_URL", env.get("PUBLIC_URL", "").strip() or None, https=True)
    if webhook and public is None:
        raise ConfigError(
            "Thiếu PUBLIC_URL (địa chỉ https công khai của máy chủ), ví dụ "
            "PUBLIC_URL=https://phieu.sotttt.gov.vn"
        )
    if webhook and secret is None:
        raise ConfigError(
            "Thiếu WEBHOOK_SECRET: webhook cần một chuỗi bí mật để Telegram gửi kèm mỗi yêu cầu."
        )
    database_url = env.get("DATABASE_URL", "").strip() or None
    if database_url is not None:
        try:
            resolve_url(database_url)
        except DatabaseSetupError as e:
            raise ConfigError(str(e)) from None
    port_text = env.get("PORT", "8080").strip()
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ConfigError(f"PORT không hợp lệ: {port_text!r}. Ví dụ: PORT=8080")
    return Settings(
        telegram_token=token,
        telegram_api_base=_url(
            "TELEGRAM_API_BASE", env.get("TELEGRAM_API_BASE", "").strip() or None, https=False
        ),
        database_url=database_url,
        public_url=public,
        webhook_secret=secret,
        host=env.get("HOST", "0.0.0.0").strip() or "0.0.0.0",  # noqa: S104 - a server listens
        port=int(port_text),
    )
