"""`phieu agencies`: the agencies (cơ quan, đơn vị) that answer the forms."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import COHORTS, DB_OPTION, choice, contact_ok, in_unit, say
from flows.i18n import N_
from flows.parsing import parse_email, parse_phone, parse_url

agencies_app = typer.Typer(help=N_("Cơ quan, đơn vị trả lời phiếu."), no_args_is_help=True)


@agencies_app.command(
    "add",
    help=N_("Thêm một cơ quan; các trường liên hệ được điền sẵn cho cán bộ của cơ quan."),
)
def agencies_add(
    code: str = typer.Option(..., "--code", help=N_("Mã cơ quan, ví dụ STTTT")),
    name: str = typer.Option(..., "--name", help=N_("Tên cơ quan")),
    cohort: str = typer.Option(..., "--cohort", help=N_("Khối: so | huyen | xa")),
    address: str | None = typer.Option(None, "--address", help=N_("Địa chỉ (điền sẵn 1.3)")),
    website: str | None = typer.Option(None, "--website", help=N_("Trang thông tin điện tử")),
    phone: str | None = typer.Option(None, "--phone", help=N_("Điện thoại, Fax")),
    email: str | None = typer.Option(None, "--email", help=N_("Thư điện tử liên hệ")),
    db: Path | None = DB_OPTION,
) -> None:
    """Add an agency; the optional contact fields are offered to its officials, prefilled."""
    choice("--cohort", cohort, COHORTS)
    contact = {
        "address": address,
        "website": website,
        "phone": phone,
        "email": email,
    }
    extra = {k: v.strip() for k, v in contact.items() if v and v.strip()}
    for key, check in (("website", parse_url), ("phone", parse_phone), ("email", parse_email)):
        if key in extra:
            contact_ok(f"--{key}", check(extra[key]))
    rec = in_unit(db, lambda u: u.add_agency(code.strip(), name.strip(), cohort, **extra))
    say(N_("Đã thêm {code}\t{cohort}\t{name}"), code=rec.code, cohort=rec.cohort, name=rec.name)
    for key, value in extra.items():
        typer.echo(f"  {key}: {value}")


@agencies_app.command("list", help=N_("Danh sách cơ quan: mã, khối, tên."))
def agencies_list(db: Path | None = DB_OPTION) -> None:
    """List agencies."""
    agencies = in_unit(db, lambda u: u.list_agencies())
    if not agencies:
        say(N_("Chưa có cơ quan nào. Thêm: phieu agencies add --code MÃ --name TÊN --cohort so"))
    for a in agencies:
        typer.echo(f"{a.code}\t{a.cohort}\t{a.name}")
