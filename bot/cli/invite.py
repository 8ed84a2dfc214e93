"""`phieu invite`: invitation codes (only invited people can use the bot)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import (
    DB_OPTION,
    ROLES,
    TZ,
    choice,
    date_option,
    day,
    fail,
    in_unit,
    parse_day,
    say,
    today_local,
)
from bot.cli.lang import language, t
from bot.desk.invites import clean_username, telegram_link
from bot.invites import hash_code, new_code
from flows.i18n import N_, ngettext, nt
from storage.records import AgencyRec, InviteRec, UserRec
from storage.repository import Unit

invite_app = typer.Typer(
    help=N_("Mã mời (chỉ người được mời mới dùng được bot)."), no_args_is_help=True
)


@invite_app.command(
    "create",
    help=N_(
        "Tạo một mã mời cho một cơ quan: in mã và đường link Telegram, hoặc tin nhắn gửi bot "
        "Zalo (mã chỉ hiện một lần)."
    ),
)
def invite_create(
    agency: str | None = typer.Option(
        None,
        "--agency",
        metavar=N_("MÃ"),
        help=N_("Mã cơ quan (không cần khi có --person: lấy cơ quan của người đó)"),
    ),
    role: str | None = typer.Option(
        None,
        "--role",
        metavar=N_("VAI_TRÒ"),
        help=N_("official | reviewer | admin (mặc định official, hoặc vai trò của --person)"),
    ),
    person: str | None = typer.Option(
        None,
        "--person",
        metavar=N_("SỐ|TÊN"),
        help=N_(
            "Mời một người đã có (số người dùng, hoặc họ tên; cơ quan lấy theo người đó): tài "
            "khoản chat dùng mã được gắn vào người đó, vd. thêm Zalo cho người đang dùng Telegram"
        ),
    ),
    uses: int | None = typer.Option(
        1, "--uses", metavar=N_("SỐ"), help=N_("Số lần dùng (mặc định 1)")
    ),
    expires: str | None = date_option(
        None, "--expires", N_("Ngày hết hạn, DD/MM/YYYY (mặc định: sau 14 ngày)")
    ),
    bot: str | None = typer.Option(
        None,
        "--bot",
        metavar=N_("TÊN_BOT"),
        envvar="TELEGRAM_BOT_USERNAME",
        help=N_("Tên bot Telegram, để in đường link"),
    ),
    channel: str = typer.Option(
        "telegram",
        "--channel",
        metavar=N_("KÊNH"),
        help=N_("telegram | zalo: kênh người được mời sẽ dùng"),
    ),
    zalo_bot: str | None = typer.Option(
        None,
        "--zalo-bot",
        metavar=N_("TÊN_BOT"),
        envvar="ZALO_BOT_NAME",
        help=N_("Tên bot Zalo, để in hướng dẫn"),
    ),
    db: Path | None = DB_OPTION,
) -> None:
    bot = bot_name(bot)
    if agency is None and person is None:
        fail(
            N_(
                "Cần cho biết mã mời dành cho cơ quan nào: --agency MÃ (xem phieu agencies list), "
                "hoặc --person SỐ cho một người đã có (xem phieu people list). Ví dụ: phieu invite "
                "create --agency STTTT"
            )
        )
    if role is not None:
        choice("--role", role, ROLES)
    choice("--channel", channel, ("telegram", "zalo"))
    if uses is not None and uses < 1:
        fail(N_("--uses phải ≥ 1"))
    tz = ZoneInfo(TZ)
    if expires:
        last = parse_day(expires, "--expires")
        today = today_local()
        if last < today:
            fail(
                N_(
                    "--expires {value} đã qua (hôm nay là {today}): mã mời sẽ không dùng được. "
                    "Ví dụ: --expires {example}"
                ),
                value=day(last),
                today=day(today),
                example=day(today + timedelta(days=14)),
            )
        until = datetime.combine(last, time(23, 59, 59), tz)
    else:
        until = datetime.now(tz) + timedelta(days=14)
    code = new_code()

    async def work(u: Unit) -> tuple[str, str, UserRec | None]:
        rec: AgencyRec | None = None
        if agency is not None:
            rec = (await u.agencies_by_codes([agency])).get(agency)
            if rec is None:
                fail(N_("Không có cơ quan mã {code!r}. Xem: phieu agencies list"), code=agency)
        who = await _person(u, rec, person) if person is not None else None
        if who is not None and rec is None:
            rec = await u.agency(who.agency_id) if who.agency_id is not None else None
            if rec is None:
                fail(
                    N_(
                        "{name} (#{id}) chưa thuộc cơ quan nào: thêm --agency MÃ, ví dụ "
                        "--agency STTTT."
                    ),
                    name=who.name,
                    id=str(who.id),
                )
        assert rec is not None  # --agency, or the person's agency (checked above)
        if who is not None and role is not None and role != who.role:
            fail(
                N_("{name} có vai trò {has}, không phải {role}: bỏ --role hoặc sửa cho đúng."),
                name=who.name,
                has=who.role,
                role=role,
            )
        as_role = who.role if who is not None else role or "official"
        await u.add_invite(
            hash_code(code),
            rec.id,
            as_role,
            uses,
            until.astimezone(UTC),
            user_id=who.id if who is not None else None,
        )
        return rec.code, as_role, who

    agency_code, as_role, who = in_unit(db, work)
    say(N_("Mã mời: {code}"), code=code)
    if who is not None:
        say(
            N_("Mã này dành cho {name} (#{id}): tài khoản dùng mã sẽ được gắn vào người này."),
            name=who.name,
            id=str(who.id),
        )
    if channel == "zalo":
        for line in zalo_instructions(zalo_bot, code):
            typer.echo(line)
    elif bot:
        say(N_("Link: {link}"), link=telegram_link(bot, code))
    else:
        say(
            N_(
                "Chưa biết tên bot Telegram nên chưa in được đường link: thêm --bot TÊN_BOT (hoặc "
                "đặt TELEGRAM_BOT_USERNAME). Cán bộ vẫn có thể gõ /start {code} trong bot."
            ),
            code=code,
        )
    # Unlimited uses read as a plural ("unlimited uses").
    said = nt(
        language(),
        ngettext(
            "Cơ quan {agency}, vai trò {role}, {uses} lần, hết hạn {until}. Mã chỉ hiện một lần.",
            "Cơ quan {agency}, vai trò {role}, {uses} lần, hết hạn {until}. Mã chỉ hiện một lần.",
            uses or 2,
        ),
        {
            "agency": agency_code,
            "role": as_role,
            "uses": str(uses) if uses else t(N_("không giới hạn")),
            "until": f"{until:%d/%m/%Y %H:%M}",
        },
    )
    typer.echo(said)


def bot_name(given: str | None) -> str | None:
    """The Telegram bot username --bot or TELEGRAM_BOT_USERNAME gives, read by
    `clean_username` (so @ten_bot and https://t.me/ten_bot work too); None when not given.
    Anything that is not a username stops the command (exit 2) with an example, rather than
    printing a link that leads nowhere."""
    if given is None or not given.strip():
        return None
    name = clean_username(given)
    if name is None:
        fail(
            N_(
                "Tên bot Telegram {value!r} (--bot hoặc TELEGRAM_BOT_USERNAME) không đúng: tên "
                "bot có 5–32 chữ cái không dấu, chữ số hoặc dấu _, bắt đầu bằng chữ cái. Ví dụ: "
                "--bot so_tttt_bot (cũng nhận @so_tttt_bot hoặc https://t.me/so_tttt_bot)"
            ),
            value=given,
        )
    return name


async def _person(u: Unit, agency: AgencyRec | None, given: str) -> UserRec:
    """The person `--person` names: a user number, or a full name (case and spacing
    ignored) that exactly one person has — within `agency` when --agency was given, else
    among every agency's people. Exits with a message (exit 2) when nobody or several
    match, or when --agency names another agency than the person's."""
    agencies = {a.id: a for a in await u.list_agencies()}
    wanted = given.strip()
    if wanted.lstrip("#").isdigit():
        found = await u.user(int(wanted.lstrip("#")))
        hits = [found] if found is not None else []
    else:
        key = " ".join(wanted.split()).casefold()
        everyone = await u.people_of(list(agencies))
        hits = [p for p in everyone if " ".join(p.name.split()).casefold() == key]

    def said(p: UserRec) -> str:
        where = agencies[p.agency_id].code if p.agency_id in agencies else "—"
        return f"#{p.id} {p.name} ({p.role}, {where})"

    if agency is not None:
        inside = [p for p in hits if p.agency_id == agency.id]
        if hits and not inside:
            fail(
                N_(
                    "--person {person!r} không thuộc cơ quan {agency}: {people}. Bỏ --agency "
                    "(cơ quan lấy theo người đó) hoặc sửa cho đúng."
                ),
                person=given,
                agency=agency.code,
                people="; ".join(said(p) for p in hits),
            )
        hits = inside
    if len(hits) == 1:
        return hits[0]
    if not hits and agency is not None:
        people = await u.people_of([agency.id])
        fail(
            N_(
                "Cơ quan {agency} không có người {person!r}. Ghi số người dùng hoặc đúng họ tên, "
                "vd. --person {example}. Người của cơ quan: {people}"
            ),
            agency=agency.code,
            person=given,
            example=str(people[0].id) if people else "12",
            people="; ".join(said(p) for p in people[:20]) or "—",
        )
    if not hits:
        fail(
            N_(
                "Không có người {person!r}. Ghi số người dùng hoặc đúng họ tên, vd. --person 12 "
                "(xem: phieu people list)."
            ),
            person=given,
        )
    fail(
        N_("Có {n} người tên {person!r}: ghi số người dùng. {people}"),
        n=str(len(hits)),
        person=given,
        people="; ".join(said(p) for p in hits),
    )


def zalo_instructions(bot_name: str | None, code: str) -> list[str]:
    """What to tell a Zalo user: Zalo has no deep links for bots, so the code is sent as a
    message (alone, or as `/start <code>`) to the bot, found by name in Zalo."""
    name = bot_name or t(N_("<tên bot Zalo>"))
    return [
        t(
            N_(
                "Gửi cho người được mời: mở Zalo, tìm bot “{name}”, bấm Quan tâm/Nhắn tin rồi "
                "gửi tin nhắn:"
            ),
            name=name,
        ),
        f"  {code}",
        t(N_("(hoặc: /start {code})"), code=code),
    ]


def _for_whom(i: InviteRec, names: dict[int, str]) -> str:
    """The person a personal code is for, "Tên (#id)"; "—" for a code of the agency."""
    if i.user_id is None:
        return "—"
    return f"{names.get(i.user_id, '?')} (#{i.user_id})"


def _uses_left(n: int | None) -> str:
    """ "còn 2 lần" / "2 uses left", "1 use left"; ∞ (plural) for a code without a limit."""
    message = ngettext("còn {uses} lần", "còn {uses} lần", 2 if n is None else n)
    return nt(language(), message, {"uses": "∞" if n is None else str(n)})


def _state(i: InviteRec, now: datetime) -> str:
    if i.revoked_at:
        return t(N_("đã thu hồi"))
    if i.expires_at and i.expires_at <= now:
        return t(N_("đã hết hạn"))
    if i.uses_left is not None and i.uses_left <= 0:
        return t(N_("đã dùng hết"))
    return t(N_("còn hiệu lực"))


@invite_app.command(
    "list",
    help=N_(
        "Danh sách mã mời: số, cơ quan, vai trò, người được mời (mã tạo cho một người), lượt còn "
        "lại, hạn (mã chỉ lưu dạng băm, chỉ hiện vài ký tự đầu của mã băm)."
    ),
)
def invite_list(db: Path | None = DB_OPTION) -> None:
    async def work(u: Unit) -> tuple[list[InviteRec], dict[int, str], dict[int, str]]:
        agencies = await u.list_agencies()
        codes = {a.id: a.code for a in agencies}
        invites = await u.list_invites()
        # Who each personal code (--person, invite bulk) is for; others are for an agency.
        names = {p.id: p.name for p in await u.people_of([a.id for a in agencies])}
        for user_id in {i.user_id for i in invites if i.user_id is not None} - names.keys():
            found = await u.user(user_id)  # someone outside every agency, e.g. an admin
            if found is not None:
                names[user_id] = found.name
        return invites, codes, names

    invites, codes, names = in_unit(db, work)
    if not invites:
        say(N_("Chưa có mã mời nào. Tạo mã: phieu invite create --agency MÃ"))
        return
    now = datetime.now(UTC)
    for i in invites:
        until = f"{i.expires_at.astimezone(ZoneInfo(TZ)):%d/%m/%Y}" if i.expires_at else "—"
        agency = codes.get(i.agency_id, "—") if i.agency_id is not None else "—"
        typer.echo(
            "\t".join(
                (
                    f"#{i.id}",
                    f"{i.code_hash[:8]}…",
                    agency,
                    i.role,
                    _for_whom(i, names),
                    _uses_left(i.uses_left),
                    t(N_("hết hạn {until}"), until=until),
                    _state(i, now),
                )
            )
        )


@invite_app.command(
    "revoke", help=N_("Thu hồi một mã mời theo số của nó (xem: phieu invite list).")
)
def invite_revoke(
    invite_id: int = typer.Argument(..., help=N_("Số mã mời")),
    db: Path | None = DB_OPTION,
) -> None:
    if not in_unit(db, lambda u: u.revoke_invite(invite_id)):
        fail(N_("Không có mã mời #{id} còn hiệu lực."), 1, id=str(invite_id))
    say(N_("Đã thu hồi mã mời #{id}."), id=str(invite_id))
