"""The optional user agent and IP fields, filled by the choice endpoint, tested through HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import BASE_URL, OLD_SECRET, RecordingLog, choose, make_app, make_config

pytestmark = pytest.mark.anyio

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


async def record_of(
    client: tuple[str, int] = ("127.0.0.1", 50000),
    headers: dict[str, str] | None = None,
    **settings: Any,
) -> Any:
    log = RecordingLog()
    app = make_app(make_config(store=log, **settings))
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        response = await choose(http, "accept_all", headers=headers)
    assert response.status_code == 303
    [record] = log.records
    return record


async def test_by_default_neither_user_agent_nor_address_is_kept() -> None:
    record = await record_of(client=("203.0.113.77", 1), headers={"user-agent": CHROME})
    assert record.user_agent is None
    assert record.ip is None


async def test_a_truncated_user_agent_keeps_its_first_64_characters() -> None:
    record = await record_of(headers={"user-agent": CHROME}, log_user_agent="truncate")
    assert record.user_agent == CHROME[:64]


async def test_a_hashed_user_agent_is_a_keyed_hash_stable_per_secret() -> None:
    one = await record_of(headers={"user-agent": CHROME}, log_user_agent="hash")
    again = await record_of(headers={"user-agent": CHROME}, log_user_agent="hash")
    other = await record_of(
        headers={"user-agent": CHROME}, log_user_agent="hash", secret_key=OLD_SECRET
    )
    assert len(one.user_agent) == 64 and int(one.user_agent, 16) >= 0
    assert one.user_agent == again.user_agent
    assert one.user_agent != other.user_agent
    assert "Chrome" not in one.user_agent


async def test_no_user_agent_header_records_none_even_when_on() -> None:
    record = await record_of(headers={"user-agent": ""}, log_user_agent="truncate")
    assert record.user_agent == ""
    log = RecordingLog()
    app = make_app(make_config(store=log, log_user_agent="hash"))

    async def drop_user_agent(request: httpx.Request) -> None:
        del request.headers["user-agent"]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, event_hooks={"request": [drop_user_agent]}
    ) as http:
        await choose(http, "accept_all")
    assert log.records[0].user_agent is None


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (("203.0.113.77", 1), "203.0.113.0"),
        (("2001:db8:1234:5678::1", 1), "2001:db8:1234::"),
        (("::ffff:198.51.100.9", 1), "198.51.100.0"),
        (("unix-socket", 0), None),
    ],
)
async def test_the_address_is_truncated_to_its_network(
    client: tuple[str, int], expected: str | None
) -> None:
    record = await record_of(client=client, log_ip="truncate")
    assert record.ip == expected


async def test_x_forwarded_for_is_not_trusted() -> None:
    record = await record_of(
        client=("203.0.113.77", 1),
        headers={"x-forwarded-for": "198.51.100.9", "forwarded": "for=198.51.100.9"},
        log_ip="truncate",
    )
    assert record.ip == "203.0.113.0"
