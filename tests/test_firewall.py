"""CookieFirewall: declared tracker cookies exist only with consent."""

from __future__ import annotations

import pytest

from consentgate._cookie import expire_cookie_header
from consentgate._firewall import CookieFirewall
from consentgate._state import ConsentState
from consentgate.providers import Buffer, DeclaredCookie, GoogleAnalytics, JetpackStats, Provider

NOTHING = ConsentState(consent_id="id", granted=frozenset(), policy_version="1")
STATISTICS = ConsentState(consent_id="id", granted=frozenset({"statistics"}), policy_version="1")
CHAT = Provider(
    name="chat",
    title="Chat",
    category="preferences",
    cookies=(DeclaredCookie(name="chat.session", purpose="Chat", expiry="1 day"),),
)
FIREWALL = CookieFirewall(
    [GoogleAnalytics("G-TEST123456"), JetpackStats(blog_id=4242), Buffer(), CHAT], None
)


def names_and_domains(headers: list[str]) -> list[tuple[str, str | None]]:
    out = []
    for header in headers:
        name = header.split("=", 1)[0]
        domain = next(
            (p[len("Domain=") :] for p in header.split("; ") if p.startswith("Domain=")), None
        )
        out.append((name, domain))
    return out


# -- categories -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "owner"),
    [
        ("_ga", ("google-analytics", "statistics")),
        ("_ga_TEST123456", ("google-analytics", "statistics")),
        ("tk_ai", ("jetpack-stats", "statistics")),
        ("tk_qs", ("jetpack-stats", "statistics")),
        ("tk_whatever", ("jetpack-stats", "statistics")),
        ("tk_", ("jetpack-stats", "statistics")),
        ("chat.session", ("chat", "preferences")),
    ],
)
def test_declared_cookies_have_their_provider_and_its_category(
    cookie: str, owner: tuple[str, str]
) -> None:
    assert FIREWALL.owners_of(cookie) == (owner,)


@pytest.mark.parametrize(
    "cookie",
    [
        "session",
        "consentgate",
        "_ga_OTHER123456",
        "_gax",
        "x_ga",
        "_GA",
        "tk",
        "xtk_ai",
        "TK_ai",
        "chatXsession",
        "chat.session2",
        "",
    ],
)
def test_undeclared_cookies_have_no_owner(cookie: str) -> None:
    assert FIREWALL.owners_of(cookie) == ()


def test_firewall_without_declared_cookies_is_falsy() -> None:
    assert not CookieFirewall([Buffer()], None)
    assert FIREWALL


# -- blocking ---------------------------------------------------------------------


def test_blocks_declared_cookie_without_consent() -> None:
    assert FIREWALL.blocks("_ga", NOTHING) is True
    assert FIREWALL.blocks("chat.session", STATISTICS) is True


def test_does_not_block_declared_cookie_with_consent() -> None:
    assert FIREWALL.blocks("_ga", STATISTICS) is False
    assert FIREWALL.blocks("tk_ai", STATISTICS) is False


def test_never_blocks_undeclared_cookies() -> None:
    assert FIREWALL.blocks("session", NOTHING) is False


def test_necessary_cookies_are_never_blocked() -> None:
    login = Provider(
        name="login",
        title="Login",
        category="necessary",
        cookies=(DeclaredCookie(name="sid", purpose="Login", expiry="Session"),),
    )
    assert CookieFirewall([login], None).blocks("sid", NOTHING) is False


@pytest.mark.parametrize(
    "header", [b"_ga=GA1.1.123.456; Path=/", b"_ga_TEST123456=GS1; Max-Age=60", b" _ga =1", b"_ga"]
)
def test_set_cookie_of_a_tracker_is_refused_without_consent(header: bytes) -> None:
    assert FIREWALL.allows_set_cookie(header, NOTHING) is False
    assert FIREWALL.allows_set_cookie(header, STATISTICS) is True


def test_set_cookie_of_an_undeclared_cookie_is_allowed() -> None:
    assert FIREWALL.allows_set_cookie(b"session=abc; HttpOnly; Path=/", NOTHING) is True


def test_set_cookie_with_a_latin1_name_does_not_raise() -> None:
    assert FIREWALL.allows_set_cookie("søg=1".encode("latin-1"), NOTHING) is True


# -- expiring what the browser holds ------------------------------------------------------


def test_expire_covers_the_host_and_every_parent_domain() -> None:
    headers = FIREWALL.expire({"_ga": "1"}, NOTHING, "www.example.co.uk")
    assert names_and_domains(headers) == [
        ("_ga", None),
        ("_ga", "www.example.co.uk"),
        ("_ga", "example.co.uk"),
        ("_ga", "co.uk"),
    ]
    assert headers[0] == expire_cookie_header("_ga")


def test_expire_adds_the_configured_cookie_domain_once() -> None:
    firewall = CookieFirewall([GoogleAnalytics("G-TEST123456")], ".example.co.uk")
    domains = [
        d for _, d in names_and_domains(firewall.expire({"_ga": "1"}, NOTHING, "www.example.co.uk"))
    ]
    assert domains == [None, "www.example.co.uk", "example.co.uk", "co.uk"]


def test_expire_adds_a_cookie_domain_outside_the_host() -> None:
    firewall = CookieFirewall([GoogleAnalytics("G-TEST123456")], ".example.com")
    domains = [d for _, d in names_and_domains(firewall.expire({"_ga": "1"}, NOTHING, "localhost"))]
    assert domains == [None, "example.com"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "::1", ""])
def test_expire_is_host_only_for_ip_addresses_and_single_labels(host: str) -> None:
    headers = FIREWALL.expire({"_ga": "1"}, NOTHING, host)
    assert headers == [expire_cookie_header("_ga")]


def test_expire_covers_every_blocked_cookie() -> None:
    cookies = {"_ga": "1", "_ga_TEST123456": "2", "tk_ai": "3", "session": "4"}
    headers = FIREWALL.expire(cookies, NOTHING, "example.com")
    assert names_and_domains(headers) == [
        ("_ga", None),
        ("_ga", "example.com"),
        ("_ga_TEST123456", None),
        ("_ga_TEST123456", "example.com"),
        ("tk_ai", None),
        ("tk_ai", "example.com"),
    ]


def test_expire_leaves_allowed_and_undeclared_cookies_alone() -> None:
    cookies = {"_ga": "1", "tk_ai": "2", "session": "3", "consentgate": "4"}
    assert FIREWALL.expire(cookies, STATISTICS, "www.example.com") == []


def test_expire_with_no_cookies_is_empty() -> None:
    assert FIREWALL.expire({}, NOTHING, "www.example.com") == []


# -- providers allowed one by one --------------------------------------------------


def test_a_provider_allowed_on_its_own_gets_its_cookies_and_no_other() -> None:
    chat_only = ConsentState(consent_id="id", providers=frozenset({"chat"}))
    assert FIREWALL.blocks("chat.session", chat_only) is False
    assert FIREWALL.blocks("_ga", chat_only) is True
    assert FIREWALL.allows_set_cookie(b"chat.session=1; Path=/", chat_only)
    assert not FIREWALL.allows_set_cookie(b"_ga=GA1.1; Path=/", chat_only)


def test_a_cookie_two_providers_declare_passes_when_either_is_allowed() -> None:
    shared = DeclaredCookie(name="shared_id", purpose="Shared", expiry="1 day")
    firewall = CookieFirewall(
        [
            Provider(name="maps", title="Maps", category="preferences", cookies=(shared,)),
            Provider(name="ads", title="Ads", category="marketing", cookies=(shared,)),
        ],
        None,
    )
    assert firewall.owners_of("shared_id") == (("maps", "preferences"), ("ads", "marketing"))
    assert firewall.blocks("shared_id", NOTHING)
    assert not firewall.blocks(
        "shared_id", ConsentState(consent_id="id", providers=frozenset({"ads"}))
    )
    granted = ConsentState(consent_id="id", granted=frozenset({"preferences"}))
    assert not firewall.blocks("shared_id", granted)


def test_expire_spares_the_cookies_of_a_provider_allowed_on_its_own() -> None:
    chat_only = ConsentState(consent_id="id", providers=frozenset({"chat"}))
    expired = FIREWALL.expire({"chat.session": "1", "_ga": "2"}, chat_only, "example.com")
    assert {name for name, _ in names_and_domains(expired)} == {"_ga"}
