"""Real uvicorn processes writing the consent log: killed mid-load, two sharing PostgreSQL,
and refusals taken into the outbox while the store is down.

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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from consentgate import ConsentMiddleware
from consentgate._outbox import encode
from consentgate.log import ConsentRecord
from tests.helpers import csrf_token
from tests.pg_server import PostgresServer, find_binaries, free_port
from tests.process_app import make_config
from tests.stores import PostgresStore, SQLiteStore, Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: Reads the consent id out of a Set-Cookie, with the same secret as the served app.
COOKIE = ConsentMiddleware(Starlette(), config=make_config("sqlite:///:memory:")).cookie


@contextmanager
def served(
    store_url: str, log_file: Path, outbox: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The process app under uvicorn on a free port of 127.0.0.1; killed at the end if alive."""
    port = free_port()
    env = {**os.environ, "CONSENTGATE_TEST_STORE": store_url}
    if outbox is not None:
        # A shorter timeout, so that choices made while the store is down fail fast.
        env |= {"CONSENTGATE_TEST_OUTBOX": str(outbox), "CONSENTGATE_TEST_STORE_TIMEOUT": "1"}
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
            env=env,
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


# -- a log outage: refusals are answered at once and recorded once the store is back ----


@contextmanager
def outage_store(
    kind: str, tmp_path: Path
) -> Iterator[tuple[Store, Callable[[], None], Callable[[], None]]]:
    """A store of ``kind`` with ways to take it down and bring it back.

    PostgreSQL runs in a cluster of its own, which is stopped and started; SQLite's
    inserts are refused by a trigger, as a broken disk would.
    """
    if kind == "sqlite":
        sqlite = SQLiteStore(tmp_path)
        yield sqlite, lambda: sqlite.refuse_inserts("disk gone"), sqlite.allow_inserts
        return
    bin_dir = find_binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield PostgresStore(server.url), server.stop, server.start
    finally:
        server.remove()


async def chooser(base: str, acknowledged: list[tuple[str, str]], *, stop: asyncio.Event) -> None:
    """Visitors accepting all, and later withdrawing, as the banner's form posts it.

    Every 303 is noted with the action the log must show for it. A grant may be
    refused (503) while the log is down, a refusal never: then the visitors who
    granted before withdraw, and new ones refuse.
    """
    granted: list[str] = []  # the cookies of visitors who have not withdrawn yet
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        try:
            token = csrf_token((await client.get("/_consent/preferences")).text)

            async def post(action: str, cookie: str | None) -> httpx.Response:
                client.cookies.clear()
                if cookie is not None:
                    client.cookies.set("consentgate", cookie)
                return await client.post(
                    "/_consent",
                    data={"action": action, "csrf_token": token, "next": "/"},
                    headers={"origin": base},
                )

            def note(response: httpx.Response, action: str) -> str:
                value = response.cookies["consentgate"]
                consent_id = COOKIE.read(value).state.consent_id
                assert consent_id is not None
                acknowledged.append((consent_id, action))
                return value

            while not stop.is_set():
                accepted = await post("accept_all", None)
                if accepted.status_code == 303:
                    granted.append(note(accepted, "grant"))
                else:
                    assert accepted.status_code == 503, accepted.text
                withdraw = bool(granted) and (len(granted) > 3 or accepted.status_code == 503)
                cookie = granted.pop(0) if withdraw else None
                refused = await post("reject_all", cookie)
                assert refused.status_code == 303, refused.text
                note(refused, "withdraw" if withdraw else "reject")
        except httpx.TransportError:
            return  # the server is gone


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_refusals_answered_during_an_outage_and_a_sigkill_reach_the_log(
    kind: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    with outage_store(kind, tmp_path) as (store, down, back):
        acknowledged: list[tuple[str, str]] = []
        stop = asyncio.Event()
        with served(store.url, tmp_path / "first.log", outbox) as (base, process):
            visitors = [
                asyncio.ensure_future(chooser(base, acknowledged, stop=stop)) for _ in range(6)
            ]
            async with asyncio.timeout(60):
                while len(acknowledged) < 30:
                    await asyncio.sleep(0.01)
            await asyncio.to_thread(down)
            during = len(acknowledged)
            async with asyncio.timeout(60):
                while len(acknowledged) < during + 20:
                    await asyncio.sleep(0.01)
            process.send_signal(signal.SIGKILL)  # still down: the outbox holds what was refused
            await asyncio.to_thread(process.wait)
            stop.set()
            await asyncio.gather(*visitors)
        left = waiting(outbox)
        await asyncio.to_thread(back)
        with served(store.url, tmp_path / "second.log", outbox) as (base, _):
            async with httpx.AsyncClient(base_url=base) as client:
                await client.get("/_consent/me")  # a restarted process's first request replays
            async with asyncio.timeout(30):
                while waiting(outbox):
                    await asyncio.sleep(0.05)
        async with store.open() as log:
            logged = Counter[tuple[str, str]](
                [(r.consent_id, r.action) async for r in log.iter_records()]
            )
            report = await log.verify()
        cli = subprocess.run(
            [sys.executable, "-m", "consentgate", "verify", "--store", store.url],
            capture_output=True,
            text=True,
            check=False,
        )
    withdrawals = [choice for choice in acknowledged[during:] if choice[1] == "withdraw"]
    missing = [(choice, logged[choice]) for choice in acknowledged if logged[choice] != 1]
    assert not missing, f"{len(missing)} answered choices not in the log exactly once"
    assert report.ok, report.reason
    assert cli.returncode == 0, cli.stdout + cli.stderr  # `consentgate verify` agrees
    assert len(withdrawals) >= 6  # visitors who granted before the outage withdrew during it
    assert left  # and the killed process left refusals in the outbox


def waiting(outbox: Path) -> int:
    """How many bytes wait in the outbox file."""
    return outbox.stat().st_size if outbox.exists() else 0


@pytest.mark.anyio
async def test_two_processes_sharing_one_outbox_replay_it_exactly_once(tmp_path: Path) -> None:
    """Both put refusals in one outbox while the store is down, and replay it once it is back."""
    outbox = tmp_path / "outbox"
    with outage_store("sqlite", tmp_path) as (store, down, back):
        acknowledged: list[tuple[str, str]] = []
        stop = asyncio.Event()
        with (
            served(store.url, tmp_path / "first.log", outbox) as (one, _),
            served(store.url, tmp_path / "second.log", outbox) as (two, _),
        ):
            visitors = [
                asyncio.ensure_future(chooser(base, acknowledged, stop=stop))
                for base in (one, two, one, two)
            ]
            async with asyncio.timeout(60):
                while len(acknowledged) < 20:
                    await asyncio.sleep(0.01)
            await asyncio.to_thread(down)
            during = len(acknowledged)
            async with asyncio.timeout(60):
                while len(acknowledged) < during + 30:
                    await asyncio.sleep(0.01)
            left = waiting(outbox)
            await asyncio.to_thread(back)  # both processes' background replays race for it
            async with asyncio.timeout(30):
                while waiting(outbox):
                    await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*visitors)
        async with store.open() as log:
            logged = Counter[tuple[str, str]](
                [(r.consent_id, r.action) async for r in log.iter_records()]
            )
            report = await log.verify()
    missing = [(choice, logged[choice]) for choice in acknowledged if logged[choice] != 1]
    assert not missing, f"{len(missing)} answered choices not in the log exactly once"
    assert report.ok, report.reason
    assert left


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_process_killed_mid_replay_leaves_nothing_written_twice(
    kind: str, tmp_path: Path
) -> None:
    """SIGKILL between "written to the log" and "removed from the outbox": the next replay
    skips what the log already holds and writes the rest, each record once."""
    outbox = tmp_path / "outbox"
    start = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    records = [
        ConsentRecord(
            consent_id=f"visitor-{i}",
            time=start + timedelta(microseconds=i),
            action="reject",
            granted=(),
            refused=("statistics",),
            policy_version="2026-11",
            language="da",
            source="banner",
            text_fingerprint="ab" * 32,
        )
        for i in range(REPLAYED)
    ]
    outbox.write_text("".join(encode(record) + "\n" for record in records))
    with outage_store(kind, tmp_path) as (store, _, _):

        def stored() -> int:
            try:
                return int(store.query("SELECT count(*) FROM consent_records")[0][0])
            except Exception:  # no table yet: the server creates it on first use
                return 0

        with served(store.url, tmp_path / "first.log", outbox) as (base, process):
            httpx.get(base + "/_consent/me")  # the first request starts the replay
            async with asyncio.timeout(60):
                while (killed_at := stored()) == 0:
                    await asyncio.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait)
        written_before = stored()
        with served(store.url, tmp_path / "second.log", outbox) as (base, _):
            httpx.get(base + "/_consent/me")
            async with asyncio.timeout(60):
                while waiting(outbox):
                    await asyncio.sleep(0.05)
        ids = store.ids()
        async with store.open() as log:
            report = await log.verify()
    assert 0 < killed_at <= written_before < REPLAYED  # killed with the replay half done
    assert sorted(ids) == sorted(r.consent_id for r in records)  # each once, none lost
    assert report.ok, report.reason


#: Records in the outbox of the mid-replay test: enough that a replay takes a while.
REPLAYED = 3000
