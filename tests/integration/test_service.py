"""Phieu.handle on real databases: each update handled once, in one transaction, or not at all.

Every test runs on SQLite and PostgreSQL (the `storage` fixture). Replies are read from the
outbox, as a channel's worker would after the commit; row counts are read from the tables
themselves, so nothing the service writes on the side goes unnoticed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.service import Phieu, Sender
from flows.loader import builtin_forms
from flows.machines import Mode, Status
from flows.model import Form
from flows.state import ConversationState, Incoming
from storage import AgencyRec, CampaignRec, Storage, SubmissionRec, Unit, UserRec
from storage.models import (
    AnswerHistory,
    AnswerRow,
    Conversation,
    Identity,
    Outbox,
    ProcessedUpdate,
    Submission,
    SubmissionEvent,
    User,
)
from tests.engine_driver import inline_form

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 09:00 in Quy Nhơn
FORM_ID = "binh-dinh-2019-so"
TABLES = (
    AnswerRow,
    AnswerHistory,
    Outbox,
    ProcessedUpdate,
    Conversation,
    Submission,
    SubmissionEvent,
    User,
    Identity,
)

# A form small enough to submit in a few messages (no cohorts: open to every agency).
SMALL_FORM = inline_form("""
sections:
  - id: "1"
    title: THÔNG TIN CHUNG
    items:
      - {id: "1.8", type: integer, text: Tổng số CBCC của khối Văn phòng, unit: người}
      - {id: "1.9", type: yes_no, text: Cơ quan có mạng LAN}
""")


class Crash(Exception):
    """The process dying halfway through a unit (power cut, OOM kill, a bug)."""


async def counts(storage: Storage) -> dict[str, int]:
    async with storage.engine.connect() as conn:
        return {
            model.__tablename__: int(
                (await conn.execute(select(func.count()).select_from(model))).scalar_one()
            )
            for model in TABLES
        }


@dataclass
class Chat:
    """One chat of one account on one channel; `send` returns the replies it was queued."""

    phieu: Phieu
    channel: str
    chat_id: str
    sender: Sender
    seen: set[int] = field(default_factory=set)

    async def send(self, text: str, update_id: str | None = None) -> str:
        await self.phieu.handle(
            self.channel, self.chat_id, update_id, Incoming(text=text), self.sender
        )
        return await self.replies()

    async def replies(self) -> str:
        async with self.phieu.storage.unit() as unit:
            rows = await unit.pending_for_chat(self.channel, self.chat_id)
        fresh = [r for r in rows if r.id not in self.seen]
        self.seen.update(r.id for r in fresh)
        return "\n".join(r.payload["text"] for r in fresh)

    async def state(self) -> ConversationState:
        return await self.phieu.state_of(self.channel, self.chat_id, self.sender.external_id)


@dataclass
class World:
    storage: Storage
    phieu: Phieu
    agency: AgencyRec
    campaign: CampaignRec
    lan: UserRec  # an official of the agency, on Telegram

    def chat(self, channel: str, external_id: str, language: str | None = "vi") -> Chat:
        return Chat(self.phieu, channel, external_id, Sender(external_id, "Lan", language))

    async def submission(self) -> SubmissionRec:
        async with self.storage.unit() as unit:
            return await unit.submission(self.campaign.id, self.agency.id)

    async def answers(self) -> dict[str, Any]:
        sub = await self.submission()
        async with self.storage.unit() as unit:
            return {k: a.value for k, a in (await unit.load_answers(sub.id)).items()}


async def make_world(storage: Storage, forms: dict[str, Form] | None = None) -> World:
    forms = forms if forms is not None else builtin_forms()
    form = next(iter(forms.values())) if len(forms) == 1 else forms[FORM_ID]
    async with storage.unit() as u:
        agency = await u.add_agency("STTTT", "Sở Thông tin và Truyền thông", "so")
        lan = await u.add_user("Nguyễn Thị Lan", agency.id, "official")
        await u.bind_identity(lan.id, "telegram", "111", "Lan")
        campaign = await u.add_campaign(form.id, form.version, "Năm 2026", date(2026, 11, 26))
    return World(storage, Phieu(storage, forms, clock=lambda: NOW), agency, campaign, lan)


def fail_once(
    monkeypatch: pytest.MonkeyPatch, name: str, outcome: Callable[[], Any] | None = None
) -> list[int]:
    """Make Unit.<name> fail (raise Crash, or return outcome()) on its first call only."""
    original = getattr(Unit, name)
    calls: list[int] = []

    async def flaky(self: Unit, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            if outcome is None:
                raise Crash(name)
            return outcome()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Unit, name, flaky)
    return calls


@pytest.fixture
async def world(storage: Storage) -> World:
    return await make_world(storage)


# -- (a) a redelivered update changes nothing ------------------------------------------------


async def test_duplicate_update_changes_nothing(world: World) -> None:
    lan = world.chat("telegram", "111")
    await lan.send("/sua 3.1.a", update_id="1")
    assert "✅ Đã lưu 3.1.a: 12 người" in await lan.send("12", update_id="2")
    before = await counts(world.storage)
    state = await lan.state()
    sub = await world.submission()

    # Telegram delivers update 2 again (a webhook retried after a timeout, a restart).
    outcome = await world.phieu.handle("telegram", "111", "2", Incoming(text="12"), lan.sender)

    assert outcome.duplicate and outcome.replies == 0 and outcome.step is None
    assert await counts(world.storage) == before  # no answer, history or outbox row more
    # Handled twice, "12" would have answered the question now open, 3.1.b.
    assert await world.answers() == {"3.1.a": 12}
    assert (await lan.state()).to_json() == state.to_json()
    assert await lan.replies() == ""
    assert (await world.submission()).version == sub.version

    # The same id from another channel is another update.
    async with world.storage.unit() as u:
        await u.bind_identity(world.lan.id, "console", "console:lan", "console")
    console = world.chat("console", "console:lan")
    assert "Xin chào" in await console.send("/menu", update_id="2")


# -- (b) a crash before the commit leaves nothing, and the redelivery works once ---------------


@pytest.mark.parametrize("failing", ["apply_changes", "save_position", "enqueue_many"])
async def test_crash_before_commit_stores_nothing_and_redelivery_succeeds_once(
    world: World, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    lan = world.chat("telegram", "111")
    await lan.send("/sua 3.1.a", update_id="1")
    before = await counts(world.storage)
    state = await lan.state()
    assert state.item == "3.1.a" and state.mode is Mode.ANSWERING

    calls = fail_once(monkeypatch, failing)
    with pytest.raises(Crash):
        await world.phieu.handle("telegram", "111", "2", Incoming(text="12"), lan.sender)
    assert calls  # the engine ran and the unit got as far as `failing`

    assert await counts(world.storage) == before  # no answer, history, outbox or update id
    assert await world.answers() == {}
    assert (await lan.state()).to_json() == state.to_json()  # still at 3.1.a
    assert await lan.replies() == ""  # nothing acknowledged that was not stored

    # The channel redelivers the update it never got an OK for.
    outcome = await world.phieu.handle("telegram", "111", "2", Incoming(text="12"), lan.sender)
    assert not outcome.duplicate
    replies = await lan.replies()
    assert replies.count("✅ Đã lưu 3.1.a: 12 người") == 1
    assert "3.1.b" in replies  # the conversation went on from the same question
    assert await world.answers() == {"3.1.a": 12}
    history = await _history(world)
    assert [(h.item_id, h.old, h.new.value if h.new else None) for h in history] == [
        ("3.1.a", None, 12)
    ]
    after = await counts(world.storage)
    assert after["answers"] == 1 and after["answer_history"] == 1
    assert after["processed_updates"] == before["processed_updates"] + 1
    assert after["outbox"] == before["outbox"] + outcome.replies
    state = await lan.state()
    assert state.item == "3.1.b" and state.mode is Mode.ANSWERING

    # …and only once.
    again = await world.phieu.handle("telegram", "111", "2", Incoming(text="12"), lan.sender)
    assert again.duplicate
    assert await counts(world.storage) == after


async def _history(world: World) -> list[Any]:
    sub = await world.submission()
    async with world.storage.unit() as unit:
        return await unit.answer_history(sub.id)


# -- (c) a stranger is refused politely, and nothing about them is kept ----------------------


async def test_uninvited_sender_gets_a_polite_refusal_and_nothing_else(storage: Storage) -> None:
    world = await make_world(storage)
    before = await counts(storage)
    stranger = world.chat("telegram", "999")

    for n, text in enumerate(["/start", "12", "/sua 3.1.a", "/nop"], start=1):
        outcome = await world.phieu.handle(
            "telegram", "999", str(n), Incoming(text=text), stranger.sender
        )
        assert outcome.replies == 1 and outcome.step is None
        reply = await stranger.replies()
        assert reply.startswith("Xin chào! Phiếu chỉ dành cho cán bộ được mời.")
        assert "Sở Thông tin và Truyền thông" in reply and "/start <mã mời>" in reply

    after = await counts(storage)
    assert after["outbox"] == before["outbox"] + 4  # the four refusals, to that chat only
    assert after["processed_updates"] == before["processed_updates"] + 4
    for table in ("answers", "answer_history", "submissions", "submission_events"):
        assert after[table] == before[table] == 0, table
    assert (after["users"], after["identities"]) == (before["users"], before["identities"])
    # The chat's row (taken to order its updates) stays empty and belongs to no one.
    assert after["conversations"] == before["conversations"] + 1
    async with storage.unit() as unit:
        _, state, user_id = await unit.lock_conversation("telegram", "999")
        assert await unit.pending_for_chat("telegram", "111") == []
    assert user_id is None and state == ConversationState()


# -- (d) submission: compare-and-set, reviewers notified, a concurrent move retried ------------


async def _small_world(storage: Storage) -> tuple[World, list[UserRec]]:
    world = await make_world(storage, {SMALL_FORM.id: SMALL_FORM})
    async with storage.unit() as u:
        hoa = await u.add_user("Trần Văn Hoà", None, "reviewer")
        await u.bind_identity(hoa.id, "telegram", "501", "Hoà")
        await u.bind_identity(hoa.id, "console", "console:hoa", "console")
        mai = await u.add_user("Lê Mai", None, "reviewer", lang="en")
        await u.bind_identity(mai.id, "telegram", "502", "Mai")
        await u.add_user("Reviewer without a chat", None, "reviewer")
        official2 = await u.add_user("Phạm Minh", world.agency.id, "official")
        await u.bind_identity(official2.id, "telegram", "222", "Minh")
    return world, [hoa, mai]


async def _ready_to_submit(chat: Chat, start: int = 1) -> None:
    await chat.send("/sua 1.8", update_id=f"{chat.chat_id}-{start}")
    await chat.send("30", update_id=f"{chat.chat_id}-{start + 1}")
    assert "Hãy xem lại và nộp phiếu" in await chat.send(
        "Có", update_id=f"{chat.chat_id}-{start + 2}"
    )
    assert "Nộp phiếu của Sở Thông tin và Truyền thông?" in await chat.send(
        "/nop", update_id=f"{chat.chat_id}-{start + 3}"
    )


async def _notifications(storage: Storage) -> list[tuple[str, str, str]]:
    async with storage.engine.connect() as conn:
        rows = await conn.execute(
            select(Outbox.channel, Outbox.chat_id, Outbox.payload)
            .where(Outbox.payload["kind"].as_string() == "notice")
            .order_by(Outbox.id)
        )
        return [(r.channel, r.chat_id, r.payload["text"]) for r in rows]


async def _assert_submitted_once(world: World, by: UserRec) -> None:
    sub = await world.submission()
    assert sub.status is Status.SUBMITTED and sub.submitted_at == NOW and sub.version == 2
    async with world.storage.unit() as unit:
        events = await unit.submission_events(sub.id)
    assert [(e.from_status, e.to_status, e.user_id) for e in events] == [
        (Status.DRAFT, Status.SUBMITTED, by.id)
    ]
    agency, form = "Sở Thông tin và Truyền thông", "Phiếu thử"
    vi = (
        f"📥 {agency} đã nộp phiếu “{form}”. Mời thẩm định.\nĐúng hạn.\n"
        "Đã trả lời 2/2 mục; 0 mục có minh chứng cần xem."
    )
    en = (
        f"📥 {agency} has submitted the form “{form}”. Please review it.\nOn time.\n"
        "2/2 items answered; 0 items carry evidence to check."
    )
    # Every chat of every reviewer, in the reviewer's language; none for one without a chat.
    assert await _notifications(world.storage) == [
        ("telegram", "501", vi),
        ("console", "console:hoa", vi),
        ("telegram", "502", en),
    ]


async def test_submission_moves_draft_to_submitted_and_notifies_reviewers(
    storage: Storage,
) -> None:
    world, _ = await _small_world(storage)
    lan = world.chat("telegram", "111")
    await _ready_to_submit(lan)
    assert (await world.submission()).status is Status.DRAFT

    text = await lan.send("📤 Nộp phiếu", update_id="111-9")

    assert "📤 Đã nộp phiếu." in text
    await _assert_submitted_once(world, world.lan)
    # Read-only from now on, for every official of the agency.
    assert "chỉ xem được" in await lan.send("/sua 1.8", update_id="111-10")
    minh = world.chat("telegram", "222")
    assert "chỉ xem được" in await minh.send("/sua 1.8", update_id="222-1")
    assert await world.answers() == {"1.8": 30, "1.9": True}


async def test_submission_retries_when_the_status_moved_meanwhile(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world, _ = await _small_world(storage)
    lan = world.chat("telegram", "111")
    await _ready_to_submit(lan)
    before = await counts(storage)

    calls = fail_once(monkeypatch, "move_submission", outcome=lambda: False)
    with caplog.at_level(logging.INFO, logger="bot.service"):
        outcome = await world.phieu.handle(
            "telegram", "111", "111-9", Incoming(text="1"), lan.sender
        )

    assert len(calls) == 2  # refused once, then the whole update handled again
    assert "submission moved concurrently; retry 1" in caplog.text
    assert not outcome.duplicate and outcome.step is not None
    text = await lan.replies()
    assert text.count("📤 Đã nộp phiếu.") == 1  # the failed attempt left no reply behind
    await _assert_submitted_once(world, world.lan)
    after = await counts(storage)
    assert after["processed_updates"] == before["processed_updates"] + 1
    assert after["outbox"] == before["outbox"] + outcome.replies + 3  # + 3 notifications


async def test_two_officials_submitting_at_once_submit_once(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A real race: both confirm at once; the submission's lock makes them take turns.

    Every unit locks the agency's submission when it reads it (Unit.standing), before the
    engine runs. On PostgreSQL both units meet just before that read; the second then waits
    for the first's row lock and reads the submitted status, so it never even tries to move
    the submission. On SQLite units queue on the write lock (a meeting point would
    deadlock), with the same outcome.
    """
    world, _ = await _small_world(storage)
    lan, minh = world.chat("telegram", "111"), world.chat("telegram", "222")
    await _ready_to_submit(lan)
    await minh.send("/nop", update_id="222-1")
    postgres = storage.engine.dialect.name == "postgresql"
    barrier = asyncio.Barrier(2)
    standing, move = Unit.standing, Unit.move_submission
    moved: list[int] = []

    async def meet_then_read(self: Unit, *args: Any, **kwargs: Any) -> Any:
        if postgres:
            await asyncio.wait_for(barrier.wait(), 10)
        return await standing(self, *args, **kwargs)

    async def count_moves(self: Unit, *args: Any, **kwargs: Any) -> bool:
        moved.append(1)
        return await move(self, *args, **kwargs)

    monkeypatch.setattr(Unit, "standing", meet_then_read)
    monkeypatch.setattr(Unit, "move_submission", count_moves)

    def confirm(chat: Chat) -> Awaitable[Any]:
        return world.phieu.handle(
            "telegram", chat.chat_id, f"{chat.chat_id}-9", Incoming(text="1"), chat.sender
        )

    with caplog.at_level(logging.INFO, logger="bot.service"):
        await asyncio.gather(confirm(lan), confirm(minh))
    assert len(moved) == 1  # the second read the submitted status: nothing to move
    assert "submission moved concurrently" not in caplog.text

    texts = [await lan.replies(), await minh.replies()]
    assert sum(t.count("📤 Đã nộp phiếu.") for t in texts) == 1
    loser = next(t for t in texts if "📤 Đã nộp phiếu." not in t)
    assert "Phiếu đang ở trạng thái: đã nộp" in loser
    sub = await world.submission()
    async with storage.unit() as unit:
        events = await unit.submission_events(sub.id)
    assert sub.status is Status.SUBMITTED and len(events) == 1


async def test_a_lost_compare_and_set_handles_the_update_again(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If the submission moved anyway (the safety net behind the lock), the whole update is
    rolled back and handled again: one submission, one event, one reply."""
    world, _ = await _small_world(storage)
    lan = world.chat("telegram", "111")
    await _ready_to_submit(lan)
    move = Unit.move_submission
    calls: list[int] = []

    async def lose_first(self: Unit, *args: Any, **kwargs: Any) -> bool:
        calls.append(1)
        if len(calls) == 1:
            return False
        return await move(self, *args, **kwargs)

    monkeypatch.setattr(Unit, "move_submission", lose_first)
    with caplog.at_level(logging.INFO, logger="bot.service"):
        text = await lan.send("1", update_id="111-9")
    assert len(calls) == 2
    assert caplog.text.count("submission moved concurrently; retry 1") == 1
    assert text.count("📤 Đã nộp phiếu.") == 1
    sub = await world.submission()
    async with storage.unit() as unit:
        events = await unit.submission_events(sub.id)
    assert sub.status is Status.SUBMITTED and len(events) == 1
    assert len(await _notifications(storage)) == 3


# -- (e) two officials, two chats, one item: last answer wins, history says who and where -----


async def test_two_officials_answer_the_same_item_last_wins_with_history(world: World) -> None:
    async with world.storage.unit() as u:
        minh = await u.add_user("Phạm Minh", world.agency.id, "official")
        await u.bind_identity(minh.id, "console", "console:minh", "console")
    lan = world.chat("telegram", "111")
    minh_chat = world.chat("console", "console:minh")

    await lan.send("/sua 3.1.a", update_id="1")
    await minh_chat.send("/sua 3.1.a")
    assert "✅ Đã lưu 3.1.a: 12 người" in await lan.send("12", update_id="2")
    reply = await minh_chat.send("15")
    assert "✅ Đã lưu 3.1.a: 15 người" in reply

    assert await world.answers() == {"3.1.a": 15}
    history = await _history(world)
    assert [
        (h.item_id, h.old.value if h.old else None, h.new.value if h.new else None) for h in history
    ] == [("3.1.a", None, 12), ("3.1.a", 12, 15)]
    assert [(h.user_id, h.channel) for h in history] == [
        (world.lan.id, "telegram"),
        (minh.id, "console"),
    ]
    assert all(h.at == NOW for h in history)
    # Lan sees Minh's value the next time she looks.
    assert "3.1.a: 15 người" in (await lan.send("/xem 3", update_id="3")).splitlines()


# -- (f) the language chosen is the user's, on every chat --------------------------------------


async def test_lang_en_persists_on_the_user_and_later_replies_are_english(world: World) -> None:
    lan = world.chat("telegram", "111")
    assert "Trạng thái phiếu" in await lan.send("/menu", update_id="1")

    text = await lan.send("/lang en", update_id="2")
    assert text.startswith("Switched to English.")
    assert "Hello Nguyễn Thị Lan!" in text and "Form status: " in text  # the menu, in English

    async with world.storage.unit() as unit:
        user = await unit.user(world.lan.id)
    assert user is not None and user.lang == "en"

    question = await lan.send("/sua 3.1.a", update_id="3")
    assert "Office staff equipped with a computer" in question
    wrong = await lan.send("abc", update_id="4")
    assert "Example:" in wrong and "Ví dụ" not in wrong
    assert "✅ Saved 3.1.a: 12" in await lan.send("12", update_id="5")

    # A new chat of the same user (another channel) starts in English too.
    async with world.storage.unit() as u:
        await u.bind_identity(world.lan.id, "console", "console:lan", "console")
    console = world.chat("console", "console:lan")
    text = await console.send("/menu")
    assert "Hello" in text and "Xin chào" not in text

    # And back: /lang vi is kept the same way.
    assert "Đã chuyển sang tiếng Việt." in await lan.send("/lang vi", update_id="6")
    async with world.storage.unit() as unit:
        user = await unit.user(world.lan.id)
    assert user is not None and user.lang == "vi"


# -- (g) each official sees and changes only their own agency's submission -----------------


async def test_an_official_sees_and_changes_only_their_own_agency(world: World) -> None:
    async with world.storage.unit() as u:
        other = await u.add_agency("SYT", "Sở Y tế", "so")
        binh = await u.add_user("Trần Văn Bình", other.id, "official")
        await u.bind_identity(binh.id, "telegram", "222", "Bình")
    lan = world.chat("telegram", "111")
    binh_chat = Chat(world.phieu, "telegram", "222", Sender("222", "Bình", "vi"))

    await lan.send("/sua 3.1.a")
    await lan.send("12")
    menu = await binh_chat.send("/menu")
    assert "Cơ quan: Sở Y tế" in menu and "Sở Thông tin" not in menu
    assert "3.1.a: —" in await binh_chat.send("/xem 3")
    await binh_chat.send("/sua 3.1.a")
    await binh_chat.send("40")

    assert await world.answers() == {"3.1.a": 12}
    async with world.storage.unit() as u:
        theirs = await u.submission(world.campaign.id, other.id)
        assert {k: a.value for k, a in (await u.load_answers(theirs.id)).items()} == {"3.1.a": 40}
    assert "3.1.a: 12 người" in await lan.send("/xem 3")


async def test_a_submission_after_the_deadline_is_accepted_and_recorded_late(
    storage: Storage,
) -> None:
    world, _ = await _small_world(storage)
    late = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # three days after 26/11
    world.phieu = Phieu(storage, world.phieu.forms, clock=lambda: late)
    lan = world.chat("telegram", "111")
    await _ready_to_submit(lan)
    text = await lan.send("📤 Nộp phiếu", update_id="111-9")
    assert "📤 Đã nộp phiếu." in text
    assert "⏰ Phiếu được nộp sau hạn 26/11/2026 (3 ngày)" in text
    sub = await world.submission()
    assert sub.status is Status.SUBMITTED
    async with world.storage.unit() as unit:
        events = await unit.submission_events(sub.id)
    assert [(e.to_status, e.note) for e in events] == [(Status.SUBMITTED, "late")]


async def test_a_submission_on_time_is_not_marked_late(storage: Storage) -> None:
    world, _ = await _small_world(storage)
    lan = world.chat("telegram", "111")
    await _ready_to_submit(lan)
    assert "⏰" not in await lan.send("📤 Nộp phiếu", update_id="111-9")
    sub = await world.submission()
    async with world.storage.unit() as unit:
        events = await unit.submission_events(sub.id)
    assert [e.note for e in events] == [None]


async def test_a_new_chat_is_greeted_in_the_language_of_the_chat_app(world: World) -> None:
    english_phone = world.chat("telegram", "111", language="en-GB")
    text = await english_phone.send("/start", update_id="1")
    assert "Hello Nguyễn Thị Lan!" in text and "Xin chào" not in text


async def test_a_chosen_language_wins_over_the_chat_app(world: World) -> None:
    async with world.storage.unit() as u:
        await u.set_user_lang(world.lan.id, "en")
    vietnamese_phone = world.chat("telegram", "111", language="vi")
    assert "Hello" in await vietnamese_phone.send("/start", update_id="1")
