"""Read a scoring scale file (`scoring/scales/<form-id>.yaml`) and check it against its form.

Every error names the file, the criterion and, where one is at fault, the item id: an
unknown item, an item of the wrong type for the rule, maxima that do not add up (section =
its criteria, scale = its sections, `sum` = its parts, `best_of` = its best case, a band
or step above the criterion's maximum, a variant's maximum). All errors are collected, so
an author fixes a file in one pass. The format is described in scoring/scales/FORMAT.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from flows import expr
from flows.loader import builtin_forms, safe_load
from flows.model import STATUS_LEVELS, Evidence, Form, ItemType
from scoring.model import (
    DEFAULT_BANDS,
    DEFAULT_LEVELS,
    RULES,
    Band,
    Criterion,
    Deduction,
    Scale,
    ScaleSection,
    Step,
    Variant,
)

SCALES_DIR = Path(__file__).parent / "scales"
FORMAT_VERSION = 1

_NUMERIC = {ItemType.INTEGER, ItemType.DECIMAL, ItemType.COMPUTED}
_COUNTABLE = _NUMERIC | {ItemType.YES_NO, ItemType.LIST, ItemType.MULTI_CHOICE}
_SCALE_KEYS = {
    "format",
    "id",
    "form",
    "version",
    "name",
    "name_en",
    "illustrative",
    "note",
    "maximum",
    "bands",
    "sections",
    "deductions",
    "variants",
}
_SECTION_KEYS = {"id", "title", "title_en", "max", "criteria"}
_CRITERION_KEYS = {
    "id",
    "text",
    "text_en",
    "rule",
    "max",
    "item",
    "items",
    "per",
    "zero",
    "steps",
    "points",
    "levels",
    "parts",
    "link",
    "posts",
    "bonus",
    "note",
}
_EPS = 1e-6


class ScaleError(ValueError):
    """A scale file that cannot be used; `errors` each name the file, criterion and item."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}:\n  " + "\n  ".join(errors))


class _Ctx:
    def __init__(self, path: str, form: Form | None) -> None:
        self.path = path
        self.form = form
        self.errors: list[str] = []
        self.ids: set[str] = set()

    def err(self, where: str, what: str) -> None:
        self.errors.append(f"{where}: {what}")


def _num(ctx: _Ctx, where: str, raw: Any, key: str, required: bool = True) -> float | None:
    if raw is None:
        if required:
            ctx.err(where, f"thiếu '{key}'")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        ctx.err(where, f"'{key}' phải là một số, không phải {raw!r}")
        return None
    if raw < 0:
        ctx.err(where, f"'{key}' không được âm ({raw})")
        return None
    return float(raw)


def _ids(ctx: _Ctx, where: str, raw: Any, key: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    out = []
    for v in values:
        if not isinstance(v, str | int | float) or isinstance(v, bool):
            ctx.err(where, f"'{key}' phải là mã mục (chuỗi), không phải {v!r}")
            continue
        out.append(str(v))
    return tuple(out)


def _types(ctx: _Ctx, where: str, items: Iterable[str], allowed: set[ItemType], rule: str) -> None:
    """Each item must exist in the form and be of a type the rule can read."""
    if ctx.form is None:
        return
    for item in items:
        q = ctx.form.question(item)
        if q is None:
            ctx.err(f"{where}, mục {item}", f"không có trong mẫu phiếu {ctx.form.id}")
        elif q.type not in allowed:
            names = ", ".join(sorted(t.value for t in allowed))
            ctx.err(
                f"{where}, mục {item}",
                f"kiểu '{q.type.value}' không dùng được cho quy tắc '{rule}' (cần: {names})",
            )


def _criterion(ctx: _Ctx, node: Any, section: str, where_up: str) -> Criterion | None:
    if not isinstance(node, dict):
        ctx.err(where_up, f"mỗi tiêu chí phải là một bảng khóa–giá trị, không phải {node!r}")
        return None
    cid = str(node.get("id", "")).strip()
    where = f"tiêu chí {cid or '?'}"
    if not cid:
        ctx.err(f"{where_up}", "một tiêu chí thiếu 'id'")
    elif cid in ctx.ids:
        ctx.err(where, "mã tiêu chí bị trùng")
    ctx.ids.add(cid)
    for key in sorted(set(node) - _CRITERION_KEYS):
        ctx.err(where, f"khóa không biết '{key}'")
    rule = node.get("rule")
    if rule not in RULES:
        ctx.err(where, f"quy tắc '{rule}' không có; dùng một trong: {', '.join(RULES)}")
        return None
    text = str(node.get("text") or "").strip()
    if not text:
        ctx.err(where, "thiếu 'text' (nội dung tiêu chí)")
    maximum = _num(ctx, where, node.get("max"), "max") or 0.0
    items = _ids(ctx, where, node.get("items", node.get("item")), "items")
    per = _ids(ctx, where, node.get("per"), "per")
    zero = node.get("zero")
    parts: list[Criterion] = []
    steps: list[Step] = []
    points = None
    levels = dict(DEFAULT_LEVELS)
    bonus = bool(node.get("bonus", False))

    if rule in ("ratio", "ratio_to_best"):
        if not items:
            ctx.err(where, f"quy tắc '{rule}' cần 'items' (tử số)")
        if rule == "ratio" and not per:
            ctx.err(where, "quy tắc 'ratio' cần 'per' (mẫu số)")
        _types(ctx, where, (*items, *per), _NUMERIC, rule)
        if zero not in ("full", "zero"):
            ctx.err(
                where,
                "cần 'zero: full' hoặc 'zero: zero' — điểm khi mẫu số bằng 0"
                + (" (hoặc khi đơn vị cao nhất bằng 0)" if rule == "ratio_to_best" else ""),
            )
    elif rule == "bands":
        if not items:
            ctx.err(where, "quy tắc 'bands' cần 'items'")
        _types(ctx, where, (*items, *per), _NUMERIC | {ItemType.YES_NO}, rule)
        if per and zero not in ("full", "zero"):
            ctx.err(where, "có 'per' thì cần 'zero: full' hoặc 'zero: zero'")
        raw_steps = node.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            ctx.err(where, "quy tắc 'bands' cần 'steps: [{min: …, points: …}, …]'")
            raw_steps = []
        for i, s in enumerate(raw_steps, 1):
            sw = f"{where}, bậc {i}"
            if not isinstance(s, dict) or set(s) - {"min", "points"}:
                ctx.err(sw, "mỗi bậc là {min: …, points: …}")
                continue
            lo = s.get("min")
            if isinstance(lo, bool) or not isinstance(lo, int | float):
                ctx.err(sw, f"'min' phải là một số, không phải {lo!r}")
                continue
            pts = _num(ctx, sw, s.get("points"), "points")
            if pts is None:
                continue
            if pts > maximum + _EPS:
                ctx.err(sw, f"{pts:g} điểm vượt điểm tối đa {maximum:g} của tiêu chí")
            steps.append(Step(float(lo), pts))
        steps.sort(key=lambda s: -s.min)
        if steps and abs(max(s.points for s in steps) - maximum) > _EPS:
            ctx.err(where, f"bậc cao nhất cho {max(s.points for s in steps):g} ≠ max {maximum:g}")
    elif rule == "count_capped":
        if not items:
            ctx.err(where, "quy tắc 'count_capped' cần 'items'")
        _types(ctx, where, items, _COUNTABLE, rule)
        points = _num(ctx, where, node.get("points"), "points")
    elif rule == "yes_no":
        if len(items) != 1:
            ctx.err(where, "quy tắc 'yes_no' đọc đúng một mục ('item')")
        _types(ctx, where, items, {ItemType.YES_NO}, rule)
    elif rule == "levels":
        if len(items) != 1:
            ctx.err(where, "quy tắc 'levels' đọc đúng một mục ('item')")
        _types(ctx, where, items, {ItemType.STATUS, ItemType.CHOICE}, rule)
        raw_levels = node.get("levels")
        if raw_levels is not None:
            if not isinstance(raw_levels, dict):
                ctx.err(where, "'levels' là bảng {giá trị: tỉ lệ 0–1}")
            else:
                levels = {}
                for k, v in raw_levels.items():
                    share = _num(ctx, where, v, f"levels.{k}")
                    if share is not None and share > 1 + _EPS:
                        ctx.err(where, f"'levels.{k}' là tỉ lệ 0–1 của max, không phải {v}")
                    levels[str(k)] = share or 0.0
        if ctx.form is not None and len(items) == 1 and (q := ctx.form.question(items[0])):
            known = (
                set(STATUS_LEVELS) if q.type is ItemType.STATUS else {o.value for o in q.options}
            )
            for k in sorted(set(levels) - known):
                ctx.err(f"{where}, mục {items[0]}", f"mức '{k}' không có trong mục này")
    elif rule in ("best_of", "sum"):
        raw_parts = node.get("parts")
        if not isinstance(raw_parts, list) or not raw_parts:
            ctx.err(where, f"quy tắc '{rule}' cần 'parts' (các tiêu chí con)")
            raw_parts = []
        for p in raw_parts:
            sub = _criterion(ctx, p, section, where)
            if sub is not None:
                parts.append(sub)
        if parts:
            maxima = [p.max for p in parts if not p.bonus]
            expect = max(maxima, default=0.0) if rule == "best_of" else sum(maxima)
            if abs(expect - maximum) > _EPS:
                how = (
                    "cao nhất của các trường hợp" if rule == "best_of" else "tổng các tiêu chí con"
                )
                ctx.err(where, f"max {maximum:g} ≠ {how} ({expect:g})")
    elif rule == "manual":
        _types(ctx, where, items, set(ItemType), rule)

    link = node.get("link")
    if link is None and ctx.form is not None:
        link = any(
            (q := ctx.form.question(i)) is not None and q.evidence is not Evidence.NONE
            for i in items
        )
    return Criterion(
        id=cid,
        text=text,
        rule=rule,
        max=maximum,
        items=items,
        per=per,
        zero=zero if zero in ("full", "zero") else None,
        steps=tuple(steps),
        points=points,
        levels=levels,
        parts=tuple(parts),
        link=bool(link),
        posts=bool(node.get("posts", False)),
        bonus=bonus,
        section=section,
        text_en=_english(node, "text"),
    )


def _english(node: dict[str, Any], key: str) -> str | None:
    """The optional English rendering of `key` (`<key>_en`, as in form files), spaces
    collapsed; None when not given (the Vietnamese is shown in English runs then)."""
    en = " ".join(str(node.get(f"{key}_en") or "").split())
    return en or None


def _bands(ctx: _Ctx, raw: Any) -> tuple[Band, ...]:
    if raw is None:
        return DEFAULT_BANDS
    if not isinstance(raw, list) or not raw:
        ctx.err("bands", "là danh sách [{name: Tốt, min: 85}, …]")
        return DEFAULT_BANDS
    out = []
    for b in raw:
        if not isinstance(b, dict) or not b.get("name"):
            ctx.err("bands", f"mỗi mức cần 'name' và 'min', không phải {b!r}")
            continue
        lo = _num(ctx, f"bands, {b['name']}", b.get("min"), "min")
        if lo is not None:
            if lo > 100:
                ctx.err(f"bands, {b['name']}", f"min {lo:g} vượt thang 100 điểm")
            out.append(Band(str(b["name"]), lo))
    out.sort(key=lambda b: -b.min)
    if out and out[-1].min != 0:
        ctx.err("bands", f"mức thấp nhất phải bắt đầu từ 0 (đang là {out[-1].min:g})")
    return tuple(out) or DEFAULT_BANDS


def parse_scale(data: Any, path: str = "<scale>", form: Form | None = None) -> Scale:
    """Build a Scale from parsed YAML, checked against `form` (looked up by the file's
    `form:` among the built-in forms when not given). Raises ScaleError."""
    ctx = _Ctx(path, form)
    if not isinstance(data, dict):
        raise ScaleError(path, ["tệp thang điểm phải là một bảng khóa–giá trị"])
    for key in sorted(set(data) - _SCALE_KEYS):
        ctx.err("thang điểm", f"khóa không biết '{key}'")
    if data.get("format") != FORMAT_VERSION:
        ctx.err("thang điểm", f"'format' phải là {FORMAT_VERSION}")
    form_id = str(data.get("form") or "")
    if ctx.form is None:
        ctx.form = builtin_forms().get(form_id)
        if ctx.form is None:
            ctx.err("thang điểm", f"mẫu phiếu '{form_id}' không có")
    elif form_id and form_id != ctx.form.id:
        ctx.err("thang điểm", f"'form: {form_id}' nhưng mẫu phiếu là {ctx.form.id}")
    sections: list[ScaleSection] = []
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        ctx.err("thang điểm", "cần 'sections'")
        raw_sections = []
    for s in raw_sections:
        if not isinstance(s, dict):
            ctx.err("sections", f"mỗi nhóm là một bảng, không phải {s!r}")
            continue
        sid = str(s.get("id", "")).strip()
        where = f"nhóm {sid or '?'}"
        for key in sorted(set(s) - _SECTION_KEYS):
            ctx.err(where, f"khóa không biết '{key}'")
        smax = _num(ctx, where, s.get("max"), "max") or 0.0
        crits = [
            c
            for node in (s.get("criteria") or [])
            if (c := _criterion(ctx, node, sid, where)) is not None
        ]
        if not crits:
            ctx.err(where, "không có tiêu chí nào")
        counted = sum(c.max for c in crits if not c.bonus)
        if abs(counted - smax) > _EPS:
            ctx.err(
                where, f"max {smax:g} ≠ tổng điểm các tiêu chí ({counted:g}, không kể điểm cộng)"
            )
        title = str(s.get("title") or sid)
        sections.append(ScaleSection(sid, title, smax, tuple(crits), _english(s, "title")))
    maximum = _num(ctx, "thang điểm", data.get("maximum"), "maximum") or 0.0
    total = sum(s.max for s in sections)
    if abs(total - maximum) > _EPS:
        ctx.err("thang điểm", f"maximum {maximum:g} ≠ tổng điểm các nhóm ({total:g})")
    known = {c.id: c for s in sections for top in s.criteria for c in top.walk()}
    top_ids = {c.id: c for s in sections for c in s.criteria}
    deductions = []
    for d in data.get("deductions") or []:
        did = str(d.get("id", "")) if isinstance(d, dict) else ""
        where = f"trừ điểm {did or '?'}"
        if not did or not isinstance(d, dict):
            ctx.err("deductions", f"mỗi mục trừ điểm cần id, text, points, when: {d!r}")
            continue
        pts = _num(ctx, where, d.get("points"), "points") or 0.0
        when = str(d.get("when") or "")
        try:
            for ref in expr.refs(when):
                if ctx.form is not None and ctx.form.question(ref) is None:
                    ctx.err(f"{where}, mục {ref}", "không có trong mẫu phiếu")
        except expr.ExprError as e:
            ctx.err(where, f"'when' không đọc được: {e}")
        if not when:
            ctx.err(where, "thiếu 'when'")
        text = str(d.get("text") or did)
        deductions.append(Deduction(did, text, pts, when, _english(d, "text")))
    variants = []
    for v in data.get("variants") or []:
        vid = str(v.get("id", "")) if isinstance(v, dict) else ""
        where = f"biến thể {vid or '?'}"
        if not vid or not isinstance(v, dict):
            ctx.err("variants", f"mỗi biến thể cần id, name, drop, maximum: {v!r}")
            continue
        drop = _ids(ctx, where, v.get("drop"), "drop")
        for cid in drop:
            if cid not in top_ids:
                ctx.err(f"{where}, tiêu chí {cid}", "không có (chỉ bỏ được tiêu chí cấp trên)")
        vmax = _num(ctx, where, v.get("maximum"), "maximum") or 0.0
        expect = maximum - sum(
            top_ids[c].max for c in drop if c in top_ids and not top_ids[c].bonus
        )
        if abs(expect - vmax) > _EPS:
            ctx.err(where, f"maximum {vmax:g} ≠ {maximum:g} trừ các tiêu chí bỏ đi ({expect:g})")
        rank = v.get("rank", "together")
        if rank not in ("together", "apart"):
            ctx.err(where, "'rank' là 'together' hoặc 'apart'")
        name = str(v.get("name") or vid)
        variants.append(Variant(vid, name, drop, vmax, rank, _english(v, "name")))
    del known
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        ctx.err("thang điểm", "'version' phải là số nguyên ≥ 1")
        version = 1
    if not data.get("name"):
        ctx.err("thang điểm", "thiếu 'name'")
    bands = _bands(ctx, data.get("bands"))
    if ctx.errors:
        raise ScaleError(path, ctx.errors)
    return Scale(
        id=str(data.get("id") or form_id),
        form=form_id or (ctx.form.id if ctx.form else ""),
        version=version,
        name=str(data["name"]),
        maximum=maximum,
        sections=tuple(sections),
        illustrative=bool(data.get("illustrative", False)),
        note=str(data.get("note") or ""),
        bands=bands,
        deductions=tuple(deductions),
        variants=tuple(variants),
        path=path,
        name_en=_english(data, "name"),
    )


def load_scale_file(path: str | Path, form: Form | None = None) -> Scale:
    """Read and check one scale file. Raises ScaleError naming the file."""
    p = Path(path)
    try:
        data = safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ScaleError(str(p), [f"không đọc được: {e}"]) from None
    return parse_scale(data, str(p), form)


@cache
def builtin_scales() -> dict[str, Scale]:
    """The shipped scales by form id (one file per form in scoring/scales/)."""
    scales = {}
    for p in sorted(SCALES_DIR.glob("*.yaml")):
        s = load_scale_file(p)
        scales[s.form] = s
    return scales


def scale_for(form_id: str) -> Scale | None:
    return builtin_scales().get(form_id)
