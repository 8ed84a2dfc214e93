"""The evidence link checker against local HTTP servers (issue #10, "Evidence links are checked").

Allowed tests map made-up public-looking names ("ok.example.test") to the page server on
127.0.0.1 and allow exactly that one socket; every forbidden test keeps the real address
rules and counts the requests that reached the forbidden server: there must be none.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.netguard import (
    AddressPolicy,
    ForbiddenAddress,
    NameResolver,
    static_resolver,
    vetting_socket_factory,
)
from bot.workers.linkcheck import Limits, LinkChecker, check_link, page_title
from storage.records import LinkCheckRec
from tests.fakes.address_spellings import host_spellings
from tests.fakes.link_pages import TITLE, Site
from tests.fakes.link_pages import start_site as _site


@pytest.fixture
async def pages() -> AsyncIterator[Site]:
    site = await _site("127.0.0.1")
    yield site
    await site.server.close()


@pytest.fixture
async def forbidden() -> AsyncIterator[Site]:
    """Another server on loopback: no check may ever reach it."""
    site = await _site("127.0.0.1")
    yield site
    await site.server.close()


def _checker(
    pages: Site, *extra_ports: int, limits: Limits | None = None, **names: list[str]
) -> LinkChecker:
    table = {"ok.example.test": ["127.0.0.1"], "www.ok.example.test": ["127.0.0.1"]}
    table.update({k.replace("_", "."): v for k, v in names.items()})
    policy = AddressPolicy.testing(("127.0.0.1", pages.port), ports=extra_ports)
    return LinkChecker(policy=policy, resolver=static_resolver(table), limits=limits)


# ---- pages that open -----------------------------------------------------------------


async def test_an_html_page_gives_status_title_type_size_and_time(pages: Site) -> None:
    async with _checker(pages) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/ok#part")
    assert rec.ok and rec.error is None
    assert rec.status == 200
    assert rec.final_url == f"http://ok.example.test:{pages.port}/ok"
    assert rec.title == f"{TITLE} & phụ lục"
    assert rec.content_type == "text/html"
    assert rec.size is not None and rec.size > len(TITLE)
    assert 0 <= rec.elapsed_ms < 5000
    assert rec.checked_at.tzinfo is not None


async def test_the_title_is_read_in_the_pages_own_charset(pages: Site) -> None:
    rec = await check_link(
        f"http://ok.example.test:{pages.port}/legacy",
        policy=AddressPolicy.testing(("127.0.0.1", pages.port)),
        resolver=static_resolver({"ok.example.test": ["127.0.0.1"]}),
    )
    assert rec.title == "Báo cáo Sở TTTT"  # composed (NFC), as typed text compares


async def test_a_pdf_is_not_read_but_its_size_and_type_are_kept(pages: Site) -> None:
    async with _checker(pages) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/kh.pdf")
    assert (rec.ok, rec.content_type, rec.size, rec.title) == (True, "application/pdf", 5008, None)


async def test_a_missing_page_is_recorded_as_404_and_not_ok(pages: Site) -> None:
    async with _checker(pages) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/missing")
    assert rec.status == 404 and rec.error is None and not rec.ok
    assert rec.title == "Không tìm thấy"


async def test_redirects_are_followed_to_the_final_url(pages: Site) -> None:
    target = f"http://www.ok.example.test:{pages.port}/ok"
    async with _checker(pages) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/hop?to={target}")
    assert rec.ok and rec.final_url == target and rec.title
    assert pages.hits == [f"/hop?to={target}", "/ok"]


async def test_a_redirect_loop_stops_at_once(pages: Site) -> None:
    async with _checker(pages) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/loop-a")
    assert rec.error == "redirect_loop" and not rec.ok
    assert pages.hits == ["/loop-a", "/loop-b"]


async def test_at_most_five_redirects_are_followed(pages: Site) -> None:
    async with _checker(pages) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/chain/0")
    assert rec.error == "too_many_redirects"
    assert len(pages.hits) == 6  # the first request and five redirects


async def test_a_slow_page_times_out_within_the_total_cap(pages: Site) -> None:
    async with _checker(pages, limits=Limits(total=0.4)) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/slow")
    assert rec.error == "timeout" and rec.status is None and not rec.ok
    assert rec.elapsed_ms < 2000


async def test_a_huge_page_is_read_only_up_to_the_cap(pages: Site) -> None:
    async with _checker(pages, limits=Limits(max_bytes=128 * 1024, total=5)) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/huge")
    assert rec.ok and rec.size is None and rec.title is None  # size unknown: beyond the cap
    assert rec.elapsed_ms < 3000
    await asyncio.sleep(0.1)
    assert not pages.huge_finished  # the connection was dropped, the rest never sent


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://ok.example.test/kh.pdf", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("http://user:secret@ok.example.test:{port}/ok", "userinfo"),
        ("http://ok.example.test:22/ok", "port"),
        ("http://nosuch.example.test:{port}/ok", "dns"),
        ("http://" + "a" * 3000 + ".vn/", "too_long"),
        ("http:///nohost", "bad_url"),
    ],
)
async def test_links_that_cannot_be_opened_say_why(pages: Site, url: str, error: str) -> None:
    async with _checker(pages) as checker:
        rec = await checker.check(url.format(port=pages.port))
    assert rec.error == error and not rec.ok
    assert pages.hits == []


async def test_a_closed_port_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rec = await check_link(
        f"http://ok.example.test:{port}/",
        policy=AddressPolicy.testing(("127.0.0.1", port)),
        resolver=static_resolver({"ok.example.test": ["127.0.0.1"]}),
    )
    assert rec.error == "connect"


# ---- addresses that must never be reached ---------------------------------------------


async def test_a_redirect_to_127_0_0_1_is_refused_before_connecting(
    pages: Site, forbidden: Site
) -> None:
    to = f"http://127.0.0.1:{forbidden.port}/admin"
    async with _checker(pages, forbidden.port) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/hop?to={to}")
    assert rec.error == "forbidden_address:loopback" and not rec.ok
    assert rec.final_url == to
    assert forbidden.hits == []


async def test_a_redirect_to_the_metadata_address_is_refused(pages: Site) -> None:
    to = "http://169.254.169.254/latest/meta-data/iam/"
    async with _checker(pages) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/hop?to={to}")
    assert rec.error == "forbidden_address:metadata"
    assert list(checker.resolver.refused) == []  # refused before any lookup or socket
    assert len(pages.hits) == 1


@pytest.fixture
async def forbidden_v6() -> AsyncIterator[Site]:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        site = await _site("::1")
    except OSError as exc:
        pytest.skip(f"cannot listen on [::1]: {exc}")
    yield site
    await site.server.close()


async def test_a_redirect_to_ipv6_loopback_is_refused(pages: Site, forbidden_v6: Site) -> None:
    to = f"http://[::1]:{forbidden_v6.port}/"
    async with _checker(pages, forbidden_v6.port) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/hop?to={to}")
    assert rec.error == "forbidden_address:loopback"
    assert forbidden_v6.hits == []


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[2002:7f00:1::]",
        "[64:ff9b::7f00:1]",
        "[::]",
        "0.0.0.0",
    ],
)
async def test_loopback_hidden_in_other_forms_is_refused(
    pages: Site, forbidden: Site, host: str
) -> None:
    to = f"http://{host}:{forbidden.port}/"
    async with _checker(pages, forbidden.port) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/hop?to={to}")
    assert rec.error is not None and rec.error.startswith("forbidden_address:")
    assert forbidden.hits == []


async def test_a_name_resolving_to_a_private_address_is_refused(
    pages: Site, forbidden: Site
) -> None:
    to = f"http://intranet.example.test:{forbidden.port}/"
    async with _checker(pages, forbidden.port, intranet_example_test=["127.0.0.1"]) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/hop?to={to}")
        direct = await checker.check(to)
    assert rec.error == direct.error == "forbidden_address:loopback"
    assert forbidden.hits == []


@pytest.mark.parametrize(
    "answers",
    [
        ["10.1.2.3"],
        ["192.168.1.1"],
        ["100.64.0.9"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:10.0.0.1"],
        ["fd00::1"],
        ["fe80::1"],
    ],
)
async def test_names_pointing_inside_are_refused_whatever_the_range(
    pages: Site, answers: list[str]
) -> None:
    async with _checker(pages, inside_example_test=answers) as checker:
        rec = await checker.check("http://inside.example.test/")
    assert rec.error is not None and rec.error.startswith("forbidden_address:")


async def test_a_name_with_one_private_answer_among_public_ones_is_refused(pages: Site) -> None:
    async with _checker(pages, mixed_example_test=["127.0.0.1", "10.0.0.1"]) as checker:
        rec = await checker.check(f"http://mixed.example.test:{pages.port}/ok")
    assert rec.error == "forbidden_address:private"
    assert pages.hits == []


async def test_the_real_policy_refuses_localhost_and_numeric_forms(forbidden: Site) -> None:
    """No test allowance at all: only the forbidden server's port is an allowed port."""
    policy = AddressPolicy(ports=frozenset({forbidden.port}))
    for url in (
        f"http://localhost:{forbidden.port}/",
        f"http://2130706433:{forbidden.port}/",  # 127.0.0.1 as one number
        f"http://127.1:{forbidden.port}/",
        f"http://0x7f.1:{forbidden.port}/",  # 127.0.0.1 as getaddrinfo would read it
        f"http://127.0.0.1:{forbidden.port}/",
    ):
        rec = await check_link(url, policy=policy)
        assert rec.error is not None, url
        # every numeric form is read as the address it spells, before aiohttp sees it
        assert rec.error.startswith("forbidden_address:"), (url, rec.error)
    assert forbidden.hits == []


@pytest.fixture
async def rebinding(pages: Site) -> AsyncIterator[Site]:
    """A server on 127.0.0.2 at the page server's port: where a rebinding answer points."""
    try:
        site = await _site("127.0.0.2", pages.port)
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    yield site
    await site.server.close()


async def test_dns_rebinding_cannot_reach_the_second_answer(pages: Site, rebinding: Site) -> None:
    """First answer allowed, every later one private: the connection goes to the address that
    was checked, and the later check is refused — nothing ever reaches 127.0.0.2."""
    answers = itertools.chain([["127.0.0.1"]], itertools.repeat(["127.0.0.2"]))

    async def rebinding_dns(host: str) -> list[str]:
        return next(answers)

    pages.close_connections = True  # the second check must open a new connection
    policy = AddressPolicy.testing(("127.0.0.1", pages.port))
    async with LinkChecker(policy=policy, resolver=rebinding_dns) as checker:
        first = await checker.check(f"http://rebind.example.test:{pages.port}/ok")
        second = await checker.check(f"http://rebind.example.test:{pages.port}/ok")
    assert first.ok and first.title
    assert second.error == "forbidden_address:loopback"
    assert pages.hits == ["/ok"]
    assert rebinding.hits == []


async def test_the_socket_factory_alone_refuses_a_forbidden_destination(forbidden: Site) -> None:
    """The last gate: even a request aiohttp would send straight to an IP literal."""
    refused: list[ForbiddenAddress] = []
    factory = vetting_socket_factory(AddressPolicy(ports=frozenset({forbidden.port})), refused)
    connector = aiohttp.TCPConnector(socket_factory=factory)
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{forbidden.port}/")
    assert [r.reason for r in refused] == ["loopback"]
    assert forbidden.hits == []


# ---- limits --------------------------------------------------------------------------


async def test_one_host_gets_at_most_per_host_checks_at_once(pages: Site) -> None:
    async with _checker(pages, limits=Limits(per_host=2, concurrency=10)) as checker:
        recs = await asyncio.gather(
            *(checker.check(f"http://ok.example.test:{pages.port}/hold?n={i}") for i in range(8))
        )
    assert all(r.ok for r in recs)
    assert pages.most_in_flight == 2
    assert checker._hosts == {}  # slots of finished hosts are forgotten


async def test_all_hosts_together_get_at_most_the_global_limit(pages: Site) -> None:
    names = {f"h{i}_example_test": ["127.0.0.1"] for i in range(8)}
    async with _checker(pages, limits=Limits(per_host=5, concurrency=3), **names) as checker:
        recs = await asyncio.gather(
            *(checker.check(f"http://h{i}.example.test:{pages.port}/hold") for i in range(8))
        )
    assert all(r.ok for r in recs)
    assert pages.most_in_flight == 3


def test_page_title_reads_charsets_and_cut_bodies() -> None:
    assert page_title("<TITLE>Sở TTTT</TITLE>".encode()) == "Sở TTTT"
    assert page_title(b"<title>S\xf5\xd2</title>") == "Sở"  # windows-1258, tone combined
    assert page_title(b"<title>x</title>", "no-such-charset") == "x"
    assert page_title("<title>Ủy ban".encode()[:-1]) is None  # no closing tag: no title
    assert page_title(b"<html>no title</html>") is None
    assert page_title(b"<title>" + b"a" * 1000 + b"</title>") == "a" * 300


URLISH = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, rest: f"{scheme}{host}{rest}",
        st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "//", "http:/", ""]),
        st.text(max_size=30),
        st.text(max_size=30),
    ),
)


@settings(max_examples=150)
@given(URLISH)
def test_checking_any_text_never_raises_and_never_connects(text: str) -> None:
    """No allowed port at all: whatever the text, the result is a record with an error, and
    nothing is connected to (a bug in parsing would raise, or reach the network)."""
    policy = AddressPolicy(ports=frozenset())
    rec = asyncio.run(check_link(text, policy=policy, resolver=static_resolver({})))
    assert rec.error is not None and not rec.ok
    assert rec.url == text


@pytest.mark.parametrize(
    "target",
    [
        "http://ok.example.test:{page}@127.0.0.1:{bad}/",  # the host is 127.0.0.1, not ok.…
        "file:///etc/passwd",
        "gopher://127.0.0.1:{bad}/_SET%20x",
        "http://ok.example.test:22/",
    ],
)
async def test_a_redirect_is_vetted_like_the_first_link(
    pages: Site, forbidden: Site, target: str
) -> None:
    to = target.format(page=pages.port, bad=forbidden.port)
    async with _checker(pages, forbidden.port) as checker:
        rec = await checker.check(f"http://ok.example.test:{pages.port}/hop?to={to}")
    assert rec.error in ("userinfo", "scheme", "port") and not rec.ok
    assert forbidden.hits == []
    assert len(pages.hits) == 1


# ---- every spelling of a forbidden address, against a server counting requests ---------


def _counting(table: dict[str, list[str]], asked: list[str]) -> NameResolver:
    names = static_resolver(table)

    async def resolve(host: str) -> list[str]:
        asked.append(host)
        return await names(host)

    return resolve


SPELLINGS = [
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "127.1",
    "127.0.0.1.",
    "[::127.0.0.1]",
    "[::ffff:127.0.0.1]",
    "10.1",
    "0xa.1",
    "[fe80::1%25eth0]",
]


@pytest.mark.parametrize("host", SPELLINGS)
async def test_alternative_spellings_of_addresses_are_refused_before_any_lookup(
    forbidden: Site, host: str
) -> None:
    """The real policy with the counting server's port allowed: the only thing standing
    between the check and the server is the address rule."""
    asked: list[str] = []
    policy = AddressPolicy(ports=frozenset({forbidden.port}))
    rec = await check_link(
        f"http://{host}:{forbidden.port}/", policy=policy, resolver=_counting({}, asked)
    )
    assert rec.error is not None and rec.error.startswith("forbidden_address:"), rec.error
    assert asked == []  # judged as an address, not handed to DNS
    assert forbidden.hits == []


@pytest.mark.parametrize(
    ("host", "asks"),
    [("localhost.", False), ("LOCALHOST", False), ("localtest.me", True), ("LocalTest.Me.", True)],
)
async def test_names_of_this_machine_are_refused_by_name_or_by_what_they_resolve_to(
    forbidden: Site, host: str, asks: bool
) -> None:
    asked: list[str] = []
    policy = AddressPolicy(ports=frozenset({forbidden.port}))
    resolver = _counting({"localtest.me": ["127.0.0.1"]}, asked)
    rec = await check_link(f"http://{host}:{forbidden.port}/", policy=policy, resolver=resolver)
    expected = "forbidden_address:loopback" if asks else "forbidden_address:local_name"
    assert rec.error == expected
    assert bool(asked) is asks
    assert forbidden.hits == []


@settings(max_examples=40, deadline=None)
@given(st.ip_addresses(network="127.0.0.0/8").flatmap(host_spellings))
def test_no_spelling_of_loopback_reaches_a_local_server(host: str) -> None:
    """Generated spellings of 127.x (short, hex, octal, one number, mapped, compatible, with
    zone ids), each checked against a fresh server on 127.0.0.1: zero requests arrive."""

    async def one() -> tuple[LinkCheckRec, list[str]]:
        site = await _site("127.0.0.1")
        try:
            policy = AddressPolicy(ports=frozenset({site.port}))
            rec = await check_link(
                f"http://{host}:{site.port}/", policy=policy, resolver=static_resolver({})
            )
            return rec, site.hits
        finally:
            await site.server.close()

    rec, hits = asyncio.run(one())
    assert rec.error is not None and rec.error.startswith("forbidden_address:"), (host, rec)
    assert hits == []
