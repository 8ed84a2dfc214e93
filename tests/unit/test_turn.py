"""The bot-wide send turn: replies before notices, first come first served within each."""

from __future__ import annotations

import asyncio

import pytest

from bot.workers.turn import Turn


async def _queue(turn: Turn, kinds: list[bool], order: list[str]) -> list[asyncio.Task[None]]:
    """Start one waiter per kind (True = reply) while the turn is held; each notes its name."""

    async def one(name: str, reply: bool) -> None:
        async with turn(reply):
            order.append(name)
            await asyncio.sleep(0)

    tasks = []
    for i, reply in enumerate(kinds):
        tasks.append(asyncio.create_task(one(f"{'r' if reply else 'n'}{i}", reply)))
        await asyncio.sleep(0)  # queued in this order
    return tasks


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ([False, False, True], ["r2", "n0", "n1"]),  # a reply overtakes notices queued first
        ([False, True, False, True], ["r1", "r3", "n0", "n2"]),  # replies FIFO, then notices
        ([True, True, True], ["r0", "r1", "r2"]),  # replies alone: first come first served
        ([False, False, False], ["n0", "n1", "n2"]),  # notices alone: the same
    ],
)
async def test_replies_go_first_and_each_class_in_arrival_order(
    kinds: list[bool], expected: list[str]
) -> None:
    turn = Turn()
    order: list[str] = []
    async with turn(reply=False):  # a notice holds the turn while the others queue
        tasks = await _queue(turn, kinds, order)
        assert turn.waiting(True) == kinds.count(True)
        assert turn.waiting(False) == kinds.count(False)
    await asyncio.gather(*tasks)
    assert order == expected
    assert turn.waiting(True) == turn.waiting(False) == 0


async def test_a_free_turn_is_taken_at_once_and_released() -> None:
    turn = Turn()
    for reply in (True, False, True):
        async with asyncio.timeout(1), turn(reply):
            pass
    assert not turn._held


async def test_a_cancelled_waiter_is_skipped_and_the_turn_passes_on() -> None:
    turn = Turn()
    order: list[str] = []
    async with turn(reply=True):
        tasks = await _queue(turn, [True, False, True], order)
        tasks[0].cancel()  # r0 gives up while waiting
        await asyncio.sleep(0)
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == ["r2", "n1"]
    assert not turn._held


async def test_a_waiter_cancelled_just_after_it_was_handed_the_turn_passes_it_on() -> None:
    turn = Turn()
    order: list[str] = []
    async with turn(reply=False):
        tasks = await _queue(turn, [True, False], order)
    tasks[0].cancel()  # r0 was handed the turn by the release but has not run yet
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == ["n1"]
    assert not turn._held
