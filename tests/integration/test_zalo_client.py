"""Our Zalo Bot API client against the fake server: the contract's shapes on the wire,
the envelope's errors as typed exceptions, and no token in any error message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.netguard import DEFAULT_PORTS, AddressPolicy, static_resolver
from bot.zalo.client import (
    ZaloBotClient,
    ZaloPermanent,
    ZaloTransient,
    ZaloUnauthorized,
)
from bot.zalo.media import MediaStore, forbidden
from tests.fakes.zalo_api import FakeZalo, text_update


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


@pytest.fixture
async def client(zalo: FakeZalo) -> AsyncIterator[ZaloBotClient]:
    c = ZaloBotClient(zalo.token, zalo.base_url + "/")
    yield c
    await c.close()


async def test_get_me_and_webhook_methods(zalo: FakeZalo, client: ZaloBotClient) -> None:
    me = await client.get_me()
    assert me.id == "1234567890" and me.name == "Bot Phiếu"
    assert client.bot_id == "1234567890"
    info = await client.set_webhook("https://phieu.example.vn/zalo/webhook", "s" * 16)
    assert info["url"] == "https://phieu.example.vn/zalo/webhook"
    assert (await client.get_webhook_info())["url"] == info["url"]
    with pytest.raises(ZaloPermanent):  # getUpdates refused while a webhook is set (409)
        await client.get_update(timeout=1)
    await client.delete_webhook()
    assert (await client.get_webhook_info())["url"] == ""
    assert zalo.violations == []


async def test_one_update_per_poll_and_408_is_an_empty_poll(
    zalo: FakeZalo, client: ZaloBotClient
) -> None:
    assert await client.get_update(timeout=1) is None  # 408 after a second
    first, second = text_update("u1", "a"), text_update("u1", "b")
    zalo.push(first)
    zalo.push(second)
    assert await client.get_update(timeout=1) == first
    assert await client.get_update(timeout=1) == second
    # an update arriving during the poll is answered at once
    poll = asyncio.create_task(client.get_update(timeout=5))
    await asyncio.sleep(0.1)
    zalo.push(first)
    assert await asyncio.wait_for(poll, 2) == first
    assert [b for m, b in zalo.calls if m == "getUpdates"] == [{"timeout": "1"}] * 3 + [
        {"timeout": "5"}
    ]
    assert zalo.violations == []


async def test_sends_with_string_ids_and_the_2000_character_limit(
    zalo: FakeZalo, client: ZaloBotClient
) -> None:
    result = await client.send_message("c1", "x" * 2000)
    assert isinstance(result["message_id"], str) and isinstance(result["date"], int)
    with pytest.raises(ZaloPermanent):
        await client.send_message("c1", "x" * 2001)  # refused before the wire
    with pytest.raises(ZaloPermanent):
        await client.send_message("c1", "")
    await client.send_photo("c1", "https://x.vn/a.jpg", "chú thích")
    assert await client.send_chat_action("c1") is True
    assert [s.method for s in zalo.sent] == ["sendMessage", "sendPhoto"]
    assert zalo.violations == []


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (500, ZaloTransient),
        (502, ZaloTransient),
        (429, ZaloTransient),
        (400, ZaloPermanent),
        (403, ZaloPermanent),
        (404, ZaloPermanent),
    ],
)
async def test_error_envelopes_are_typed_and_never_carry_the_token(
    zalo: FakeZalo, client: ZaloBotClient, code: int, kind: type
) -> None:
    zalo.fail("sendMessage", code, description=f"lỗi {code}")
    with pytest.raises(kind) as caught:
        await client.send_message("c1", "xin chào")
    assert caught.value.code == code and f"lỗi {code}" in str(caught.value)
    assert zalo.token.split(":")[1] not in str(caught.value)


async def test_html_pages_network_errors_and_a_wrong_token(zalo: FakeZalo) -> None:
    client = ZaloBotClient(zalo.token, zalo.base_url)
    zalo.fail_html("getMe")
    with pytest.raises(ZaloTransient, match="no envelope"):
        await client.get_me()
    await client.close()
    wrong = ZaloBotClient("1:" + "z" * 20, zalo.base_url)
    with pytest.raises(ZaloUnauthorized) as caught:
        await wrong.get_me()
    assert "z" * 20 not in str(caught.value)
    await wrong.close()
    dead = ZaloBotClient(zalo.token, "http://127.0.0.1:1", request_timeout=2)
    with pytest.raises(ZaloTransient) as caught:
        await dead.send_message("c1", "x")
    assert zalo.token.split(":")[1] not in str(caught.value)
    await dead.close()


async def test_the_fake_refuses_requests_off_the_contract(zalo: FakeZalo) -> None:
    """The fake is the contract: a client sending numbers for strings, extra fields or a
    numeric timeout is refused, so a test over it would catch such a bug."""
    client = ZaloBotClient(zalo.token, zalo.base_url)
    bad = [
        ("getUpdates", {"timeout": 30}),
        ("sendMessage", {"chat_id": 123, "text": "x"}),
        ("sendMessage", {"chat_id": "c", "text": "x", "reply_markup": {}}),
        ("sendMessage", {"chat_id": "c"}),
        ("sendMessage", {"chat_id": "c", "text": "x" * 2001}),
        ("sendChatAction", {"chat_id": "c", "action": "upload_photo"}),
        ("setWebhook", {"url": "http://insecure", "secret_token": "s" * 16}),
        ("editMessageText", {}),
    ]
    for method, body in bad:
        with pytest.raises(ZaloPermanent):
            await client.call(method, body)
    assert len(zalo.violations) == len(bad)
    await client.close()


async def test_images_are_never_fetched_from_private_addresses_or_odd_schemes(
    zalo: FakeZalo, tmp_path: Path
) -> None:
    """The real address rules with the fake's port allowed: only the address rule stands
    between a forged URL and the fake, and no request reaches it."""
    url = zalo.put_media("a.jpg", b"\xff\xd8jpeg")
    port = zalo.socket[1]
    names = static_resolver(
        {"intranet.example.test": ["127.0.0.1"], "lan.example.test": ["10.0.0.8"]}
    )
    policy = AddressPolicy(ports=DEFAULT_PORTS | {port})
    guarded = MediaStore(tmp_path / "m", 1024, policy, names)
    forged = [
        (url, "loopback"),
        (f"http://2130706433:{port}/media/a.jpg", "loopback"),
        (f"http://0x7f.1:{port}/media/a.jpg", "loopback"),
        (f"http://[::ffff:127.0.0.1]:{port}/media/a.jpg", "loopback"),
        (f"http://LOCALHOST.:{port}/media/a.jpg", "local_name"),
        (f"http://intranet.example.test:{port}/media/a.jpg", "loopback"),
        ("http://lan.example.test/x.jpg", "private"),
        ("http://10.1/x.jpg", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://cdn.example.test:22/x.jpg", "port"),
    ]
    for bad, why in forged:
        got = await guarded.fetch(bad, "k")
        assert got == {"download_error": f"forbidden_address:{why}"}, bad
        assert forbidden(got)
    for odd in ("file:///etc/passwd", "ftp://x.vn/a.jpg", "javascript:alert(1)", ""):
        assert (await guarded.fetch(odd, "k"))["download_error"] == "not an http(s) URL"
    assert zalo.media_hits == []
    assert not (tmp_path / "m").exists()
    # the fake's one socket allowed (as the e2e rig does): stored under a hash name
    allowed = MediaStore(tmp_path / "m", 1024, AddressPolicy.testing(zalo.socket))
    got = await allowed.fetch(url, "chat:msg")
    assert (
        got["file_size"] == 6 and (tmp_path / "m" / got["stored"]).read_bytes() == b"\xff\xd8jpeg"
    )
    assert not forbidden(got)
    assert (await allowed.fetch(url.replace("a.jpg", "none.jpg"), "k"))[
        "download_error"
    ] == "HTTP 404"
    assert [p.name for p in (tmp_path / "m").iterdir()] == [got["stored"]]  # no .part left
