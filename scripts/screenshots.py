"""Screenshots of the banner and the preference centre for the README.

    .venv/bin/python scripts/screenshots.py      (or: npm run screenshots)

Serves the demo site (examples/starlette_site) on a free loopback port, with a throwaway
consent log, and photographs it with Debian's Chromium through Playwright: desktop
(1280x800) and mobile (375x667), light and dark, in Danish, the demo's language; the
banner, the preference centre, the settings dialog the link opens after a choice, and (on
desktop) the click-to-load placeholder of a YouTube embed. The PNGs
go to docs/screenshots/. The browser may fetch nothing but the demo site.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from playwright.sync_api import Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
LOOPBACK = "127.0.0.1"
SIZES = {"desktop": (1280, 800), "mobile": (375, 667)}
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")
VIEWS = {"banner": "/services", "preferences": "/_consent/preferences?next=/services"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
        try:
            conn.request("GET", "/_consent/me")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()
    raise SystemExit("the demo site did not start")


def loopback_only(route: Route) -> None:
    if route.request.url.startswith(f"http://{LOOPBACK}:"):
        route.continue_()
    else:
        route.abort()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CONSENTGATE_STORE": f"sqlite:///{tmp}/log.db"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.starlette_site.app:app"]
            + ["--host", LOOPBACK, "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        try:
            wait_until_up(port, server)
            shoot(f"http://{LOOPBACK}:{port}")
        finally:
            server.terminate()
            server.wait(timeout=10)


def shoot(base: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            for size, (width, height) in SIZES.items():
                for scheme in SCHEMES:
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        color_scheme=scheme,
                        reduced_motion="reduce",
                        locale="da-DK",
                    )
                    context.route("**/*", loopback_only)
                    page = context.new_page()
                    for view, path in VIEWS.items():
                        page.goto(base + path)
                        save(page, f"{view}-{size}-{scheme}")
                    if size == "desktop":
                        # The click-to-load placeholder of the site's own YouTube embed.
                        page.goto(base + "/video")
                        page.locator(".cg-embed").screenshot(
                            path=OUT / f"embed-{size}-{scheme}.png"
                        )
                        print(f"docs/screenshots/embed-{size}-{scheme}.png")
                    # After a choice, the settings link reopens the choice in a dialog.
                    page.goto(base + VIEWS["banner"])
                    page.click('#consentgate-banner button[value="reject_all"]')
                    page.click("#consentgate-settings")
                    page.wait_for_selector('#consentgate-banner[role="dialog"]')
                    save(page, f"settings-{size}-{scheme}")
                    context.close()
        finally:
            browser.close()


def save(page: Page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=path)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
