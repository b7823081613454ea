"""A site that restyles the banner: ``uvicorn examples.custom_theme.app:app``.

Everything about the look is in ``consentgate.toml`` next to this file; the
one template override is ``templates/banner.html``.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentgate import ConsentConfig, ConsentMiddleware

HERE = Path(__file__).parent
# A fixed secret for the demo only; a real site sets CONSENTGATE_SECRET_KEY.
os.environ.setdefault(
    "CONSENTGATE_SECRET_KEY", "demo-only-secret-do-not-use-in-production-0123456789"
)

PAGE = """<!doctype html>
<html lang="da">
<head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>Rådgivning om data, strategi og skov.</p></body>
</html>"""


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title="Fjord &amp; Fyr"))


async def privacy(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title="Privatlivspolitik"))


config = ConsentConfig.from_toml(HERE / "consentgate.toml")

app = Starlette(
    routes=[Route("/", home), Route("/privatlivspolitik", privacy)],
    middleware=[Middleware(ConsentMiddleware, config=config)],
)
