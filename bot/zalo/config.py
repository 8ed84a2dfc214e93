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

from bot.config import ConfigError, common_settings, url_setting
from bot.zalo.client import DEFAULT_BASE
from flows.i18n import N_

_TOKEN = re.compile(r"^[A-Za-z0-9]{1,40}:[A-Za-z0-9_-]{8,256}$")
# setWebhook takes a secret of 8–256 characters (FACTS.md); 16 at least, as for Telegram
# (bot/config.py common_settings checks it).
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
            N_("{name} không hợp lệ: {text}, cần một số dương. Ví dụ: {name}={example}"),
            name=name,
            text=repr(text),
            example=example,
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
            N_(
                "Thiếu ZALO_BOT_TOKEN: tạo bot trong Zalo Bot Manager (hoặc Zalo Bot Creator) "
                "rồi đặt biến ZALO_BOT_TOKEN=<bot_id>:<access_token> (xem README, mục Zalo)."
            )
        )
    if not _TOKEN.match(token):
        raise ConfigError(
            N_(
                "ZALO_BOT_TOKEN sai định dạng: cần dạng <bot_id>:<access_token> như Zalo Bot "
                "Creator cấp, ví dụ 1234567890123456789:AbCdEf…"
            )
        )
    common = common_settings(
        env,
        webhook_variable="ZALO_WEBHOOK_SECRET",
        missing_secret=N_(
            "Thiếu ZALO_WEBHOOK_SECRET: webhook Zalo cần một chuỗi bí mật để Zalo gửi kèm mỗi "
            "yêu cầu (tiêu đề X-Bot-Api-Secret-Token)."
        ),
        webhook=webhook,
    )
    base = url_setting("ZALO_API_BASE", env.get("ZALO_API_BASE", "").strip() or None, https=False)
    media = env.get("PHIEU_ZALO_MEDIA_DIR", "").strip() or "media/zalo"
    return ZaloSettings(
        token=token,
        api_base=base or DEFAULT_BASE,
        webhook_secret=common.webhook_secret,
        public_url=common.public_url,
        send_rate=_positive(env, "PHIEU_ZALO_SEND_RATE", DEFAULT_RATE, "5"),
        media_dir=Path(media),
        media_max_bytes=int(
            _positive(env, "PHIEU_ZALO_MEDIA_MAX_MB", DEFAULT_MEDIA_MB, "5") * 1024 * 1024
        ),
        database_url=common.database_url,
        host=common.host,
        port=common.port,
    )
