"""A deliberately leaky site, for ``consentgate scan`` to catch (never copy it).

It plants three problems that the middleware alone cannot prevent, because the
site works around it or lies about itself:

- a Meta Pixel written into the page template, with blocking of known trackers
  switched off (``block_known_trackers=False``): it loads before any choice;
- an ``_fbp`` cookie the app sets itself on every page, which no declaration
  covers, so the cookie firewall does not know to drop it;
- a declared ``ab_variant`` cookie that nothing sets any more (a stale declaration).

``uvicorn examples.leaky_site.app:app`` serves it; ``consentgate scan`` against it
exits 1 and names each of them.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentgate import ConsentConfig, ConsentMiddleware
from consentgate.providers import DeclaredCookie, Provider

SECRET = "leaky-example-secret-do-not-use-anywhere-0123456789"

META_PIXEL = """<script src="https://connect.facebook.net/en_US/fbevents.js" async></script>
<script>fbq('init', '000000000000000'); fbq('track', 'PageView');</script>"""


def layout(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} · Leaky Shop</title>
{META_PIXEL}
</head>
<body>
<nav><a href="/">Home</a> · <a href="/products">Products</a> · <a href="/privacy">Privacy</a></nav>
<main><h1>{title}</h1>{content}</main>
</body>
</html>"""


async def page(request: Request) -> HTMLResponse:
    title = {"/": "Welcome", "/products": "Products", "/privacy": "Privacy policy"}
    response = HTMLResponse(layout(title[request.url.path], "<p>Things for sale.</p>"))
    # What a pixel's server-side integration does: a browser id for Meta, without asking.
    response.set_cookie("_fbp", "fb.1.1700000000000.1234567890", max_age=90 * 24 * 3600)
    return response


config = ConsentConfig(
    secret_key=os.environ.get("CONSENTGATE_SECRET_KEY", SECRET),
    policy_version="1",
    controller_name="Leaky Shop ApS",
    privacy_policy_url="/privacy",
    store=os.environ.get("CONSENTGATE_STORE", "sqlite:///:memory:"),
    block_known_trackers=False,
    providers=[
        Provider(
            name="ab-testing",
            title="A/B testing",
            category="statistics",
            description="Which version of a page visitors see.",
            cookies=(
                DeclaredCookie(
                    name="ab_variant",
                    purpose="Remembers which version of the page you were shown.",
                    expiry="30 days",
                ),
            ),
        )
    ],
)

app = Starlette(
    routes=[Route(path, page) for path in ("/", "/products", "/privacy")],
    middleware=[Middleware(ConsentMiddleware, config=config)],
)
