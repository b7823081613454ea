from __future__ import annotations

import gzip
import itertools
import re
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from consentgate._rewrite import GzipInjector, HtmlInjector, RewriteError, ascii_compatible_codec

HEAD = b"[H]"
BODY = b"[B]"
PAGE = b"<html><head><title>t</title></head><body><p>hi</p></body></html>"
PAGE_INJECTED = b"<html><head><title>t</title>[H]</head><body><p>hi</p>[B]</body></html>"


def inject(html: bytes, head: bytes = HEAD, body: bytes = BODY) -> bytes:
    injector = HtmlInjector(head, body)
    return injector.feed(html) + injector.finish()


def inject_chunks(chunks: list[bytes], head: bytes = HEAD, body: bytes = BODY) -> bytes:
    injector = HtmlInjector(head, body)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.finish()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# The rules, stated without streaming, as an oracle for the streaming engine.
_HEAD_MARKER = re.compile(rb"</head[\t\n\f\r ]{0,16}>", re.IGNORECASE)
_BODY_MARKER = re.compile(rb"</body[\t\n\f\r ]{0,16}>", re.IGNORECASE)


def reference(html: bytes, head: bytes, body: bytes) -> bytes:
    first_head = _HEAD_MARKER.search(html)
    first_body = _BODY_MARKER.search(html)
    if first_body is not None and (first_head is None or first_body.start() < first_head.start()):
        at = first_body.start()
        return html[:at] + head + body + html[at:]
    if first_head is None:
        return html + head + body
    at = first_head.start()
    html = html[:at] + head + html[at:]
    after = _BODY_MARKER.search(html, first_head.end() + len(head))
    if after is None:
        return html + body
    return html[: after.start()] + body + html[after.start() :]


def _random_case(word: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)


_marker = st.builds(
    lambda name, space: f"</{name}{space}>",
    st.sampled_from(["head", "body"]).flatmap(_random_case),
    st.text(alphabet=" \t\n\f\r", max_size=18),  # the cap is 16
)
_noise = st.sampled_from(
    ["</hea", "</bod", "<", "</", "<</body>", "</header>", "</bodyx>", "</ head>", "</head\v>"]
    + ["<div>", "text", "\n", "é", ">", "</p>", "<head>", "<body>"]
)
html_bodies = st.lists(st.one_of(_marker, _noise), max_size=20).map(
    lambda parts: "".join(parts).encode()
)
fragments = st.sampled_from([b"", HEAD, b"</body>[H]"])


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


def test_body_before_head_gets_both_fragments() -> None:
    assert inject(b"<p></body></head></body>") == b"<p>[H][B]</body></head></body>"


def test_body_goes_before_first_body_after_head() -> None:
    assert inject(b"</head></body></body>") == b"[H]</head>[B]</body></body>"


def test_only_first_head_is_used() -> None:
    assert inject(b"</head></head></body>") == b"[H]</head></head>[B]</body>"


def test_missing_markers_append_at_finish() -> None:
    assert inject(b"<p>no markers") == b"<p>no markers[H][B]"
    assert inject(b"<p></head>no body") == b"<p>[H]</head>no body[B]"
    assert inject(b"") == b"[H][B]"


def test_empty_head_fragment() -> None:
    assert inject(b"</body></head></body>", head=b"") == b"[B]</body></head></body>"
    assert inject(b"</head></body>", head=b"") == b"</head>[B]</body>"


def test_empty_body_fragment() -> None:
    assert inject(b"</head></body>", body=b"") == b"[H]</head></body>"
    assert inject(b"</body></head>", body=b"") == b"[H]</body></head>"


def test_fragments_are_not_scanned_for_markers() -> None:
    assert inject(b"</head></body>", head=b"</body>") == b"</body></head>[B]</body>"


def test_empty_fragments_pass_through() -> None:
    injector = HtmlInjector(b"", b"")
    chunk = b"<p></hea"
    assert injector.feed(chunk) is chunk
    assert injector.feed(b"d></body>") == b"d></body>"
    assert injector.finish() == b""


def test_pass_through_once_both_inserted() -> None:
    injector = HtmlInjector(HEAD, BODY)
    assert injector.feed(b"</head></body>") == b"[H]</head>[B]</body>"
    chunk = b"</head></body></html>"
    assert injector.feed(chunk) is chunk
    assert injector.finish() == b""


def test_holds_back_only_a_possible_marker() -> None:
    injector = HtmlInjector(HEAD, BODY)
    assert injector.feed(b"<p>a</he") == b"<p>a"
    assert injector.feed(b"ader><") == b"</header>"
    assert injector.feed(b"x") == b"<x"
    assert injector.feed(b"</body" + b" " * 16) == b""
    assert injector.feed(b" ") == b"</body" + b" " * 17
    assert injector.finish() == b"[H][B]"


def test_holds_back_only_body_marker_after_head() -> None:
    injector = HtmlInjector(HEAD, BODY)
    assert injector.feed(b"</head></hea") == b"[H]</head></hea"
    assert injector.feed(b"d></bo") == b"d>"
    assert injector.feed(b"dy\n") == b""
    assert injector.feed(b">") == b"[B]</body\n>"


def test_marker_split_at_every_byte() -> None:
    chunks = [PAGE[i : i + 1] for i in range(len(PAGE))]
    assert inject_chunks(chunks) == PAGE_INJECTED


@given(html=html_bodies, head=fragments, body=fragments)
def test_matches_reference(html: bytes, head: bytes, body: bytes) -> None:
    assert inject(html, head, body) == reference(html, head, body)


@settings(max_examples=300)  # splits land inside markers only now and then
@given(html=html_bodies, head=fragments, body=fragments, data=st.data())
def test_any_split_gives_same_output(
    html: bytes, head: bytes, body: bytes, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(html)), max_size=12))
    assert inject_chunks(split(html, cuts), head, body) == inject(html, head, body)


@settings(max_examples=300)  # splits land inside markers only now and then
@given(html=html_bodies, data=st.data())
def test_held_back_tail_is_short_and_could_be_a_marker(html: bytes, data: st.DataObject) -> None:
    injector = HtmlInjector(HEAD, BODY)
    fed = sent = 0
    for chunk in split(html, data.draw(st.lists(st.integers(0, len(html)), max_size=12))):
        out = injector.feed(chunk)
        fed += len(chunk)
        sent += len(out) - len(HEAD) * out.count(HEAD) - len(BODY) * out.count(BODY)
        held = html[sent:fed]
        assert len(held) <= len(b"</head") + 16
        assert held == b"" or (held.startswith(b"<") and b">" not in held)


def gzip_inject(chunks: list[bytes], head: bytes = HEAD, body: bytes = BODY) -> bytes:
    injector = GzipInjector(head, body)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.finish()


@settings(max_examples=300)  # splits land inside markers only now and then
@given(html=html_bodies, head=fragments, body=fragments, level=st.integers(0, 9), data=st.data())
def test_gzip_round_trip_any_split(
    html: bytes, head: bytes, body: bytes, level: int, data: st.DataObject
) -> None:
    compressed = gzip.compress(html, compresslevel=level, mtime=0)
    cuts = data.draw(st.lists(st.integers(0, len(compressed)), max_size=12))
    out = gzip_inject(split(compressed, cuts), head, body)
    assert gzip.decompress(out) == inject(html, head, body)


def test_gzip_large_page_inflating_beyond_one_piece() -> None:
    html = b"<html><head></head><body>" + b"<p>x</p>" * 200_000 + b"</body></html>"
    out = gzip_inject([gzip.compress(html)])
    assert gzip.decompress(out) == inject(html)


def test_gzip_output_is_flushed_per_feed() -> None:
    streamer = zlib.compressobj(wbits=31)
    first = streamer.compress(b"<html><head></head><body>hello</bo") + streamer.flush(
        zlib.Z_SYNC_FLUSH
    )
    injector = GzipInjector(HEAD, BODY)
    out = injector.feed(first)
    assert zlib.decompressobj(31).decompress(out) == b"<html><head>[H]</head><body>hello"


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
