"""The browser suite's fixtures: the demo site, Chromium, visitors and axe-core.

What tests import (Visitor, open_visitor, serve, the constants) is in helpers.py.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from .helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, Visitor, open_visitor, serve


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo site (``examples.starlette_site.app:app``)."""
    yield from serve("examples.starlette_site.app:app", tmp_path_factory.mktemp("demo-site"))


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module: the sync API runs an asyncio loop in this thread while it is started, and a
    loop left running would break the async tests of every module collected after this one."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One Chromium per module; each test gets a fresh context (its own cookies and storage)."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def visitor(browser: Browser, demo_url: str) -> Iterator[Visitor]:
    """JavaScript off: the base every visitor gets."""
    with open_visitor(browser, demo_url, javascript=False) as visitor:
        yield visitor


@pytest.fixture
def js_visitor(browser: Browser, demo_url: str) -> Iterator[Visitor]:
    """JavaScript on; a script error on any page fails the test."""
    with open_visitor(browser, demo_url, javascript=True) as visitor:
        yield visitor
    assert visitor.errors == [], visitor.errors


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core from npm (package-lock.json pins it), installed with ``npm ci`` on first use."""
    script = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm not installed: apt-get install npm (axe-core comes from npm)")
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return script
