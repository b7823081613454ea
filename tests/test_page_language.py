"""Issue 12 §4: the banner's language from the page (``language_from``)."""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from consentgate import ConfigurationError, ConsentConfig
from consentgate._locales import builtin_texts
from consentgate._page_language import SNIFF_LIMIT, LanguageFromPage, html_lang
from consentgate._rewrite import PageRewrite

from .helpers import SECRET, choose, client_for, make_app, make_config

pytestmark = pytest.mark.anyio


# -- reading <html lang> --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "lang"),
    [
        (b'<!doctype html><html lang="da"><head>', "da"),
        (b"<!DOCTYPE html>\n<HTML LANG='de-AT' class=x>", "de-AT"),
        (b"<html lang=fr><body>", "fr"),
        (b'<html class="a" lang = "sv" >', "sv"),
        (b'<html\nlang="nb"\n>', "nb"),
        (b"<html><head><title>x</title>", None),
        (b'<html xml:lang="da">', None),
        (b'<html lang="">', None),
        (b'<head><meta charset="utf-8"></head><body lang="da">', None),
        (b"<!-- a comment --><!doctype html><html lang='it'>", "it"),
    ],
)
def test_the_lang_of_the_html_tag_is_read(start: bytes, lang: str | None) -> None:
    assert html_lang(start) == (True, lang)


def test_a_page_start_without_the_whole_tag_waits() -> None:
    assert html_lang(b'<!doctype html><html lang="d', complete=False) == (False, None)
    assert html_lang(b"<!doctype html>", complete=False) == (False, None)
    assert html_lang(b"<!doctype html><body>", complete=False) == (True, None)
    assert html_lang(b" " * SNIFF_LIMIT, complete=False) == (True, None)
    assert html_lang(b" " * SNIFF_LIMIT + b'<html lang="da">') == (True, None)


def _rewrite_for(seen: list[str | None]) -> LanguageFromPage:
    def rewrite(tag: str | None) -> PageRewrite:
        seen.append(tag)
        return PageRewrite(f"<i>{tag}</i>".encode(), b"<b>end</b>")

    return LanguageFromPage(rewrite)


PAGES = st.sampled_from(
    [
        b'<!doctype html><html lang="da"><head><title>t</title></head><body>x</body></html>',
        b"<html><head></head><body>" + b"y" * 3000 + b"</body></html>",
        b"<p>no html tag</p>",
        b"",
        b"<!--" + b"z" * 9000 + b"--><html lang=de><head></head></html>",
    ]
)


@settings(max_examples=200, deadline=None)
@given(page=PAGES, cuts=st.lists(st.integers(min_value=0, max_value=12000), max_size=6))
def test_any_split_of_a_stream_gives_the_whole_pages_rewrite(page: bytes, cuts: list[int]) -> None:
    whole_seen: list[str | None] = []
    expected = _rewrite_for(whole_seen).whole(page, gzip=False)
    seen: list[str | None] = []
    rewriter = _rewrite_for(seen).stream()
    bounds = sorted({0, len(page), *(c for c in cuts if c < len(page))})
    out = b"".join(rewriter.feed(page[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    out += rewriter.finish()
    assert out == expected
    assert seen == whole_seen and len(seen) == 1


def test_gzip_pages_are_read_after_inflating() -> None:
    page = b'<html lang="fi"><head></head><body></body></html>'
    seen: list[str | None] = []
    out = _rewrite_for(seen).whole(gzip.compress(page), gzip=True)
    assert seen == ["fi"]
    assert b"<i>fi</i></head>" in gzip.decompress(out)


# -- through the middleware -----------------------------------------------------------------------

DANISH_PAGE = (
    '<!doctype html><html lang="da-DK"><head><title>Side</title></head>'
    "<body><h1>Velkommen</h1></body></html>"
)


async def lang_page(request: Request) -> Response:
    lang = request.query_params.get("lang")
    attribute = f' lang="{lang}"' if lang else ""
    return HTMLResponse(
        f"<!doctype html><html{attribute}><head><title>x</title></head><body>x</body></html>"
    )


async def streamed_page(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in ("<!doctype html><html la", 'ng="d', 'e"><head><title>x</title>', "</head>"):
            yield piece.encode()
        yield b"<body>" + b"x" * 5000 + b"</body></html>"

    return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")


async def gzipped_page(request: Request) -> Response:
    return Response(
        gzip.compress(DANISH_PAGE.encode()),
        media_type="text/html; charset=utf-8",
        headers={"content-encoding": "gzip"},
    )


ROUTES = [
    Route("/", lang_page),
    Route("/streamed", streamed_page),
    Route("/gzipped", gzipped_page),
]


def title(lang: str) -> str:
    return builtin_texts(lang)["banner.title"]


async def get(config_changes: Mapping[str, Any], path: str, language: str = "en") -> str:
    app = make_app(make_config(**config_changes), routes=ROUTES)
    async with client_for(app) as client:
        response = await client.get(path, headers={"accept-language": language})
    assert response.status_code == 200
    return response.text


async def test_html_lang_gives_a_danish_page_a_danish_banner() -> None:
    html = await get({"language_from": "html-lang"}, "/?lang=da-DK", "en")
    assert title("da") in html and title("en") not in html
    assert 'lang="da"' in html.split("consentgate-banner", 1)[1][:200]
    assert "/_consent/preferences?lang=da&amp;next=" in html
    # The choice is posted with the banner's language, for the pages that answer it.
    assert '<input type="hidden" name="lang" value="da">' in html


async def test_accept_language_stays_the_default() -> None:
    html = await get({}, "/?lang=da", "de")
    assert title("de") in html


@pytest.mark.parametrize("page_lang", ["", "xx", "tlh-Latn"])
async def test_a_page_without_a_known_lang_falls_back_to_accept_language(page_lang: str) -> None:
    html = await get({"language_from": "html-lang"}, f"/?lang={page_lang}", "sv")
    assert title("sv") in html


async def test_then_to_the_default_language() -> None:
    html = await get({"language_from": "html-lang", "default_language": "fi"}, "/", "xx")
    assert title("fi") in html


async def test_norwegian_pages_get_bokmal() -> None:
    html = await get({"language_from": "html-lang"}, "/?lang=no", "en")
    assert title("nb") in html


async def test_a_streamed_page_split_inside_its_lang_is_read() -> None:
    html = await get({"language_from": "html-lang"}, "/streamed", "en")
    assert title("de") in html
    assert html.endswith("</body></html>") and html.count("x" * 5000) == 1


async def test_a_gzipped_page_is_read() -> None:
    app = make_app(make_config(language_from="html-lang"), routes=ROUTES)
    async with client_for(app) as client:
        response = await client.get("/gzipped", headers={"accept-language": "en"})
    assert title("da") in response.text


async def test_the_settings_link_follows_the_page_too() -> None:
    app = make_app(make_config(language_from="html-lang"), routes=ROUTES)
    async with client_for(app) as client:
        await choose(client, "accept_all")
        html = (await client.get("/?lang=it", headers={"accept-language": "en"})).text
    link = builtin_texts("it")["settings_link.label"]
    assert f'lang="it">{link}</a>' in html


async def test_a_function_names_the_language() -> None:
    def from_path(scope: Mapping[str, Any]) -> str | None:
        return "fr" if scope["path"].startswith("/") else None

    html = await get({"language_from": from_path}, "/?lang=da", "en")
    assert title("fr") in html


async def test_a_function_saying_none_leaves_accept_language() -> None:
    html = await get({"language_from": lambda scope: None}, "/", "nl")
    assert title("nl") in html


async def test_a_failing_function_costs_only_the_language(caplog: pytest.LogCaptureFixture) -> None:
    def broken(scope: Mapping[str, Any]) -> str | None:
        raise KeyError("site_language")

    with caplog.at_level(logging.ERROR, logger="consentgate._middleware"):
        html = await get({"language_from": broken}, "/", "es")
    assert title("es") in html
    assert any("language_from failed" in r.getMessage() for r in caplog.records)


def test_an_unknown_source_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(language_from="cookie")
    assert caught.value.field == "language_from"


# -- the preference centre ------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "header", "expected"), [
    ("?lang=de", "en", "de"),
    ("?lang=pt", "sv", "sv"),
    ("?lang=nn", "en", "nb"),
    ("", "fi", "fi"),
])  # fmt: skip
async def test_the_preference_centre_takes_lang_then_accept_language(
    query: str, header: str, expected: str
) -> None:
    async with client_for(make_app(make_config())) as client:
        response = await client.get(
            f"/_consent/preferences{query}", headers={"accept-language": header}
        )
    assert f"<h1>{builtin_texts(expected)['preferences.title']}</h1>" in response.text


def test_language_from_comes_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\nstore = "sqlite:///:memory:"\nlanguage_from = "html-lang"\n',
        encoding="utf-8",
    )
    assert ConsentConfig.from_toml(path).language_from == "html-lang"
