"""Invitation codes: the only way into Phiếu.

A code carries 192 bits of randomness (token_urlsafe(24), 32 characters, valid as a Telegram
deep-link payload). Only its SHA-256 is stored: with that much entropy a fast hash is enough,
and a leaked database gives no usable codes. Failed attempts are counted per sender in the
database, so guessing is throttled across restarts and workers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flows.i18n import N_
from storage.repository import Unit

CODE_BYTES = 24
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def invite_link(bot_username: str | None, code: str) -> str:
    return f"https://t.me/{bot_username or '<ten_bot>'}?start={code}"


class Redeem(StrEnum):
    BOUND = "bound"
    ALREADY = "already"
    INVALID = "invalid"
    THROTTLED = "throttled"


def refusal_text(outcome: Redeem) -> str:
    """What a chat is told when its code was not taken (a msgid): throttled after too many
    tries, else a wrong, used-up or expired code."""
    if outcome is Redeem.THROTTLED:
        return N_(
            "Anh/chị đã thử quá nhiều lần. Vui lòng thử lại sau một giờ hoặc liên hệ Sở TTTT."
        )
    return N_(
        "Mã mời không đúng, đã dùng hết hoặc đã hết hạn. Vui lòng liên hệ Sở TTTT để nhận mã mới."
    )


@dataclass(frozen=True, slots=True)
class RedeemResult:
    outcome: Redeem
    agency_name: str | None = None
    role: str | None = None


async def redeem(
    unit: Unit,
    code: str,
    channel: str,
    external_id: str,
    display_name: str | None,
    now: datetime,
) -> RedeemResult:
    """Bind a chat account to the invite's agency and role, spending one use."""
    if await unit.identity(channel, external_id) is not None:
        return RedeemResult(Redeem.ALREADY)
    since = now - FAILURE_WINDOW
    if await unit.count_invite_failures(channel, external_id, since) >= MAX_FAILURES:
        return RedeemResult(Redeem.THROTTLED)
    invite = None
    if _CODE_SHAPE.match(code.strip()):
        invite = await unit.invite_by_hash(hash_code(code))
    if (
        invite is None
        or not hmac.compare_digest(invite.code_hash, hash_code(code))
        or not await unit.use_invite(invite.id, now)
    ):
        await unit.record_invite_failure(channel, external_id, now)
        return RedeemResult(Redeem.INVALID)
    person = await unit.user(invite.user_id) if invite.user_id is not None else None
    # An invitation made for an imported person (phieu invite bulk) binds the account to them.
    user = person or await unit.add_user(display_name or external_id, invite.agency_id, invite.role)
    await unit.bind_identity(user.id, channel, external_id, display_name)
    agency = await unit.agency(invite.agency_id) if invite.agency_id else None
    return RedeemResult(Redeem.BOUND, agency.name if agency else None, invite.role)
