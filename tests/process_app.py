"""A small site behind ConsentMiddleware, for the tests that serve it from real uvicorn
processes. The consent log is the store URL in ``CONSENTGATE_TEST_STORE``, the outbox
the file in ``CONSENTGATE_TEST_OUTBOX`` (else the default: beside a SQLite store), its
timeout ``CONSENTGATE_TEST_STORE_TIMEOUT`` seconds."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentConfig, ConsentMiddleware
from consentgate.providers import GoogleAnalytics

SECRET = "process-test-secret-that-is-long-enough-0123456789"


def make_config(store: str, outbox: str | None = None, timeout: float = 5.0) -> ConsentConfig:
    return ConsentConfig(
        secret_key=SECRET,
        policy_version="2026-11",
        providers=[GoogleAnalytics("G-PROCESS123")],
        store=store,
        store_timeout=timeout,
        outbox=outbox,
        controller_name="Testfirma ApS",
        privacy_policy_url="/privacy",
    )


async def page(request: Request) -> Response:
    return HTMLResponse("<!doctype html><html><head></head><body><p>Hej</p></body></html>")


app = Starlette(routes=[Route("/", page)])
app.add_middleware(
    ConsentMiddleware,
    config=make_config(
        os.environ.get("CONSENTGATE_TEST_STORE", "sqlite:///:memory:"),
        os.environ.get("CONSENTGATE_TEST_OUTBOX"),
        float(os.environ.get("CONSENTGATE_TEST_STORE_TIMEOUT", "5")),
    ),
)
