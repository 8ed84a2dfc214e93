"""Bot API contract checks for the fake Telegram server, driven by ``api.json``.

The schema (methods, parameters, types, unions) comes from the published machine-readable
Bot API in ``tests/data/telegram-bot-api/``; the few rules that exist only in the prose
(text length, ``callback_data`` bytes, command syntax, ...) are written out by hand below.
Keeping both here lets the server module stay about behaviour, not validation.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

API_JSON = Path(__file__).resolve().parents[1] / "data" / "telegram-bot-api" / "api.json"

_ARRAY = "Array of "
_INT_RE = re.compile(r"-?\d+")
_TAG_RE = re.compile(r'(?:always|must be) "?([a-z_]+)"?')
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TAG_FIELDS = ("type", "status", "source")
_BUTTON_NEUTRAL = {"text", "icon_custom_emoji_id", "style"}
_CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}  # fmt: skip


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part; InputFile parameters hold one of these instead of a string."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass
class Outcome:
    """Result of checking one value: the coerced value, schema errors and prose-rule errors."""

    value: Any
    errors: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def load_api(path: Path = API_JSON) -> dict[str, Any]:
    """Parse api.json once per test session; it is ~1 MB and never changes at run time."""
    return json.loads(path.read_text(encoding="utf-8"))


def visible_text(text: str, parse_mode: str | None) -> str:
    """Approximate the text Telegram counts after entity parsing (HTML only; tags dropped)."""
    if parse_mode and parse_mode.upper() == "HTML":
        return html.unescape(re.sub(r"<[^>]*>", "", text))
    return text


def _describe(value: Any) -> str:
    if isinstance(value, UploadedFile):
        return "an uploaded file"
    shown = repr(value)
    return f"{type(value).__name__} {shown[:60]}{'...' if len(shown) > 60 else ''}"


class Contract:
    """Validates Bot API requests and objects against api.json."""

    def __init__(self, api: dict[str, Any] | None = None) -> None:
        self.api = api if api is not None else load_api()
        self.methods: dict[str, dict[str, Any]] = self.api["methods"]
        self.types: dict[str, dict[str, Any]] = self.api["types"]
        self._by_lower = {name.lower(): name for name in self.methods}
        self._type_rules: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
            "InlineKeyboardButton": _button_rules,
            "BotCommand": _bot_command_rules,
        }
        self._tags = self._find_tags()

    @property
    def version(self) -> str:
        return str(self.api.get("version", "?"))

    def canonical_method(self, name: str) -> str | None:
        """Telegram matches method names case-insensitively; return the documented spelling."""
        return self._by_lower.get(name.lower())

    def returns(self, method: str) -> list[str]:
        return list(self.methods[method].get("returns", []))

    # ----------------------------------------------------------------- requests
    def check_request(
        self, method: str, params: dict[str, Any], *, form_keys: set[str]
    ) -> tuple[dict[str, Any], list[str]]:
        """Check one call; ``form_keys`` are parameters that arrived as form/query strings."""
        fields = {f["name"]: f for f in self.methods[method].get("fields", [])}
        problems: list[str] = []
        coerced: dict[str, Any] = {}
        for name, value in params.items():
            if name not in fields:
                problems.append(f"{method}: unknown parameter {name!r}")
                coerced[name] = value
        for name, spec in fields.items():
            if params.get(name) is None:
                if spec["required"]:
                    problems.append(f"{method}: missing required parameter {name!r}")
                continue
            out = self.check(params[name], spec["types"], name, from_form=name in form_keys)
            coerced[name] = out.value
            problems += [f"{method}: {e}" for e in out.errors + out.rules]
        if not problems:
            problems += [f"{method}: {e}" for e in _method_rules(method, fields, coerced)]
        return coerced, problems

    # ------------------------------------------------------------------ values
    def check(
        self, value: Any, types: Sequence[str], path: str, *, from_form: bool = False
    ) -> Outcome:
        """Check ``value`` against a list of alternative type expressions (a union)."""
        if len(types) == 1:
            return self._check_one(value, types[0], path, from_form)
        return self._check_union(value, list(types), path, from_form)

    def check_object(self, value: Any, type_expr: str) -> list[str]:
        """Errors of a whole object (used to keep the fake's own results honest)."""
        out = self._check_one(value, type_expr, type_expr, False)
        return out.errors + out.rules

    def _check_union(self, value: Any, alts: list[str], path: str, from_form: bool) -> Outcome:
        candidates = alts
        decoded = _maybe_json(value) if from_form else value
        if isinstance(decoded, dict):
            tagged = {a: self._tag(a) for a in alts}
            matched = [a for a, tag in tagged.items() if tag and decoded.get(tag[0]) == tag[1]]
            if matched:
                candidates = matched
            elif tagged and all(tagged.values()):
                names = sorted(tag[1] for tag in tagged.values() if tag)
                fld = next(iter(tagged.values()))[0]  # type: ignore[index]
                got = decoded.get(fld)
                return Outcome(value, [f"{path}.{fld}: {got!r} is not one of {names}"])
        failures: list[tuple[str, Outcome]] = []
        for alt in candidates:
            out = self._check_one(value, alt, path, from_form)
            if not out.errors:
                return out
            failures.append((alt, out))
        if len(failures) == 1:
            return failures[0][1]
        # The closest alternative is the one with the fewest problems at this object's own level.
        alt, best = min(failures, key=lambda f: sum(_is_shallow(e, path) for e in f[1].errors))
        detail = "; ".join(best.errors[:2])
        return Outcome(value, [f"{path}: matches none of {' | '.join(alts)}; as {alt}: {detail}"])

    def _check_one(self, value: Any, t: str, path: str, from_form: bool) -> Outcome:
        if t.startswith(_ARRAY):
            return self._check_array(value, t[len(_ARRAY) :], path, from_form)
        primitive = _PRIMITIVES.get(t)
        if primitive is not None:
            ok, coerced = primitive(value, from_form)
            errors = [] if ok else [f"{path}: expected {t}, got {_describe(value)}"]
            return Outcome(coerced, errors)
        spec = self.types.get(t)
        if spec is None:
            return Outcome(value, [f"{path}: schema knows no type {t!r}"])
        if "subtypes" in spec:
            return self._check_union(value, list(spec["subtypes"]), path, from_form)
        if from_form and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return Outcome(value, [f"{path}: expected JSON-serialized {t}, got {value[:60]!r}"])
        if not isinstance(value, dict):
            return Outcome(value, [f"{path}: expected {t} object, got {_describe(value)}"])
        return self._check_fields(value, t, spec, path)

    def _check_fields(
        self, obj: dict[str, Any], t: str, spec: dict[str, Any], path: str
    ) -> Outcome:
        fields = {f["name"]: f for f in spec.get("fields", [])}
        out = Outcome({})
        for key, item in obj.items():
            if key not in fields:
                out.errors.append(f"{path}.{key}: unknown field of {t}")
                out.value[key] = item
        for name, fspec in fields.items():
            if obj.get(name) is None:
                if fspec["required"]:
                    out.errors.append(f"{path}.{name}: missing required field of {t}")
                continue
            sub = self.check(obj[name], fspec["types"], f"{path}.{name}")
            out.value[name] = sub.value
            out.errors += sub.errors
            out.rules += sub.rules
        tag = self._tag(t)
        if tag and obj.get(tag[0]) != tag[1]:
            out.errors.append(f"{path}.{tag[0]}: must be {tag[1]!r} for {t}")
        rule = self._type_rules.get(t)
        if rule and not out.errors:
            out.rules += rule(out.value, path)
        return out

    def _check_array(self, value: Any, item_type: str, path: str, from_form: bool) -> Outcome:
        if from_form and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return Outcome(value, [f"{path}: expected a JSON array, got {value[:60]!r}"])
        if not isinstance(value, list):
            problem = f"{path}: expected Array of {item_type}, got {_describe(value)}"
            return Outcome(value, [problem])
        out = Outcome([])
        for i, item in enumerate(value):
            sub = self._check_one(item, item_type, f"{path}[{i}]", False)
            out.value.append(sub.value)
            out.errors += sub.errors
            out.rules += sub.rules
        return out

    def _tag(self, t: str) -> tuple[str, str] | None:
        """Discriminator of a union member, e.g. ('type', 'chat') for BotCommandScopeChat."""
        return self._tags.get(t)

    def _find_tags(self) -> dict[str, tuple[str, str]]:
        tags = {}
        for name, spec in self.types.items():
            if "subtype_of" not in spec:
                continue
            for f in spec.get("fields", []):
                if f["name"] in _TAG_FIELDS and (m := _TAG_RE.search(f["description"])):
                    tags[name] = (f["name"], m.group(1))
                    break
        return tags


# ---------------------------------------------------------------------- primitives
def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_shallow(error: str, path: str) -> bool:
    where = error.split(":", 1)[0]
    return where == path or (where.startswith(path + ".") and "." not in where[len(path) + 1 :])


def _integer(value: Any, from_form: bool) -> tuple[bool, Any]:
    if from_form and isinstance(value, str) and _INT_RE.fullmatch(value):
        return True, int(value)
    return isinstance(value, int) and not isinstance(value, bool), value


def _float(value: Any, from_form: bool) -> tuple[bool, Any]:
    if from_form and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return False, value
        return math.isfinite(number), number
    return isinstance(value, int | float) and not isinstance(value, bool), value


def _boolean(value: Any, from_form: bool) -> tuple[bool, Any]:
    if from_form and isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
        return True, value.lower() in {"true", "1"}
    return isinstance(value, bool), value


def _string(value: Any, from_form: bool) -> tuple[bool, Any]:
    return isinstance(value, str), value


def _input_file(value: Any, from_form: bool) -> tuple[bool, Any]:
    return isinstance(value, UploadedFile | str), value


_PRIMITIVES: dict[str, Callable[[Any, bool], tuple[bool, Any]]] = {
    "Integer": _integer,
    "Float": _float,
    "Boolean": _boolean,
    "String": _string,
    "InputFile": _input_file,
}


# -------------------------------------------------------------------- prose rules
def _button_rules(button: dict[str, Any], path: str) -> list[str]:
    problems = []
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
        size = len(data.encode("utf-8"))
        problems.append(f"{path}.callback_data: must be 1-64 bytes in UTF-8, got {size} bytes")
    actions = sorted(set(button) - _BUTTON_NEUTRAL)
    if len(actions) != 1:
        problems.append(f"{path}: exactly one button action field is required, got {actions}")
    return problems


def _bot_command_rules(command: dict[str, Any], path: str) -> list[str]:
    problems = []
    if not _COMMAND_RE.fullmatch(command["command"]):
        problems.append(f"{path}.command: {command['command']!r} must be 1-32 chars of [a-z0-9_]")
    if not 1 <= len(command["description"]) <= 256:
        problems.append(f"{path}.description: must be 1-256 characters")
    return problems


def _method_rules(method: str, fields: dict[str, Any], p: dict[str, Any]) -> list[str]:
    """Rules that api.json only states in prose; run after the schema checks pass."""
    problems: list[str] = []
    if method in {"sendMessage", "editMessageText"} and "text" in p:
        size = len(visible_text(p["text"], p.get("parse_mode")).strip())
        if not 1 <= size <= 4096:
            problems.append(f"text: must be 1-4096 characters after stripping, got {size}")
    if method == "editMessageText" and "text" not in p and "rich_message" not in p:
        problems.append("text: required unless rich_message is given")
    if {"chat_id", "message_id", "inline_message_id"} <= fields.keys():
        by_id = "chat_id" in p and "message_id" in p
        inline = "inline_message_id" in p
        if not (by_id or inline) or (inline and ("chat_id" in p or "message_id" in p)):
            problems.append("either chat_id + message_id or inline_message_id is required")
    if "caption" in p and isinstance(p["caption"], str):
        size = len(visible_text(p["caption"], p.get("parse_mode")))
        if size > 1024:
            problems.append(f"caption: must be 0-1024 characters, got {size}")
    if method == "answerCallbackQuery" and len(p.get("text", "")) > 200:
        problems.append(f"text: must be 0-200 characters, got {len(p['text'])}")
    if method == "setMyCommands" and len(p["commands"]) > 100:
        problems.append(f"commands: at most 100 commands, got {len(p['commands'])}")
    secret = p.get("secret_token") if method == "setWebhook" else None
    if secret is not None and not _SECRET_RE.fullmatch(secret):
        problems.append("secret_token: must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    if method == "sendChatAction" and p["action"] not in _CHAT_ACTIONS:
        problems.append(f"action: {p['action']!r} is not one of {sorted(_CHAT_ACTIONS)}")
    if method == "getUpdates" and not 1 <= p.get("limit", 100) <= 100:
        problems.append("limit: must be between 1 and 100")
    return problems
