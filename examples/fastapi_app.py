"""consentgate around a FastAPI app: ``uvicorn examples.fastapi_app:app``."""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from consentgate import ConsentConfig, ConsentMiddleware
from consentgate.fastapi import Consent
from consentgate.providers import GoogleAnalytics

app = FastAPI()
app.add_middleware(
    ConsentMiddleware,
    config=ConsentConfig(
        secret_key=os.environ.get(
            "CONSENTGATE_SECRET_KEY", "demo-only-secret-do-not-use-in-production-0123456789"
        ),
        policy_version="2026-11",
        controller_name="Example ApS",
        providers=[GoogleAnalytics("G-DEMO000000")],
        store=os.environ.get("CONSENTGATE_STORE", "sqlite:///consentgate-fastapi.db"),
    ),
)


@app.get("/", response_class=HTMLResponse)
async def home(consent: Consent) -> str:
    granted = ", ".join(sorted(consent.granted)) or "nothing optional"
    return (
        "<!doctype html><html><head><title>Home</title></head>"
        f"<body><h1>Hello</h1><p>{granted}</p></body></html>"
    )


@app.get("/api/items")
async def items() -> list[dict[str, int]]:
    return [{"id": 1}, {"id": 2}]
