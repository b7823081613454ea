"""ConsentCookie: a signed choice that reads back exactly, and anything else reads as none."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given, strategies as st

from consentgate._cookie import ConsentCookie, expire_cookie_header, new_consent_id
from consentgate._state import ConsentState

from .helpers import OLD_SECRET, SECRET

NOW = 1_800_000_000.0
MAX_AGE = 365 * 24 * 60 * 60
CATEGORIES = ("preferences", "statistics", "marketing")


def make_cookie(
    *,
    keys: tuple[str, ...] = (SECRET,),
    policy_version: str = "2026-11",
    categories: tuple[str, ...] = CATEGORIES,
    domain: str | None = None,
    clock: Callable[[], float] = lambda: NOW,
) -> ConsentCookie:
    return ConsentCookie(
        name="consentgate",
        keys=keys,
        policy_version=policy_version,
        categories=categories,
        max_age=MAX_AGE,
        domain=domain,
        clock=clock,
    )


def make_state(
    granted: frozenset[str] = frozenset({"statistics"}),
    decided_at: float = NOW - 60,
    policy_version: str = "2026-11",
) -> ConsentState:
    return ConsentState(
        consent_id="8d3b5a4e-0c1f-4d7e-9a2b-3c4d5e6f7a8b",
        granted=granted,
        policy_version=policy_version,
        decided_at=datetime.fromtimestamp(decided_at, UTC),
    )


COOKIE = make_cookie()
VALUE = COOKIE.encode(make_state())


def flip(text: str, index: int) -> str:
    return text[:index] + ("B" if text[index] != "B" else "C") + text[index + 1 :]


# -- round trip -----------------------------------------------------------------


def test_encoded_state_reads_back_equal() -> None:
    state = make_state(frozenset({"statistics", "marketing"}))
    reading = COOKIE.read(COOKIE.encode(state))
    assert reading.state == state
    assert reading.reissue is False


def test_rejecting_everything_reads_back_as_a_choice() -> None:
    reading = COOKIE.read(COOKIE.encode(make_state(frozenset())))
    assert reading.state.has_choice is True
    assert reading.state.granted == frozenset()


def test_decided_at_is_kept_to_whole_seconds() -> None:
    state = ConsentState(
        consent_id="id",
        granted=frozenset(),
        policy_version="2026-11",
        decided_at=datetime(2026, 11, 25, 12, 30, 15, 987654, tzinfo=UTC),
    )
    read = COOKIE.read(COOKIE.encode(state)).state
    assert read.decided_at == datetime(2026, 11, 25, 12, 30, 15, tzinfo=UTC)


# -- what reads as no choice -----------------------------------------------------


def test_flipping_a_character_of_the_payload_reads_as_no_choice() -> None:
    payload, signature = VALUE.rsplit(".", 1)
    for index in range(len(payload)):
        reading = COOKIE.read(f"{flip(payload, index)}.{signature}")
        assert reading.state.has_choice is False, index


def test_flipping_a_character_of_the_signature_reads_as_no_choice() -> None:
    payload, signature = VALUE.rsplit(".", 1)
    # The last base64 character carries two padding bits that itsdangerous ignores,
    # so only the characters that carry signature bits are flipped.
    for index in range(len(signature) - 1):
        reading = COOKIE.read(f"{payload}.{flip(signature, index)}")
        assert reading.state.has_choice is False, index


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        VALUE[:-1],
        VALUE[: len(VALUE) // 2],
        VALUE.rsplit(".", 1)[0],
        "." + VALUE.rsplit(".", 1)[1],
        "garbage",
        "a.b.c",
        "....",
        "\x00\xff",
        "æøå.ÆØÅ",
        VALUE + VALUE,
    ],
)
def test_damaged_values_read_as_no_choice(value: str | None) -> None:
    reading = COOKIE.read(value)
    assert reading.state.has_choice is False
    assert reading.state.granted == frozenset()
    assert reading.reissue is False


@given(st.text())
def test_any_text_reads_as_no_choice_without_raising(value: str) -> None:
    assert COOKIE.read(value).state.has_choice is False


def test_cookie_signed_with_another_secret_reads_as_no_choice() -> None:
    other = make_cookie(keys=("another-secret-that-is-also-long-enough-000",))
    assert COOKIE.read(other.encode(make_state())).state.has_choice is False


# -- key rotation ----------------------------------------------------------------


def test_cookie_signed_with_a_rotated_key_is_accepted_and_reissued() -> None:
    old_value = make_cookie(keys=(OLD_SECRET,)).encode(make_state())
    reading = make_cookie(keys=(SECRET, OLD_SECRET)).read(old_value)
    assert reading.state == make_state()
    assert reading.reissue is True


def test_cookie_signed_with_the_newest_key_is_not_reissued() -> None:
    rotating = make_cookie(keys=(SECRET, OLD_SECRET))
    reading = rotating.read(rotating.encode(make_state()))
    assert reading.state == make_state()
    assert reading.reissue is False


def test_reissued_cookie_is_signed_with_the_newest_key() -> None:
    rotating = make_cookie(keys=(SECRET, OLD_SECRET))
    newest_only = make_cookie(keys=(SECRET,))
    assert newest_only.read(rotating.encode(make_state())).state == make_state()


def test_cookie_signed_with_a_dropped_key_reads_as_no_choice() -> None:
    old_value = make_cookie(keys=(OLD_SECRET,)).encode(make_state())
    assert make_cookie(keys=(SECRET,)).read(old_value).state.has_choice is False


# -- expiry, policy version, categories --------------------------------------------


def test_cookie_past_its_lifetime_reads_as_no_choice() -> None:
    value = COOKIE.encode(make_state(decided_at=NOW))
    later = make_cookie(clock=lambda: NOW + MAX_AGE + 1)
    assert later.read(value).state.has_choice is False


def test_cookie_at_the_end_of_its_lifetime_still_reads() -> None:
    value = COOKIE.encode(make_state(decided_at=NOW))
    later = make_cookie(clock=lambda: NOW + MAX_AGE)
    assert later.read(value).state.has_choice is True


def test_cookie_of_another_policy_version_reads_as_no_choice() -> None:
    value = make_cookie(policy_version="2025-01").encode(make_state(policy_version="2025-01"))
    assert COOKIE.read(value).state.has_choice is False


def test_category_the_site_no_longer_has_is_dropped() -> None:
    before = make_cookie(categories=(*CATEGORIES, "social"))
    value = before.encode(make_state(frozenset({"statistics", "social"})))
    assert COOKIE.read(value).state.granted == frozenset({"statistics"})


# -- Set-Cookie values ------------------------------------------------------------


def attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    first, *rest = set_cookie.split("; ")
    flags = {}
    for part in rest:
        key, _, value = part.partition("=")
        flags[key] = value
    return first, flags


def test_set_cookie_carries_the_encoded_state_and_safe_attributes() -> None:
    first, flags = attributes(COOKIE.set_cookie(make_state(), secure=False))
    name, _, value = first.partition("=")
    assert name == "consentgate"
    assert COOKIE.read(value).state == make_state()
    assert flags["Path"] == "/"
    assert flags["SameSite"] == "Lax"
    assert "HttpOnly" in flags
    assert "Secure" not in flags
    assert "Domain" not in flags


def test_set_cookie_max_age_is_the_remaining_lifetime() -> None:
    _, flags = attributes(COOKIE.set_cookie(make_state(decided_at=NOW - 3600), secure=False))
    assert flags["Max-Age"] == str(MAX_AGE - 3600)


def test_set_cookie_max_age_never_goes_negative() -> None:
    _, flags = attributes(COOKIE.set_cookie(make_state(decided_at=NOW - 2 * MAX_AGE), secure=False))
    assert flags["Max-Age"] == "0"


def test_set_cookie_is_secure_when_asked() -> None:
    _, flags = attributes(COOKIE.set_cookie(make_state(), secure=True))
    assert "Secure" in flags


def test_set_cookie_names_the_configured_domain() -> None:
    cookie = make_cookie(domain=".example.com")
    _, flags = attributes(cookie.set_cookie(make_state(), secure=True))
    assert flags["Domain"] == ".example.com"


def test_expire_cookie_header_without_domain() -> None:
    assert expire_cookie_header("_ga") == (
        "_ga=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )


def test_expire_cookie_header_with_domain() -> None:
    assert expire_cookie_header("_ga", "example.com") == (
        "_ga=; Path=/; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )


# -- consent ids ---------------------------------------------------------------------


def test_new_consent_id_is_a_uuid4_string() -> None:
    consent_id = new_consent_id()
    parsed = uuid.UUID(consent_id)
    assert parsed.version == 4
    assert str(parsed) == consent_id


def test_new_consent_ids_are_unique() -> None:
    ids = {new_consent_id() for _ in range(10_000)}
    assert len(ids) == 10_000


@pytest.mark.parametrize(
    ("configured", "scheme", "expected"),
    [(None, "https", True), (None, "http", False), (True, "http", True), (False, "https", False)],
)
def test_secure_follows_the_config_else_the_scheme(
    configured: bool | None, scheme: str, expected: bool
) -> None:
    cookie = ConsentCookie(
        name="consentgate",
        keys=(SECRET,),
        policy_version="1",
        categories=(),
        max_age=60,
        domain=None,
        secure=configured,
    )
    assert cookie.secure_for(scheme) is expected
