"""What the browser tests share: the demo site under a real uvicorn server, and Chromium
visitors with JavaScript off or on. Test modules import these from here; conftest.py holds
only the fixtures.

Nothing leaves the machine: the server listens on 127.0.0.1 only, and every
browser context routes all requests, letting through those to 127.0.0.1 and
aborting (and recording) the rest.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Cookie,
    Locator,
    Page,
    Response,
    Route,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
LOOPBACK = "127.0.0.1"
VIEWPORT = {"width": 1280, "height": 800}
LOCALE = "da-DK"
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0
# Playwright's waits, in milliseconds: a local page that takes longer is a failure.
ACTION_TIMEOUT_MS = 10_000
CONSENT_COOKIE = "consentgate"
TRACKER_HOSTS = ("googletagmanager.com", "stats.wp.com", "bufferapp.com")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def answers(port: int) -> bool:
    """Whether the server on ``port`` answers HTTP (http.client: no proxy settings apply)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1.0)
    try:
        conn.request("GET", "/_consent/me")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def serve(app: str, tmp: Path) -> Iterator[str]:
    """``uvicorn <app>`` on a free loopback port, with its own consent log in ``tmp``."""
    port = free_port()
    env = {**os.environ, "CONSENTGATE_STORE": f"sqlite:///{tmp / 'log.db'}"}
    command = [sys.executable, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(port)]
    command += ["--log-level", "warning"]
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the server did not start (exit code {process.poll()}):\n"
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
    # An exception the server logged is a bug even when the page still looked right.
    server_log = log_path.read_text(errors="replace")
    if "Traceback" in server_log:
        pytest.fail(f"the server logged an exception:\n{server_log}")


@dataclass
class Visitor:
    """One browser with a fresh profile, in Danish, 1280x800 unless told otherwise."""

    base_url: str
    context: BrowserContext
    page: Page
    requested: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    #: Uncaught script errors on any page.
    errors: list[str] = field(default_factory=list)
    #: The last page's document as the server sent it (after any redirect).
    response: Response | None = None

    def route(self, route: Route) -> None:
        url = route.request.url
        self.requested.append(url)
        if urlsplit(url).hostname == LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str) -> Response:
        response = self.page.goto(self.url(path))
        assert response is not None
        self.response = response
        return response

    def submit(self, button: Locator, lands_on: str) -> Response:
        """Click a form's submit button; the POST must answer 303 and land on ``lands_on``."""
        with self.page.expect_navigation(url=self.url(lands_on)) as navigation:
            button.click()
        response = navigation.value
        posted = response.request.redirected_from
        assert posted is not None, "the form submission was not redirected"
        assert posted.method == "POST"
        assert urlsplit(posted.url).path == "/_consent"
        post_response = posted.response()
        assert post_response is not None and post_response.status == 303
        assert response.status == 200
        self.response = response
        return response

    def follow(self, link: Locator) -> Response:
        """Click a link and wait for the page it leads to."""
        with self.page.expect_navigation() as navigation:
            link.click()
        self.response = navigation.value
        assert self.response.status == 200
        return self.response

    def html(self) -> str:
        """The HTML the server sent for the page on screen (not the browser's DOM)."""
        assert self.response is not None, "no page loaded yet"
        assert self.response.url == self.page.url
        return self.response.text()

    def tracker_requests(self) -> list[str]:
        return [
            url
            for url in self.requested
            if any((urlsplit(url).hostname or "").endswith(host) for host in TRACKER_HOSTS)
        ]

    def consent_cookie(self) -> Cookie:
        cookies = [c for c in self.context.cookies() if c["name"] == CONSENT_COOKIE]
        assert len(cookies) == 1, self.context.cookies()
        return cookies[0]

    def me(self) -> dict[str, Any]:
        """``GET /_consent/me`` with this browser's cookies."""
        response = self.context.request.get(self.url("/_consent/me"))
        assert response.status == 200
        data: dict[str, Any] = response.json()
        return data


@contextmanager
def open_visitor(
    browser: Browser,
    base_url: str,
    *,
    javascript: bool,
    viewport: dict[str, int] | None = None,
    color_scheme: Literal["light", "dark"] = "light",
) -> Iterator[Visitor]:
    """A fresh browser context whose every request passes the loopback guard; closed after."""
    size = viewport or VIEWPORT
    context = browser.new_context(
        java_script_enabled=javascript,
        locale=LOCALE,
        viewport={"width": size["width"], "height": size["height"]},
        color_scheme=color_scheme,
        service_workers="block",
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    visitor = Visitor(base_url=base_url, context=context, page=page)
    context.route("**/*", visitor.route)
    page.on("pageerror", lambda error: visitor.errors.append(str(error)))
    try:
        yield visitor
    finally:
        context.close()
