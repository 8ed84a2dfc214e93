"""`phieu agencies`: the agencies (cơ quan, đơn vị) that answer the forms."""

from __future__ import annotations

import shlex
from collections.abc import Awaitable
from pathlib import Path

import typer

from bot.cli.common import DB_OPTION, contact_ok, in_unit, refuse_overwrite, say, writable
from bot.desk.directory import Directory, read_cohort, read_directory, write_template
from bot.desk.text import tr
from flows.i18n import N_
from flows.parsing import parse_email, parse_phone, parse_url
from storage._desk import ImportCounts
from storage.models import utcnow
from storage.records import AgencyRec, CampaignRec
from storage.repository import Unit

agencies_app = typer.Typer(help=N_("Cơ quan, đơn vị trả lời phiếu."), no_args_is_help=True)


@agencies_app.command(
    "add",
    help=N_("Thêm một cơ quan; các trường liên hệ được điền sẵn cho cán bộ của cơ quan."),
)
def agencies_add(
    code: str = typer.Option(..., "--code", help=N_("Mã cơ quan, ví dụ STTTT")),
    name: str = typer.Option(..., "--name", help=N_("Tên cơ quan")),
    cohort: str = typer.Option(..., "--cohort", help=N_("Sở | Huyện | Xã")),
    address: str | None = typer.Option(None, "--address", help=N_("Địa chỉ (điền sẵn 1.3)")),
    website: str | None = typer.Option(None, "--website", help=N_("Trang thông tin điện tử")),
    phone: str | None = typer.Option(None, "--phone", help=N_("Điện thoại, Fax")),
    email: str | None = typer.Option(None, "--email", help=N_("Thư điện tử liên hệ")),
    db: Path | None = DB_OPTION,
) -> None:
    """Add an agency; the optional contact fields are offered to its officials, prefilled.

    The cohort is read as the workbook's and `agencies edit`'s ("Sở", "huyện", "so"); a
    code already taken in any case ("stttt" for STTTT) is refused naming the agency (codes
    are one without regard to case), exit 1."""
    read = read_cohort(cohort)
    if read is None:
        _say(N_("Nhóm «{value}» không có; ghi Sở, Huyện hoặc Xã."), {"value": cohort}, err=True)
        raise typer.Exit(2)
    cohort = read
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

    async def work(u: Unit) -> tuple[bool, AgencyRec]:
        """(True, the new agency), or (False, the agency that has the code already)."""
        taken = await u.agency_by_code_ci(code)
        if taken is not None:
            return False, taken
        return True, await u.add_agency(code.strip(), name.strip(), cohort, **extra)

    added, rec = in_unit(db, work)
    if not added:
        _say(
            N_(
                "Không thêm: mã {code} đã có cơ quan {existing} — {name} (chữ hoa hay thường "
                "là một mã). Để sửa cơ quan này: phieu agencies edit {existing} --name "
                '"Tên mới"; hoặc chọn mã khác.'
            ),
            {"code": code.strip(), "existing": rec.code, "name": rec.name},
            err=True,
        )
        raise typer.Exit(1)
    say(N_("Đã thêm {code}\t{cohort}\t{name}"), code=rec.code, cohort=rec.cohort, name=rec.name)
    for key, value in extra.items():
        typer.echo(f"  {key}: {value}")


@agencies_app.command("list", help=N_("Danh sách cơ quan: mã, khối, tên."))
def agencies_list(db: Path | None = DB_OPTION) -> None:
    """List agencies (archived ones marked)."""
    agencies = in_unit(db, lambda u: u.list_agencies())
    if not agencies:
        _say(N_("Chưa có cơ quan nào. Thêm: phieu agencies add hoặc phieu agencies import"))
    archived = tr(N_("(đã lưu trữ)"))
    for a in agencies:
        typer.echo(f"{a.code}\t{a.cohort}\t{a.name}" + (f"\t{archived}" if a.archived_at else ""))


# -- the administrator's desk: workbooks, edit, remove (issue #9) ----------------------------


def _say(msgid: str, params: dict[str, object] | None = None, *, err: bool = False) -> None:
    typer.echo(tr(msgid, params), err=err)


@agencies_app.command(
    "template",
    help=N_("Tạo tệp Excel mẫu để điền: trang cơ quan, trang cán bộ, hướng dẫn, dòng ví dụ."),
)
def agencies_template(
    file: Path = typer.Argument(..., help=N_("Tệp .xlsx sẽ tạo, ví dụ co-quan.xlsx")),
    force: bool = typer.Option(False, "--force", help=N_("Ghi đè tệp đã có")),
) -> None:
    """Write the workbook to fill: agencies and people sheets, instructions, an example row."""
    if file.suffix.lower() != ".xlsx":
        _say(N_("Tên tệp phải có đuôi .xlsx, ví dụ: co-quan.xlsx"), err=True)
        raise typer.Exit(2)
    # A file of that name may be the filled workbook: never replaced unless asked.
    again = shlex.join(["phieu", "agencies", "template", str(file)])
    refuse_overwrite(writable(file), force, again)
    write_template(file)
    _say(
        N_(
            "Đã tạo {file}: điền trang «Cơ quan» và «Cán bộ», rồi chạy phieu agencies import {file}"
        ),
        {"file": str(file)},
    )


@agencies_app.command(
    "import",
    help=N_("Nhập cơ quan và cán bộ từ tệp Excel: nhập hết, hoặc có dòng sai thì không nhập gì."),
)
def agencies_import(
    file: Path = typer.Argument(..., help=N_("Tệp .xlsx theo mẫu (phieu agencies template)")),
    db: Path | None = DB_OPTION,
) -> None:
    """Load agencies and people from the workbook: all rows or, if any is wrong, none."""
    if file.is_dir():
        _say(
            N_(
                "{file} là một thư mục, không phải tệp. Ghi tên tệp .xlsx trong đó, ví dụ: "
                "phieu agencies import {example}"
            ),
            {"file": str(file), "example": str(file / "co-quan.xlsx")},
            err=True,
        )
        raise typer.Exit(2)
    if not file.is_file():
        _say(N_("Không có tệp {file}."), {"file": str(file)}, err=True)
        raise typer.Exit(2)

    # The workbook is read and checked outside any transaction (a big one takes seconds: the
    # bot keeps answering meanwhile); only the checked rows are written, in one unit.
    known = in_unit(db, lambda u: u.agencies_by_code())
    found = read_directory(file, known_codes=known.keys())
    if found.problems:
        result: Directory | ImportCounts = found
    else:
        result = in_unit(db, lambda u: u.import_directory(found.agencies, found.people))
    if isinstance(result, Directory):
        _say(
            N_("Không nhập gì: tệp có {count} lỗi. Sửa rồi nhập lại."),
            {"count": len(result.problems)},
            err=True,
        )
        for problem in result.problems:
            typer.echo(f"  • {problem}", err=True)
        raise typer.Exit(1)
    _say(
        N_(
            "Đã nhập: {added} cơ quan mới, {updated} cơ quan cập nhật, {same} cơ quan không "
            "đổi; {people_added} người mới, {people_updated} người cập nhật, {people_same} "
            "người không đổi."
        ),
        {
            "added": result.agencies_added,
            "updated": result.agencies_updated,
            "same": result.agencies_unchanged,
            "people_added": result.people_added,
            "people_updated": result.people_updated,
            "people_same": result.people_unchanged,
        },
    )


def _find(u: Unit, code: str) -> Awaitable[AgencyRec | None]:
    return u.agency_by_code_ci(code)


def _no_agency(code: str) -> typer.Exit:
    _say(N_("Không có cơ quan mã {code}. Xem: phieu agencies list"), {"code": code}, err=True)
    return typer.Exit(2)


@agencies_app.command(
    "edit", help=N_("Sửa thông tin một cơ quan; giá trị rỗng ('') xoá một trường không bắt buộc.")
)
def agencies_edit(
    code: str = typer.Argument(..., help=N_("Mã cơ quan (chữ hoa hay thường đều được)")),
    new_code: str | None = typer.Option(None, "--code", help=N_("Mã mới")),
    name: str | None = typer.Option(None, "--name", help=N_("Tên cơ quan")),
    cohort: str | None = typer.Option(None, "--cohort", help=N_("Sở | Huyện | Xã")),
    address: str | None = typer.Option(None, "--address", help=N_("Địa chỉ ('' để xoá)")),
    website: str | None = typer.Option(None, "--website", help=N_("Trang web ('' để xoá)")),
    phone: str | None = typer.Option(None, "--phone", help=N_("Điện thoại ('' để xoá)")),
    email: str | None = typer.Option(None, "--email", help=N_("Thư điện tử ('' để xoá)")),
    head: str | None = typer.Option(None, "--head", help=N_("Thủ trưởng ('' để xoá)")),
    db: Path | None = DB_OPTION,
) -> None:
    """Change an agency's fields; an empty value ('') clears an optional one."""
    changes: dict[str, str | None] = {}
    if new_code is not None:
        if not new_code.strip() or any(ch.isspace() for ch in new_code.strip()):
            _say(N_("Mã cơ quan không có dấu cách, ví dụ STTTT."), err=True)
            raise typer.Exit(2)
        changes["code"] = new_code.strip()
    if name is not None:
        if not name.strip():
            _say(N_("Tên cơ quan không được để trống."), err=True)
            raise typer.Exit(2)
        changes["name"] = name.strip()
    if cohort is not None:
        read = read_cohort(cohort)
        if read is None:
            _say(N_("Nhóm «{value}» không có; ghi Sở, Huyện hoặc Xã."), {"value": cohort}, err=True)
            raise typer.Exit(2)
        changes["cohort"] = read
    for key, value in (("address", address), ("head", head)):
        if value is not None:
            changes[key] = value.strip() or None
    for key, value, check in (
        ("website", website, parse_url),
        ("phone", phone, parse_phone),
        ("email", email, parse_email),
    ):
        if value is not None:
            if value.strip():
                read_ = check(value.strip())
                contact_ok(f"--{key}", read_)
                changes[key] = str(read_.value)  # type: ignore[union-attr]
            else:
                changes[key] = None
    if not changes:
        _say(N_("Không có gì để sửa: thêm --name, --cohort, --phone…"), err=True)
        raise typer.Exit(2)

    async def work(u: Unit) -> AgencyRec | None:
        found = await _find(u, code)
        if found is None:
            return None
        if "code" in changes:
            other = await u.agency_by_code_ci(str(changes["code"]))
            if other is not None and other.id != found.id:
                _say(N_("Mã {code} đã có cơ quan khác dùng."), {"code": changes["code"]}, err=True)
                raise typer.Exit(1)
        return await u.update_agency(found.id, changes)

    rec = in_unit(db, work)
    if rec is None:
        raise _no_agency(code)
    _say(
        N_("Đã sửa {code}: {name} ({cohort})."),
        {"code": rec.code, "name": rec.name, "cohort": rec.cohort},
    )


@agencies_app.command(
    "remove",
    help=N_("Xoá một cơ quan chưa có câu trả lời; cơ quan đã có câu trả lời chỉ lưu trữ được."),
)
def agencies_remove(
    code: str = typer.Argument(..., help=N_("Mã cơ quan")),
    archive: bool = typer.Option(
        False, "--archive", help=N_("Lưu trữ (giữ câu trả lời, không hỏi trong đợt mới)")
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Delete an agency with no answers; one that has answers can only be archived."""

    unlisted: list[CampaignRec] = []
    unassigned: list[tuple[int, str, bool]] = []  # (campaign id, reviewer, campaign left bare)

    async def work(u: Unit) -> str:
        found = await _find(u, code)
        if found is None:
            return "missing"
        if archive:
            await u.update_agency(found.id, {"archived_at": utcnow()})
            return "archived"
        if await u.agency_has_answers(found.id) or await u.agency_has_members(found.id):
            return "kept"
        # Campaigns that name it (`campaign add --agency`) lose it from their lists: it has
        # no answers there, and their rows would keep the agency from being deleted.
        unlisted[:] = await u.unlist_agency(found.id)
        # Reviewers given this agency by name lose that share (nothing of it to review);
        # a campaign left with no share at all is reviewed by every reviewer: said below.
        for share in await u.drop_agency_assignments(found.id):
            reviewer = await u.user(share.user_id)
            left = await u.reviewer_assignments(share.campaign_id)
            unassigned.append((share.campaign_id, reviewer.name if reviewer else "?", not left))
        await u.delete_agency(found.id)
        return "deleted"

    outcome = in_unit(db, work)
    if outcome == "missing":
        raise _no_agency(code)
    if outcome == "kept":
        _say(
            N_(
                "Không xoá {code}: cơ quan đã có câu trả lời hoặc cán bộ đã vào Phiếu. "
                "Dùng --archive để lưu trữ (câu trả lời được giữ lại)."
            ),
            {"code": code},
            err=True,
        )
        raise typer.Exit(1)
    msgid = N_("Đã lưu trữ {code}.") if outcome == "archived" else N_("Đã xoá {code}.")
    _say(msgid, {"code": code})
    if unlisted:
        _say(
            N_("Đã bỏ {code} khỏi danh sách cơ quan của đợt: {campaigns}."),
            {"code": code, "campaigns": ", ".join(f"{c.id} «{c.name}»" for c in unlisted)},
        )
    for campaign_id, reviewer, bare in unassigned:
        _say(
            N_("Đã bỏ phân công thẩm định {code} của {reviewer} ở đợt {campaign}."),
            {"code": code, "reviewer": reviewer, "campaign": campaign_id},
        )
        if bare:
            _say(
                N_(
                    "Đợt {campaign} không còn phân công thẩm định nào: mọi cán bộ thẩm định "
                    "xem mọi cơ quan của đợt. Giao lại: phieu review assign --campaign "
                    "{campaign} …"
                ),
                {"campaign": campaign_id},
            )
