"""`phieu agencies`: the agencies (cơ quan, đơn vị) that answer the forms."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import COHORTS, DB_OPTION, choice, contact_ok, in_unit
from flows.parsing import parse_email, parse_phone, parse_url

agencies_app = typer.Typer(help="Cơ quan, đơn vị.", no_args_is_help=True)


@agencies_app.command("add")
def agencies_add(
    code: str = typer.Option(..., "--code", help="Mã cơ quan, ví dụ STTTT"),
    name: str = typer.Option(..., "--name", help="Tên cơ quan"),
    cohort: str = typer.Option(..., "--cohort", help="so | huyen | xa"),
    address: str | None = typer.Option(None, "--address", help="Địa chỉ (điền sẵn 1.3)"),
    website: str | None = typer.Option(None, "--website", help="Trang thông tin điện tử"),
    phone: str | None = typer.Option(None, "--phone", help="Điện thoại, Fax"),
    email: str | None = typer.Option(None, "--email", help="Thư điện tử liên hệ"),
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
    typer.echo(f"Đã thêm {rec.code}\t{rec.cohort}\t{rec.name}")
    for key, value in extra.items():
        typer.echo(f"  {key}: {value}")


@agencies_app.command("list")
def agencies_list(db: Path | None = DB_OPTION) -> None:
    """List agencies."""
    for a in in_unit(db, lambda u: u.list_agencies()):
        typer.echo(f"{a.code}\t{a.cohort}\t{a.name}")
