"""Choosing a campaign when an agency answers several at once, and where each one stands.

An agency may be in several open campaigns (the yearly questionnaire and a website survey,
issue #9). Its officials then pick one from a short list (a button each, or its number);
`/phieu` brings the list back. Each campaign keeps its own submission and its own place in
the questionnaire; with one campaign nothing of this shows.

The place (mode, question, trail…) belongs to the person and the campaign (storage table
`positions`), so a person who moves from Telegram to Zalo continues at the same question;
the chat row keeps only what belongs to the chat: its language, the message an edit may
re-answer, the album being received, the campaign chosen.
"""

from __future__ import annotations

from dataclasses import replace

from flows.i18n import N_, translate
from flows.parsing import fold
from flows.state import Choice, ConversationState, Incoming, Reply, words_of
from storage.records import CampaignRec

# The payload of a campaign's button: not an engine payload (flows/payload.py has three
# parts), so the engine never mistakes it for one of its own.
PREFIX = "campaign|"
# Commands that bring the list of campaigns back (typed with or without the slash).
SWITCH_COMMANDS = frozenset({"phieu", "doiphieu", "chonphieu", "forms", "campaign", "campaigns"})


def pack(campaign_id: int) -> str:
    return f"{PREFIX}{campaign_id}"


def picked_id(incoming: Incoming) -> int | None:
    """The campaign id a campaign button carries; None for anything else."""
    raw = incoming.payload or ""
    if not raw.startswith(PREFIX) or not raw[len(PREFIX) :].isdigit():
        return None
    return int(raw[len(PREFIX) :])


def is_switch(incoming: Incoming) -> bool:
    """`/phieu` and its aliases: show the list of campaigns."""
    text = (incoming.text or "").strip()
    if not text.startswith("/"):
        return False
    name = text[1:].split(maxsplit=1)[0].split("@", 1)[0] if len(text) > 1 else ""
    return fold(name) in SWITCH_COMMANDS


def label(campaign: CampaignRec) -> str:
    return f"📋 {campaign.name} — {campaign.deadline:%d/%m/%Y}"


def chosen(incoming: Incoming, offered: list[CampaignRec]) -> CampaignRec | None:
    """Which offered campaign the official picked: its button, its number in the list, or
    its name typed out; None if the update picks none."""
    pid = picked_id(incoming)
    if pid is not None:
        return next((c for c in offered if c.id == pid), None)
    text = (incoming.text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= len(offered):
        return offered[int(text) - 1]
    folded = fold(words_of(text))
    if not folded:
        return None
    hits = [c for c in offered if fold(c.name) == folded or fold(words_of(label(c))) == folded]
    return hits[0] if len(hits) == 1 else None


def picker(
    lang: str, agency_name: str, offered: list[CampaignRec], current: int | None, note: str = ""
) -> Reply:
    """The list of campaigns to choose from, the one the chat is in marked: buttons on
    Telegram, numbered lines where there are none (bot/render.py)."""
    lines = [note] if note else []
    lines.append(
        translate(
            lang,
            N_(
                "{agency} đang có {n} phiếu cần trả lời. Anh/chị chọn phiếu muốn làm (gõ số "
                "thứ tự; sau này gõ /phieu để đổi phiếu):"
            ),
            {"agency": agency_name, "n": len(offered)},
        )
    )
    here = translate(lang, N_("đang làm"))
    choices = tuple(
        Choice(label(c) + (f" ({here})" if c.id == current else ""), pack(c.id)) for c in offered
    )
    return Reply("\n".join(lines), choices=choices, kind="question")


def header(lang: str, campaign: CampaignRec) -> Reply:
    """Said when a campaign is picked: which one the next messages are about."""
    return Reply(
        translate(
            lang,
            N_("Phiếu: {name} (hạn {deadline}). Gõ /phieu để đổi phiếu."),
            {"name": campaign.name, "deadline": f"{campaign.deadline:%d/%m/%Y}"},
        )
    )


# -- the chat's state and the person's position ---------------------------------------------


def position_part(state: ConversationState) -> ConversationState:
    """What of a state is the person's place in one campaign (chat-level fields cleared)."""
    return replace(
        state.copy(),
        lang="vi",
        last_answer=None,
        album=None,
        split=None,
        campaign=None,
        review=None,
    )


def chat_part(state: ConversationState, campaign_id: int | None) -> ConversationState:
    """What of a state belongs to the chat: language, the message to edit, the album, the
    split message being joined, the campaign chosen, and where an official is in review's
    turn (flows/review_agency.py: the returned item asked), kept across the engine's turns
    (a /xem while fixing)."""
    return ConversationState(
        lang=state.lang,
        last_answer=state.last_answer,
        album=state.album,
        split=state.split,
        campaign=campaign_id,
        review=state.review,
    )


def merged(chat: ConversationState, position: ConversationState | None) -> ConversationState:
    """The engine's state: the person's place in the campaign + the chat's own fields.

    No position yet: a chat that never chose a campaign (one saved before places were kept
    per person) goes on from its own place; any other starts the campaign afresh.
    """
    base = position if position is not None else chat if chat.campaign is None else None
    state = position_part(base) if base is not None else ConversationState()
    state.lang = chat.lang
    state.last_answer = chat.last_answer
    state.album = chat.album
    state.split = chat.split
    state.campaign = chat.campaign
    state.review = chat.review
    return state
