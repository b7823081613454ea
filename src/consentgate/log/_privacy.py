"""Data minimisation for the two optional record fields (GDPR Art. 5(1)(c)).

The user agent and the IP address are off by default; when a site turns one
on, only these reduced forms reach the log, never the raw value.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Literal

__all__ = ["UserAgentMode", "minimise_user_agent", "truncate_ip"]

UserAgentMode = Literal["off", "truncate", "hash"]

#: Characters of the user agent kept by ``"truncate"``: browser and platform, not the build.
USER_AGENT_LIMIT = 64
#: Shortest salt accepted for ``"hash"``: user agents are few, so an unkeyed hash is a lookup.
MIN_SALT_BYTES = 16

_IPV4_KEEP = 24
_IPV6_KEEP = 48


def truncate_ip(ip: str) -> str:
    """The network an address is in: IPv4 to /24 (``a.b.c.0``), IPv6 to /48, rest zeroed.

    An IPv4-mapped IPv6 address is truncated as the IPv4 address it is.
    Raises ValueError for anything that is not an IP address.
    """
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        mask = ~((1 << (32 - _IPV4_KEEP)) - 1) & 0xFFFFFFFF
        return str(ipaddress.IPv4Address(int(address) & mask))
    # From the integer, so a zone index ("%eth0") is dropped too.
    mask = ~((1 << (128 - _IPV6_KEEP)) - 1) & ((1 << 128) - 1)
    return str(ipaddress.IPv6Address(int(address) & mask))


def minimise_user_agent(ua: str, mode: UserAgentMode, *, salt: bytes) -> str | None:
    """What the log keeps of a user agent: nothing, its first 64 characters, or a keyed hash.

    ``"hash"`` is a hex HMAC-SHA256 keyed with ``salt``, so equal user agents
    stay comparable within one site without being readable or guessable.
    """
    if mode == "off":
        return None
    if mode == "truncate":
        return ua[:USER_AGENT_LIMIT]
    if mode == "hash":
        if len(salt) < MIN_SALT_BYTES:
            raise ValueError(f"the user agent salt must have at least {MIN_SALT_BYTES} bytes")
        return hmac.new(salt, ua.encode("utf-8"), hashlib.sha256).hexdigest()
    raise ValueError(f"unknown user agent mode {mode!r}; use 'off', 'truncate' or 'hash'")
