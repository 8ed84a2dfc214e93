"""Hypothesis strategies: the many spellings of one address that resolvers and browsers accept.

Used by the netguard tests (unit and against a counting local server): every spelling of a
forbidden address must be read as that address and refused before any connection.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

V4 = ipaddress.IPv4Address


def _part(value: int, style: str, upper: bool) -> str:
    """One dotted part of an inet_aton spelling: decimal, 0x-hex or 0-octal."""
    if style == "hex":
        text = f"0x{value:x}"
        return text.upper() if upper else text
    if style == "oct":
        return f"0{value:o}"
    return str(value)


@st.composite
def ipv4_spellings(draw: st.DrawFn, ip: V4) -> str:
    """`ip` as 1 to 4 parts (127.1, 2130706433, 10.0.1), each part in decimal, hex or octal,
    maybe in upper case, maybe with a trailing dot."""
    count = draw(st.integers(1, 4))
    packed = int(ip).to_bytes(4, "big")
    head = list(packed[: count - 1])
    last = int.from_bytes(packed[count - 1 :], "big")
    styles = st.sampled_from(["dec", "hex", "oct"])
    parts = [_part(v, draw(styles), draw(st.booleans())) for v in [*head, last]]
    return ".".join(parts) + draw(st.sampled_from(["", "."]))


@st.composite
def host_spellings(draw: st.DrawFn, ip: V4) -> str:
    """How `ip` may stand as a URL host: an IPv4 spelling, or IPv6 carrying it
    (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d), maybe with a zone id."""
    kind = draw(st.sampled_from(["v4", "v4", "mapped", "compat"]))
    if kind == "v4":
        return draw(ipv4_spellings(ip))
    prefix = "::ffff:" if kind == "mapped" else "::"
    zone = draw(st.sampled_from(["", "%25eth0", "%251"]))
    return f"[{prefix}{ip}{zone}]"
