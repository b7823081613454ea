"""consentgate.testing: a visitor who chooses through the real forms, the scanner's checks as
assertions, and the pytest plugin's fixture."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from examples.leaky_site.app import app as leaky_app

from consentgate.testing import (
    AsyncConsentClient,
    ConsentClient,
    assert_declared,
    assert_no_tracking_before_consent,
)
from tests.helpers import make_app, make_config
from tests.scan_sites import META_PIXEL, html_page, site
from tests.servers import ROOT


def test_a_visitor_chooses_through_the_banner() -> None:
    with ConsentClient(make_app()) as visitor:
        assert not visitor.consent.has_choice
        assert 'id="consentgate-banner"' in visitor.page("/page").text
        landed = visitor.choose("reject_all", page="/page")
        assert landed.url.path == "/page"
        assert 'id="consentgate-banner"' not in landed.text
        consent = visitor.consent
        assert consent.has_choice and consent.granted == frozenset()
        assert consent.policy_version == "2026-11"
        # Once chosen, accept through the preference centre's form, as a visitor would.
        visitor.choose("accept_all")
        assert visitor.consent.granted == {"statistics", "marketing"}


def test_save_ticks_categories_and_providers() -> None:
    with ConsentClient(make_app()) as visitor:
        visitor.choose("save", categories=["statistics"], providers=["buffer"])
        consent = visitor.consent
        assert consent.granted == {"statistics"}
        assert consent.providers == {"buffer"}
        # The state knows the site's providers: GA is allowed through its category.
        assert consent.allows_provider("google-analytics")
        assert consent.allows_provider("buffer")
        assert not consent.allows_provider("site-kit") or consent.allows("statistics")


def test_choices_the_form_does_not_offer_are_refused() -> None:
    with ConsentClient(make_app()) as visitor:
        with pytest.raises(ValueError, match="offers no categories \\['analytics'\\]"):
            visitor.choose("save", categories=["analytics"])
        with pytest.raises(ValueError, match="go with action='save'"):
            visitor.choose("accept_all", categories=["statistics"])
        assert not visitor.consent.has_choice


def test_a_refused_post_fails_loudly() -> None:
    # A page whose form posts to a route the site does not have.
    form = (
        '<form method="post" action="/nowhere"><input type="hidden" name="csrf_token" '
        'value="t"><button name="action" value="reject_all">No</button></form>'
    )
    with ConsentClient(site({"/": html_page(form)}, middleware=False)) as visitor:
        with pytest.raises(AssertionError, match="the choice was refused: 404"):
            visitor.choose("reject_all")


@pytest.mark.anyio
async def test_the_async_visitor() -> None:
    async with AsyncConsentClient(make_app()) as visitor:
        assert not (await visitor.consent()).has_choice
        await visitor.choose("accept_all", page="/page")
        consent = await visitor.consent()
        assert consent.granted == {"statistics", "marketing"}
        page = await visitor.page("/page")
        assert "googletagmanager.com/gtag/js" in page.text


def test_assert_no_tracking_before_consent() -> None:
    report = assert_no_tracking_before_consent(make_app(), paths=["/", "/page"])
    assert report.clean
    with pytest.raises(AssertionError) as failed:
        assert_no_tracking_before_consent(leaky_app, paths=["/"])
    message = str(failed.value)
    assert message.startswith("tracking before consent: 6 finding(s)")
    assert "a new visitor loads meta-pixel (marketing): script https://connect.facebook.net" in (
        message
    )
    assert "a visitor who chose Reject all got cookie _fbp" in message


def test_assert_declared() -> None:
    assert_declared(make_app(), paths=["/page"])
    with pytest.raises(AssertionError) as failed:
        assert_declared(leaky_app, paths=["/"])
    message = str(failed.value)
    assert "cookie _fbp (set by meta-pixel) is set but no declaration covers it" in message
    assert "A/B testing declares cookie ab_variant" in message
    assert "meta-pixel" in message


def test_a_site_s_own_trackers_count() -> None:
    from consentgate import Tracker

    chat = Tracker(provider="chat", category="preferences", urls=["widget.chat.example"])
    app = site(
        {"/": html_page('<script src="https://widget.chat.example/w.js"></script>')},
        make_config(block_known_trackers=False),
    )
    assert_no_tracking_before_consent(app)  # unknown to the registry: passes
    with pytest.raises(AssertionError, match="loads chat"):
        assert_no_tracking_before_consent(app, trackers=[chat])


@pytest.mark.anyio
async def test_the_sync_assertions_work_inside_an_event_loop() -> None:
    assert_no_tracking_before_consent(make_app(), paths=["/page"])
    app = site({"/": html_page("<p>x</p>", META_PIXEL)}, make_config(block_known_trackers=False))
    with pytest.raises(AssertionError, match="meta-pixel"):
        assert_no_tracking_before_consent(app)


@pytest.fixture
def consentgate_app() -> Any:
    """The app this module's ``consent_client`` visits (the plugin asks for it by name)."""
    return make_app()


def test_the_plugin_s_fixture_in_this_suite(consent_client: ConsentClient) -> None:
    consent_client.choose("save", categories=["marketing"])
    assert consent_client.consent.granted == {"marketing"}


PLUGIN_TEST = """
import pytest
from tests.helpers import make_app

@pytest.fixture
def consentgate_app():
    return make_app()

def test_reject(consent_client):
    consent_client.choose("reject_all", page="/page")
    assert consent_client.consent.has_choice
    assert consent_client.consent.granted == frozenset()
"""

NO_APP_TEST = """
def test_needs_an_app(consent_client):
    pass
"""


@pytest.mark.slow
def test_the_pytest_plugin_gives_a_consent_client(tmp_path: Path) -> None:
    """Installed consentgate registers the plugin: a site's suite gets the fixture."""
    (tmp_path / "test_site.py").write_text(textwrap.dedent(PLUGIN_TEST))
    (tmp_path / "test_no_app.py").write_text(textwrap.dedent(NO_APP_TEST))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert "1 passed, 1 error" in output, output
    assert "define a `consentgate_app` fixture" in output
