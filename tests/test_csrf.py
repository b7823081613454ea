"""CsrfTokens and same_site_request: a choice is only taken from the site's own form."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from consentgate._csrf import SALT, CsrfTokens, normalize_origin, same_site_request

from .helpers import OLD_SECRET, SECRET

MAX_AGE = 2 * 24 * 60 * 60


def tokens_at(offset: float, keys: tuple[str, ...] = (SECRET,)) -> CsrfTokens:
    """Tokens whose clock runs ``offset`` seconds from real time (the signer stamps real time)."""
    return CsrfTokens(keys, MAX_AGE, clock=lambda: time.time() + offset)


# -- tokens -------------------------------------------------------------------------


def test_issued_token_is_valid() -> None:
    tokens = CsrfTokens((SECRET,), MAX_AGE)
    assert tokens.valid(tokens.issue()) is True


def test_token_is_reused_within_the_minute() -> None:
    now = [1_800_000_000.0]
    tokens = CsrfTokens((SECRET,), MAX_AGE, clock=lambda: now[0])
    first = tokens.issue()
    now[0] += 59
    assert tokens.issue() is first


def test_token_is_valid_until_max_age() -> None:
    token = CsrfTokens((SECRET,), MAX_AGE).issue()
    assert tokens_at(MAX_AGE - 5).valid(token) is True


def test_token_past_max_age_is_invalid() -> None:
    token = CsrfTokens((SECRET,), MAX_AGE).issue()
    assert tokens_at(MAX_AGE + 5).valid(token) is False


def test_only_a_genuine_token_past_max_age_is_expired() -> None:
    token = CsrfTokens((SECRET,), MAX_AGE).issue()
    assert tokens_at(MAX_AGE + 5).expired(token) is True
    assert tokens_at(MAX_AGE - 5).expired(token) is False
    assert tokens_at(-3600).expired(token) is False
    forged = TimestampSigner(SECRET, salt=SALT).sign(b"something-else").decode()
    assert tokens_at(MAX_AGE + 5).expired(forged) is False
    assert tokens_at(MAX_AGE + 5, keys=(OLD_SECRET,)).expired(token) is False
    assert tokens_at(MAX_AGE + 5).expired("garbage") is False


def test_token_from_the_far_future_is_invalid() -> None:
    token = CsrfTokens((SECRET,), MAX_AGE).issue()
    assert tokens_at(-3600).valid(token) is False


def test_token_issued_under_an_injected_clock_is_valid_under_it() -> None:
    tokens = CsrfTokens((SECRET,), MAX_AGE, clock=lambda: 1_000_000.0)
    assert tokens.valid(tokens.issue()) is True


def test_token_signed_for_another_value_is_invalid() -> None:
    signer = TimestampSigner(SECRET, salt=SALT)
    forged = signer.sign(b"something-else").decode()
    assert CsrfTokens((SECRET,), MAX_AGE).valid(forged) is False


def test_token_with_a_tampered_signature_is_invalid() -> None:
    token = CsrfTokens((SECRET,), MAX_AGE).issue()
    value, stamp, signature = token.split(".")
    tampered = signature[:3] + ("A" if signature[3] != "A" else "B") + signature[4:]
    assert CsrfTokens((SECRET,), MAX_AGE).valid(f"{value}.{stamp}.{tampered}") is False


@pytest.mark.parametrize(
    "token", ["", "consent", "consent.x.y", "garbage", "...", "\x00", "æøå", "x" * 201]
)
def test_garbage_tokens_are_invalid(token: str) -> None:
    assert CsrfTokens((SECRET,), MAX_AGE).valid(token) is False


def test_overlong_token_is_invalid_even_with_a_valid_prefix() -> None:
    tokens = CsrfTokens((SECRET,), MAX_AGE)
    assert tokens.valid(tokens.issue() + "x" * 200) is False


def test_token_from_another_key_is_invalid() -> None:
    token = CsrfTokens(("another-secret-that-is-also-long-enough-000",), MAX_AGE).issue()
    assert CsrfTokens((SECRET,), MAX_AGE).valid(token) is False


def test_token_signed_with_a_rotated_key_is_valid() -> None:
    token = CsrfTokens((OLD_SECRET,), MAX_AGE).issue()
    assert CsrfTokens((SECRET, OLD_SECRET), MAX_AGE).valid(token) is True


def test_new_tokens_are_signed_with_the_newest_key() -> None:
    token = CsrfTokens((SECRET, OLD_SECRET), MAX_AGE).issue()
    assert CsrfTokens((SECRET,), MAX_AGE).valid(token) is True
    assert CsrfTokens((OLD_SECRET,), MAX_AGE).valid(token) is False


# -- same_site_request ----------------------------------------------------------------


def same_site(
    origin: str | None = None,
    referer: str | None = None,
    *,
    host: str | None = "www.example.com",
    fetch_site: str | None = None,
    trusted: tuple[str, ...] = (),
    scheme: str = "https",
) -> bool:
    normalized = frozenset(filter(None, map(normalize_origin, trusted)))
    origins = [origin] if origin is not None else []
    return same_site_request(host, origins, referer, fetch_site, normalized, scheme=scheme)


def test_no_origin_and_no_referer_is_left_to_the_token() -> None:
    assert same_site() is True


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_matching_origin_is_same_site(scheme: str) -> None:
    assert same_site(f"{scheme}://www.example.com", scheme=scheme) is True


@pytest.mark.parametrize(("origin", "scheme"), [("http", "https"), ("https", "http")])
def test_the_origins_scheme_must_be_the_requests(origin: str, scheme: str) -> None:
    assert same_site(f"{origin}://www.example.com", scheme=scheme) is False
    assert same_site(referer=f"{origin}://www.example.com/page", scheme=scheme) is False


def test_two_origin_headers_are_not_same_site() -> None:
    def two(*origins: str) -> bool:
        return same_site_request(
            "www.example.com", list(origins), None, None, frozenset(), scheme="https"
        )

    assert two("https://www.example.com") is True
    assert two("https://www.example.com", "https://www.example.com") is False
    assert two("https://evil.example", "https://www.example.com") is False


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://example.com",
        "https://www.example.com.evil.example",
        "null",
        "",
        "https://www.example.com:8443",
        "ftp://www.example.com",
        "https://user@evil.example",
    ],
)
def test_foreign_origin_is_not_same_site(origin: str) -> None:
    assert same_site(origin) is False


def test_other_scheme_and_other_host_is_not_same_site() -> None:
    assert same_site("http://evil.example") is False


def test_port_in_origin_must_match_the_host_header() -> None:
    assert same_site("https://www.example.com:8443", host="www.example.com:8443") is True
    assert same_site("https://www.example.com", host="www.example.com:8443") is False


def test_origin_wins_over_a_matching_referer() -> None:
    assert same_site("https://evil.example", "https://www.example.com/page") is False


def test_referer_is_used_when_origin_is_absent() -> None:
    assert same_site(referer="https://www.example.com/page?x=1") is True
    assert same_site(referer="https://evil.example/www.example.com") is False


def test_cross_site_fetch_metadata_wins_over_a_matching_origin() -> None:
    assert same_site("https://www.example.com", fetch_site="cross-site") is False


@pytest.mark.parametrize("fetch_site", ["same-origin", "same-site", "none"])
def test_other_fetch_metadata_leaves_it_to_the_origin(fetch_site: str) -> None:
    assert same_site("https://www.example.com", fetch_site=fetch_site) is True


def test_trusted_origin_is_allowed_exactly() -> None:
    trusted = ("https://shop.example.com",)
    assert same_site("https://shop.example.com", trusted=trusted) is True
    assert same_site("https://shop.example.com:444", trusted=trusted) is False
    assert same_site("http://shop.example.com", trusted=trusted) is False


def test_trusted_origin_is_allowed_through_the_referer() -> None:
    trusted = ("https://shop.example.com",)
    assert same_site(referer="https://shop.example.com/cart", trusted=trusted) is True


def test_missing_host_allows_only_trusted_origins() -> None:
    assert same_site("https://www.example.com", host=None) is False
    assert same_site("https://www.example.com", host=None, trusted=("https://www.example.com",))


def test_host_comparison_ignores_case() -> None:
    assert same_site("https://WWW.Example.COM", host="www.example.com") is True
    assert same_site("https://www.example.com", host="WWW.EXAMPLE.COM") is True


def test_default_ports_a_proxy_adds_or_drops_do_not_matter() -> None:
    assert same_site("https://www.example.com", host="www.example.com:443") is True
    assert same_site("https://www.example.com:443", host="www.example.com") is True
    assert same_site("http://www.example.com", host="www.example.com:80", scheme="http") is True
    assert same_site("https://www.example.com", host="www.example.com:80") is False


def test_trusted_origins_compare_normalised() -> None:
    trusted = ("https://Shop.Example.com:443",)
    assert same_site("https://shop.example.com", trusted=trusted) is True


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/page?x=1", "https://www.example.com"),
        ("HTTPS://WWW.EXAMPLE.COM:443", "https://www.example.com"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("null", None),
        ("ftp://example.com", None),
        ("https://", None),
        ("https://example.com:99999", None),
    ],
)
def test_normalize_origin(url: str, expected: str | None) -> None:
    assert normalize_origin(url) == expected
