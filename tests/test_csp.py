"""CSP nonces: what consentgate injects carries the nonce of the page's own policy."""

from __future__ import annotations

import itertools
from html.parser import HTMLParser

import pytest
from hypothesis import given, strategies as st
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import _csp
from consentgate._csp import (
    SCRIPT_NONCE,
    STYLE_NONCE,
    Nonces,
    NonceSlots,
    nonces_in,
    page_nonces,
    with_nonces,
    without_nonces,
)

from .helpers import PAGE, choose, client_for, make_app

pytestmark = pytest.mark.anyio

# -- reading the policy -----------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "script", "style"),
    [
        (b"script-src 'nonce-abc'; style-src 'nonce-def'", b"abc", b"def"),
        (b"default-src 'self' 'nonce-abc'", b"abc", b"abc"),
        (b"default-src 'nonce-d'; script-src 'self' 'nonce-s'", b"s", b"d"),
        (b"script-src 'nonce-s'; script-src-elem 'nonce-e'", b"e", None),
        (b"script-src 'self'; default-src 'nonce-d'", None, b"d"),
        (b"SCRIPT-SRC 'NONCE-AbC+/=='", b"AbC+/==", None),
        (b"script-src 'nonce-low'; style-src 'Nonce-Mixed'", b"low", b"Mixed"),
        (b"script-src\t'nonce-tab'", b"tab", None),
        (b"script-src 'self', script-src 'nonce-second'", b"second", None),
        (b"script-src 'nonce-first'; script-src 'nonce-ignored'", b"first", None),
        (b"script-src 'nonce-'; style-src nonce-unquoted", None, None),
        (b"script-src 'nonce-<x>'", None, None),
        (b"", None, None),
        (b";;,,  ;", None, None),
    ],
)
def test_nonces_in_policy(policy: bytes, script: bytes | None, style: bytes | None) -> None:
    assert nonces_in(policy) == Nonces(script, style)
    # Read by its shape too, the second time from what the first remembered.
    assert page_nonces(policy) == page_nonces(policy) == Nonces(script, style)


def test_placeholders_are_filled_or_their_attributes_dropped() -> None:
    html = f'<script nonce="{SCRIPT_NONCE}"></script><style nonce="{STYLE_NONCE}"></style>'
    assert with_nonces(html.encode(), Nonces(b"s", b"t")) == (
        b'<script nonce="s"></script><style nonce="t"></style>'
    )
    assert with_nonces(html.encode(), Nonces(b"s", None)) == (
        b'<script nonce="s"></script><style></style>'
    )
    assert without_nonces(html) == "<script></script><style></style>"


# A policy's pieces: directive names (all cases), sources, nonce expressions, separators.
_policy_pieces = st.sampled_from(
    [
        b"script-src",
        b"SCRIPT-SRC-ELEM",
        b"style-src",
        b"Style-Src-Elem",
        b"default-src",
        b"img-src",
        b"'self'",
        b"'strict-dynamic'",
        b"'nonce-",
        b"'NONCE-",
        b"'",
        b" ",
        b"\t",
        b";",
        b",",
    ]
) | st.from_regex(rb"\A[A-Za-z0-9+/_=-]{1,6}\Z")


@given(st.lists(_policy_pieces, max_size=24).map(b"".join))
def test_a_policy_read_by_its_shape_gives_what_reading_it_whole_gives(policy: bytes) -> None:
    # Twice: the second reading comes from the remembered shape.
    assert page_nonces(policy) == nonces_in(policy)
    assert page_nonces(policy) == nonces_in(policy)


def test_policies_of_one_shape_give_each_their_own_nonces() -> None:
    policy = b"script-src 'nonce-%s'; style-src 'self' 'nonce-%s'"
    assert page_nonces(policy % (b"a1", b"b1")) == Nonces(b"a1", b"b1")
    assert page_nonces(policy % (b"a2", b"b2")) == Nonces(b"a2", b"b2")
    # The same values in another shape: read anew, not taken from the first shape.
    swapped = b"style-src 'nonce-%s'; script-src 'self' 'nonce-%s'"
    assert page_nonces(swapped % (b"a2", b"b2")) == Nonces(b"b2", b"a2")


_html_pieces = st.sampled_from(
    [
        f' nonce="{SCRIPT_NONCE}"',
        f' nonce="{STYLE_NONCE}"',
        SCRIPT_NONCE,
        STYLE_NONCE,
        "<script>",
        ' nonce="',
        '"',
        "x",
    ]
)
_nonce = st.none() | st.sampled_from([b"n0nce", b"other", b"n0nce"])


@given(st.lists(_html_pieces, max_size=12).map("".join), _nonce, _nonce)
def test_precut_fragments_fill_as_replacing_the_placeholders_does(
    html: str, script: bytes | None, style: bytes | None
) -> None:
    nonces = Nonces(script, style)
    assert NonceSlots.of(html.encode()).fill(nonces) == with_nonces(html.encode(), nonces)


# -- through the middleware --------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style") or (tag == "link" and ("rel", "stylesheet") in attrs):
            self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.found


_counter = itertools.count()


async def page_with_policy(request: Request) -> Response:
    """A page whose policy has a fresh nonce each time, as a real site's does."""
    n = next(_counter)
    policy = request.query_params.get("policy", "script-src 'nonce-s{n}'; style-src 'nonce-t{n}'")
    header = request.query_params.get("header", "content-security-policy")
    return HTMLResponse(PAGE, headers={header: policy.format(n=n)})


def csp_app() -> object:
    return make_app(routes=[Route("/", page_with_policy), Route("/plain", page_with_policy)])


async def test_every_injected_script_and_style_carries_the_page_nonce() -> None:
    async with client_for(csp_app()) as client:
        banner_page = (await client.get("/")).text
        await choose(client, "accept_all", next_path="/")
        first = (await client.get("/")).text
        second = (await client.get("/")).text

    # The banner page: consentgate's stylesheet and script.
    [(link, link_attrs), (script, script_attrs)] = elements(banner_page)
    assert link == "link" and (link_attrs["nonce"] or "").startswith("t")
    assert script == "script" and (script_attrs["nonce"] or "").startswith("s")

    injected = elements(first)
    assert {tag for tag, _ in injected} == {"link", "script", "style"}
    numbers = set()
    for tag, attrs in injected:
        nonce = attrs.get("nonce")
        assert nonce is not None, (tag, attrs)
        assert nonce[0] == ("s" if tag == "script" else "t"), (tag, attrs)
        numbers.add(nonce[1:])
    # One response's nonce, and never the nonce of an earlier response.
    assert len(numbers) == 1
    assert numbers.isdisjoint(nonce[1:] for _, a in elements(second) if (nonce := a["nonce"]))


async def test_without_a_policy_nothing_carries_a_nonce_attribute() -> None:
    app = make_app()
    async with client_for(app) as client:
        assert "nonce" not in (await client.get("/")).text
        await choose(client, "accept_all", next_path="/")
        page = (await client.get("/")).text
    assert elements(page) and "nonce" not in page


async def test_report_only_policy_gives_the_nonce_when_nothing_is_enforced() -> None:
    async with client_for(csp_app()) as client:
        await choose(client, "accept_all", next_path="/")
        page = await client.get(
            "/",
            params={
                "header": "content-security-policy-report-only",
                "policy": "script-src 'nonce-r{n}'",
            },
        )
    scripts = [a for tag, a in elements(page.text) if tag == "script"]
    assert scripts and all((a.get("nonce") or "").startswith("r") for a in scripts)


async def test_policy_without_nonce_injects_without_nonce_attributes() -> None:
    async with client_for(csp_app()) as client:
        await choose(client, "accept_all", next_path="/")
        page = await client.get("/", params={"policy": "script-src 'self' 'unsafe-inline'"})
    assert elements(page.text) and "nonce" not in page.text


def test_the_remembered_policy_shapes_stay_few() -> None:
    for n in range(200):
        policy = b"script-src 'nonce-a'; img-src https://cdn%d.example" % n
        assert page_nonces(policy) == Nonces(b"a", None)
    assert 0 < len(_csp._positions) <= _csp._MAX_SHAPES
