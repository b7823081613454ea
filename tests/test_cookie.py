"""ConsentCookie: a signed choice that reads back exactly, and anything else reads as none."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given, strategies as st
from itsdangerous import URLSafeSerializer

from consentgate._cookie import SALT, ConsentCookie, expire_cookie_header, new_consent_id
from consentgate._provider_table import ProviderTable
from consentgate._state import ConsentState

from .helpers import OLD_SECRET, SECRET

NOW = 1_800_000_000.0
MAX_AGE = 365 * 24 * 60 * 60
CATEGORIES = ("preferences", "statistics", "marketing")
#: Each category's short revision, as the middleware gives them to the cookie.
REVISIONS = {c: f"{c[:4]}rev0" for c in CATEGORIES}


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
        revisions=REVISIONS,
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


# -- providers allowed one by one (payload version 2) ---------------------------------

TABLE = ProviderTable(
    {"youtube": "marketing", "vimeo": "marketing", "google-maps": "preferences", "up": "necessary"},
    {"youtube": "youtube0", "vimeo": "vimeo000", "google-maps": "gmaps000", "up": "up000000"},
)
ALLOWABLE = sorted(TABLE.choosable(TABLE.names))
PROVIDER_COOKIE = ConsentCookie(
    name="consentgate",
    keys=(SECRET,),
    policy_version="2026-11",
    categories=CATEGORIES,
    revisions=REVISIONS,
    max_age=MAX_AGE,
    domain=None,
    clock=lambda: NOW,
    providers=TABLE,
)


def signed(payload: object, key: str = SECRET) -> str:
    """A payload as consentgate would sign it: what a buggy or older release could write."""
    return URLSafeSerializer(key, salt=SALT).dumps(payload)


@given(
    consent_id=st.text(max_size=40),
    granted=st.frozensets(st.sampled_from(CATEGORIES)),
    providers=st.frozensets(st.sampled_from(ALLOWABLE)),
    answered=st.booleans(),
    decided_at=st.integers(min_value=int(NOW) - MAX_AGE, max_value=int(NOW)),
)
def test_any_state_with_providers_reads_back_equal(
    consent_id: str,
    granted: frozenset[str],
    providers: frozenset[str],
    answered: bool,
    decided_at: int,
) -> None:
    state = ConsentState(
        consent_id=consent_id,
        granted=granted,
        policy_version="2026-11",
        decided_at=datetime.fromtimestamp(decided_at, UTC),
        providers=providers,
        answered=answered,
    )
    read = PROVIDER_COOKIE.read(PROVIDER_COOKIE.encode(state)).state
    assert read == state
    assert read.has_choice is answered
    # The reader gives the state the site's table: allows_provider needs nothing more.
    for name in TABLE.names:
        expected = name in providers or TABLE.categories[name] in ("necessary", *granted)
        assert read.allows_provider(name) is expected, name


@given(
    providers=st.frozensets(st.sampled_from(ALLOWABLE), min_size=1),
    index=st.integers(min_value=0),
    replacement=st.characters(codec="ascii"),
)
def test_a_tampered_provider_payload_reads_as_no_choice(
    providers: frozenset[str], index: int, replacement: str
) -> None:
    state = ConsentState(
        consent_id="id",
        policy_version="2026-11",
        decided_at=datetime.fromtimestamp(NOW, UTC),
        providers=providers,
        answered=False,
    )
    value = PROVIDER_COOKIE.encode(state)
    payload, signature = value.rsplit(".", 1)
    index %= len(payload)
    tampered = payload[:index] + replacement + payload[index + 1 :]
    read = PROVIDER_COOKIE.read(f"{tampered}.{signature}").state
    if tampered != payload:
        assert read.consent_id is None and read.providers == frozenset()


def test_the_cookie_keeps_providers_as_a_bitmask_of_the_table() -> None:
    state = ConsentState(
        consent_id="8d3b5a4e-0c1f-4d7e-9a2b-3c4d5e6f7a8b",
        policy_version="2026-11",
        decided_at=datetime.fromtimestamp(NOW, UTC),
        providers=frozenset({"youtube", "vimeo"}),
        answered=False,
    )
    value = PROVIDER_COOKIE.encode(state)
    payload = URLSafeSerializer(SECRET, salt=SALT).loads(value)
    assert payload == [
        3,
        state.consent_id,
        [],
        "2026-11",
        int(NOW),
        0,
        TABLE.digest,
        0b1100,
        "",
        "vimeo000youtube0",
    ]
    assert TABLE.names == ("google-maps", "up", "vimeo", "youtube")
    assert len(value) < len(VALUE) + 60  # a few characters more than a choice without them


@pytest.mark.parametrize(
    "payload",
    [
        [1, "id", ["statistics", "gone"], "2026-11", int(NOW) - 60],
        [2, "id", ["statistics", "gone"], "2026-11", int(NOW) - 60, 1, TABLE.digest, 0b1000],
    ],
)
def test_a_cookie_from_before_revisions_keeps_its_refusals_and_asks_again_for_its_grants(
    payload: list[object],
) -> None:
    """Its grants cannot be tied to what the visitor was shown: they lapse, the rest stands."""
    read = PROVIDER_COOKIE.read(signed(payload)).state
    assert read.has_choice and read.answered and read.needs_answer
    assert read.granted == frozenset() and read.lapsed == frozenset({"statistics"})
    assert read.providers == frozenset() and not read.allows_provider("youtube")
    assert read.decided_at == datetime.fromtimestamp(NOW - 60, UTC)


def test_providers_of_another_table_are_not_read_but_the_categories_are() -> None:
    """After the site adds a provider, bit 3 would name another one: none counts."""
    state = ConsentState(
        consent_id="id",
        granted=frozenset({"statistics"}),
        policy_version="2026-11",
        decided_at=datetime.fromtimestamp(NOW, UTC),
        providers=frozenset({"youtube"}),
    )
    value = PROVIDER_COOKIE.encode(state)
    grown = ProviderTable({**TABLE.categories, "zzz-new": "marketing", "aaa-new": "marketing"})
    cookie = ConsentCookie(
        name="consentgate",
        keys=(SECRET,),
        policy_version="2026-11",
        categories=CATEGORIES,
        revisions=REVISIONS,
        max_age=MAX_AGE,
        domain=None,
        clock=lambda: NOW,
        providers=grown,
    )
    read = cookie.read(value).state
    assert read.has_choice and read.granted == frozenset({"statistics"})
    assert read.providers == frozenset()
    assert not read.allows_provider("youtube")
    # The same table in another order is the same table.
    reordered = ProviderTable(dict(reversed(list(TABLE.categories.items()))))
    assert reordered.digest == TABLE.digest and reordered.names == TABLE.names


@pytest.mark.parametrize(
    "payload",
    [
        [2, "id", [], "2026-11", int(NOW), 0, TABLE.digest, 1 << 4],  # beyond the table
        [2, "id", [], "2026-11", int(NOW), 0, TABLE.digest, -(1 << 4)],
        [2, "id", [], "2026-11", int(NOW), 2, TABLE.digest, 0],
        [2, "id", [], "2026-11", int(NOW), True, TABLE.digest, 0],
        [2, "id", [], "2026-11", int(NOW), 0, TABLE.digest, "8"],
        [2, "id", [], "2026-11", int(NOW), 0, None, 0],
        [2, "id", [], "2026-11", int(NOW), 0, TABLE.digest],
        [2, "id", [], "2026-11", int(NOW)],
        [1, "id", [], "2026-11", int(NOW), 0, TABLE.digest, 0],
        [3, "id", [], "2026-11", int(NOW), 0, TABLE.digest, 0],
        [3, "id", ["statistics"], "2026-11", int(NOW), 0, TABLE.digest, 0, "", ""],
        [3, "id", [], "2026-11", int(NOW), 0, TABLE.digest, 0, None, ""],
        [3, "id", [], "2026-11", int(NOW), 0, TABLE.digest, 0, "", 0],
        [4, "id", [], "2026-11", int(NOW), 0, TABLE.digest, 0, "", ""],
        [True, "id", [], "2026-11", int(NOW)],
        [[2], "id", [], "2026-11", int(NOW)],
        [],
    ],
)
def test_malformed_version_2_and_3_payloads_read_as_no_choice(payload: list[object]) -> None:
    read = PROVIDER_COOKIE.read(signed(payload)).state
    if payload and payload[-1] in (1 << 4, -(1 << 4)):
        # No bitmask of this table: the choice stands, no provider is read from it.
        assert read.consent_id == "id" and read.providers == frozenset()
        # Written before revisions: its grants (none here) would lapse.
    else:
        assert read.consent_id is None


def test_a_necessary_provider_is_never_kept_as_allowed_on_its_own() -> None:
    value = signed([3, "id", [], "2026-11", int(NOW), 1, TABLE.digest, 0b0010, "", "up000000"])
    read = PROVIDER_COOKIE.read(value).state
    assert read.providers == frozenset()
    assert read.allows_provider("up")  # always: it is necessary


def test_no_cookie_still_knows_the_sites_providers() -> None:
    read = PROVIDER_COOKIE.read(None).state
    assert not read.has_choice
    assert read.allows_provider("up") and not read.allows_provider("youtube")


def test_revisions_keep_a_full_choice_far_below_the_cookie_limit() -> None:
    """Eight characters per granted category and per provider allowed one by one."""
    names = {f"provider-{i:02d}": "marketing" for i in range(60)}
    table = ProviderTable(names, {name: f"{i:08d}" for i, name in enumerate(sorted(names))})
    cookie = ConsentCookie(
        name="consentgate",
        keys=(SECRET,),
        policy_version="2026-11",
        categories=CATEGORIES,
        revisions=REVISIONS,
        max_age=MAX_AGE,
        domain=None,
        clock=lambda: NOW,
        providers=table,
    )
    state = ConsentState(
        consent_id=str(uuid.uuid4()),
        granted=frozenset({"preferences", "statistics"}),
        policy_version="2026-11",
        decided_at=datetime.fromtimestamp(NOW, UTC),
        providers=frozenset(names),
        provider_categories=table.categories,
    )
    header = cookie.set_cookie(state, secure=True)
    assert len(header) < 1500
    assert cookie.read(cookie.encode(state)).state == state
