"""Which network addresses Phiếu may connect to when it opens a link someone typed.

Evidence links come from officials; opening them from the server must never reach the
server's own network (issue #10, "safe by construction"; COMMON: "no requests to private
addresses"). Three pieces, used together by bot/workers/linkcheck.py:

- `refusal(ip)`: why an address is not a public Internet host (None when it is): loopback,
  private (RFC 1918), link-local (with 169.254.169.254, the cloud metadata service, named),
  multicast, reserved, unspecified, shared CGNAT 100.64.0.0/10, IPv6 unique-local and
  site-local, and IPv4 hidden inside IPv6 (::ffff:127.0.0.1, 6to4 2002::/16, NAT64
  64:ff9b::/96: judged by the IPv4 they carry; Teredo and local NAT64 refused whole).
  Python's own `is_global` is not enough on 3.11 (2002:7f00:1:: and 224.0.0.1 are "global").
- `AddressPolicy`: `refusal` plus the allowed ports, and — for tests only — exact
  (ip, port) sockets that are let through (a local test server), nothing wider.
- `VettedResolver` (an aiohttp resolver) answers only with addresses the policy allows and
  `vetting_socket_factory` refuses any other destination when the socket is created, so a
  connection goes exactly to an address that was checked: a DNS answer that changes between
  a check and the connection (DNS rebinding) cannot redirect it, and an IP literal in a URL
  (which aiohttp does not resolve) is checked too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableSequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A name → its addresses (text, as getaddrinfo gives them). Injectable: tests map made-up
# public-looking names to local servers or to private addresses.
NameResolver = Callable[[str], Awaitable[list[str]]]

METADATA = ipaddress.IPv4Address("169.254.169.254")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
# IANA's special-purpose IPv4 ranges that are not global, listed here rather than trusted to
# Python, whose table changes between versions (3.11.7 calls 192.0.0.8 public).
_SPECIAL_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "192.0.0.0/24",  # IETF protocol assignments (whole /24: no evidence lives there)
        "192.0.2.0/24",
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_SITE_LOCAL_V6 = ipaddress.IPv6Network("fec0::/10")
_ULA_V6 = ipaddress.IPv6Network("fc00::/7")

# Ports a public web page is found on. Others (22, 25, 6379…) are services, not pages:
# refused so the checker cannot be used to probe them, even on public hosts.
DEFAULT_PORTS = frozenset({80, 443, 8080, 8443})


class ForbiddenAddress(OSError):
    """A name resolved to (or a URL named) an address the policy refuses; nothing was sent."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} → {address}: {reason}")
        self.host = host
        self.address = address
        self.reason = reason


def parse_ip(text: str) -> IPAddress | None:
    """The address a URL host or resolver answer names, in every spelling a resolver or a
    browser reads as an address, else None.

    Read: "127.0.0.1", "::1", "[::1]", zone ids ("fe80::1%eth0", "fe80::1%25eth0" as
    percent-encoded in a URL), a trailing dot ("127.0.0.1."), upper case ("0X7F.1"),
    percent-encoded digits, and the inet_aton forms getaddrinfo accepts without asking DNS:
    one number ("2130706433"), hex ("0x7f000001", "0x7f.0.0.1"), octal ("0177.0.0.1") and
    short forms ("127.1" = 127.0.0.1, "10.1" = 10.0.0.1). Reading them here means such a
    spelling is judged as the address it is, before any lookup or connection.
    """
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    # IPv6: a zone id ("%eth0", "%25eth0") does not change what the address is.
    t = t.split("%", 1)[0] if ":" in t else _host_text(t)
    try:
        return ipaddress.ip_address(t)
    except ValueError:
        return _inet_aton(t) if ":" not in t else None


def _host_text(text: str) -> str:
    """A host as a resolver sees it: percent-decoded (a zone's "%25" becomes "%"), lower
    case, without the trailing dot(s) of a fully qualified name."""
    return unquote(text).strip().lower().rstrip(".")


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """IPv4 in the forms of inet_aton(3): 1 to 4 parts, each decimal, 0x-hex or 0-octal;
    the last part fills the bytes left (so "127.1" is 127.0.0.1). None if not one."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if part.startswith("0x"):
            digits, base = part[2:] or "0", 16
        elif len(part) > 1 and part.startswith("0"):
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        if not digits or not all(c in "0123456789abcdef"[:base] for c in digits):
            return None
        values.append(int(digits, base))
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


# Names that are this machine by definition (RFC 6761 "localhost" and its subdomains) or by
# the /etc/hosts of common systems: refused by name, whatever a resolver would answer.
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def name_refusal(host: str) -> str | None:
    """ "local_name" when `host` names this machine in any spelling ("LOCALHOST",
    "localhost.", "x.localhost"), "unparsable" for an empty host, else None. Other names
    are judged by the addresses they resolve to (VettedResolver)."""
    t = _host_text(host)
    if not t:
        return "unparsable"
    if t in _LOCAL_NAMES or t.endswith(".localhost"):
        return "local_name"
    return None


def _v4_refusal(ip: ipaddress.IPv4Address) -> str | None:
    if ip == METADATA:
        return "metadata"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip in _CGNAT:
        return "shared"
    if ip.is_private or any(ip in n for n in _SPECIAL_V4):
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not_global"
    return None


def _v6_refusal(ip: ipaddress.IPv6Address) -> str | None:
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d to the socket layer
        return _v4_refusal(ip.ipv4_mapped)
    if ip in _NAT64:  # 64:ff9b::a.b.c.d reaches a.b.c.d through the NAT64 gateway
        return _v4_refusal(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _NAT64_LOCAL:
        return "nat64_local"
    if ip.sixtofour is not None and (inner := _v4_refusal(ip.sixtofour)) is not None:
        return inner  # 2002:7f00:1:: is 6to4 for 127.0.0.1
    if ip.teredo is not None:
        return "teredo"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SITE_LOCAL_V6:
        return "site_local"
    if ip in _ULA_V6:
        return "unique_local"
    if ip not in _GLOBAL_UNICAST_V6:
        return "reserved"  # ::/8 (IPv4-compatible ::a.b.c.d), 100::/64 discard, …
    if ip.is_private or ip.is_reserved:
        return "private"  # 2001:db8::/32 documentation, 2001::/23 IETF, …
    if not ip.is_global:
        return "not_global"
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why `ip` is not a public Internet host, as a short code, or None when it is one.

    Codes: metadata, unspecified, loopback, link_local, multicast, shared (CGNAT), private,
    reserved, not_global, nat64_local, teredo, site_local, unique_local. An IPv4 address
    embedded in IPv6 (mapped, 6to4, NAT64) gets the code of the IPv4 address.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_refusal(ip)
    return _v6_refusal(ip)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Where the checker may connect: public addresses on `ports`.

    `allow_sockets` are exact (address, port) pairs let through whatever the address — for
    tests that serve pages from 127.0.0.1; production leaves it empty. An allowed socket does
    not open its address's other ports, nor the address for other tests' servers.
    """

    ports: frozenset[int] = DEFAULT_PORTS
    allow_sockets: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @classmethod
    def testing(cls, *sockets: tuple[str, int], ports: Iterable[int] = ()) -> AddressPolicy:
        """The real policy plus exactly these (address, port) sockets (local test servers),
        and `ports` as allowed ports, so a test's forbidden server on a random port is
        refused for its address, not merely for its port."""
        return cls(
            ports=DEFAULT_PORTS | frozenset(ports),
            allow_sockets=frozenset((str(parse_ip(h) or h), p) for h, p in sockets),
        )

    def refusal(self, ip: IPAddress, port: int) -> str | None:
        """None when a connection to (ip, port) is allowed, else why not (a short code)."""
        if (str(ip), port) in self.allow_sockets:
            return None
        why = refusal(ip)
        if why is not None:
            return why
        if port not in self.ports:
            return "port"
        return None

    def host_refusal(self, host: str, port: int) -> str | None:
        """Why a URL's `host` on `port` may not be tried before any lookup, or None: an
        address in any spelling (parse_ip) judged by `refusal`, or a name of this machine
        (name_refusal). A name that passes is still judged by what it resolves to."""
        ip = parse_ip(host)
        if ip is not None:
            return self.refusal(ip, port)
        return name_refusal(host)

    def port_allowed(self, port: int) -> bool:
        """Whether a URL on `port` may be tried at all (before any name is resolved)."""
        return port in self.ports or any(p == port for _, p in self.allow_sockets)


async def system_resolver(host: str) -> list[str]:
    """The machine's resolver (getaddrinfo in a thread), TCP addresses, duplicates dropped."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def static_resolver(table: dict[str, list[str]]) -> NameResolver:
    """A resolver answering from `table` (name → addresses); an unknown name fails like
    NXDOMAIN. For tests and benches: made-up public-looking names mapped to local servers."""

    async def resolve(host: str) -> list[str]:
        try:
            return list(table[host.lower().rstrip(".")])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, f"unknown name {host}") from None

    return resolve


class VettedResolver(AbstractResolver):
    """An aiohttp resolver that hands out only addresses `policy` allows.

    Every answer of the name resolver is checked: if ANY address is refused, the whole name
    is refused (a name that points partly inside is an attack, not a web site), raising
    ForbiddenAddress, so aiohttp never opens a socket for it. What is returned is what the
    connection uses: no second lookup can swap in another address.
    """

    def __init__(self, policy: AddressPolicy, names: NameResolver = system_resolver) -> None:
        self.policy = policy
        self.names = names
        # The latest refusals, for tests and logs (bounded: a server runs for months).
        self.refused: deque[ForbiddenAddress] = deque(maxlen=100)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        literal = parse_ip(host)
        if literal is None and (named := name_refusal(host)) is not None:
            refused = ForbiddenAddress(host, host, named)
            self.refused.append(refused)
            raise refused
        addresses = [str(literal)] if literal is not None else await self.names(host)
        if not addresses:
            raise OSError(f"no address for {host}")
        results: list[ResolveResult] = []
        for text in addresses:
            ip = parse_ip(text)
            why = "unparsable" if ip is None else self.policy.refusal(ip, port)
            if why is not None or ip is None:
                refused = ForbiddenAddress(host, text, why or "unparsable")
                self.refused.append(refused)
                raise refused
            fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            if family not in (socket.AF_UNSPEC, fam):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(ip),
                    port=port,
                    family=fam,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise OSError(f"no address of the wanted family for {host}")
        return results

    async def close(self) -> None:
        return None


def vetting_socket_factory(
    policy: AddressPolicy, refused: MutableSequence[ForbiddenAddress] | None = None
) -> Callable[[tuple[Any, ...]], socket.socket]:
    """An aiohttp `socket_factory` that refuses to create a socket for a forbidden
    destination: the last gate, seen by every TCP connection (IP literals included, which
    aiohttp connects to without asking the resolver)."""

    def make(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        host, port = str(sockaddr[0]), int(sockaddr[1])
        ip = parse_ip(host)
        why = "unparsable" if ip is None else policy.refusal(ip, port)
        if why is not None:
            exc = ForbiddenAddress(host, host, why)
            if refused is not None:
                refused.append(exc)
            raise exc
        sock = socket.socket(family=family, type=type_, proto=proto)
        sock.setblocking(False)
        return sock

    return make


def guarded_connector(resolver: VettedResolver, **limits: Any) -> aiohttp.TCPConnector:
    """An aiohttp connector that reaches only what `resolver.policy` allows: names through
    `resolver`, every socket vetted (refusals kept in `resolver.refused`), no DNS cache
    outside the resolver (each new connection asks it). `limits`: TCPConnector's own
    (limit, limit_per_host). Used by the link checker and the Zalo image download."""
    return aiohttp.TCPConnector(
        resolver=resolver,
        socket_factory=vetting_socket_factory(resolver.policy, resolver.refused),
        use_dns_cache=False,
        **limits,
    )


def forbidden_in(exc: BaseException | None) -> ForbiddenAddress | None:
    """The ForbiddenAddress behind an aiohttp error (it wraps resolver/socket errors)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ForbiddenAddress):
            return exc
        inner: Iterable[BaseException | None] = (
            getattr(exc, "os_error", None),
            exc.__cause__,
            exc.__context__,
        )
        exc = next((e for e in inner if e is not None and id(e) not in seen), None)
    return None
