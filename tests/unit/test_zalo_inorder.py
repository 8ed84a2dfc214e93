"""The polling loop's handler pool: one chat in order, chats side by side, bounded."""

from __future__ import annotations

import asyncio

from bot.zalo.app import InOrder


async def test_one_chat_in_order_other_chats_alongside_and_at_most_limit() -> None:
    pool = InOrder(limit=3)
    done: list[str] = []
    running = 0
    peak = 0
    gate = asyncio.Event()

    def work(name: str, wait: bool) -> object:
        async def run() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            if wait:
                await gate.wait()
            await asyncio.sleep(0)
            done.append(name)
            running -= 1

        return run

    await pool.submit("a", work("a1", True))  # blocks chat a until the gate opens
    await pool.submit("a", work("a2", False))
    await pool.submit("b", work("b1", False))
    await asyncio.sleep(0.01)
    assert done == ["b1"]  # b went past a's slow first update
    gate.set()
    await pool.submit("c", work("c1", False))
    await pool.drain()
    assert done.index("a1") < done.index("a2")
    assert sorted(done) == ["a1", "a2", "b1", "c1"]
    assert peak <= 3


async def test_a_failing_handler_is_logged_and_the_chat_goes_on(caplog) -> None:  # type: ignore[no-untyped-def]
    pool = InOrder(limit=2)
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("bug")

    async def fine() -> None:
        done.append("after")

    await pool.submit("a", boom)
    await pool.submit("a", fine)
    await pool.drain()
    assert done == ["after"]
    assert "could not be handled" in caplog.text


async def test_submit_waits_for_room() -> None:
    pool = InOrder(limit=1)
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()

    await pool.submit("a", slow)
    second = asyncio.create_task(pool.submit("b", slow))
    await asyncio.sleep(0.01)
    assert not second.done()  # no room: the poll loop waits instead of piling up
    gate.set()
    await asyncio.wait_for(second, 1)
    await pool.drain()
