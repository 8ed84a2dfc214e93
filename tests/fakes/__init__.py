"""Test doubles for external services (currently the Telegram Bot API)."""

from .telegram_api import ApiError, Call, FakeTelegram, FakeUser
from .telegram_contract import Contract, UploadedFile

__all__ = ["ApiError", "Call", "Contract", "FakeTelegram", "FakeUser", "UploadedFile"]
