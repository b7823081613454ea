"""consentgate around a Quart app: ``uvicorn examples.quart_app:app`` (or hypercorn).

Quart's own way of adding ASGI middleware: wrap ``app.asgi_app``.
"""

from __future__ import annotations

import os

from quart import Quart, request

from consentgate import ConsentConfig, ConsentMiddleware, get_consent
from consentgate.providers import GoogleAnalytics

app = Quart(__name__)


@app.get("/")
async def home() -> str:
    granted = ", ".join(sorted(get_consent(request).granted)) or "nothing optional"
    return (
        "<!doctype html><html><head><title>Home</title></head>"
        f"<body><h1>Hello from Quart</h1><p>{granted}</p></body></html>"
    )


@app.get("/api/items")
async def items() -> list[dict[str, int]]:
    return [{"id": 1}, {"id": 2}]


# Quart types its ASGI callables with TypedDicts of its own, which Starlette's do not match.
app.asgi_app = ConsentMiddleware(  # type: ignore[assignment]
    app.asgi_app,
    config=ConsentConfig(
        secret_key=os.environ.get(
            "CONSENTGATE_SECRET_KEY", "demo-only-secret-do-not-use-in-production-0123456789"
        ),
        policy_version="2026-11",
        controller_name="Example ApS",
        privacy_policy_url="/privacy",
        providers=[GoogleAnalytics("G-DEMO000000")],
        store=os.environ.get("CONSENTGATE_STORE", "sqlite:///consentgate-quart.db"),
    ),
)
