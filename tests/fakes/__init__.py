"""Test doubles for external services (the Telegram and Zalo Bot APIs)."""

from .telegram_api import ApiError, Call, FakeTelegram, FakeUser
from .telegram_contract import Contract, UploadedFile
from .zalo_api import FakeZalo

__all__ = ["ApiError", "Call", "Contract", "FakeTelegram", "FakeUser", "FakeZalo", "UploadedFile"]
