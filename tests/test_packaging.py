"""The wheel carries what a banner needs: a packaging slip must not ship without it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("build", reason="the build tool is a `dev` extra")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("consentgate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_ships_templates_assets_texts_and_type_marker(wheel_names: set[str]) -> None:
    expected = {
        "consentgate/py.typed",
        "consentgate/static/consentgate.css",
        "consentgate/templates/banner.html",
        "consentgate/templates/preferences.html",
        "consentgate/templates/settings_link.html",
        "consentgate/templates/snippets/google_consent_mode.html",
        "consentgate/locales/da.toml",
        "consentgate/locales/en.toml",
        "consentgate/fastapi.py",
        "consentgate/litestar.py",
        "consentgate/contrib/django/apps.py",
        "consentgate/contrib/django/templatetags/consentgate.py",
        # The tracker registry: without it nothing the site writes itself is blocked.
        "consentgate/trackers.toml",
        # consentgate scan's report page and JSON schema, and the testing kit's plugin.
        "consentgate/scan/report.html",
        "consentgate/scan/report.schema.json",
        "consentgate/testing/pytest_plugin.py",
    }
    assert expected <= wheel_names


def test_every_template_and_asset_in_the_tree_is_in_the_wheel(wheel_names: set[str]) -> None:
    package = ROOT / "src" / "consentgate"
    for path in (package / "templates").rglob("*.html"):
        assert f"consentgate/{path.relative_to(package)}" in wheel_names
    for path in (ROOT / "static").iterdir():
        assert f"consentgate/static/{path.name}" in wheel_names
