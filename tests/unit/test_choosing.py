"""bot/choosing.py: reading an official's pick among campaigns, and splitting the engine's
state into the person's place (per campaign) and the chat's own fields (issue #9)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from bot import choosing
from bot.cli.common import cohort_code, parse_day
from flows.machines import Mode
from flows.state import ConversationState, Incoming
from storage.records import CampaignRec

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def campaign(cid: int, name: str) -> CampaignRec:
    return CampaignRec(cid, "f", 1, name, date(2026, 11, 26), "Asia/Ho_Chi_Minh", NOW, None)


OFFERED = [campaign(4, "Năm 2026"), campaign(9, "Khảo sát website")]


@pytest.mark.parametrize(
    ("incoming", "picked"),
    [
        (Incoming(payload="campaign|9"), 9),
        (Incoming(payload="campaign|5"), None),  # not offered (closed since)
        (Incoming(payload="a|1.1|yes"), None),  # an engine button
        (Incoming(text="1"), 4),
        (Incoming(text=" 2 "), 9),
        (Incoming(text="3"), None),
        (Incoming(text="0"), None),
        (Incoming(text="khao sat WEBSITE"), 9),  # its name, accents and case aside
        (Incoming(text="📋 Năm 2026 — 26/11/2026"), 4),  # the button's label typed out
        (Incoming(text="12 người"), None),
    ],
)
def test_what_picks_a_campaign(incoming: Incoming, picked: int | None) -> None:
    found = choosing.chosen(incoming, OFFERED)
    assert (found.id if found else None) == picked


@pytest.mark.parametrize(
    ("text", "switch"),
    [("/phieu", True), ("/doiphieu", True), ("/PHIEU", True), ("/phiếu", True),
     ("/phieu@phieu_bot", True), ("phieu", False), ("/menu", False), ("/", False)],
)  # fmt: skip
def test_switch_commands(text: str, switch: bool) -> None:
    assert choosing.is_switch(Incoming(text=text)) is switch


@given(st.text(max_size=40), st.text(max_size=40))
def test_reading_a_pick_never_fails(text: str, payload: str) -> None:
    found = choosing.chosen(Incoming(text=text, payload=payload or None), OFFERED)
    assert found is None or found in OFFERED
    choosing.is_switch(Incoming(text=text))


states = st.builds(
    ConversationState,
    mode=st.sampled_from(list(Mode)),
    item=st.one_of(st.none(), st.sampled_from(["1.1", "3.2.b", "6.1.a.2.c"])),
    lang=st.sampled_from(["vi", "en"]),
    skipped=st.lists(st.sampled_from(["1.1", "2.3"]), max_size=2),
    trail=st.lists(st.sampled_from(["1.1", "2.3", "3.1.a"]), max_size=3),
    pending=st.one_of(st.none(), st.just({"value": 12})),
    last_answer=st.one_of(st.none(), st.just({"message_id": "7", "item": "1.1"})),
    album=st.one_of(st.none(), st.just({"group": "g", "item": None})),
    back_to=st.one_of(st.none(), st.just("2.1")),
    campaign=st.one_of(st.none(), st.integers(1, 9)),
)


@given(states, st.integers(1, 9))
def test_place_and_chat_fields_split_and_join_back(state: ConversationState, cid: int) -> None:
    state.campaign = cid
    chat = choosing.chat_part(state, cid)
    place = choosing.position_part(state)
    assert choosing.merged(chat, place) == state
    # The chat row keeps no place; the place keeps nothing of the chat.
    assert (chat.mode, chat.item, chat.trail, chat.pending) == (Mode.MENU, None, [], None)
    assert (place.last_answer, place.album, place.campaign) == (None, None, None)


def test_a_chat_without_a_place_starts_the_campaign_afresh() -> None:
    chat = ConversationState(lang="en", campaign=3)
    assert choosing.merged(chat, None) == ConversationState(lang="en", campaign=3)
    # A chat saved before places were kept per person goes on from its own place.
    legacy = ConversationState(Mode.ANSWERING, "2.1", lang="en")
    assert choosing.merged(legacy, None).item == "2.1"


@given(st.text(max_size=20))
def test_dates_and_cohorts_from_the_command_line_never_crash(text: str) -> None:
    for read in (parse_day, lambda v: cohort_code("--cohort", v)):
        try:
            read(text)
        except typer.Exit as e:
            assert e.exit_code == 2


def test_cohorts_as_people_write_them() -> None:
    assert [cohort_code("--cohort", v) for v in ("so", "Sở", "HUYỆN", "xã ", "huyen")] == [
        "so",
        "so",
        "huyen",
        "xa",
        "huyen",
    ]
    assert parse_day("5-1-2027") == date(2027, 1, 5) == parse_day("05.01.2027")
