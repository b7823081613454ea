"""consentgate in a Litestar app: ``uvicorn examples.litestar_app:app`` (or ``litestar run``).

The plugin puts consentgate in front of Litestar's router at start-up. Litestar's
own ``middleware=[DefineMiddleware(...)]`` runs after routing, where requests to
consentgate's routes (``/_consent``) never arrive, so it cannot be used.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, MediaType, Request, get

from consentgate import ConsentConfig, get_consent
from consentgate.litestar import ConsentPlugin
from consentgate.providers import GoogleAnalytics


@get("/", media_type=MediaType.HTML)
async def home(request: Request[Any, Any, Any]) -> str:
    granted = ", ".join(sorted(get_consent(request).granted)) or "nothing optional"
    return (
        "<!doctype html><html><head><title>Home</title></head>"
        f"<body><h1>Hello from Litestar</h1><p>{granted}</p></body></html>"
    )


@get("/api/items")
async def items() -> list[dict[str, int]]:
    return [{"id": 1}, {"id": 2}]


consent = ConsentPlugin(
    ConsentConfig(
        secret_key=os.environ.get(
            "CONSENTGATE_SECRET_KEY", "demo-only-secret-do-not-use-in-production-0123456789"
        ),
        policy_version="2026-11",
        controller_name="Example ApS",
        privacy_policy_url="/privacy",
        providers=[GoogleAnalytics("G-DEMO000000")],
        store=os.environ.get("CONSENTGATE_STORE", "sqlite:///consentgate-litestar.db"),
    )
)

app = Litestar(route_handlers=[home, items], plugins=[consent])
