"""Real uvicorn processes writing the consent log: killed mid-load, and two sharing PostgreSQL.

Every choice a visitor was answered 303 for must be in the log (found by the
consent id in its signed cookie), and the chain must verify.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from consentgate import ConsentMiddleware
from tests.conftest import csrf_token
from tests.pg_server import free_port
from tests.process_app import make_config
from tests.stores import PostgresStore, Store

ROOT = Path(__file__).resolve().parent.parent
#: Reads the consent id out of a Set-Cookie, with the same secret as the served app.
COOKIE = ConsentMiddleware(Starlette(), config=make_config("sqlite:///:memory:")).cookie


@contextmanager
def served(store_url: str, log_file: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The process app under uvicorn on a free port of 127.0.0.1; killed at the end if alive."""
    port = free_port()
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.process_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env={**os.environ, "CONSENTGATE_TEST_STORE": store_url},
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start: {log_file.read_text()[-2000:]}")
            time.sleep(0.05)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def visitor(base: str, acknowledged: list[str], *, posts: int, stop: asyncio.Event) -> None:
    """A stream of new visitors accepting all, as the banner's form posts it; bounded."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        try:
            token = csrf_token((await client.get("/_consent/preferences")).text)
            for _ in range(posts):
                if stop.is_set():
                    return
                client.cookies.clear()  # a new visitor each time
                response = await client.post(
                    "/_consent",
                    data={"action": "accept_all", "csrf_token": token, "next": "/"},
                    headers={"origin": base},
                )
                if response.status_code == 303:
                    value = response.cookies["consentgate"]
                    consent_id = COOKIE.read(value).state.consent_id
                    assert consent_id is not None
                    acknowledged.append(consent_id)
                else:
                    assert response.status_code == 503, response.text
        except httpx.TransportError:
            return  # the server is gone


async def stored_ids(store: Store) -> tuple[set[str], bool, str]:
    async with store.open() as log:
        ids = {record.consent_id async for record in log.iter_records()}
        report = await log.verify()
    return ids, report.ok, report.reason


@pytest.mark.anyio
async def test_sigkill_under_load_loses_no_acknowledged_choice(
    store: Store, tmp_path: Path
) -> None:
    acknowledged: list[str] = []
    stop = asyncio.Event()
    with served(store.url, tmp_path / "uvicorn.log") as (base, process):
        clients = [
            asyncio.ensure_future(visitor(base, acknowledged, posts=400, stop=stop))
            for _ in range(16)
        ]
        async with asyncio.timeout(60):
            while len(acknowledged) < 200:
                await asyncio.sleep(0.005)
        process.send_signal(signal.SIGKILL)  # mid-load: no clean-up of any kind
        await asyncio.to_thread(process.wait)
        stop.set()
        await asyncio.gather(*clients)
    ids, ok, reason = await stored_ids(store)
    assert 200 <= len(acknowledged) < 16 * 400  # killed while visitors were still posting
    missing = set(acknowledged) - ids
    assert not missing, f"{len(missing)} acknowledged choices are not in the log"
    assert ok, reason


@pytest.mark.anyio
async def test_two_app_processes_share_one_postgresql_log(
    postgres_database: str, tmp_path: Path
) -> None:
    store = PostgresStore(postgres_database)
    first: list[str] = []
    second: list[str] = []
    stop = asyncio.Event()
    with (
        served(store.url, tmp_path / "first.log") as (one, _),
        served(store.url, tmp_path / "second.log") as (two, _),
    ):
        async with asyncio.timeout(90):
            await asyncio.gather(
                *(visitor(one, first, posts=25, stop=stop) for _ in range(8)),
                *(visitor(two, second, posts=25, stop=stop) for _ in range(8)),
            )
    ids, ok, reason = await stored_ids(store)
    assert len(first) == len(second) == 200  # every choice acknowledged
    assert set(first) | set(second) == ids  # and in the log, nothing else
    assert len(ids) == 400
    assert ok, reason
