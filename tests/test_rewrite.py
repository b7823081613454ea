from __future__ import annotations

import gzip
import itertools
import re
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from consentgate._rewrite import (
    BODY_WINDOW,
    HEAD_LIMIT,
    GzipInjector,
    HtmlInjector,
    RewriteError,
    ascii_compatible_codec,
    inject_whole,
)

HEAD = b"[H]"
BODY = b"[B]"
TOP = b"[T]"
PAGE = b"<html><head><title>t</title></head><body><p>hi</p></body></html>"
PAGE_INJECTED = b"<html><head><title>t</title>[H]</head><body><p>hi</p>[B]</body></html>"


def inject(
    html: bytes, head: bytes = HEAD, body: bytes = BODY, top: bytes = b"", **limits: int
) -> bytes:
    injector = HtmlInjector(head, body, top, **limits)
    return injector.feed(html) + injector.finish()


def inject_chunks(
    chunks: list[bytes], head: bytes = HEAD, body: bytes = BODY, top: bytes = b"", **limits: int
) -> bytes:
    injector = HtmlInjector(head, body, top, **limits)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.finish()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# The rules, stated without streaming, as an oracle for the streaming engine.
_HEAD_MARKER = re.compile(rb"</head[\t\n\f\r ]{0,16}>", re.IGNORECASE)
_BODY_MARKER = re.compile(rb"</body[\t\n\f\r ]{0,16}>", re.IGNORECASE)
# <body, then whitespace, "/" or ">" and attributes whose quoted values may hold ">".
_BODY_TAG = re.compile(rb"<body(?:[\t\n\f\r /](?:[^\"'>]|\"[^\"]*\"|'[^']*')*)?>", re.IGNORECASE)


def reference(
    html: bytes,
    head: bytes,
    body: bytes,
    top: bytes = b"",
    head_limit: int = HEAD_LIMIT,
    body_window: int = BODY_WINDOW,
) -> bytes:
    """Head before the first </head> in the first head_limit bytes; top after the first
    <body> tag after that </head>, within the same bytes; body before the last </body> in
    the final body_window bytes after those; anything unplaced with the body fragment."""
    body_window = max(body_window, len(b"</head>") + 16)
    limit = min(len(html), head_limit)
    head_at = top_at = 0
    if head or top:
        first_head = _HEAD_MARKER.search(html, 0, limit)
        if first_head is None:
            head, top, body = b"", b"", head + top + body
        else:
            head_at = top_at = first_head.start()
            tag = _BODY_TAG.search(html, first_head.end(), limit) if top else None
            if tag is None:
                top, body = b"", top + body
            else:
                top_at = tag.end()
    body_at = len(html)
    for match in _BODY_MARKER.finditer(html, max(top_at, len(html) - body_window)):
        body_at = match.start()
    return b"".join(
        (
            html[:head_at],
            head,
            html[head_at:top_at],
            top,
            html[top_at:body_at],
            body,
            html[body_at:],
        )
    )


def _random_case(word: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)


_marker = st.builds(
    lambda name, space: f"</{name}{space}>",
    st.sampled_from(["head", "body"]).flatmap(_random_case),
    st.text(alphabet=" \t\n\f\r", max_size=18),  # the cap is 16
)
_noise = st.sampled_from(
    ["</hea", "</bod", "<", "</", "<</body>", "</header>", "</bodyx>", "</ head>", "</head\v>"]
    + ["<div>", "text", "\n", "é", ">", "</p>", "<head>", "<body>", "x" * 40]
    + ["<BODY class='a>b'>", '<body x="', "<bodyx>", "<body/>", "<bod", "<body\n"]
)
html_bodies = st.lists(st.one_of(_marker, _noise), max_size=30).map(
    lambda parts: "".join(parts).encode()
)
fragments = st.sampled_from([b"", HEAD, b"</body>[H]"])
tops = st.sampled_from([b"", TOP])
# Small limits, so that pages cross them often.
limits = st.fixed_dictionaries(
    {"head_limit": st.integers(0, 200), "body_window": st.integers(0, 200)}
)


def test_inserts_fragments_before_markers() -> None:
    assert inject(PAGE) == PAGE_INJECTED


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (b"</HEAD></Body>", b"[H]</HEAD>[B]</Body>"),
        (b"</head ></body\n>", b"[H]</head >[B]</body\n>"),
        (b"</head\t\r\n\f >", b"[H]</head\t\r\n\f >[B]"),
        (b"</head" + b" " * 16 + b">", b"[H]</head" + b" " * 16 + b">[B]"),
        (b"</head" + b" " * 17 + b"></head>", b"</head" + b" " * 17 + b">[H]</head>[B]"),
        (b"</header></head>", b"</header>[H]</head>[B]"),
        (b"</bodyx></body >", b"</bodyx>[H][B]</body >"),
        (b"<</body>", b"<[H][B]</body>"),
        (b"</ head></head\v></head>", b"</ head></head\v>[H]</head>[B]"),
    ],
)
def test_marker_variants(html: bytes, expected: bytes) -> None:
    assert inject(html) == expected


def test_head_goes_before_the_first_head_end() -> None:
    assert inject(b"</head></head></body>") == b"[H]</head></head>[B]</body>"


def test_body_goes_before_the_last_body_end() -> None:
    assert inject(b"</head></body></body>") == b"[H]</head></body>[B]</body>"
    assert inject(b"<p></body></head></body>") == b"<p></body>[H]</head>[B]</body>"


def test_body_end_before_the_head_end_is_not_used() -> None:
    assert inject(b"<p></body></head>tail") == b"<p></body>[H]</head>tail[B]"


def test_missing_markers_append_at_finish() -> None:
    assert inject(b"<p>no markers") == b"<p>no markers[H][B]"
    assert inject(b"<p></head>no body") == b"<p>[H]</head>no body[B]"
    assert inject(b"") == b"[H][B]"


def test_head_end_past_the_head_limit_is_not_searched_for() -> None:
    html = b"<p>0123456789</head></body>"
    assert inject(html, head_limit=10) == b"<p>0123456789</head>[H][B]</body>"
    assert inject(html, head_limit=20) == b"<p>0123456789[H]</head>[B]</body>"


def test_body_end_before_the_final_window_is_not_searched_for() -> None:
    html = b"</head><p></body>" + b"x" * 100
    assert inject(html, body_window=50) == html.replace(b"</head>", b"[H]</head>") + b"[B]"
    assert inject(html, body_window=200) == b"[H]</head><p>[B]</body>" + b"x" * 100


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (PAGE, PAGE_INJECTED.replace(b"<body>", b"<body>[T]")),
        (b"</head>\n<BODY\tclass=x>", b"[H]</head>\n<BODY\tclass=x>[T][B]"),
        (
            b"</head><body data-a='>' data-b=\">\">x",
            b"[H]</head><body data-a='>' data-b=\">\">[T]x[B]",
        ),
        (b"</head><body/>x</body>", b"[H]</head><body/>[T]x[B]</body>"),
        # Not a <body> tag: the banner goes with the body fragment.
        (b"</head><bodyx><p></body>", b"[H]</head><bodyx><p>[T][B]</body>"),
        # Only a <body> after the </head>: one in the head is no start of the body.
        (b"<body></head><p></body>", b"<body>[H]</head><p>[T][B]</body>"),
        # No </head>: everything goes where the body fragment goes.
        (b"<body><p></body>", b"<body><p>[H][T][B]</body>"),
    ],
)
def test_the_top_fragment_goes_right_after_the_body_start_tag(html: bytes, expected: bytes) -> None:
    assert inject(html, top=TOP) == expected
    assert inject_whole(html, HEAD, BODY, TOP) == expected


def test_a_body_tag_past_the_head_limit_is_not_searched_for() -> None:
    html = b"<head></head>" + b" " * 20 + b"<body>x</body>"
    assert inject(html, top=TOP, head_limit=30) == html.replace(b"</head>", b"[H]</head>").replace(
        b"x", b"x[T][B]"
    )
    assert inject(html, top=TOP, head_limit=40) == html.replace(b"</head>", b"[H]</head>").replace(
        b"<body>x", b"<body>[T]x[B]"
    )


def test_a_stream_waits_for_the_body_tag_after_the_head_end() -> None:
    injector = HtmlInjector(HEAD, BODY, TOP, body_window=64)
    # Sent up to the </head>, and held from there until the <body> tag shows.
    assert injector.feed(b"<html><head></head>" + b" " * 100) == b"<html><head>"
    assert injector.feed(b"<bo") == b""
    assert injector.feed(b'dy class="a">' + b"x" * 100) == (
        b"[H]</head>" + b" " * 100 + b'<body class="a">[T]' + b"x" * 36
    )
    assert injector.finish() == b"x" * 64 + b"[B]"


def test_a_stream_is_held_back_by_the_final_window_only() -> None:
    injector = HtmlInjector(HEAD, BODY, body_window=64)
    # what comes before the head fragment goes at once; the rest may be the final window
    assert injector.feed(b"<html><head></head><body>") == b"<html><head>[H]"
    assert injector.feed(b"x" * 1000) == b"</head><body>" + b"x" * 936
    assert injector.feed(b"</body></html>") == b"x" * 14
    assert injector.finish() == b"x" * 50 + b"[B]</body></html>"


def test_empty_head_fragment() -> None:
    assert inject(b"</body></head></body>", head=b"") == b"</body></head>[B]</body>"
    assert inject(b"</head></body>", head=b"") == b"</head>[B]</body>"


def test_empty_body_fragment() -> None:
    assert inject(b"</head></body>", body=b"") == b"[H]</head></body>"
    assert inject(b"</body></head>", body=b"") == b"</body>[H]</head>"


def test_fragments_are_not_scanned_for_markers() -> None:
    assert inject(b"</head></body>", head=b"</body>") == b"</body></head>[B]</body>"


def test_empty_fragments_pass_through() -> None:
    injector = HtmlInjector(b"", b"")
    chunk = b"<p></hea"
    assert injector.feed(chunk) is chunk
    assert injector.feed(b"d></body>") == b"d></body>"
    assert injector.finish() == b""


def test_marker_split_at_every_byte() -> None:
    chunks = [PAGE[i : i + 1] for i in range(len(PAGE))]
    assert inject_chunks(chunks) == PAGE_INJECTED


@given(html=html_bodies, head=fragments, body=fragments, top=tops, limits=limits)
def test_matches_reference(
    html: bytes, head: bytes, body: bytes, top: bytes, limits: dict[str, int]
) -> None:
    assert inject(html, head, body, top, **limits) == reference(html, head, body, top, **limits)


@pytest.mark.slow  # hundreds of examples
@settings(max_examples=500)
@given(html=html_bodies, head=fragments, body=fragments, top=tops, limits=limits)
def test_a_whole_body_is_rewritten_by_the_same_rules(
    html: bytes, head: bytes, body: bytes, top: bytes, limits: dict[str, int]
) -> None:
    expected = reference(html, head, body, top, **limits)
    assert inject_whole(html, head, body, top, **limits) == expected


def test_a_whole_page_with_other_closing_tags_after_its_body_end() -> None:
    page = b"<head></head><body>x</body><!-- </b> --></BODY >\n</html>"
    assert inject_whole(page, HEAD, BODY) == reference(page, HEAD, BODY)


@pytest.mark.slow  # hundreds of examples
@settings(max_examples=300)  # splits land inside markers only now and then
@given(html=html_bodies, head=fragments, body=fragments, top=tops, limits=limits, data=st.data())
def test_any_split_gives_same_output(
    html: bytes,
    head: bytes,
    body: bytes,
    top: bytes,
    limits: dict[str, int],
    data: st.DataObject,
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(html)), max_size=12))
    expected = inject(html, head, body, top, **limits)
    assert inject_chunks(split(html, cuts), head, body, top, **limits) == expected
    assert HtmlInjector(head, body, top, **limits).whole(html) == expected


@pytest.mark.slow  # hundreds of examples
@settings(max_examples=300)
@given(html=html_bodies, limits=limits, data=st.data())
def test_never_holds_back_more_than_the_window(
    html: bytes, limits: dict[str, int], data: st.DataObject
) -> None:
    window = max(limits["body_window"], len(b"</head>") + 16)
    injector = HtmlInjector(HEAD, BODY, b"", **limits)
    fed = sent = 0
    for chunk in split(html, data.draw(st.lists(st.integers(0, len(html)), max_size=12))):
        out = injector.feed(chunk)
        fed += len(chunk)
        sent += len(out) - len(HEAD) * out.count(HEAD)
        assert fed - sent <= window


def gzip_inject(chunks: list[bytes], head: bytes = HEAD, body: bytes = BODY) -> bytes:
    injector = GzipInjector(head, body)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.finish()


@pytest.mark.slow  # hundreds of examples
@settings(max_examples=300)  # splits land inside markers only now and then
@given(html=html_bodies, head=fragments, body=fragments, level=st.integers(0, 9), data=st.data())
def test_gzip_round_trip_any_split(
    html: bytes, head: bytes, body: bytes, level: int, data: st.DataObject
) -> None:
    compressed = gzip.compress(html, compresslevel=level, mtime=0)
    cuts = data.draw(st.lists(st.integers(0, len(compressed)), max_size=12))
    out = gzip_inject(split(compressed, cuts), head, body)
    assert gzip.decompress(out) == inject(html, head, body)
    assert gzip.decompress(GzipInjector(head, body).whole(compressed)) == inject(html, head, body)


def test_gzip_large_page_inflating_beyond_one_piece() -> None:
    html = b"<html><head></head><body>" + b"<p>x</p>" * 200_000 + b"</body></html>"
    out = gzip_inject([gzip.compress(html)])
    assert gzip.decompress(out) == inject(html)


def test_gzip_output_is_flushed_per_feed() -> None:
    streamer = zlib.compressobj(wbits=31)
    rest = b"</head><body>" + b"hello" * 400 + b"</bo"
    first = streamer.compress(b"<html><head>" + rest) + streamer.flush(zlib.Z_SYNC_FLUSH)
    injector = GzipInjector(HEAD, BODY)
    out = injector.feed(first)
    # everything but the final window is readable at once
    expected = b"<html><head>[H]" + rest[: len(rest) - BODY_WINDOW]
    assert zlib.decompressobj(31).decompress(out) == expected


def test_gzip_empty_chunks_give_empty_output() -> None:
    injector = GzipInjector(HEAD, BODY)
    assert injector.feed(b"") == b""
    assert injector.feed(gzip.compress(b"</head></body>")[:5]) == b""


def test_gzip_bad_header_raises() -> None:
    with pytest.raises(RewriteError):
        GzipInjector(HEAD, BODY).feed(b"<html><head></head>")


def test_gzip_bad_checksum_raises() -> None:
    compressed = bytearray(gzip.compress(PAGE))
    compressed[-8] ^= 0xFF  # CRC32 in the trailer
    injector = GzipInjector(HEAD, BODY)
    with pytest.raises(RewriteError):
        injector.feed(bytes(compressed))


def test_gzip_truncated_raises_at_finish() -> None:
    injector = GzipInjector(HEAD, BODY)
    injector.feed(gzip.compress(PAGE)[:-4])
    with pytest.raises(RewriteError):
        injector.finish()


def test_gzip_empty_body_raises_at_finish() -> None:
    with pytest.raises(RewriteError):
        GzipInjector(HEAD, BODY).finish()


def test_gzip_trailing_garbage_raises() -> None:
    with pytest.raises(RewriteError):
        GzipInjector(HEAD, BODY).feed(gzip.compress(PAGE) + b"junk")


def test_gzip_data_after_end_in_later_chunk_raises() -> None:
    injector = GzipInjector(HEAD, BODY)
    injector.feed(gzip.compress(PAGE))
    with pytest.raises(RewriteError):
        injector.feed(b"\x00")


def test_gzip_second_member_is_rejected() -> None:
    with pytest.raises(RewriteError):
        GzipInjector(HEAD, BODY).feed(gzip.compress(b"<p>") + gzip.compress(b"</p>"))


@pytest.mark.parametrize(
    ("charset", "codec"),
    [
        (None, "utf-8"),
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        (' "utf-8" ', "utf-8"),
        ("latin1", "iso8859-1"),
        ("ISO-8859-15", "iso8859-15"),
        ("cp1252", "cp1252"),
        ("windows-1251", "cp1251"),
        ("us-ascii", "ascii"),
        ("shift_jis", "shift_jis"),
        ("euc-kr", "euc_kr"),
        ("gb18030", "gb18030"),
    ],
)
def test_ascii_compatible_charsets(charset: str | None, codec: str) -> None:
    assert ascii_compatible_codec(charset) == codec


@pytest.mark.parametrize(
    "charset",
    [
        "utf-16",
        "UTF-16LE",
        "utf-32",
        "utf-7",
        "utf-8-sig",  # encodes a BOM first
        "iso-2022-jp",  # escape sequences make ASCII bytes stand for kanji
        "hz",
        "johab",  # "<" can be the second byte of a character
        "cp037",  # EBCDIC
        "rot13",
        "base64",
        "no-such-charset",
        "",
        "utf\x00-8",
    ],
)
def test_ascii_incompatible_or_unknown_charsets(charset: str) -> None:
    assert ascii_compatible_codec(charset) is None
