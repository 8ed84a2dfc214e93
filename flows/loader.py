"""Read a form definition file and check it, pyxform-style: every error names the file and item.

The pipeline has named stages: read YAML → check the top level → expand sections (groups,
tables and rows become flat questions with their headings as context) → check expressions
and cross references. All errors are collected so an author fixes a file in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from flows import expr
from flows.model import (
    PREFILL_KEYS,
    CarryOver,
    Check,
    Column,
    Evidence,
    Form,
    Heading,
    ItemType,
    Option,
    Question,
    Section,
    Source,
    Text,
)

FORMS_DIR = Path(__file__).parent / "forms"
FORMAT_VERSION = 1

_FORM_KEYS = {
    "format",
    "id",
    "version",
    "title",
    "title_en",
    "source",
    "sections",
    "checks",
    "cohorts",
    "reporting_year",
    "carry_over",
}
_CARRY_KEYS = {"from", "except"}
_SOURCE_KEYS = {"document", "date", "issuer", "annex", "title", "note"}
_SECTION_KEYS = {"id", "title", "title_en", "restored", "items"}
_COMMON_KEYS = {"id", "type", "text", "text_en", "help", "help_en", "when", "note", "printed"}
_QUESTION_KEYS = _COMMON_KEYS | {
    "unit",
    "unit_en",
    "required",
    "min",
    "max",
    "options",
    "evidence",
    "na_allowed",
    "bonus",
    "formula",
    "example",
    "columns",
    "unit_words",
    "confirm_above",
    "prefill",
}
_GROUP_KEYS = _COMMON_KEYS | {"items", "bonus", "evidence", "na_allowed", "required"}
_TABLE_KEYS = _COMMON_KEYS | {"columns", "rows", "evidence", "na_allowed", "required"}
_COLUMN_KEYS = {
    "id",
    "text",
    "text_en",
    "type",
    "unit",
    "unit_en",
    "options",
    "when",
    "min",
    "max",
    "required",
    "evidence",
    "na_allowed",
    "unit_words",
    "confirm_above",
}
_ROW_KEYS = {
    "id",
    "text",
    "text_en",
    "rows",
    "unit",
    "unit_en",
    "when",
    "bonus",
    "evidence",
    "na_allowed",
    "required",
    "note",
    "printed",
    "help",
    "help_en",
    "type",
    "columns",
    "unit_words",
    "confirm_above",
}
_OPTION_KEYS = {"value", "text", "text_en"}
_CHECK_KEYS = {"id", "rule", "message", "message_en"}
_SCALAR_TYPES = {t.value for t in ItemType} - {"list"}
_NUMERIC = {ItemType.INTEGER, ItemType.DECIMAL, ItemType.YEAR, ItemType.COMPUTED}


class FormError(ValueError):
    """A definition file that cannot be used; `errors` lists every problem found."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: " + "; ".join(errors))


@dataclass
class _Ctx:
    """What the expansion stage carries down the tree of one section."""

    path: str
    section: str
    errors: list[str] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    outline: list[Heading | Question] = field(default_factory=list)

    def err(self, where: str, what: str) -> None:
        self.errors.append(f"{self.path}: {where}: {what}")


def _text(node: dict[str, Any], key: str = "text") -> Text | None:
    vi = node.get(key)
    if vi is None:
        return None
    en = node.get(f"{key}_en")
    return Text(" ".join(str(vi).split()), " ".join(str(en).split()) if en else None)


def _unknown(ctx: _Ctx, where: str, node: dict[str, Any], allowed: set[str]) -> None:
    for key in sorted(set(node) - allowed):
        ctx.err(where, f"khoá không biết {key!r} (cho phép: {', '.join(sorted(allowed))})")


def _and(a: str | None, b: str | None) -> str | None:
    if a and b:
        return f"({a}) and ({b})"
    return a or b


def _options(ctx: _Ctx, where: str, raw: Any) -> tuple[Option, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        ctx.err(where, "'options' phải là danh sách không rỗng")
        return ()
    out: list[Option] = []
    for i, opt in enumerate(raw, 1):
        if not isinstance(opt, dict) or "value" not in opt or "text" not in opt:
            ctx.err(where, f"lựa chọn thứ {i} cần 'value' và 'text'")
            continue
        _unknown(ctx, f"{where} lựa chọn {opt['value']}", opt, _OPTION_KEYS)
        out.append(Option(str(opt["value"]), _text(opt) or Text("")))
    values = [o.value for o in out]
    if len(set(values)) != len(values):
        ctx.err(where, "giá trị lựa chọn bị trùng")
    return tuple(out)


def _item_type(ctx: _Ctx, where: str, raw: Any, allowed: set[str]) -> ItemType | None:
    if raw not in allowed:
        ctx.err(where, f"kiểu {raw!r} không hợp lệ (các kiểu: {', '.join(sorted(allowed))})")
        return None
    return ItemType(raw)


def _evidence(ctx: _Ctx, where: str, raw: Any) -> Evidence:
    if raw is None:
        return Evidence.NONE
    try:
        return Evidence(raw)
    except ValueError:
        ctx.err(where, f"'evidence' phải là none, link hoặc document, không phải {raw!r}")
        return Evidence.NONE


def _number(ctx: _Ctx, where: str, node: dict[str, Any], key: str) -> float | None:
    raw = node.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        ctx.err(where, f"{key!r} phải là số, không phải {raw!r}")
        return None
    return raw


def _unit_words(ctx: _Ctx, where: str, node: dict[str, Any]) -> tuple[str, ...]:
    """`unit_words`: a list of words (or one string) naming what the item counts."""
    raw = node.get("unit_words")
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
        ctx.err(where, "'unit_words' phải là danh sách từ (chuỗi không rỗng)")
        return ()
    return tuple(w.strip() for w in raw)


def _columns(ctx: _Ctx, where: str, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        ctx.err(where, "'columns' phải là danh sách cột không rỗng")
        return []
    good = []
    for col in raw:
        if not isinstance(col, dict) or "id" not in col or "type" not in col:
            ctx.err(where, "mỗi cột cần 'id' và 'type'")
            continue
        _unknown(ctx, f"{where} cột {col['id']}", col, _COLUMN_KEYS)
        good.append(col)
    return good


def _question(
    ctx: _Ctx,
    node: dict[str, Any],
    qid: str,
    context: tuple[Text, ...],
    inherited: dict[str, Any],
    **extra: Any,
) -> None:
    where = f"mục {qid}"
    qtype = _item_type(ctx, where, node.get("type"), _SCALAR_TYPES | {"list"})
    text = _text(node)
    if text is None or not text.vi:
        ctx.err(where, "thiếu 'text'")
        text = Text("")
    if qtype is None:
        return
    options = _options(ctx, where, node.get("options"))
    if qtype in (ItemType.CHOICE, ItemType.MULTI_CHOICE) and not options:
        ctx.err(where, f"kiểu {qtype.value} cần 'options'")
    formula = node.get("formula")
    if qtype is ItemType.COMPUTED and not formula:
        ctx.err(where, "kiểu computed cần 'formula'")
    if formula and qtype is not ItemType.COMPUTED:
        ctx.err(where, "'formula' chỉ dùng cho kiểu computed")
    columns: tuple[Column, ...] = ()
    if qtype is ItemType.LIST:
        cols = []
        for col in _columns(ctx, where, node.get("columns")):
            ctype = _item_type(ctx, f"{where} cột {col['id']}", col.get("type"), _SCALAR_TYPES)
            if ctype is None:
                continue
            cols.append(
                Column(
                    id=str(col["id"]),
                    text=_text(col) or Text(str(col["id"])),
                    type=ctype,
                    unit=_text(col, "unit"),
                    required=bool(col.get("required", False)),
                    options=_options(ctx, f"{where} cột {col['id']}", col.get("options")),
                    unit_words=_unit_words(ctx, f"{where} cột {col['id']}", col),
                    confirm_above=_number(ctx, f"{where} cột {col['id']}", col, "confirm_above"),
                    max=_number(ctx, f"{where} cột {col['id']}", col, "max"),
                )
            )
        columns = tuple(cols)
    elif "columns" in node:
        ctx.err(where, "'columns' chỉ dùng cho kiểu list hoặc table")
    lo, hi = _number(ctx, where, node, "min"), _number(ctx, where, node, "max")
    if lo is not None and hi is not None and lo > hi:
        ctx.err(where, f"'min' ({lo}) lớn hơn 'max' ({hi})")
    if qtype in (ItemType.INTEGER, ItemType.DECIMAL) and lo is None:
        lo = 0
    merged = {
        **inherited,
        **{k: node[k] for k in ("evidence", "na_allowed", "bonus", "required") if k in node},
    }
    prefill = node.get("prefill")
    if prefill is not None and prefill not in PREFILL_KEYS:
        ctx.err(
            where,
            f"'prefill' {prefill!r} không hợp lệ (cho phép: {', '.join(sorted(PREFILL_KEYS))})",
        )
        prefill = None
    q = Question(
        id=qid,
        section=ctx.section,
        text=text,
        type=qtype,
        context=context,
        help=_text(node, "help"),
        unit=_text(node, "unit"),
        required=bool(merged.get("required", True)),
        when=_and(inherited.get("when"), node.get("when")),
        min=lo,
        max=hi,
        options=options,
        columns=columns,
        evidence=_evidence(ctx, where, merged.get("evidence")),
        na_allowed=bool(merged.get("na_allowed", False)),
        bonus=bool(merged.get("bonus", False)),
        formula=formula,
        example=str(node["example"]) if node.get("example") is not None else None,
        printed=str(node["printed"]) if node.get("printed") is not None else None,
        unit_words=_unit_words(ctx, where, node),
        confirm_above=_number(ctx, where, node, "confirm_above"),
        prefill=prefill,
        **extra,
    )
    ctx.questions.append(q)
    ctx.outline.append(q)


def _heading(node: dict[str, Any], hid: str, title: Text, depth: int, kind: str) -> Heading:
    printed = node.get("printed")
    return Heading(
        hid, title, depth, kind, _text(node, "help"), str(printed) if printed is not None else None
    )


def _inherit(inherited: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    out = dict(inherited)
    for key in ("evidence", "na_allowed", "bonus", "required"):
        if key in node:
            out[key] = node[key]
    out["when"] = _and(inherited.get("when"), node.get("when"))
    return out


def _table(
    ctx: _Ctx,
    node: dict[str, Any],
    depth: int,
    context: tuple[Text, ...],
    inherited: dict[str, Any],
) -> None:
    tid = str(node["id"])
    where = f"bảng {tid}"
    _unknown(ctx, where, node, _TABLE_KEYS)
    columns = _columns(ctx, where, node.get("columns"))
    rows = node.get("rows")
    if not isinstance(rows, list) or not rows:
        ctx.err(where, "'rows' phải là danh sách dòng không rỗng")
        return
    title = _text(node) or Text("")
    ctx.outline.append(_heading(node, tid, title, depth, "table"))
    single = len(columns) == 1
    inner = _inherit(inherited, node)
    heads = (*context, title)
    if single and _text(columns[0]):
        heads = (*heads, _text(columns[0]) or Text(""))
    _rows(ctx, tid, rows, columns, single, depth + 1, heads, inner)


def _rows(
    ctx: _Ctx,
    prefix: str,
    rows: list[Any],
    columns: list[dict[str, Any]],
    single: bool,
    depth: int,
    context: tuple[Text, ...],
    inherited: dict[str, Any],
) -> None:
    for row in rows:
        if not isinstance(row, dict) or "id" not in row or "text" not in row:
            ctx.err(f"bảng {prefix}", "mỗi dòng cần 'id' và 'text'")
            continue
        rid = f"{prefix}.{row['id']}"
        _unknown(ctx, f"dòng {rid}", row, _ROW_KEYS)
        row_text = _text(row) or Text("")
        inner = _inherit(inherited, row)
        if "rows" in row:
            ctx.outline.append(Heading(rid, row_text, depth, "row"))
            _rows(ctx, rid, row["rows"], columns, single, depth + 1, (*context, row_text), inner)
            continue
        if row.get("type") == "list":
            node = {k: v for k, v in row.items() if k not in ("rows", "when")}
            _question(ctx, node, rid, context, inner, table=prefix, row=str(row["id"]))
            continue
        if single:
            col = columns[0]
            node = _cell(col, row, row_text, rid, prefix)
            _question(
                ctx,
                node,
                rid,
                context,
                inner,
                table=prefix,
                row=str(row["id"]),
                column=str(col["id"]),
            )
            continue
        ctx.outline.append(Heading(rid, row_text, depth, "row"))
        for col in columns:
            cid = f"{rid}.{col['id']}"
            node = _cell(col, row, _text(col) or Text(str(col["id"])), cid, rid)
            _question(
                ctx,
                node,
                cid,
                (*context, row_text),
                inner,
                table=prefix,
                row=str(row["id"]),
                column=str(col["id"]),
            )


def _cell(col: dict[str, Any], row: dict[str, Any], text: Text, cid: str, rid: str) -> dict:
    """A table cell as a question node; `[@col]` in a column's `when` means this row's cell."""
    node: dict[str, Any] = {
        k: v for k, v in col.items() if k not in ("id", "text", "text_en", "when")
    }
    node["text"] = text.vi
    if text.en:
        node["text_en"] = text.en
    for key in ("unit", "unit_en", "help", "help_en", "printed", "unit_words", "confirm_above"):
        if key in row:
            node[key] = row[key]
    if col.get("when"):
        node["when"] = str(col["when"]).replace("[@", f"[{rid}.")
    return node


def _items(
    ctx: _Ctx,
    items: Any,
    depth: int,
    context: tuple[Text, ...],
    inherited: dict[str, Any],
) -> None:
    if not isinstance(items, list):
        ctx.err(f"mục {ctx.section}", "'items' phải là danh sách")
        return
    for node in items:
        if not isinstance(node, dict) or "id" not in node:
            ctx.err(f"mục {ctx.section}", f"một mục thiếu 'id': {str(node)[:60]!r}")
            continue
        kind = node.get("type")
        nid = str(node["id"])
        if kind == "group":
            _unknown(ctx, f"nhóm {nid}", node, _GROUP_KEYS)
            title = _text(node) or Text("")
            ctx.outline.append(_heading(node, nid, title, depth, "group"))
            _items(ctx, node.get("items"), depth + 1, (*context, title), _inherit(inherited, node))
        elif kind == "table":
            _table(ctx, node, depth, context, inherited)
        else:
            _unknown(ctx, f"mục {nid}", node, _QUESTION_KEYS)
            _question(ctx, node, nid, context, inherited)


def _source(ctx: _Ctx, raw: Any) -> Source:
    if not isinstance(raw, dict):
        ctx.err("source", "cần 'document', 'date', 'issuer'")
        return Source("", "", "")
    _unknown(ctx, "source", raw, _SOURCE_KEYS)
    for key in ("document", "date", "issuer"):
        if not raw.get(key):
            ctx.err("source", f"thiếu {key!r}")
    return Source(**{k: str(v) for k, v in raw.items() if k in _SOURCE_KEYS})


def _check_expressions(ctx: _Ctx, questions: list[Question], checks: list[Check]) -> None:
    order = {q.id: i for i, q in enumerate(questions)}
    by_id = {q.id: q for q in questions}
    for q in questions:
        for label, source in (("when", q.when), ("formula", q.formula)):
            if not source:
                continue
            try:
                used = expr.refs(source)
            except expr.ExprError as e:
                ctx.err(f"mục {q.id}", f"{label} không hợp lệ: {e}")
                continue
            for ref in used:
                if ref not in order:
                    ctx.err(f"mục {q.id}", f"{label} nhắc tới mục không có [{ref}]")
                elif label == "when" and order[ref] >= order[q.id]:
                    ctx.err(f"mục {q.id}", f"when phải dựa vào mục hỏi trước, không phải [{ref}]")
                elif label == "formula" and by_id[ref].type not in _NUMERIC:
                    ctx.err(f"mục {q.id}", f"formula cần mục kiểu số, [{ref}] là {by_id[ref].type}")
                elif label == "formula" and ref == q.id:
                    ctx.err(f"mục {q.id}", "formula không được tự tham chiếu")
    for check in checks:
        for ref in check.items:
            if ref not in order:
                ctx.err(f"kiểm tra {check.id}", f"nhắc tới mục không có [{ref}]")


def _checks(ctx: _Ctx, raw: Any) -> list[Check]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.err("checks", "phải là danh sách")
        return []
    out: list[Check] = []
    for node in raw:
        if not isinstance(node, dict) or not node.get("id") or not node.get("rule"):
            ctx.err("checks", f"mỗi kiểm tra cần 'id' và 'rule': {str(node)[:60]!r}")
            continue
        where = f"kiểm tra {node['id']}"
        _unknown(ctx, where, node, _CHECK_KEYS)
        if not node.get("message"):
            ctx.err(where, "thiếu 'message'")
        try:
            items = expr.refs(str(node["rule"]))
        except expr.ExprError as e:
            ctx.err(where, f"rule không hợp lệ: {e}")
            continue
        out.append(
            Check(str(node["id"]), str(node["rule"]), _text(node, "message") or Text(""), items)
        )
    ids = [c.id for c in out]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        ctx.err(f"kiểm tra {dup}", "id bị trùng")
    return out


def _reporting_year(ctx: _Ctx, data: dict[str, Any], source: Source) -> int | None:
    """`reporting_year` when given, else the year of the source decision (dd/mm/yyyy): the
    provincial forms assess the year they are issued in (QĐ 3871 of 25/10/2019 → 2019)."""
    raw = data.get("reporting_year")
    if raw is not None:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1990 <= raw <= 2100:
            ctx.err("cấp cao nhất", f"'reporting_year' phải là năm (1990–2100), không phải {raw!r}")
            return None
        return raw
    found = re.search(r"\b(19[9][0-9]|20[0-9][0-9])\b", source.date)
    return int(found.group(1)) if found else None


def parse_form(data: Any, path: str = "<form>") -> Form:
    """Build a Form from already-read YAML data, or raise FormError listing every problem."""
    ctx = _Ctx(path=path, section="")
    if not isinstance(data, dict):
        raise FormError(path, ["tệp phải là một bảng YAML (mapping) ở cấp cao nhất"])
    _unknown(ctx, "cấp cao nhất", data, _FORM_KEYS)
    for key in ("id", "version", "title", "source", "sections"):
        if key not in data:
            ctx.err("cấp cao nhất", f"thiếu {key!r}")
    if data.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        ctx.err(
            "cấp cao nhất", f"format {data.get('format')!r} không hỗ trợ (cần {FORMAT_VERSION})"
        )
    if not isinstance(data.get("version", 1), int):
        ctx.err("cấp cao nhất", "'version' phải là số nguyên")
    source = _source(ctx, data.get("source"))
    sections: list[Section] = []
    all_questions: list[Question] = []
    raw_sections = data.get("sections") or []
    if not isinstance(raw_sections, list):
        ctx.err("sections", "phải là danh sách")
        raw_sections = []
    for raw in raw_sections:
        if not isinstance(raw, dict) or "id" not in raw or "title" not in raw:
            ctx.err("sections", f"mỗi mục lớn cần 'id' và 'title': {str(raw)[:60]!r}")
            continue
        ctx.section = str(raw["id"])
        ctx.questions, ctx.outline = [], []
        _unknown(ctx, f"mục lớn {ctx.section}", raw, _SECTION_KEYS)
        _items(ctx, raw.get("items"), 1, (), {})
        if not ctx.questions:
            ctx.err(f"mục lớn {ctx.section}", "không có câu hỏi nào")
        sections.append(
            Section(
                id=ctx.section,
                title=_text(raw, "title") or Text(""),
                restored=bool(raw.get("restored", False)),
                questions=tuple(ctx.questions),
                outline=tuple(ctx.outline),
            )
        )
        all_questions.extend(ctx.questions)
    seen: set[str] = set()
    for q in all_questions:
        if q.id in seen:
            ctx.err(f"mục {q.id}", "id bị trùng")
        seen.add(q.id)
    section_ids = [s.id for s in sections]
    if len(set(section_ids)) != len(section_ids):
        ctx.err("sections", "id mục lớn bị trùng")
    checks = _checks(ctx, data.get("checks"))
    _check_expressions(ctx, all_questions, checks)
    reporting_year = _reporting_year(ctx, data, source)
    carry_over = _carry_over(ctx, data.get("carry_over"))
    if ctx.errors:
        raise FormError(path, ctx.errors)
    return Form(
        id=str(data["id"]),
        version=int(data["version"]),
        title=_text(data, "title") or Text(""),
        source=source,
        sections=tuple(sections),
        checks=tuple(checks),
        cohorts=tuple(str(c) for c in data.get("cohorts") or ()),
        path=path,
        reporting_year=reporting_year,
        carry_over=carry_over,
    )


def _carry_over(ctx: _Ctx, raw: Any) -> CarryOver:
    """`carry_over: {from: [form ids], except: [item ids or prefixes]}`; both optional."""
    if raw is None:
        return CarryOver()
    if not isinstance(raw, dict):
        ctx.err("carry_over", "phải là một bảng: {from: [...], except: [...]}")
        return CarryOver()
    _unknown(ctx, "carry_over", raw, _CARRY_KEYS)
    lists = {}
    for key in ("from", "except"):
        value = raw.get(key) or []
        if not isinstance(value, list):
            ctx.err("carry_over", f"'{key}' phải là danh sách")
            value = []
        lists[key] = tuple(str(v) for v in value)
    return CarryOver(forms=lists["from"], excluded=lists["except"])


def load_form_file(path: str | Path) -> Form:
    """Load and check one definition file."""
    p = Path(path)
    try:
        data = safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise FormError(str(p), [f"không đọc được tệp: {e.strerror or e}"]) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"dòng {mark.line + 1}" if mark else "YAML"
        raise FormError(str(p), [f"{p}: {where}: YAML không hợp lệ"]) from e
    return parse_form(data, str(p))


# libyaml's parser when PyYAML has it: the same safe schema, ~8× less CPU and less garbage
# left in the heap when every process starts by reading the forms and scales (issue #8).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """`yaml.safe_load`, with libyaml when available; raises yaml.YAMLError."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - SafeLoader or CSafeLoader


def form_files(directory: Path = FORMS_DIR) -> Iterable[Path]:
    return sorted(directory.glob("*.yaml"))


@cache
def builtin_forms() -> dict[str, Form]:
    """Every form shipped with Phiếu, loaded and checked once per process."""
    forms = [load_form_file(p) for p in form_files()]
    return {f.id: f for f in forms}


def get_form(form_id: str) -> Form:
    forms = builtin_forms()
    if form_id not in forms:
        raise KeyError(form_id)
    return forms[form_id]
