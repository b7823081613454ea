"""Fixtures and collection hooks; what the tests share is in tests/helpers.py."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.helpers import make_app
from tests.pg_server import PostgresServer, find_binaries
from tests.stores import PostgresStore, SQLiteStore, Store

# Hypothesis's per-example deadline (200 ms) measures the machine's load as much as the code:
# on a shared 2-core machine a busy moment failed a test that was fine. Time limits that
# matter are pytest-timeout's.
settings.register_profile("consentgate", deadline=None)
settings.load_profile("consentgate")

#: The browser tests drive Chromium through Playwright, a `dev` extra; without it they are
#: left out (said in the header) rather than failing to import.
collect_ignore = ["browser"] if importlib.util.find_spec("playwright") is None else []


def pytest_report_header() -> list[str]:
    if collect_ignore:
        return ["tests/browser left out: Playwright is not installed (pip install -e '.[dev]')"]
    return []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the PostgreSQL server ``postgres``, however it asks for it,
    and every test under tests/browser ``browser``, so that ``-m`` never misses one."""
    for item in items:
        if item.nodeid.startswith("tests/browser/"):
            item.add_marker(pytest.mark.browser)
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if fixtures & {"postgres_server", "postgres_database"} or "postgresql" in params:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app_factory() -> Callable[..., Any]:
    return make_app


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session, started on first use.

    Skipped where no server binary can be had; on CI (``CI`` set) that is a failure
    instead, because .ci/run installs the server.
    """
    bin_dir = find_binaries()
    if bin_dir is None:
        reason = (
            "no PostgreSQL server: initdb and pg_ctl are neither on PATH nor under "
            "/usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> str:
    """The URL of a database the tests may fill, on the session's server."""
    import psycopg

    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE consentgate_test")
    return postgres_server.url.rsplit("/", 1)[0] + "/consentgate_test"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty consent log of each backend in turn: the one suite both must pass."""
    if request.param == "sqlite":
        return SQLiteStore(tmp_path)
    return PostgresStore(request.getfixturevalue("postgres_database"))
