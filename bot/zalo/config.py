"""Zalo settings from the environment, checked at start-up like Telegram's (bot/config.py).

ZALO_BOT_TOKEN (required), ZALO_API_BASE, ZALO_WEBHOOK_SECRET (required for webhooks),
PHIEU_ZALO_SEND_RATE, PHIEU_ZALO_MEDIA_DIR, PHIEU_ZALO_MEDIA_MAX_MB. The token is never
shown: `ZaloSettings.__repr__` masks it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config import ConfigError, _url
from bot.zalo.client import DEFAULT_BASE
from storage.database import DatabaseSetupError, resolve_url

_TOKEN = re.compile(r"^[A-Za-z0-9]{1,40}:[A-Za-z0-9_-]{8,256}$")
# setWebhook takes a secret of 8–256 characters (FACTS.md); 16 at least, as for Telegram.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
DEFAULT_RATE = 10.0  # messages a second for the whole bot: Zalo publishes no limit
DEFAULT_MEDIA_MB = 5.0  # Zalo keeps media under 5 MB


@dataclass(frozen=True)
class ZaloSettings:
    token: str
    api_base: str
    webhook_secret: str | None
    public_url: str | None
    send_rate: float
    media_dir: Path
    media_max_bytes: int
    database_url: str | None = None
    host: str = "0.0.0.0"  # noqa: S104 - a server listens
    port: int = 8080

    def __repr__(self) -> str:
        return (
            f"ZaloSettings(token='***', api_base={self.api_base!r}, "
            f"public_url={self.public_url!r}, send_rate={self.send_rate})"
        )

    @property
    def webhook_path(self) -> str:
        return "/zalo/webhook"


def zalo_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("ZALO_BOT_TOKEN", "").strip())


def _positive(env: Mapping[str, str], name: str, default: float, example: str) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(
            f"{name} không hợp lệ: {text!r}, cần một số dương. Ví dụ: {name}={example}"
        )
    return value


def load_zalo_settings(
    env: Mapping[str, str] | None = None, *, webhook: bool = False
) -> ZaloSettings:
    """Read and check; `webhook=True` also requires PUBLIC_URL and ZALO_WEBHOOK_SECRET.
    Raises ConfigError naming the variable, with an example."""
    env = os.environ if env is None else env
    token = env.get("ZALO_BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "Thiếu ZALO_BOT_TOKEN: tạo bot trong Zalo Bot Manager (hoặc Zalo Bot Creator) rồi "
            "đặt biến ZALO_BOT_TOKEN=<bot_id>:<access_token> (xem README, mục Zalo)."
        )
    if not _TOKEN.match(token):
        raise ConfigError(
            "ZALO_BOT_TOKEN sai định dạng: cần dạng <bot_id>:<access_token> như Zalo Bot "
            "Creator cấp, ví dụ 1234567890123456789:AbCdEf…"
        )
    secret = env.get("ZALO_WEBHOOK_SECRET", "").strip() or None
    if secret is not None and not _SECRET.match(secret):
        raise ConfigError(
            "ZALO_WEBHOOK_SECRET phải dài 16–256 ký tự A-Z, a-z, 0-9, _ hoặc -. Ví dụ: tạo "
            "bằng `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    public = _url("PUBLIC_URL", env.get("PUBLIC_URL", "").strip() or None, https=True)
    if webhook and public is None:
        raise ConfigError(
            "Thiếu PUBLIC_URL (địa chỉ https công khai của máy chủ), ví dụ "
            "PUBLIC_URL=https://phieu.sotttt.gov.vn"
        )
    if webhook and secret is None:
        raise ConfigError(
            "Thiếu ZALO_WEBHOOK_SECRET: webhook Zalo cần một chuỗi bí mật để Zalo gửi kèm mỗi "
            "yêu cầu (tiêu đề X-Bot-Api-Secret-Token)."
        )
    base = _url("ZALO_API_BASE", env.get("ZALO_API_BASE", "").strip() or None, https=False)
    media = env.get("PHIEU_ZALO_MEDIA_DIR", "").strip() or "media/zalo"
    database_url = env.get("DATABASE_URL", "").strip() or None
    if database_url is not None:
        try:
            resolve_url(database_url)
        except DatabaseSetupError as e:
            raise ConfigError(str(e)) from None
    port_text = env.get("PORT", "8080").strip()
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ConfigError(f"PORT không hợp lệ: {port_text!r}. Ví dụ: PORT=8080")
    return ZaloSettings(
        token=token,
        api_base=base or DEFAULT_BASE,
        webhook_secret=secret,
        public_url=public,
        send_rate=_positive(env, "PHIEU_ZALO_SEND_RATE", DEFAULT_RATE, "5"),
        media_dir=Path(media),
        media_max_bytes=int(
            _positive(env, "PHIEU_ZALO_MEDIA_MAX_MB", DEFAULT_MEDIA_MB, "5") * 1024 * 1024
        ),
        database_url=database_url,
        host=env.get("HOST", "0.0.0.0").strip() or "0.0.0.0",  # noqa: S104
        port=int(port_text),
    )
