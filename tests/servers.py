"""An app under a real uvicorn process on 127.0.0.1, and a visitor making a choice over HTTP.

For the tests that show an app set up as the README says works with a real
server (each framework of the compatibility matrix, start-up failures).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from starlette.types import Message

from consentgate._middleware import AnyASGIApp

__all__ = ["ROOT", "Lifespan", "choose_over_http", "start_uvicorn", "uvicorn"]

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int, path: str) -> bool:
    """Whether the server answers ``path`` (http.client: no proxy settings apply)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


def start_uvicorn(
    app: str, log_path: Path, *, env: Mapping[str, str] = {}, args: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], int]:
    """``uvicorn <app>`` on a free loopback port, its output in ``log_path``; not waited for."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(port)]
    command += ["--log-level", "info", "--no-access-log", *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
    return process, port


@contextmanager
def uvicorn(
    app: str,
    tmp: Path,
    *,
    env: Mapping[str, str] = {},
    args: Sequence[str] = (),
    ready: str = "/_consent/me",
) -> Iterator[str]:
    """The app served until the block ends; its base URL. Fails on a logged traceback."""
    log_path = tmp / "server.log"
    process, port = start_uvicorn(app, log_path, env=env, args=args)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(port, ready):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"uvicorn did not start (exit code {process.poll()}):\n"
                    + log_path.read_text(errors="replace")
                )
            time.sleep(0.05)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    server_log = log_path.read_text(errors="replace")
    assert "Traceback" not in server_log, f"the server logged an exception:\n{server_log}"


def choose_over_http(
    client: httpx.Client, page: str, action: str, categories: Sequence[str] = ()
) -> httpx.Response:
    """What a visitor with JavaScript off does: open ``page``, post its banner's form.

    Returns the answer to the post (not followed); the client keeps the cookie.
    """
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    token = CSRF.search(shown.text)
    assert token, f"no banner on {page}:\n{shown.text}"
    form = {
        "action": action,
        "categories": list(categories),
        "csrf_token": token[1],
        "next": page,
        "source": "banner",
    }
    origin = f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"
    return client.post("/_consent", data=form, headers={"origin": origin})


class Lifespan:
    """The lifespan half of an ASGI server, in process: says startup and shutdown, returns
    the app's answers."""

    def __init__(self, app: AnyASGIApp) -> None:
        self.app = app
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.answers: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Future[None] | None = None

    async def send(self, message: Message) -> None:
        await self.answers.put(message)

    async def startup(self) -> Message:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.ensure_future(self.app(scope, self.to_app.get, self.send))
        await self.to_app.put({"type": "lifespan.startup"})
        return await asyncio.wait_for(self.answers.get(), 10)

    async def shutdown(self) -> Message:
        await self.to_app.put({"type": "lifespan.shutdown"})
        answer = await asyncio.wait_for(self.answers.get(), 10)
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)
        return answer
