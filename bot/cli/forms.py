"""`phieu forms …`: list, show, export and check questionnaire definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from bot.cli.common import fail, say, writable
from bot.cli.lang import language, t
from bot.cli.outfile import format_of, write_or_say
from flows.i18n import N_
from flows.loader import FormError, builtin_forms, get_form, load_form_file
from flows.model import Form, Heading, Question

app = typer.Typer(
    help=N_("Các mẫu phiếu: xem danh sách, xem nội dung, xuất, kiểm tra tệp định nghĩa."),
    no_args_is_help=True,
)


def _form_or_exit(form_id: str) -> Form:
    try:
        return get_form(form_id)
    except KeyError:
        known = ", ".join(sorted(builtin_forms()))
        fail(N_("Không có mẫu phiếu {form!r}. Có: {known}"), form=form_id, known=known)


@app.command("list", help=N_("Mã, tên và số câu hỏi của các mẫu phiếu."))
def list_forms() -> None:
    """Ids, titles and item counts."""
    for form in builtin_forms().values():
        answerable = sum(q.answerable for q in form.questions)
        n = t(N_("{n} mục"), n=answerable)
        typer.echo(f"{form.id}\tv{form.version}\t{n}\t{form.title.get(language())}")


def _describe(q: Question) -> str:
    bits = [q.type.value]
    if q.unit:
        bits.append(q.unit.get(language()))
    if not q.required:
        bits.append(t(N_("không bắt buộc")))
    if q.when:
        bits.append(t(N_("khi {condition}"), condition=q.when))
    if q.evidence.value != "none":
        bits.append(t(N_("minh chứng: {kind}"), kind=q.evidence.value))
    if q.na_allowed:
        bits.append(t(N_("cho phép không áp dụng")))
    if q.bonus:
        bits.append(t(N_("cộng điểm")))
    if q.formula:
        bits.append(f"= {q.formula}")
    return ", ".join(bits)


@app.command("show", help=N_("Nội dung mẫu phiếu: các mục, mã câu hỏi, câu hỏi, kiểu, đơn vị."))
def show(
    form_id: str = typer.Argument(..., help=N_("Mã mẫu phiếu")),
    lang: str | None = typer.Option(
        None, help=N_("Ngôn ngữ của mẫu phiếu: vi hoặc en (mặc định: ngôn ngữ của lệnh)")
    ),
) -> None:
    """The form as a readable outline: sections, ids, text, type, unit."""
    lang = lang or language()
    form = _form_or_exit(form_id)
    typer.echo(f"{form.title.get(lang)}  [{form.id} v{form.version}]")
    src = form.source
    source = t(
        N_("Nguồn: {document} ngày {date}, {issuer}"),
        document=src.document,
        date=src.date,
        issuer=src.issuer,
    )
    typer.echo(source + (f", {src.annex}" if src.annex else ""))
    for section in form.sections:
        mark = " " + t(N_("(tiêu đề khôi phục)")) if section.restored else ""
        heading = t(N_("MỤC {id}."), id=section.id)
        typer.echo(f"\n{heading} {section.title.get(lang)}{mark}")
        for node in section.outline:
            if isinstance(node, Heading):
                printed = " " + t(N_("(in số {n})"), n=node.printed) if node.printed else ""
                typer.echo(f"{'  ' * node.depth}{node.id}{printed}  {node.text.get(lang)}")
                if node.help:
                    typer.echo(f"{'  ' * (node.depth + 1)}ℹ️ {node.help.get(lang)}")
            else:
                depth = len(node.context) + 1
                typer.echo(f"{'  ' * depth}{node.id}  {node.text.get(lang)}  [{_describe(node)}]")


def export_data(form: Form) -> dict[str, Any]:
    """Every item, table cells included, as one flat list in asking order."""
    items = []
    for q in form.questions:
        item: dict[str, Any] = {
            "id": q.id,
            "section": q.section,
            "text": q.text.vi,
            "text_en": q.text.en,
            "context": [c.vi for c in q.context],
            "type": q.type.value,
            "unit": q.unit.vi if q.unit else None,
            "required": q.required,
            "when": q.when,
            "evidence": q.evidence.value,
            "na_allowed": q.na_allowed,
            "bonus": q.bonus,
        }
        if q.options:
            item["options"] = [{"value": o.value, "text": o.text.vi} for o in q.options]
        if q.columns:
            item["columns"] = [
                {"id": c.id, "text": c.text.vi, "type": c.type.value} for c in q.columns
            ]
        if q.formula:
            item["formula"] = q.formula
        if q.printed:
            item["printed"] = q.printed
        if q.table:
            item["table"] = q.table
        items.append(item)
    return {
        "id": form.id,
        "version": form.version,
        "title": form.title.vi,
        "source": {k: v for k, v in vars_of(form.source).items() if v is not None},
        "sections": [
            {"id": s.id, "title": s.title.vi, "restored": s.restored} for s in form.sections
        ],
        "checks": [{"id": c.id, "rule": c.rule, "message": c.message.vi} for c in form.checks],
        "items": items,
    }


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


@app.command(
    "export",
    help=N_(
        "Mẫu phiếu dạng máy đọc được (json: mã, tên, nguồn và danh sách câu hỏi) hoặc bảng "
        "tính để in (xlsx)."
    ),
)
def export(
    form_id: str = typer.Argument(..., help=N_("Mã mẫu phiếu")),
    fmt: str | None = typer.Option(
        None,
        "--format",
        help=N_("json | xlsx (mặc định: theo đuôi tệp --out, không có --out thì json)"),
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help=N_(
            "Tệp .json hoặc .xlsx để ghi (json mặc định in ra màn hình; xlsx: <mã phiếu>.xlsx)"
        ),
    ),
    lang: str | None = typer.Option(None, "--lang", help=N_("vi hoặc en")),
) -> None:
    """The form as JSON (id, title, source, flat list of items) or a printable workbook;
    without --format the format is --out's extension."""
    if fmt is not None and fmt not in ("json", "xlsx"):
        fail(N_("--format phải là json hoặc xlsx"))
    fmt = format_of(out, fmt, "json", ("json", "xlsx"), form_id)
    form = _form_or_exit(form_id)
    if fmt == "json":
        text = json.dumps(export_data(form), ensure_ascii=False, indent=2)
        if out is None:
            typer.echo(text)
            return
        path = writable(out)
        write_or_say(path, lambda: path.write_text(text + "\n", encoding="utf-8"))
        say(N_("{path}: {items} mục"), path=str(path), items=len(form.questions))
        return
    from bot.desk.formbook import write_form

    path = writable(out or Path(f"{form.id}.xlsx"))
    items = write_or_say(path, lambda: write_form(form, path, lang or language()))
    say(N_("{path}: {items} mục"), path=str(path), items=items)


@app.command(
    "check", help=N_("Kiểm tra một tệp định nghĩa mẫu phiếu; có lỗi thì in lỗi và thoát với mã 1.")
)
def check(path: Path = typer.Argument(..., help=N_("Tệp YAML định nghĩa mẫu phiếu"))) -> None:
    """Validate a definition file; exit code 1 with the errors if it is bad."""
    try:
        form = load_form_file(path)
    except FormError as e:
        for err in e.errors:
            typer.echo(err, err=True)
        raise typer.Exit(1) from None
    say(
        N_("OK: {form} v{version}, {items} mục, {checks} kiểm tra"),
        form=form.id,
        version=str(form.version),
        items=len(form.questions),
        checks=len(form.checks),
    )
