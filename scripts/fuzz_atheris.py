"""Coverage-guided fuzzing (atheris, i.e. libFuzzer) of what an attacker controls.

    pip install atheris
    python scripts/fuzz_atheris.py cookie -max_total_time=600
    python scripts/fuzz_atheris.py next -runs=2000000
    python scripts/fuzz_atheris.py inject -max_total_time=600

Targets: ``cookie`` (the Cookie, Host and Accept-Language headers as the
middleware reads them), ``next`` (the redirect sanitiser) and ``inject`` (the
HTML injector, whole, chunked and gzip). They check the properties
tests/test_fuzz.py checks with Hypothesis, which CI runs with a fixed budget;
atheris is a native wheel and not a test dependency, so this is for longer,
coverage-guided sessions by hand. Any libFuzzer flag after the target name
works (``-max_total_time``, ``-runs``, a corpus folder); a failing input is
written to ``crash-*`` and reproduces with ``python scripts/fuzz_atheris.py
<target> crash-...``.
"""

from __future__ import annotations

import gzip
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote, urljoin, urlsplit

import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]

with atheris.instrument_imports():
    from consentgate import ConsentConfig, ConsentMiddleware, ConsentState
    from consentgate._http import hostname, read_cookies
    from consentgate._redirect import safe_next
    from consentgate._rewrite import GzipInjector, HtmlInjector, inject_whole
    from consentgate.providers import Buffer, GoogleAnalytics, JetpackStats

logging.disable(logging.WARNING)


async def _app(scope: object, receive: object, send: object) -> None:
    """Never called: the targets drive the middleware's readers directly."""


MIDDLEWARE = ConsentMiddleware(
    _app,
    config=ConsentConfig(
        secret_key="fuzzing-secret-key-that-is-long-enough-0123456789",
        policy_version="1",
        providers=[GoogleAnalytics("G-FUZZ123456"), JetpackStats(blog_id=1), Buffer()],
        store="sqlite:///:memory:",
        controller_name="Fuzz ApS",
        privacy_policy_url="/privacy",
    ),
)
STATE = ConsentState(
    consent_id="0d1e2f30-4a5b-4c6d-8e7f-8091a2b3c4d5",
    granted=frozenset({"statistics"}),
    policy_version="1",
    decided_at=datetime.now(UTC).replace(microsecond=0),
)
VALID = MIDDLEWARE.cookie.encode(STATE).encode()


def cookie(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    header = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2000))
    if fdp.ConsumeBool():  # give the fuzzer the signed value to mangle around
        at = fdp.ConsumeIntInRange(0, len(header))
        header = header[:at] + b"consentgate=" + VALID + header[at:]
    host = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    headers = [
        (b"cookie", header),
        (b"host", host),
        (b"accept-language", fdp.ConsumeBytes(300)),
    ]
    visitor = MIDDLEWARE.visitor_of(headers)
    state = visitor.reading.state
    assert not state.has_choice or state == STATE, state
    sent = read_cookies(headers, b"consentgate")[0]
    if sent == VALID:
        assert state == STATE
    assert visitor.hostname == hostname(host)
    for _, value in visitor.expired:
        name = value.split(b"=", 1)[0].decode("latin-1")
        assert MIDDLEWARE.firewall.owners_of(name), name


def next_path(data: bytes) -> None:
    value = atheris.FuzzedDataProvider(data).ConsumeUnicode(200)
    result = safe_next(value)
    assert result.isascii() and result.isprintable(), result
    assert result.startswith("/") and not result.startswith(("//", "/\\")), result
    for layer in (result, unquote(result), unquote(unquote(result))):
        seen = layer.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
        resolved = urlsplit(urljoin("https://site.example/a/b", seen))
        assert (resolved.scheme, resolved.netloc) == ("https", "site.example"), result
    assert safe_next(result) == result, result


def inject(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    head, body = fdp.ConsumeBytes(20) or b"[H]", fdp.ConsumeBytes(20) or b"[B]"
    cuts = sorted(fdp.ConsumeIntInRange(0, 4000) for _ in range(fdp.ConsumeIntInRange(0, 6)))
    page = fdp.ConsumeBytes(4000)
    expected = inject_whole(page, head, body)
    injector = HtmlInjector(head, body)
    points = [0, *(min(c, len(page)) for c in cuts), len(page)]
    out = b"".join(injector.feed(page[a:b]) for a, b in zip(points, points[1:], strict=False))
    assert out + injector.finish() == expected
    compressed = gzip.compress(page, mtime=0)
    assert gzip.decompress(GzipInjector(head, body).whole(compressed)) == expected


TARGETS: dict[str, Callable[[bytes], None]] = {
    "cookie": cookie,
    "next": next_path,
    "inject": inject,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
