"""The demo site with Google's tags only: every provider can be stopped without a reload."""

from __future__ import annotations

import os

from examples.starlette_site.app import DEMO_SECRET, app as demo
from starlette.applications import Starlette
from starlette.middleware import Middleware

from consentgate import ConsentConfig, ConsentMiddleware
from consentgate.providers import GoogleAnalytics, SiteKit

config = ConsentConfig(
    secret_key=DEMO_SECRET,
    policy_version="2026-11",
    controller_name="Aarhus Analytics ApS",
    privacy_policy_url="/privacy",
    default_language="da",
    providers=[GoogleAnalytics("G-DEMO000000"), SiteKit("G-DEMO111111")],
    store=os.environ["CONSENTGATE_STORE"],
)

app = Starlette(routes=demo.routes, middleware=[Middleware(ConsentMiddleware, config=config)])
