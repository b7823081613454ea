"""safe_next: back where the visitor was, never to another site."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import example, given, strategies as st

from consentgate._redirect import MAX_LENGTH, safe_next


@pytest.mark.parametrize(
    "value",
    ["/", "/page", "/page?x=1&y=2", "/a/b#frag", "/a:b", "/search?q=a%20b", "/a%2Fb", "/~user/"],
)
def test_plain_paths_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil",
        "\\/evil.example",
        "https://evil.example",
        "http:/evil",
        "javascript:alert(1)",
        "page",
        " /page",
        "/%2F%2Fevil.example",
        "/%2f%2fevil.example",
        "/%2Fevil.example",
        "/%5Cevil.example",
        "/%5cevil.example",
        "/%252F%252Fevil.example",
        "/%25252F%25252Fevil.example",
        "/%2525252F%2525252Fevil.example",
        "%2F%2Fevil",
        "/a\r\nLocation: x",
        "/a%0d%0aLocation:%20x",
        "/a\tb",
        "/a\x00b",
        "/a\x7fb",
        "/a%00b",
        "/page\\..\\evil",
    ],
)
def test_unsafe_values_fall_back_to_the_home_page(value: str | None) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # A click-to-load form returns to its embed: the fragment is kept.
        ("/blog/post?x=1#video-3", "/blog/post?x=1#video-3"),
        ("/#top", "/#top"),
        ("/page#a b", "/page#a%20b"),
        ("/page#æ", "/page#%C3%A6"),
        # In a fragment, what looks like a host is only a fragment: it stays on the page.
        ("/page#//evil.example", "/page#//evil.example"),
        ("/page#https://evil.example", "/page#https://evil.example"),
        ("/page#\\evil", "/"),
        ("/page#\r\nLocation: x", "/"),
        ("/page#%0d%0aLocation: x", "/"),
        ("#video-3", "/"),
    ],
)
def test_a_fragment_is_kept_safely(value: str, expected: str) -> None:
    assert safe_next(value) == expected
    parts = urlsplit(safe_next(value))
    assert not parts.scheme and not parts.netloc


def test_value_of_maximum_length_is_kept() -> None:
    value = "/" + "a" * (MAX_LENGTH - 1)
    assert safe_next(value) == value


def test_overlong_value_falls_back_to_the_home_page() -> None:
    assert safe_next("/" + "a" * MAX_LENGTH) == "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/café", "/caf%C3%A9"),
        ("/søg?q=æøå", "/s%C3%B8g?q=%C3%A6%C3%B8%C3%A5"),
        ("/a b", "/a%20b"),
        ('/"><script>', "/%22%3E%3Cscript%3E"),
        ("/日本", "/%E6%97%A5%E6%9C%AC"),
    ],
)
def test_other_characters_come_back_percent_encoded(value: str, expected: str) -> None:
    assert safe_next(value) == expected


def assert_on_site(url: str) -> None:
    assert url.startswith("/")
    assert not url.startswith(("//", "/\\"))
    parts = urlsplit(url)
    assert parts.scheme == ""
    assert parts.netloc == ""


@example("/%2F%2Fevil.example")
@example("/%252F%252Fevil.example")
@example("/%5Cevil.example")
@example("/\x85evil")
@given(st.text())
def test_any_text_gives_an_ascii_path_on_this_site(value: str) -> None:
    result = safe_next(value)
    assert result.isascii()
    assert_on_site(result)
    once = unquote(result)
    assert_on_site(once)
    assert_on_site(unquote(once))


@given(st.text(alphabet="/\\%25Ff:.ae@?#5Cc"))
def test_slashes_and_escapes_never_leave_the_site(value: str) -> None:
    result = safe_next(value)
    assert result.isascii()
    assert_on_site(result)
    once = unquote(result)
    assert_on_site(once)
    assert_on_site(unquote(once))


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)).map("/".__add__))
def test_printable_ascii_paths_are_kept_or_refused_never_altered_unsafely(value: str) -> None:
    result = safe_next(value)
    assert result == "/" or unquote(result) == unquote(value)


def test_a_lone_surrogate_from_a_json_body_falls_back_to_the_home_page() -> None:
    assert safe_next("/\ud800") == "/"
