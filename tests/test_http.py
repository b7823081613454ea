"""Readers of raw request headers: only checked, bounded values come out."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from consentgate._http import MAX_HOST, hostname, read_cookies, split_cookies


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.Example.com", "www.example.com"),
        ("example.com:8443", "example.com"),
        ("example.com.", "example.com."),
        ("localhost", "localhost"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "[::1]"),
        ("[2001:DB8::1]", "[2001:db8::1]"),
        (b"dev_box", "dev_box"),
    ],
)
def test_hostname_of_a_valid_host(host: str | bytes, expected: str) -> None:
    assert hostname(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        "",
        None,
        '"><script>alert(1)</script>',
        "evil.example/path",
        "a b",
        "example.com:port",
        "example..com",
        "[::1",
        "user@example.com",
        "x" * 64,  # a label is at most 63 characters
        ("a." * 130) + "com",
    ],
)
def test_a_host_that_is_no_host_name_gives_nothing(host: str | None) -> None:
    assert hostname(host) == ""


@given(st.binary(max_size=MAX_HOST + 10) | st.text(max_size=300))
def test_hostname_only_ever_gives_a_plain_name(host: bytes | str) -> None:
    name = hostname(host)
    assert len(name) <= MAX_HOST
    assert all(c.isascii() and (c.isalnum() or c in "-._[]:") for c in name)


def test_split_cookies_finds_the_named_one_and_lists_the_others() -> None:
    value, others = split_cookies(
        b"_ga=GA1; consentgate=abc.def ;  session = x; flag", b"consentgate"
    )
    assert value == b"abc.def"
    assert others == [b"_ga", b"session"]  # "flag" is a nameless cookie's value


def test_the_last_cookie_of_a_name_wins_across_headers() -> None:
    headers = [(b"cookie", b"c=1; a=2"), (b"host", b"x"), (b"cookie", b"c=3; b=4")]
    assert read_cookies(headers, b"c") == (b"3", [b"a", b"b"])


def test_no_cookie_header() -> None:
    assert read_cookies([(b"host", b"x")], b"c") == (None, [])


def test_a_cookie_name_longer_than_a_browser_keeps_is_skipped() -> None:
    header = b"x" * 5000 + b"=1; consentgate=v; " + b"y" * 5000
    assert split_cookies(header, b"consentgate") == (b"v", [])


@given(st.lists(st.tuples(st.text("abc_=; \t", max_size=6), st.text("abc=; ", max_size=6))))
def test_split_cookies_reads_as_starlette_does(pairs: list[tuple[str, str]]) -> None:
    from starlette.requests import cookie_parser

    header = "; ".join(f"{k}={v}" for k, v in pairs)
    expected = cookie_parser(header)
    value, others = split_cookies(header.encode(), b"a")
    assert value == (expected["a"].encode() if "a" in expected else None)
    assert set(others) == {k.encode() for k in expected if k and k != "a"}
