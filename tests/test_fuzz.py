"""Fuzz targets for what an attacker controls: the Cookie header (and Host and
Accept-Language next to it), the ``next`` a choice redirects to, and the HTML an
app sends through the injector (whole, streamed, gzip).

Each target runs the real code path with input shaped the way an attacker would
shape it, and checks what must hold for any input. The budget is bounded and
the examples derandomised, so CI runs the same cases each time;
``CONSENTGATE_FUZZ_EXAMPLES=50000 pytest tests/test_fuzz.py`` runs a long,
randomised session instead.
"""

from __future__ import annotations

import gzip
import os
import re
import string
from datetime import UTC, datetime
from urllib.parse import unquote, urljoin, urlsplit

import anyio
from hypothesis import HealthCheck, example, given, settings, strategies as st
from itsdangerous import URLSafeSerializer
from starlette.types import Message, Receive, Scope, Send

from consentgate import ConsentMiddleware, ConsentState
from consentgate._cookie import MAX_VALUE_BYTES, SALT
from consentgate._firewall import MAX_TRACKER_COOKIES
from consentgate._http import hostname, read_cookies
from consentgate._redirect import safe_next

from .helpers import make_config

_LONG_RUN = int(os.environ.get("CONSENTGATE_FUZZ_EXAMPLES", "0"))
settings.register_profile(
    "consentgate-fuzz-ci",
    derandomize=True,
    database=None,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "consentgate-fuzz-long",
    max_examples=max(_LONG_RUN, 1),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("consentgate-fuzz-long" if _LONG_RUN else "consentgate-fuzz-ci")

MIDDLEWARE = ConsentMiddleware(lambda scope, receive, send: anyio.sleep(0), config=make_config())
COOKIE = MIDDLEWARE.cookie
NOW = datetime.now(UTC).replace(microsecond=0)
STATE = ConsentState(
    consent_id="0d1e2f30-4a5b-4c6d-8e7f-8091a2b3c4d5",
    granted=frozenset({"statistics"}),
    policy_version="2026-11",
    decided_at=NOW,
)
VALID = COOKIE.encode(STATE)
TRACKERS = ["_ga", "_ga_TEST123456", "_gid", "_gat_gtag_X", "tk_ai", "bscookie"]
BASE64 = string.ascii_letters + string.digits + "-_."


# -- the cookie reader -----------------------------------------------------------------


@st.composite
def tampered(draw: st.DrawFn) -> str:
    """The valid cookie with characters changed, cut, or grown."""
    value = list(VALID)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(value) - 1))
        value[at] = draw(st.sampled_from(BASE64))
    cut = draw(st.integers(0, len(value)))
    return "".join(value[:cut] if draw(st.booleans()) else value)


@st.composite
def forged(draw: st.DrawFn) -> str:
    """Well-formed consent for any categories, signed with another key or with the
    signature of the valid cookie moved onto it."""
    payload = [
        1,
        draw(st.sampled_from([STATE.consent_id, "attacker"])),
        draw(st.lists(st.sampled_from(["statistics", "marketing", "preferences"]), unique=True)),
        draw(st.sampled_from(["2026-11", "1"])),
        # Within the cookie's lifetime, or long before it.
        int(NOW.timestamp()) - draw(st.sampled_from([0, 3600, 10**9])),
    ]
    signed = URLSafeSerializer(draw(st.sampled_from(["k" * 40, ""])), salt=SALT).dumps(payload)
    if draw(st.booleans()):
        return signed.rsplit(".", 1)[0] + "." + VALID.rsplit(".", 1)[1]
    return signed


consent_values = st.one_of(
    st.just(VALID),
    tampered(),
    forged(),
    st.text(alphabet=BASE64, max_size=300),
    st.just("x" * (MAX_VALUE_BYTES + 1)),
    st.just(VALID + "x" * MAX_VALUE_BYTES),
)
names = st.one_of(
    st.just("consentgate"),
    st.sampled_from(TRACKERS),
    st.text(alphabet=string.ascii_letters + "_-.$", min_size=1, max_size=12),
    st.text(max_size=8),
)


@st.composite
def cookie_headers(draw: st.DrawFn) -> list[bytes]:
    pairs = draw(
        st.lists(
            st.tuples(names, consent_values | st.text(max_size=20)),
            max_size=12,
        )
    )
    separators = st.sampled_from(["; ", ";", " ; ", ";;", "; \t"])
    text = ""
    for name, value in pairs:
        text += f"{name}={value}" + draw(separators)
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        raw += draw(st.binary(max_size=40))
    # HTTP/2 may send the cookies in several headers.
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=2)))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


@FUZZ
@given(
    cookies=cookie_headers(),
    host=st.binary(max_size=300) | st.sampled_from([b"www.example.com", b"[::1]:80"]),
    accept_language=st.binary(max_size=300),
)
def test_the_cookie_reader_never_grants_what_was_not_signed(
    cookies: list[bytes], host: bytes, accept_language: bytes
) -> None:
    headers = [(b"cookie", c) for c in cookies] + [
        (b"host", host),
        (b"accept-language", accept_language),
    ]
    visitor = MIDDLEWARE.visitor_of(headers)
    state = visitor.reading.state
    sent, _ = read_cookies(headers, b"consentgate")
    # A choice only ever comes from the one value signed, and then it is exactly that.
    assert not state.has_choice or state == STATE
    if sent == VALID.encode():
        assert state == STATE
    # The endpoints read the same cookie the middleware does.
    endpoint_reading = COOKIE.read(sent.decode("latin-1") if sent is not None else None)
    assert endpoint_reading.state == state
    assert visitor.hostname == hostname(host)
    assert visitor.language in MIDDLEWARE.renderer.languages
    expired = [value.split(b"=", 1)[0].decode("latin-1") for _, value in visitor.expired]
    assert all(MIDDLEWARE.firewall.owners_of(name) for name in expired)
    assert len(set(expired)) <= MAX_TRACKER_COOKIES
    if state == STATE:  # statistics granted: Google's cookies stay, nothing of theirs expires
        assert not {"_ga", "_gid"} & set(expired)


# -- the next sanitiser ----------------------------------------------------------------

next_pieces = st.sampled_from(
    [
        "/", "//", "\\", "/\\", "%2f", "%2F", "%5c", "%25", "%252f", "@", ":", "evil.example",
        "\t", "\n", "\r", "\x00", "javascript:", "http:", "https://", ".", "..", "?", "#",
        "%0a", "%09", "\u3002", "\uff0f", "%E3%80%82", "a", "page", "=", "&", " ", "\x7f",
        "\u0085", "\ud800",
    ]
)  # fmt: skip
next_values = st.lists(next_pieces, max_size=12).map("".join) | st.text(max_size=40)


def browser_reads(location: str) -> str:
    """What a browser makes of a Location: tabs and newlines go, backslashes are slashes."""
    return location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")


@FUZZ
@example("/%2F%2Fevil.example")
@example("/\t/evil.example")
@example("/%5C%5Cevil.example")
@given(next_values)
def test_next_never_leads_off_the_site(value: str) -> None:
    result = safe_next(value)
    assert result.isascii() and result.isprintable()
    assert result.startswith("/") and not result.startswith(("//", "/\\"))
    for layer in (result, unquote(result), unquote(unquote(result))):
        resolved = urlsplit(urljoin("https://site.example/a/b", browser_reads(layer)))
        assert (resolved.scheme, resolved.netloc) == ("https", "site.example")
    assert safe_next(result) == result  # what comes out goes through again unchanged


# -- the HTML injector, through the middleware ------------------------------------------

markup = st.sampled_from(
    [
        b"<html>", b"<head>", b"</head>", b"</HEAD >", b"<body>", b"</body>", b"</BoDy\n>",
        b"</b", b"</bod", b"<!-- </head> -->", b"<script>", b"</script>", b"x" * 700,
        b"\xc3\xa6", b"\xff", b"</head\t\t>", b"</body" + b" " * 17 + b">",
    ]
)  # fmt: skip
pages = st.lists(markup | st.binary(max_size=30), max_size=30).map(b"".join)


async def _through(
    body_chunks: list[bytes], encoding: bytes | None
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    out: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        if encoding is not None:
            headers.append((b"content-encoding", encoding))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, chunk in enumerate(body_chunks):
            more = i < len(body_chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        out.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/page",
        "raw_path": b"/page",
        "query_string": b"",
        "headers": [(b"host", b"www.example.com")],
        "scheme": "https",
    }
    # One middleware for every example: it is built once, like a site's.
    MIDDLEWARE.app = app
    await MIDDLEWARE(scope, receive, send)
    start = out[0]
    return list(start["headers"]), b"".join(m.get("body", b"") for m in out[1:])


_CSRF = re.compile(rb'name="csrf_token" value="[^"]*"')


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, *cuts, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)] or [b""]


@FUZZ
@given(page=pages, data=st.data(), gzipped=st.booleans())
def test_the_injector_inserts_the_same_whatever_the_page_and_its_chunks(
    page: bytes, data: st.DataObject, gzipped: bool
) -> None:
    scope = {"path": "/page", "raw_path": b"/page", "query_string": b"", "method": "GET"}
    visitor = MIDDLEWARE.visitor_of([(b"host", b"www.example.com")])
    insertion = MIDDLEWARE.insertions(scope, visitor, 200, b"text/html; charset=utf-8", b"", None)
    assert insertion is not None
    expected = insertion.whole(page, gzip=False)
    sent = gzip.compress(page, mtime=0) if gzipped else page
    cuts = data.draw(st.lists(st.integers(0, len(sent)), max_size=8))
    chunks = _split(sent, cuts)
    headers, body = anyio.run(_through, chunks, b"gzip" if gzipped else None)
    # The form token is issued per minute: a minute may turn between the two.
    got = gzip.decompress(body) if gzipped else body
    assert _CSRF.sub(b"", got) == _CSRF.sub(b"", expected)
    lengths = [value for name, value in headers if name == b"content-length"]
    if len(chunks) == 1:
        assert lengths == [b"%d" % len(body)]
    else:
        assert lengths == []


@FUZZ
@given(garbage=st.binary(max_size=200), data=st.data())
def test_a_corrupt_gzip_body_never_raises(garbage: bytes, data: st.DataObject) -> None:
    good = gzip.compress(b"<html><head></head><body>x</body></html>", mtime=0)
    at = data.draw(st.integers(0, len(good)))
    sent = good[:at] + garbage
    cuts = data.draw(st.lists(st.integers(0, len(sent)), max_size=4))
    _, body = anyio.run(_through, _split(sent, cuts), b"gzip")  # ends, never raises
    if sent == good:
        assert b"consentgate-banner" in gzip.decompress(body)
