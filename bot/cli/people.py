"""`phieu people`: who is in Phiếu, with the ids other commands take (newcomer report).

    phieu people list
    phieu people list --agency STTTT --role official

`phieu chat --user ID` and `phieu invite create --person ID` need a person's id; this lists
id, agency code, name, role, position and the chat apps each person has joined.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import DB_OPTION, ROLES, choice, fail, in_unit, say
from bot.cli.lang import t
from flows.i18n import N_
from storage.records import IdentityRec, UserRec
from storage.repository import Unit

people_app = typer.Typer(help=N_("Người dùng: xem id, cơ quan, vai trò."), no_args_is_help=True)

ROLE_WORDS = {
    "official": N_("cán bộ cơ quan"),
    "reviewer": N_("cán bộ thẩm định"),
    "admin": N_("quản trị"),
}


def person_line(user: UserRec, code: str, identities: list[IdentityRec]) -> str:
    """One line: id · agency code (— for Sở staff) · name · role · position · chat apps."""
    apps = sorted({i.channel for i in identities})
    return " · ".join(
        [
            str(user.id),
            code or "—",
            user.name,
            t(ROLE_WORDS.get(user.role, user.role)),
            user.position or "—",
            ", ".join(apps) if apps else t(N_("chưa tham gia ứng dụng chat nào")),
        ]
    )


@people_app.command("list", help=N_("Liệt kê người dùng (id dùng cho --user, --person)."))
def people_list(
    agency: str | None = typer.Option(
        None, "--agency", metavar=N_("MÃ"), help=N_("Chỉ người của cơ quan có mã này")
    ),
    role: str | None = typer.Option(
        None, "--role", metavar=N_("VAI TRÒ"), help=N_("official | reviewer | admin")
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Print one line per person (see person_line), or a line saying there is nobody; exits
    2 for an unknown agency code or role."""
    if role is not None:
        choice("--role", role, ROLES)

    async def work(u: Unit) -> list[str] | None:
        agency_id = None
        if agency is not None:
            rec = await u.agency_by_code_ci(agency.strip())
            if rec is None:
                return None
            agency_id = rec.id
        codes = {a.id: a.code for a in await u.list_agencies()}
        rows: list[tuple[UserRec, list[IdentityRec]]] = []
        for r in (role,) if role else ROLES:
            rows.extend(await u.users_with_role(r, agency_id))
        rows.sort(key=lambda row: row[0].id)
        return [person_line(user, codes.get(user.agency_id or 0, ""), ids) for user, ids in rows]

    lines = in_unit(db, work)
    if lines is None:
        fail(N_("Không có cơ quan mã {code}. Xem: phieu agencies list"), code=agency or "")
    if not lines:
        say(N_("Chưa có người dùng nào khớp."))
        return
    for line in lines:
        typer.echo(line)
