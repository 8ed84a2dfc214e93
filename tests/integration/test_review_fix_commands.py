"""Read-only commands while a submission is returned (issue #10), through Phieu.handle on
SQLite and PostgreSQL: /xem, /help, /diem, /lang are answered as usual and the fix flow
goes on where it was; a command that would change answers (/sua of another item) is still
the fix flow's."""

from __future__ import annotations

from flows.machines import Status
from storage import Storage
from tests.integration.conftest import storage as storage  # the fixture, re-exported
from tests.integration.test_review_loop import LINK_B2, Chat, World, decided, make_world

ASKED = "Nhận xét của Sở: Link không mở được"


async def returned(storage: Storage) -> tuple[World, Chat]:
    """1.10 returned to the agency; Lan is asked it: (the world, Lan's chat)."""
    world = await make_world(storage)
    lan = await decided(world, accept=False)
    await lan.read()
    assert ASKED in await lan.press("Sửa các mục bị trả lại")
    return world, lan


async def test_xem_shows_the_answers_and_the_fix_goes_on(storage: Storage) -> None:
    world, lan = await returned(storage)
    said = await lan.send("/xem")
    assert "📋 Tóm tắt phiếu" in said and ASKED not in said
    assert (await world.sub()).status is Status.RETURNED
    text = await lan.send(f"Có, {LINK_B2}")
    assert "Đã lưu 1.10: Có" in text and "Nộp lại phiếu cho Sở TTTT?" in text


async def test_help_score_and_language_are_answered_while_fixing(storage: Storage) -> None:
    world, lan = await returned(storage)
    said = await lan.send("/help")
    assert "/xem" in said and ASKED not in said
    assert "chưa có thang điểm" in await lan.send("/diem")  # answered, not the fix flow
    assert "Switched to English." in await lan.send("/lang en")
    text = await lan.send(f"Yes, {LINK_B2}")
    assert "1.10" in text and LINK_B2 in text
    async with storage.unit() as u:
        answers = await u.load_answers(world.ids["sub"])
    assert answers["1.10"].evidence == LINK_B2
    assert (await world.sub()).status is Status.RETURNED


async def test_changing_another_item_is_still_refused(storage: Storage) -> None:
    _, lan = await returned(storage)
    await lan.send("/xem")
    assert "Chỉ sửa được các mục bị trả lại: 1.10" in await lan.send("/sua 1.8")
    assert "📤 Đã nộp lại phiếu" in await lan.send("/nop")


async def test_one_after_xem_is_not_a_resubmission(storage: Storage) -> None:
    """The return notice's "1" is "Sửa"; once /xem was read, a "1" asks the item — it never
    resubmits the form unchanged."""
    world = await make_world(storage)
    lan = await decided(world, accept=False)
    await lan.read()
    assert "📋 Tóm tắt phiếu" in await lan.send("/xem")
    said = await lan.send("1")
    assert "Đã nộp lại" not in said
    assert (await world.sub()).status is Status.RETURNED
