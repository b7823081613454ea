"""Anchoring: the signed head reaches a receiver on 127.0.0.1, off the request path."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from consentgate import ConfigurationError
from consentgate._cli import main
from consentgate.log._chain import canonical_json

from .helpers import SECRET, choose, client_for, make_app, make_config

pytestmark = pytest.mark.anyio


class Receiver:
    """A webhook on 127.0.0.1 that keeps what is POSTed and answers from a script."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        #: Statuses to answer with, in turn; 200 once they run out.
        self.statuses: list[int] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.bodies.append(body)
                receiver.headers.append(dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/heads"

    async def wait_for(self, count: int, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while len(self.bodies) < count:
            assert time.monotonic() < deadline, f"{len(self.bodies)} of {count} anchors came"
            await asyncio.sleep(0.01)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("consentgate._anchor.RETRY_DELAYS", (0.01, 0.02, 0.03, 0.04))


def signature_of(body: dict[str, Any]) -> str:
    fields = {key: body[key] for key in ("hash", "sequence", "time")}
    return hmac.new(SECRET.encode(), canonical_json(fields), hashlib.sha256).hexdigest()


async def test_every_n_records_the_signed_head_is_posted(
    receiver: Receiver, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'log.db'}"
    app = make_app(make_config(store=store, anchor_url=receiver.url, anchor_every_records=3))
    async with client_for(app) as client:
        for action in ("accept_all", "reject_all", "accept_all"):
            await choose(client, action)
        await receiver.wait_for(1)
        await choose(client, "reject_all")
        await asyncio.sleep(0.2)
    [body] = receiver.bodies
    assert set(body) == {"sequence", "hash", "time", "signature"}
    assert body["sequence"] == 3
    assert body["signature"] == signature_of(body)
    assert receiver.headers[0]["X-Consentgate-Signature"] == body["signature"]
    assert receiver.headers[0]["Content-Type"] == "application/json"
    # What was anchored is what verify can later hold the log to.
    verify = ["verify", "--store", store, "--expect-head", f"3:{body['hash']}"]
    assert await asyncio.to_thread(main, verify) == 0


async def test_after_m_minutes_a_few_records_are_anchored_too(receiver: Receiver) -> None:
    config = make_config(anchor_url=receiver.url, anchor_every_minutes=0.003)  # 0.18 s
    async with client_for(make_app(config)) as client:
        await choose(client, "accept_all")
        await receiver.wait_for(1, seconds=5)
        await choose(client, "reject_all")
        await receiver.wait_for(2, seconds=5)
    assert [body["sequence"] for body in receiver.bodies] == [1, 2]


async def test_a_slow_receiver_does_not_hold_up_the_visitor(receiver: Receiver) -> None:
    receiver.delay = 2.0
    config = make_config(anchor_url=receiver.url, anchor_every_records=1)
    async with client_for(make_app(config)) as client:
        started = time.monotonic()
        response = await choose(client, "accept_all")
        assert time.monotonic() - started < 1.5
        assert response.status_code == 303
        await receiver.wait_for(1)


async def test_a_failed_post_is_retried(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    config = make_config(anchor_url=receiver.url, anchor_every_records=1)
    async with client_for(make_app(config)) as client:
        await choose(client, "accept_all")
        await receiver.wait_for(3)
    assert len({json.dumps(body) for body in receiver.bodies}) == 1  # the same anchor each time


async def test_a_receiver_that_keeps_failing_is_logged(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500] * 5
    config = make_config(anchor_url=receiver.url, anchor_every_records=1)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        async with client_for(make_app(config)) as client:
            response = await choose(client, "accept_all")
            await receiver.wait_for(5)
            for _ in range(100):
                if "anchoring" in caplog.text:
                    break
                await asyncio.sleep(0.01)
    assert response.status_code == 303
    assert f"anchoring the consent log's head at {receiver.url} failed after 5 tries: HTTP 500" in (
        caplog.text
    )


async def test_an_unreachable_receiver_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    config = make_config(anchor_url=f"http://127.0.0.1:{port}/", anchor_every_records=1)
    app = make_app(config)
    with caplog.at_level(logging.WARNING, logger="consentgate"):
        async with client_for(app) as client:
            assert (await choose(client, "accept_all")).status_code == 303
            for _ in range(300):
                if "anchoring" in caplog.text:
                    break
                await asyncio.sleep(0.01)
    assert "failed after 5 tries: ConnectError" in caplog.text


def test_anchoring_without_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ConfigurationError) as caught:
        make_config(anchor_url="https://hooks.example.com/consent-heads")
    assert caught.value.field == "anchor_url"
    assert "pip install consentgate[anchor]" in str(caught.value)
