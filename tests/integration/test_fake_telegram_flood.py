"""The fake Bot API's flood control (FakeTelegram.set_rate_limit): like Telegram's ≈30/s."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.fakes import FakeTelegram


async def _send(session: aiohttp.ClientSession, tg: FakeTelegram, chat: int) -> dict:
    url = f"{tg.base_url}/bot{tg.token}/sendMessage"
    async with session.post(url, json={"chat_id": chat, "text": "x"}) as resp:
        return await resp.json()


async def test_beyond_the_rate_messages_get_429_with_retry_after_and_are_not_sent() -> None:
    async with FakeTelegram(rate_limit=30) as tg:
        for i in range(40):
            tg.user(5000 + i)
        async with aiohttp.ClientSession() as session:
            answers = [await _send(session, tg, 5000 + i) for i in range(40)]
            refused = [a for a in answers if not a["ok"]]
            assert 8 <= len(refused) <= 10  # 30 fit in the bucket, a few refill meanwhile
            assert refused[0]["error_code"] == 429
            assert refused[0]["parameters"]["retry_after"] >= 1
            assert refused[0]["description"].startswith("Too Many Requests: retry after")
            assert tg.rate_limited == len(refused)
            sent = sum(len(tg.sent(5000 + i)) for i in range(40))
            assert sent == 40 - len(refused)
            await asyncio.sleep(1.0)
            assert (await _send(session, tg, 5000))["ok"]


async def test_paced_just_under_the_rate_is_never_refused() -> None:
    async with FakeTelegram(rate_limit=30) as tg:
        tg.user(6000)
        async with aiohttp.ClientSession() as session:
            for _ in range(60):  # 2 s at 29/s
                assert (await _send(session, tg, 6000))["ok"]
                await asyncio.sleep(1 / 29)
        assert tg.rate_limited == 0


async def test_off_by_default() -> None:
    async with FakeTelegram() as tg:
        tg.user(7000)
        async with aiohttp.ClientSession() as session:
            assert all([(await _send(session, tg, 7000))["ok"] for _ in range(50)])
