"""``consentgate scan --browser``: what scripts load and set, seen in Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers import ROOT, uvicorn

from .helpers import CHROMIUM


def scan(*args: str, chromium: Path = CHROMIUM) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consentgate", "scan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CONSENTGATE_CHROMIUM": str(chromium)},
    )


def test_a_tracker_a_script_loads_is_caught_only_in_the_browser(tmp_path: Path) -> None:
    """A first-party script loads a Meta Pixel and sets a Hotjar cookie: the HTML names
    neither, so the HTML scan is clean, and the browser scan fails naming both."""
    with uvicorn("tests.scan_sites:script_loader_app", tmp_path) as url:
        assert scan(url + "/").returncode == 0
        result = scan(url + "/", "--browser", "--max-pages", "1")
        missing = scan(url + "/", "--browser", chromium=tmp_path / "no-chromium-here")
    assert missing.returncode == 2
    assert "consentgate scan: cannot start Chromium" in missing.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    for who in ("a new visitor", "a visitor who chose Reject all"):
        assert f"{who} loads meta-pixel (marketing): request https://connect.facebook.net/" in out
        assert f"{who} got cookie _hjSessionUser_42 (hotjar, statistics)" in out
    # Accepting is no violation, and the banner's buttons were clicked.
    assert "accept_all" not in out.split("DETAIL", 1)[1].split("warning", 1)[0]
    assert "choice-taken" not in out and "could not be clicked" not in out
