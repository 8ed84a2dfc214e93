"""Invitations in bulk (`phieu invite bulk`): one code per imported official, and a workbook
to mail-merge — agency, person, code, link and a QR code image of the link per row.

The link names the bot: its username comes from the Bot API (getMe, when a token is set) or
the TELEGRAM_BOT_USERNAME setting; a link is never written with a placeholder. Without a
username the workbook can hold the codes only, with a note saying how to use them.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from bot.desk.cells import formula_like, printable
from bot.desk.text import tr
from flows.i18n import N_

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.telegram.org"
# Telegram usernames: 5–32 characters, a letter first, letters, digits and underscores.
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
# What may stand before the username: a t.me (or telegram.me) address, with or without scheme.
_LINK = re.compile(r"^(?:https?://)?(?:www\.)?(?:t|telegram)\.me/", re.IGNORECASE)
QR_PIXELS = 120  # the image's side in the sheet


def clean_username(name: str | None) -> str | None:
    """The one reading of a bot username, wherever it is given (--bot, TELEGRAM_BOT_USERNAME,
    getMe): "@phieu_bot", " phieu_bot ", "t.me/phieu_bot", "https://t.me/phieu_bot/" or a
    whole link "https://t.me/phieu_bot?start=…" → "phieu_bot". None if it is not a username
    (a placeholder like "<ten_bot>" is not); never raises."""
    if not name:
        return None
    text = _LINK.sub("", name.strip())
    text = text.split("?", 1)[0].rstrip("/").removeprefix("@")
    return text if _USERNAME.match(text) else None


async def bot_username(
    token: str | None,
    api_base: str | None = None,
    setting: str | None = None,
    timeout: float = 10.0,
) -> str | None:
    """The bot's username: from getMe when `token` is set (what Telegram says is right),
    else — or if Telegram cannot be asked — the setting. None when neither gives one.
    Never raises; the token never appears in a log line."""
    if token:
        url = f"{(api_base or DEFAULT_API).rstrip('/')}/bot{token}/getMe"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
                http.get(url) as response,
            ):
                data = await response.json(content_type=None)
            if isinstance(data, dict) and data.get("ok"):
                found = clean_username(str(data.get("result", {}).get("username") or ""))
                if found:
                    return found
            log.warning("getMe gave no username (status %s)", response.status)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("getMe failed: %s", type(exc).__name__)
    return clean_username(setting)


def telegram_link(username: str, code: str) -> str:
    return f"https://t.me/{username}?start={code}"


def qr_png(text: str) -> bytes:
    """A QR code of `text` as PNG bytes (segno, pure Python; error correction M)."""
    import segno  # here, as openpyxl below: only `phieu invite bulk` needs them

    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=4, border=2)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class InviteRow:
    agency_code: str
    agency_name: str
    person: str
    position: str | None
    phone: str | None
    email: str | None
    code: str


def write_invites(
    path: Path,
    rows: list[InviteRow],
    username: str | None,
    expires_at: datetime,
    tz: str = "Asia/Ho_Chi_Minh",
    lang: str = "vi",
) -> None:
    """The mail-merge workbook; without `username`, codes only and a note on the first row."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = tr(N_("Mã mời"), None, lang)[:31]
    until = expires_at.astimezone(ZoneInfo(tz)).strftime("%d/%m/%Y %H:%M")
    headers = [N_("Mã cơ quan"), N_("Cơ quan"), N_("Họ và tên"), N_("Chức vụ"),
               N_("Điện thoại"), N_("Thư điện tử"), N_("Mã mời"), N_("Hết hạn")]  # fmt: skip
    if username:
        headers += [N_("Link"), N_("Mã QR")]
    first = 1
    if not username:
        ws.append([tr(N_("Chưa biết tên bot nên không có link: cán bộ mở bot Phiếu trên Telegram "
                         "và gửi /start MÃ_MỜI (mã ở cột Mã mời)."), None, lang)])  # fmt: skip
        ws["A1"].font = Font(bold=True, color="C00000")
        first = 2
    ws.append([tr(h, None, lang) for h in headers])
    for c in ws[first]:
        c.font = Font(bold=True)
    widths = [12, 30, 24, 18, 14, 26, 36, 16, 60, 18]
    for i, width in enumerate(widths[: len(headers)]):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    for r in rows:
        values: list[str | None] = [
            r.agency_code, r.agency_name, r.person, r.position, r.phone, r.email, r.code, until
        ]  # fmt: skip
        link = telegram_link(username, r.code) if username else None
        if link:
            values.append(link)
        ws.append([printable(v) if isinstance(v, str) else v for v in values])
        row = ws.max_row
        for c in ws[row]:
            if isinstance(c.value, str):
                c.data_type = "s"  # names and codes are text, never formulas
                if formula_like(c.value):
                    c.quotePrefix = True
            c.alignment = Alignment(vertical="center", wrap_text=True)
        if link:
            ws.cell(row=row, column=9).hyperlink = link
            image = Image(io.BytesIO(qr_png(link)))
            image.width = image.height = QR_PIXELS
            ws.add_image(image, f"J{row}")
            ws.row_dimensions[row].height = QR_PIXELS * 0.75 + 4  # points, a pixel is ¾ pt
    ws.freeze_panes = ws.cell(row=first + 1, column=1)
    wb.save(path)
