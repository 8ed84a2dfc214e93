"""Send settings, the rate limiter's promises and what the bot process keeps per chat."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from aiogram import Bot
from aiogram.types import Update
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError
from bot.telegram_app import chat_of, make_dispatcher
from bot.workers.outbox import RateLimiter
from bot.workers.pacing import SendSettings, bot_key

TOKEN = "123456:" + "A" * 35
NAMES = {
    "PHIEU_SEND_RATE": "rate",
    "PHIEU_CHAT_INTERVAL": "chat_interval",
    "PHIEU_OUTBOX_POLL": "poll",
    "PHIEU_OUTBOX_KEEP_DAYS": "keep_sent_days",
}


def test_defaults_fit_telegram() -> None:
    send = SendSettings.from_env({})
    assert (send.rate, send.chat_interval, send.chat_burst) == (30.0, 1.0, 3)
    assert send.poll == 1.0 and send.keep_sent.days == 7


def test_each_variable_is_read() -> None:
    env = {
        "PHIEU_SEND_RATE": "1000000",
        "PHIEU_CHAT_INTERVAL": "0.5",
        "PHIEU_CHAT_BURST": "20",
        "PHIEU_OUTBOX_POLL": "60",
        "PHIEU_OUTBOX_KEEP_DAYS": "1.5",
    }
    send = SendSettings.from_env(env)
    assert send == SendSettings(1e6, 0.5, 20, 60.0, 1.5)
    limiter = send.limiter()
    assert (limiter.per_second, limiter.chat_interval, limiter.chat_burst) == (1e6, 0.5, 20)


@pytest.mark.parametrize("name", [*NAMES, "PHIEU_CHAT_BURST"])
@pytest.mark.parametrize("bad", ["0", "-3", "nhanh", "inf", "nan", "1e999"])
def test_a_bad_value_names_the_variable_with_an_example(name: str, bad: str) -> None:
    with pytest.raises(ConfigError) as raised:
        SendSettings.from_env({name: bad})
    assert name in str(raised.value) and "Ví dụ" in str(raised.value)


def test_a_burst_must_be_whole() -> None:
    with pytest.raises(ConfigError, match="PHIEU_CHAT_BURST"):
        SendSettings.from_env({"PHIEU_CHAT_BURST": "2.5"})


@given(st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_any_positive_number_is_taken_as_written(value: float) -> None:
    for name, attr in NAMES.items():
        assert getattr(SendSettings.from_env({name: repr(value)}), attr) == value


def test_the_bot_key_is_never_the_secret() -> None:
    assert bot_key(TOKEN) == "123456"


# ---- the limiter -----------------------------------------------------------------------------
@given(
    rate=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=0.3), min_size=1, max_size=200),
    replies=st.lists(st.booleans(), min_size=200, max_size=200),
)
def test_never_more_than_the_rate_in_any_second(
    rate: int, gaps: list[float], replies: list[bool]
) -> None:
    """Whoever asks and whenever: what `reserve` lets go fits `rate` per 1 s window."""
    t = [0.0]
    limiter = RateLimiter(per_second=rate, clock=lambda: t[0])
    sent: list[float] = []
    for i, gap in enumerate(gaps):
        t[0] += gap
        while (wait := limiter.reserve(str(i % 7), reply=replies[i])) > 0:
            t[0] += wait
        sent.append(t[0])
    for start in sent:
        assert sum(1 for x in sent if start <= x < start + 1.0 - 1e-9) <= rate


def test_replies_leave_no_trace_and_notices_are_forgotten_once_refilled() -> None:
    """Memory flat in users: 10,000 chats answered keep nothing; notices keep a chat only
    while its budget refills (a few seconds)."""
    t = [0.0]
    limiter = RateLimiter(per_second=1e9, clock=lambda: t[0])
    for chat in range(10_000):
        t[0] += 1e-6
        assert limiter.reserve(str(chat), reply=True) == 0.0
    assert limiter._chats == {}
    for chat in range(10_000):
        t[0] += 0.01
        assert limiter.reserve(str(chat)) == 0.0
    # a chat's bucket refills in burst × interval = 3 s: only the last 300 chats remain
    assert len(limiter._chats) <= 300 + 256
    assert len(limiter._booked) <= 100


def test_a_pause_holds_every_send_and_then_lifts() -> None:
    t = [0.0]
    limiter = RateLimiter(per_second=30, clock=lambda: t[0])
    limiter.pause(5)
    assert math.isclose(limiter.reserve("1", reply=True), 5.0)
    t[0] = 5.0
    assert limiter.reserve("1", reply=True) == 0.0


async def test_after_a_pause_one_send_probes_while_the_others_wait_for_it() -> None:
    """Several senders in flight (PHIEU_SEND_PARALLEL, reply chats) must not all resume at
    once after a 429: the first send is a probe, the rest wait for its outcome."""
    t = [0.0]
    limiter = RateLimiter(per_second=30, clock=lambda: t[0])
    assert limiter.start_probe() is False and limiter.resumed.is_set()  # no pause: no probe
    limiter.pause(1)
    t[0] = 1.0
    assert limiter.reserve("1") == 0.0 and limiter.start_probe() is True
    assert not limiter.resumed.is_set()  # the others wait
    assert limiter.start_probe() is False  # only one probe
    limiter.pause(1)  # the probe met another 429
    limiter.end_probe()
    assert limiter.resumed.is_set() and limiter.reserve("2") > 0  # released into the pause
    t[0] = 2.0
    assert limiter.reserve("2") == 0.0 and limiter.start_probe() is True
    limiter.end_probe()  # it went through: everyone may send again
    assert limiter.reserve("3") == 0.0 and limiter.start_probe() is False


# ---- the dispatcher keeps nothing per chat ---------------------------------------------------
async def test_the_dispatcher_keeps_no_state_per_chat() -> None:
    """aiogram's default FSM memory storage would keep a record for every chat seen."""

    class NoService:
        clock = staticmethod(lambda: datetime.now(UTC))

    dp = make_dispatcher(NoService())  # type: ignore[arg-type]
    bot = Bot(TOKEN)
    try:
        for chat in range(200):
            update = Update.model_validate(
                {
                    "update_id": chat,
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": -1000 - chat, "type": "group", "title": "g"},
                        "from": {"id": chat + 1, "is_bot": False, "first_name": "A"},
                        "text": "hi",
                    },
                }
            )
            await dp.feed_update(bot, update)
            assert chat_of(update) == str(-1000 - chat)
    finally:
        await bot.session.close()
    assert len(dp.fsm.storage.storage) == 0  # type: ignore[attr-defined]
