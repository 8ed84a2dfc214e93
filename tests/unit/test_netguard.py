"""The address classifier the link checker trusts (bot/netguard.py; issue #10)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.netguard import (
    AddressPolicy,
    ForbiddenAddress,
    VettedResolver,
    forbidden_in,
    name_refusal,
    parse_ip,
    refusal,
    static_resolver,
    vetting_socket_factory,
)
from tests.fakes.address_spellings import host_spellings, ipv4_spellings

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address

FORBIDDEN_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
FORBIDDEN_V6 = ["::/8", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "14.225.0.1", "113.160.0.1", "2606:4700::1111", "2001:4860::8888"]


def _mapped(ip: V4) -> V6:
    return V6(f"::ffff:{ip}")


def _nat64(ip: V4) -> V6:
    return V6(int(V6("64:ff9b::")) | int(ip))


def _sixtofour(ip: V4) -> V6:
    return V6((0x2002 << 112) | (int(ip) << 80) | 1)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link_local"),
        ("100.64.0.1", "shared"),
        ("10.0.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),  # "global" to Python 3.11, a multicast group to us
        ("255.255.255.255", "private"),
        ("192.0.0.8", "private"),  # public to Python 3.11.7's table; found by hypothesis
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link_local"),
        ("fd00:ec2::254", "unique_local"),  # the cloud metadata service over IPv6
        ("fec0::1", "site_local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:7f00:1::", "loopback"),  # 6to4 carrying 127.0.0.1, "global" to Python 3.11
        ("64:ff9b::a00:1", "private"),  # NAT64 carrying 10.0.0.1
        ("64:ff9b:1::1", "nat64_local"),
        ("2001::1", "teredo"),
        ("::127.0.0.1", "reserved"),  # IPv4-compatible, deprecated
    ],
)
def test_named_addresses_get_their_reason(text: str, code: str) -> None:
    ip = parse_ip(text)
    assert ip is not None
    assert refusal(ip) == code


@pytest.mark.parametrize("text", [*PUBLIC, "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_are_allowed(text: str) -> None:
    ip = parse_ip(text)
    assert ip is not None and refusal(ip) is None


@given(st.sampled_from(FORBIDDEN_V4).flatmap(lambda n: st.ip_addresses(network=n)))
def test_every_address_of_a_forbidden_ipv4_range_is_refused(ip: V4) -> None:
    assert refusal(ip) is not None


@given(st.sampled_from(FORBIDDEN_V6).flatmap(lambda n: st.ip_addresses(network=n)))
def test_every_address_of_a_forbidden_ipv6_range_is_refused(ip: V6) -> None:
    assert refusal(ip) is not None


@given(st.ip_addresses(v=4))
def test_ipv4_hidden_in_ipv6_is_judged_as_the_ipv4(ip: V4) -> None:
    assert refusal(_mapped(ip)) == refusal(ip)
    assert refusal(_nat64(ip)) == refusal(ip)
    if refusal(ip) is not None:
        assert refusal(_sixtofour(ip)) == refusal(ip)


@given(st.ip_addresses())
def test_allowed_means_global_unicast_for_python_too(ip: V4 | V6) -> None:
    if refusal(ip) is None:
        assert not ip.is_multicast and not ip.is_loopback and not ip.is_link_local
        assert not ip.is_private and not ip.is_unspecified
        if isinstance(ip, V6) and ip.ipv4_mapped is None and ip not in _NAT64_NET:
            assert ip in ipaddress.IPv6Network("2000::/3")


_NAT64_NET = ipaddress.IPv6Network("64:ff9b::/96")


@given(st.text(max_size=60))
def test_parse_ip_never_raises(text: str) -> None:
    parse_ip(text)


def test_parse_ip_reads_brackets_and_zones() -> None:
    assert parse_ip("[::1]") == V6("::1")
    assert parse_ip("fe80::1%eth0") == V6("fe80::1")
    assert parse_ip("ok.example.vn") is None


def test_a_test_allowance_opens_exactly_one_socket() -> None:
    policy = AddressPolicy.testing(("127.0.0.1", 8123))
    assert policy.refusal(V4("127.0.0.1"), 8123) is None
    assert policy.refusal(V4("127.0.0.1"), 8124) == "loopback"
    assert policy.refusal(V4("127.0.0.2"), 8123) == "loopback"
    assert policy.refusal(V4("8.8.8.8"), 22) == "port"
    assert policy.refusal(V4("8.8.8.8"), 443) is None
    assert AddressPolicy().refusal(V4("127.0.0.1"), 8123) == "loopback"


def test_the_resolver_refuses_a_name_with_any_private_answer() -> None:
    names = static_resolver(
        {"mixed.example.vn": ["8.8.8.8", "10.0.0.1"], "ok.example.vn": ["8.8.8.8"]}
    )
    resolver = VettedResolver(AddressPolicy(), names)
    with pytest.raises(ForbiddenAddress) as refused:
        asyncio.run(resolver.resolve("mixed.example.vn", 443))
    assert refused.value.reason == "private"
    [ok] = asyncio.run(resolver.resolve("ok.example.vn", 443))
    assert (ok["host"], ok["port"], ok["hostname"]) == ("8.8.8.8", 443, "ok.example.vn")
    with pytest.raises(socket.gaierror):
        asyncio.run(resolver.resolve("nosuch.example.vn", 443))


def test_the_socket_factory_refuses_before_a_socket_exists() -> None:
    factory = vetting_socket_factory(AddressPolicy())
    with pytest.raises(ForbiddenAddress):
        factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)))
    sock = factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 443)))
    sock.close()


def test_forbidden_in_finds_the_cause_through_wrappers() -> None:
    inner = ForbiddenAddress("x", "127.0.0.1", "loopback")
    try:
        try:
            raise inner
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as outer:
        assert forbidden_in(outer) is inner
    assert forbidden_in(ValueError()) is None


# ---- every spelling of a forbidden address (parse_ip, name_refusal, host_refusal) ----------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f000001", "127.0.0.1"),  # one hex number
        ("0X7F000001", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # short forms: the last part fills the bytes left
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("127.0.0.1.", "127.0.0.1"),  # a fully qualified trailing dot
        ("%31%32%37.0.0.1", "127.0.0.1"),  # percent-encoded digits
        ("fe80::1%25eth0", "fe80::1"),  # a zone id as a URL spells it
        ("[fe80::1%eth0]", "fe80::1"),
        ("::127.0.0.1", "::7f00:1"),  # IPv4-compatible IPv6
    ],
)
def test_parse_ip_reads_every_spelling_a_resolver_accepts(host: str, address: str) -> None:
    assert parse_ip(host) == ipaddress.ip_address(address)
    assert AddressPolicy().host_refusal(host, 80) is not None


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "08.0.0.1", "4294967296", "256.1", "1.256.1", "1e2", "-1", "0x1g", ""]
)
def test_parse_ip_leaves_non_addresses_to_the_resolver(host: str) -> None:
    assert parse_ip(host) is None


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST", "localhost.", "LocalHost..", "api.localhost", "ip6-localhost"],
)
def test_names_of_this_machine_are_refused_by_name(host: str) -> None:
    assert name_refusal(host) == "local_name"
    assert AddressPolicy().host_refusal(host, 443) == "local_name"


def test_other_names_are_left_to_the_resolver() -> None:
    assert name_refusal("localtest.me") is None
    assert name_refusal("notlocalhost.vn") is None
    assert AddressPolicy().host_refusal("sotttt.binhdinh.gov.vn", 443) is None


def test_the_resolver_refuses_a_local_name_without_asking_dns() -> None:
    asked: list[str] = []

    async def names(host: str) -> list[str]:
        asked.append(host)
        return ["8.8.8.8"]

    resolver = VettedResolver(AddressPolicy(), names)
    for host in ("localhost.", "LOCALHOST"):
        with pytest.raises(ForbiddenAddress) as got:
            asyncio.run(resolver.resolve(host, 80))
        assert got.value.reason == "local_name"
    assert asked == []


@given(
    st.sampled_from(FORBIDDEN_V4)
    .flatmap(lambda n: st.ip_addresses(network=n))
    .flatmap(lambda ip: st.tuples(st.just(ip), ipv4_spellings(ip)))
)
def test_every_ipv4_spelling_of_a_forbidden_address_is_read_and_refused(pair: tuple) -> None:
    ip, host = pair
    assert parse_ip(host) == ip, host
    assert AddressPolicy().host_refusal(host, 80) == refusal(ip)


@given(
    st.sampled_from(["127.0.0.0/8", "10.0.0.0/8", "192.168.0.0/16", "169.254.0.0/16"])
    .flatmap(lambda n: st.ip_addresses(network=n))
    .flatmap(host_spellings)
)
def test_every_host_spelling_of_a_loopback_or_private_address_is_refused(host: str) -> None:
    assert AddressPolicy().host_refusal(host, 80) is not None, host
