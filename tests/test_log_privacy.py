from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Any, cast

import pytest
from hypothesis import given, strategies as st

from consentgate.log import minimise_user_agent, truncate_ip

SALT = b"0123456789abcdef-site-salt"
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ip", "truncated"),
    [
        ("192.0.2.123", "192.0.2.0"),
        ("10.1.2.255", "10.1.2.0"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.0"),
        ("2001:db8:abcd:12:3456::1", "2001:db8:abcd::"),
        ("2001:0db8:abcd:ffff:ffff:ffff:ffff:ffff", "2001:db8:abcd::"),
        ("::1", "::"),
        ("fe80::1%eth0", "fe80::"),
        ("::ffff:198.51.100.7", "198.51.100.0"),
    ],
)
def test_truncate_ip(ip: str, truncated: str) -> None:
    assert truncate_ip(ip) == truncated


@pytest.mark.parametrize(
    "ip", ["", "localhost", "192.0.2", "192.0.2.256", " 192.0.2.1", "192.0.2.0/24", "2001:db8:::1"]
)
def test_truncate_ip_rejects_what_is_no_address(ip: str) -> None:
    with pytest.raises(ValueError):
        truncate_ip(ip)


@given(st.ip_addresses())
def test_truncated_address_is_the_network_of_the_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    truncated = ipaddress.ip_address(truncate_ip(str(address)))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    assert truncated == network.network_address
    assert truncate_ip(str(truncated)) == str(truncated)  # idempotent


def test_user_agent_off_keeps_nothing() -> None:
    assert minimise_user_agent(UA, "off", salt=SALT) is None


def test_user_agent_truncate_keeps_64_characters() -> None:
    assert minimise_user_agent(UA, "truncate", salt=SALT) == UA[:64]
    assert minimise_user_agent("curl/8.0", "truncate", salt=SALT) == "curl/8.0"


def test_user_agent_hash_is_keyed_hmac_sha256() -> None:
    hashed = minimise_user_agent(UA, "hash", salt=SALT)
    assert hashed == hmac.new(SALT, UA.encode(), hashlib.sha256).hexdigest()
    assert hashed != hashlib.sha256(UA.encode()).hexdigest()
    assert minimise_user_agent(UA, "hash", salt=SALT) == hashed  # comparable within a site
    assert minimise_user_agent(UA, "hash", salt=SALT[::-1]) != hashed  # not across salts


def test_user_agent_hash_needs_a_real_salt() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        minimise_user_agent(UA, "hash", salt=b"short")


def test_user_agent_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown user agent mode"):
        minimise_user_agent(UA, cast(Any, "full"), salt=SALT)
