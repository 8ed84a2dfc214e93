"""Settings from the environment, checked at start-up with messages that say what to fix.

Secrets (the bot token, the webhook secret, a database password) are never logged:
`Settings.__repr__` masks them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flows.i18n import N_, translate
from storage.database import DatabaseSetupError, resolve_url

_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


class ConfigError(ValueError):
    """A missing or bad setting; the message names the variable and gives an example.

    `msgid` is a catalog text (Vietnamese, flows/i18n) with `{fields}` from `params`, so the
    CLI says it in the language of the run (`said(lang)`); `str(e)` is the Vietnamese.
    A text that is not in the catalog (a message made elsewhere) is said as it is. `hint`,
    a msgid too, is added in brackets ("… (hoặc đặt ZALO_BOT_TOKEN …)").
    """

    def __init__(self, msgid: str, /, *, hint: str | None = None, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        self.hint = hint
        super().__init__(self.said("vi"))

    def said(self, lang: str) -> str:
        """The message in `lang` ("vi" or "en")."""
        text = translate(lang, self.msgid, self.params or None)
        if self.hint is not None:
            text += f" ({translate(lang, self.hint)})"
        return text

    def with_hint(self, hint: str) -> ConfigError:
        """The same error with `hint` (a msgid) added."""
        return ConfigError(self.msgid, hint=hint, **self.params)


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


def url_setting(name: str, value: str | None, *, https: bool) -> str | None:
    """`value` without its trailing slash, None when unset; ConfigError unless an http(s)
    URL (https only when `https`)."""
    if not value:
        return None
    parts = urlsplit(value)
    allowed = ("https",) if https else ("http", "https")
    if parts.scheme not in allowed or not parts.netloc:
        example = "https://phieu.sotttt.gov.vn" if https else "http://127.0.0.1:8081"
        raise ConfigError(
            N_("{name} không hợp lệ: cần URL {schemes}, ví dụ {example}"),
            name=name,
            schemes="/".join(allowed),
            example=example,
        )
    return value.rstrip("/")


@dataclass(frozen=True)
class Common:
    """The settings every channel's server reads alike (checked by `common_settings`)."""

    webhook_secret: str | None
    public_url: str | None
    database_url: str | None
    host: str
    port: int


def common_settings(
    env: Mapping[str, str], *, webhook_variable: str, missing_secret: str, webhook: bool
) -> Common:
    """The webhook secret (variable `webhook_variable`; `missing_secret` is the msgid said when a
    webhook has none), PUBLIC_URL (https; required with `webhook`), DATABASE_URL, HOST and
    PORT, each checked with a message naming the variable and giving an example."""
    secret = env.get(webhook_variable, "").strip() or None
    if secret is not None and not _SECRET.match(secret):
        raise ConfigError(
            N_(
                "{name} phải dài 16–256 ký tự A-Z, a-z, 0-9, _ hoặc -. Ví dụ: tạo bằng "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            ),
            name=webhook_variable,
        )
    public = url_setting("PUBLIC_URL", env.get("PUBLIC_URL", "").strip() or None, https=True)
    if webhook and public is None:
        raise ConfigError(
            N_(
                "Thiếu PUBLIC_URL (địa chỉ https công khai của máy chủ), ví dụ "
                "PUBLIC_URL=https://phieu.sotttt.gov.vn"
            )
        )
    if webhook and secret is None:
        raise ConfigError(missing_secret)
    database_url = env.get("DATABASE_URL", "").strip() or None
    if database_url is not None:
        try:
            resolve_url(database_url)
        except DatabaseSetupError as e:
            raise ConfigError(e.msgid, **e.params) from None
    port_text = env.get("PORT", "8080").strip()
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ConfigError(N_("PORT không hợp lệ: {text}. Ví dụ: PORT=8080"), text=repr(port_text))
    return Common(
        webhook_secret=secret,
        public_url=public,
        database_url=database_url,
        host=env.get("HOST", "0.0.0.0").strip() or "0.0.0.0",  # noqa: S104 - a server listens
        port=int(port_text),
    )


def load_settings(env: Mapping[str, str] | None = None, *, webhook: bool = False) -> Settings:
    """Read and check the settings; `webhook=True` also requires PUBLIC_URL and the secret."""
    env = os.environ if env is None else env
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            N_(
                "Thiếu TELEGRAM_BOT_TOKEN: tạo bot với @BotFather rồi đặt biến "
                "TELEGRAM_BOT_TOKEN=123456789:AA… (xem README)."
            )
        )
    if not _TOKEN.match(token):
        raise ConfigError(
            N_("TELEGRAM_BOT_TOKEN sai định dạng: cần dạng 123456789:AAE… như @BotFather cấp.")
        )
    common = common_settings(
        env,
        webhook_variable="WEBHOOK_SECRET",
        missing_secret=N_(
            "Thiếu WEBHOOK_SECRET: webhook cần một chuỗi bí mật để Telegram gửi kèm mỗi yêu cầu."
        ),
        webhook=webhook,
    )
    return Settings(
        telegram_token=token,
        telegram_api_base=url_setting(
            "TELEGRAM_API_BASE", env.get("TELEGRAM_API_BASE", "").strip() or None, https=False
        ),
        database_url=common.database_url,
        public_url=common.public_url,
        webhook_secret=common.webhook_secret,
        host=common.host,
        port=common.port,
    )
