"""``consentgate scan`` against real uvicorn servers on 127.0.0.1: exit status and outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from consentgate._cli import main
from tests.servers import ROOT, uvicorn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("demo")
    with uvicorn(
        "examples.starlette_site.app:app",
        tmp,
        env={"CONSENTGATE_STORE": f"sqlite:///{tmp / 'demo.db'}"},
    ) as url:
        yield url


@pytest.fixture(scope="module")
def leaky_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with uvicorn("examples.leaky_site.app:app", tmp_path_factory.mktemp("leaky")) as url:
        yield url


@pytest.fixture(scope="module")
def undeclared_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with uvicorn("tests.scan_sites:undeclared_app", tmp_path_factory.mktemp("undeclared")) as url:
        yield url


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "consentgate", "scan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_demo_is_clean_in_under_ten_seconds(demo_url: str) -> None:
    started = time.monotonic()
    result = scan(demo_url + "/")
    assert time.monotonic() - started < 10
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "clean"
    assert "7 pages x 3 visitors" in result.stdout


def test_the_leaky_site_fails_naming_each_planted_problem(leaky_url: str) -> None:
    result = scan(leaky_url + "/")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "a new visitor loads meta-pixel (marketing): script https://connect.facebook.net" in out
    assert "a visitor who chose Reject all loads meta-pixel" in out
    assert "a new visitor got cookie _fbp (meta-pixel, marketing), which needs consent" in out
    assert "cookie _fbp (set by meta-pixel) is set but no declaration covers it" in out
    assert "A/B testing declares cookie ab_variant (statistics), but no visitor got it" in out
    assert out.splitlines()[-1] == "FAILED: 6 errors, 3 warnings"


def test_json_and_html_to_files(leaky_url: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = scan(leaky_url + "/", "--format", "json", "-o", str(report))
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"report written to {report}" in result.stderr
    schema = json.loads((files("consentgate.scan") / "report.schema.json").read_text())
    document = json.loads(report.read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    assert document["target"] == leaky_url + "/"
    assert {f["subject"] for f in document["findings"]} == {"meta-pixel", "_fbp", "ab_variant"}

    page = tmp_path / "report.html"
    assert scan(leaky_url + "/", "--format", "html", "-o", str(page)).returncode == 1
    assert "ab_variant" in page.read_text() and "<script" not in page.read_text()


def test_fail_on_undeclared(undeclared_url: str) -> None:
    assert scan(undeclared_url + "/").returncode == 0
    failing = scan(undeclared_url + "/", "--fail-on", "undeclared")
    assert failing.returncode == 1
    assert "cookie cart is set but no declaration covers it" in failing.stdout


def test_a_draft_declaration(leaky_url: str) -> None:
    result = scan(leaky_url + "/", "--declaration", "toml")
    draft = tomllib.loads(result.stdout)
    assert [c["name"] for c in draft["providers"][0]["cookies"]] == ["_fbp"]


def test_the_declaration_from_a_config_file(leaky_url: str, tmp_path: Path) -> None:
    # The file says what the site should declare: with _fbp in it, only the pixel's markup
    # and the cookie before consent remain, and the stale ab_variant is gone.
    config = tmp_path / "consentgate.toml"
    config.write_text(
        '[[providers]]\ntype = "meta-pixel"\n',
        encoding="utf-8",
    )
    result = scan(leaky_url + "/", "--config", str(config))
    assert result.returncode == 1
    assert f"declaration from {config}" in result.stdout
    assert "ab_variant" not in result.stdout
    assert "no declaration covers" not in result.stdout
    assert "a new visitor got cookie _fbp (meta-pixel, marketing)" in result.stdout


def test_max_pages(demo_url: str) -> None:
    result = scan(demo_url + "/", "--max-pages", "2")
    assert "2 pages x 3 visitors" in result.stdout


def test_network_and_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    # A port nothing listens on (a closed one, in process: no server needed).
    assert main(["scan", "http://127.0.0.1:9/"]) == 2
    assert "consentgate scan: GET http://127.0.0.1:9/" in capsys.readouterr().err
    assert main(["scan", "ftp://127.0.0.1/"]) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err
    assert main(["scan", "http://127.0.0.1:9/", "--max-pages", "0"]) == 2
    assert "must be at least 1" in capsys.readouterr().err
    assert main(["scan", "http://127.0.0.1:9/", "--format", "xml"]) == 2
