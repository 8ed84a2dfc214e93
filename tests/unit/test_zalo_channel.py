"""Pure parts of the Zalo channel: update shapes, invitation codes, typed navigation, the
numbered text and its split, settings. Parsers are property-tested: no shape raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.zalo import IMAGE, STICKER, TEXT, UNSUPPORTED, invite_code, parse_update
from bot.config import ConfigError
from bot.render import (
    TEXT_LIMITS,
    as_numbered_text,
    numbered_tail,
    reply_from_json,
    reply_payloads,
    typed_navigation,
)
from bot.zalo.client import ZaloPermanent, ZaloTransient, ZaloUnauthorized, classify
from bot.zalo.config import load_zalo_settings
from flows.i18n import translate
from flows.payload import Act, Payload, pack
from flows.prompts import command_actions
from flows.state import Choice, Reply

SAMPLE = {
    "event_name": "message.text.received",
    "message": {
        "message_id": "16f6366b3f02645a3d15",
        "date": 1766619597466,
        "chat": {"id": "e4ea2cd5189df1c3a88c", "chat_type": "PRIVATE"},
        "from": {"id": "e4ea2cd5189df1c3a88c", "display_name": "Nguyen Van A", "is_bot": False},
        "text": "Xin chào",
    },
}


# ---- update shapes ---------------------------------------------------------------------
def test_the_documented_sample_is_read_with_string_ids_and_millisecond_dates() -> None:
    e = parse_update(SAMPLE)
    assert e is not None
    assert (e.name, e.message_id, e.chat_id, e.user_id) == (
        TEXT,
        "16f6366b3f02645a3d15",
        "e4ea2cd5189df1c3a88c",
        "e4ea2cd5189df1c3a88c",
    )
    assert e.user_name == "Nguyen Van A" and e.text == "Xin chào" and e.chat_type == "PRIVATE"
    assert e.sent_at == datetime(2025, 12, 24, 23, 39, 57, 466000, tzinfo=UTC)
    assert e.update_id == "message.text.received:16f6366b3f02645a3d15"


def test_wrapped_and_unnamed_shapes_are_the_same_event() -> None:
    wrapped = parse_update({"ok": True, "result": SAMPLE})
    unnamed = parse_update({"ok": True, "result": {"message": SAMPLE["message"]}})
    assert wrapped == parse_update(SAMPLE) == unnamed


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"text": "a"}, TEXT),
        ({"photo_url": "https://x/p.jpg", "caption": "c"}, IMAGE),
        ({"sticker": "s1"}, STICKER),
        ({}, UNSUPPORTED),
        ({"text": 5}, UNSUPPORTED),
    ],
)
def test_a_missing_event_name_is_inferred_from_the_fields(fields: dict, kind: str) -> None:
    message = {"message_id": "1", "chat": {"id": "c"}, "from": {"id": "u"}, **fields}
    e = parse_update({"message": message})
    assert e is not None and e.name == kind


@pytest.mark.parametrize("key", ["display_name", "first_name", "name"])
def test_the_senders_name_is_read_from_any_of_its_keys(key: str) -> None:
    e = parse_update({"message": {"message_id": "1", "from": {"id": 12, key: "Lan"}, "text": "x"}})
    assert e is not None and e.user_name == "Lan"
    assert e.user_id == "12" and e.chat_id == "12"  # digits become strings; chat from sender


def test_group_chats_are_marked_and_numbers_become_strings() -> None:
    msg = {**SAMPLE["message"], "chat": {"id": 777, "chat_type": "group"}}
    e = parse_update({"message": msg})
    assert e is not None and e.chat_type == "GROUP" and e.chat_id == "777"


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "x",
        5,
        {},
        {"ok": True},
        {"ok": True, "result": []},
        {"event_name": "user.follow"},
        {"message": "hi"},
        {"message": []},
    ],
)
def test_updates_without_a_message_are_nothing(data: object) -> None:
    assert parse_update(data) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    ["message_id", "date", "chat", "from", "text", "photo_url", "caption", "sticker", "voice"]
)


@settings(max_examples=300, deadline=None)
@given(
    event=st.one_of(st.none(), st.text(max_size=30), json_values),
    message=st.dictionaries(keys, json_values, max_size=9),
    wrap=st.booleans(),
)
def test_no_update_shape_raises(event: object, message: dict, wrap: bool) -> None:
    body = {"event_name": event, "message": message}
    e = parse_update({"ok": True, "result": body} if wrap else body)
    assert e is not None
    assert e.update_id is None or len(e.update_id) <= 128
    assert e.chat_id is None or isinstance(e.chat_id, str)


# ---- invitations -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("/start AbCdEfGhIjKlMnOpQrStUvWxYz012345", "AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
        ("  AbCdEfGhIjKlMnOpQrStUvWxYz012345 ", "AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
        ("/START  abc", "abc"),
        ("/start", None),
        ("Xin chào", None),
        ("40", None),
        ("short-code", None),
        ("Có, https://sotttt.gov.vn", None),
    ],
)
def test_an_invitation_code_is_a_message_alone_or_after_start(text: str, code: str | None) -> None:
    assert invite_code(text) == code


# ---- typed navigation and numbered text --------------------------------------------------
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_navigation_label_shown_is_a_word_that_works_typed(lang: str) -> None:
    """What a Zalo user sees in brackets ("⏭ Bỏ qua", "↩ Back") does, typed, what the
    button does on Telegram: the same engine command."""
    from flows.loader import builtin_forms

    expected = {"skip": "/bo", "back": "/lai", "na": "/kad", "menu": "/menu"}
    form = builtin_forms()["binh-dinh-2019-so"]
    question = next(q for q in form.questions if q.na_allowed)
    actions = command_actions(lang, question)
    assert len(actions) == 4
    for action in actions:
        payload = Payload.unpack(action.payload)
        assert payload is not None
        typed = expected[payload.value]
        assert typed_navigation(action.words) == typed, (lang, action)
        assert typed_navigation(action.words.upper()) == typed
        assert typed_navigation(action.label) == typed  # emoji and all


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("bỏ qua", "/bo"),
        ("Bo qua", "/bo"),
        ("BỎ QUA!", "/bo"),
        ("quay lại", "/lai"),
        ("Menu", "/menu"),
        ("nộp", "/nop"),
        ("Nộp phiếu", "/nop"),
        ("tiếp tục", "/tiep"),
        ("không áp dụng", "/kad"),
        ("skip", "/bo"),
        ("back", "/lai"),
        ("hướng dẫn", "/help"),
        ("bỏ qua câu này đi", None),
        ("menu chính của tôi", None),
        ("1", None),
        ("Có", None),
        ("", None),
        ("40 người", None),
    ],
)
def test_typed_navigation_is_whole_messages_only(typed: str, command: str | None) -> None:
    assert typed_navigation(typed) == command


def test_choices_are_numbered_and_actions_listed_in_the_language_of_the_reply() -> None:
    for lang in ("vi", "en"):
        reply = Reply(
            "Câu 3.6?",
            (Choice(translate(lang, "Có"), "a"), Choice(translate(lang, "Không"), "b")),
            (*command_actions(lang, None), Choice("✏️ Sửa", pack(Act.EDIT, "3.2.b"))),
        )
        text = as_numbered_text(reply)
        head, tail = text.split("\n\n", 1)
        assert head == "Câu 3.6?"
        lines = tail.split("\n")
        assert lines[0] == f"1. {translate(lang, 'Có')}" and lines[1].startswith("2. ")
        skip = translate(lang, "⏭ Bỏ qua")
        assert lines[2].startswith(f"[{skip} · ") and lines[2].endswith("· /sua 3.2.b Sửa]")
    assert as_numbered_text(Reply("Chỉ chữ")) == "Chỉ chữ"


lines_st = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300), max_size=40)


@settings(max_examples=150, deadline=None)
@given(lines=lines_st, n_choices=st.integers(0, 12), label=st.text(min_size=1, max_size=60))
def test_every_zalo_message_fits_2000_characters(
    lines: list[str], n_choices: int, label: str
) -> None:
    reply = Reply(
        "\n".join(lines) or "x",
        tuple(Choice(f"{label} {i}", str(i)) for i in range(n_choices)),
        command_actions("vi", None),
    )
    rows = reply_payloads("zalo", reply)
    rendered = [as_numbered_text(reply_from_json(r)) for r in rows]
    assert all(len(t) <= TEXT_LIMITS["zalo"] for t in rendered)
    assert numbered_tail(reply) in rendered[-1]  # the choices travel on the last part


# ---- errors and settings ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (None, ZaloTransient),
        (500, ZaloTransient),
        (503, ZaloTransient),
        (429, ZaloTransient),
        (408, ZaloTransient),
        (401, ZaloUnauthorized),
        (400, ZaloPermanent),
        (403, ZaloPermanent),
        (404, ZaloPermanent),
        (-216, ZaloPermanent),
    ],
)
def test_error_envelopes_become_typed_errors(code: int | None, kind: type) -> None:
    error = classify("sendMessage", code, "x")
    assert type(error) is kind and error.code == code


TOKEN = "1234567890123456789:AbCdEf-ghIjKl_mn"


def test_settings_are_checked_and_the_token_never_shown() -> None:
    s = load_zalo_settings({"ZALO_BOT_TOKEN": TOKEN})
    assert s.api_base == "https://bot-api.zaloplatforms.com" and s.send_rate == 10.0
    assert s.media_max_bytes == 5 * 1024 * 1024
    assert "AbCdEf" not in repr(s)
    s = load_zalo_settings(
        {
            "ZALO_BOT_TOKEN": TOKEN,
            "ZALO_API_BASE": "https://bot-api.zapps.me/",
            "PHIEU_ZALO_SEND_RATE": "2.5",
            "PHIEU_ZALO_MEDIA_MAX_MB": "1",
        }
    )
    assert s.api_base == "https://bot-api.zapps.me" and s.send_rate == 2.5
    assert s.media_max_bytes == 1024 * 1024


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "Thiếu ZALO_BOT_TOKEN"),
        ({"ZALO_BOT_TOKEN": "abc"}, "sai định dạng"),
        ({"ZALO_BOT_TOKEN": "12:" + "a" * 300}, "sai định dạng"),
        ({"ZALO_BOT_TOKEN": TOKEN, "PHIEU_ZALO_SEND_RATE": "-1"}, "PHIEU_ZALO_SEND_RATE"),
        ({"ZALO_BOT_TOKEN": TOKEN, "PHIEU_ZALO_SEND_RATE": "nhanh"}, "PHIEU_ZALO_SEND_RATE"),
        ({"ZALO_BOT_TOKEN": TOKEN, "ZALO_API_BASE": "bot-api"}, "ZALO_API_BASE"),
        ({"ZALO_BOT_TOKEN": TOKEN, "ZALO_WEBHOOK_SECRET": "a b"}, "ZALO_WEBHOOK_SECRET"),
        ({"ZALO_BOT_TOKEN": TOKEN, "PORT": "99999"}, "PORT"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_zalo_settings(env)


def test_webhook_mode_needs_a_public_url_and_a_secret() -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_zalo_settings({"ZALO_BOT_TOKEN": TOKEN}, webhook=True)
    with pytest.raises(ConfigError, match="ZALO_WEBHOOK_SECRET"):
        load_zalo_settings({"ZALO_BOT_TOKEN": TOKEN, "PUBLIC_URL": "https://a.vn"}, webhook=True)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_typed_navigation_never_raises_and_only_names_engine_commands(text: str) -> None:
    from flows.engine import COMMANDS

    command = typed_navigation(text)
    assert command is None or command[1:] in COMMANDS
