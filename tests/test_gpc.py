"""Global Privacy Control: the banner says it is honoured, "Accept all" leaves out what it
refuses, a ticked category is the visitor's own choice, and ``/.well-known/gpc.json``."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from consentgate import ConfigurationError
from consentgate.log import ConsentLog
from consentgate.log._export import ExportFormat, export_chunks
from consentgate.providers import Provider

from .helpers import (
    BASE_URL,
    RecordingLog,
    all_providers,
    choose,
    client_for,
    csrf_token,
    make_app,
    make_config,
    site_routes,
)
from .stores import Store

pytestmark = pytest.mark.anyio

GPC = {"sec-gpc": "1"}
NOTICE = "Your browser sends a Global Privacy Control signal"
OFF = "Off: your browser&#39;s privacy signal"


@pytest.fixture
async def log(store: Store) -> AsyncIterator[ConsentLog]:
    """A log of each store in turn, for the app to use."""
    log = store.open()
    yield log
    await log.aclose()


async def export(log: ConsentLog, format: ExportFormat) -> str:
    return "".join([chunk async for chunk in export_chunks(log, format)])


def app_with(log: ConsentLog, routes: list[Route] | None = None, **config: Any) -> Any:
    return make_app(make_config(store=log, **config), routes)


async def banner_of(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    page = (await client.get("/page", headers={"accept-language": "en", **headers})).text
    start = page.index('<div id="consentgate-banner"')
    return page[start : page.index("</div>", start)]


async def test_the_banner_tells_a_gpc_browser_its_signal_is_honoured() -> None:
    async with client_for(app_with(RecordingLog())) as client:
        # Alternating, with everything else equal: nothing cached may mix them up.
        for _ in range(2):
            with_gpc = await banner_of(client, GPC)
            without = await banner_of(client, {})
            other_value = await banner_of(client, {"sec-gpc": "0"})
    assert NOTICE in with_gpc
    [marketing] = [label for label in with_gpc.split("<label")[1:] if 'value="marketing"' in label]
    assert OFF in marketing and " checked" not in marketing
    assert with_gpc.count(OFF) == 1  # statistics is not refused by the signal
    assert NOTICE not in without and OFF not in without
    assert other_value == without


async def test_the_folded_banner_on_the_policy_page_tells_a_gpc_browser_too() -> None:
    async with client_for(app_with(RecordingLog(), privacy_policy_url="/page")) as client:
        for _ in range(2):  # alternating: the cache keeps folded and GPC apart
            with_gpc = await banner_of(client, GPC)
            without = await banner_of(client, {})
    assert "data-folded" in with_gpc and "data-folded" in without
    assert NOTICE in with_gpc and with_gpc.count(OFF) == 1
    assert NOTICE not in without and OFF not in without


async def test_accept_all_with_gpc_grants_all_but_what_it_refuses() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        response = await choose(client, "accept_all", headers=GPC)
        me = (await client.get("/_consent/me")).json()
    assert response.status_code == 303
    assert me["granted"] == ["statistics"]
    [record] = log.records
    assert record.granted == ("statistics",) and record.refused == ("marketing",)
    # Its texts included the notice: another fingerprint than a choice without GPC.
    async with client_for(app_with(log)) as client:
        await choose(client, "accept_all")
    assert log.records[1].granted == ("marketing", "statistics")
    assert log.records[0].text_fingerprint != log.records[1].text_fingerprint


async def test_a_category_ticked_with_gpc_is_the_visitors_own_choice() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        await choose(client, "accept_all", headers=GPC)
        await choose(client, "save", ["marketing", "statistics"], headers=GPC)
        me = (await client.get("/_consent/me")).json()
        page = (await client.get("/page", headers=GPC)).text
    assert me["granted"] == ["marketing", "statistics"]
    assert [(r.action, r.granted) for r in log.records] == [
        ("grant", ("statistics",)),
        ("update", ("marketing", "statistics")),
    ]
    assert "bufferapp.com" in page  # marketing's provider runs: their explicit grant stands


async def test_with_gpc_an_embed_the_visitor_allows_is_their_own_choice() -> None:
    video = Provider(name="video-host", title="Video Host", category="marketing", body="<i>v</i>")
    log = RecordingLog()
    app = app_with(log, providers=[*all_providers(), video])
    async with client_for(app) as client:
        await choose(client, "accept_all", headers=GPC)
        accepted = (await client.get("/_consent/me")).json()
        token = csrf_token((await client.get("/_consent/preferences")).text)
        data = {"action": "allow", "providers": "video-host", "csrf_token": token, "gpc": "1"}
        await client.post("/_consent", data=data, headers={"origin": BASE_URL, **GPC})
        allowed = (await client.get("/_consent/me")).json()
    # Accept all left the refused category's providers out, the embed's click let one in.
    assert "video-host" not in accepted["allowed_providers"]
    assert accepted["granted"] == ["statistics"]
    assert allowed["granted"] == ["statistics"] and allowed["providers"] == ["video-host"]
    assert [(r.action, r.providers) for r in log.records] == [
        ("grant", ()),
        ("allow", ("video-host",)),
    ]


async def test_the_signal_alone_writes_nothing(log: ConsentLog) -> None:
    async with client_for(app_with(log)) as client:
        for path in ("/page", "/_consent/preferences", "/api/data", "/_consent/me"):
            assert (await client.get(path, headers=GPC)).status_code == 200
        for path in ("/_consent/me/record", "/.well-known/gpc.json"):
            await client.get(path, headers=GPC)
    assert await export(log, "jsonl") == ""


async def test_a_choice_made_with_gpc_is_recorded_with_it_and_exported(log: ConsentLog) -> None:
    async with client_for(app_with(log)) as client:
        await choose(client, "accept_all", headers=GPC)
        await choose(client, "save", ["marketing", "statistics"])  # this time without it
        token = csrf_token((await client.get("/_consent/preferences")).text)
        data = {"action": "reject_all", "csrf_token": token, "next": "/page", "gpc": "1"}
        await client.post("/_consent", data=data, headers={"origin": BASE_URL})  # the script's
        consent_id = (await client.get("/_consent/me")).json()["consent_id"]
        download = (await client.get("/_consent/me/record", params={"format": "json"})).json()
        page = (await client.get("/_consent/me/record", headers={"accept-language": "en"})).text
    history = await log.history(consent_id)
    assert [(r.action, r.gpc) for r in history] == [
        ("grant", True),
        ("update", False),
        ("withdraw", True),
    ]
    rows = [json.loads(line) for line in (await export(log, "jsonl")).splitlines()]
    assert [row["gpc"] for row in rows] == [True, False, True]
    table = list(csv.reader(io.StringIO(await export(log, "csv"))))
    assert table[0][-2] == "gpc" and [row[-2] for row in table[1:]] == ["true", "false", "true"]
    assert [r["gpc"] for r in download["records"]] == [True, False, True]
    entries = re.findall(r"<li>\s*<h3>(.*?)</li>", page, re.S)
    signal = "<dt>Privacy signal (Global Privacy Control)</dt><dd>sent by your browser"
    assert [signal in entry for entry in entries] == [True, False, True]


async def test_the_scripts_gpc_field_counts_as_the_signal() -> None:
    log = RecordingLog()
    async with client_for(app_with(log)) as client:
        token = csrf_token((await client.get("/_consent/preferences")).text)
        data = {"action": "accept_all", "csrf_token": token, "next": "/page", "gpc": "1"}
        await client.post("/_consent", data=data, headers={"origin": BASE_URL})
    assert log.records[0].granted == ("statistics",)


@pytest.mark.parametrize(
    ("mode", "granted", "notice"),
    [("all", (), True), ("ignore", ("marketing", "statistics"), False)],
)
async def test_gpc_all_refuses_every_optional_category_and_ignore_nothing(
    mode: str, granted: tuple[str, ...], notice: bool
) -> None:
    log = RecordingLog()
    async with client_for(app_with(log, gpc=mode)) as client:
        banner = await banner_of(client, GPC)
        await choose(client, "accept_all", headers=GPC)
    assert (NOTICE in banner) is notice
    assert banner.count(OFF) == (2 if notice else 0)
    assert log.records[0].granted == granted
    assert log.records[0].gpc  # sent, whether or not this site lets it refuse anything


async def test_the_preference_centre_tells_a_gpc_browser_too() -> None:
    async with client_for(app_with(RecordingLog())) as client:
        headers = {"accept-language": "da", **GPC}
        page = (await client.get("/_consent/preferences", headers=headers)).text
        plain = (await client.get("/_consent/preferences", headers={"accept-language": "da"})).text
    assert "Global Privacy Control-signal, og det respekterer vi" in page
    assert "Slået fra: din browsers privatlivssignal" in page
    assert "Global Privacy Control" not in plain


def test_gpc_setting_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="gpc"):
        make_config(gpc="sale")


# -- /.well-known/gpc.json -----------------------------------------------------------------


async def own_gpc(request: Request) -> Response:
    return JSONResponse({"gpc": False})


async def test_the_support_resource_is_answered_where_the_app_has_none() -> None:
    async with client_for(app_with(RecordingLog())) as client:
        response = await client.get("/.well-known/gpc.json")
        head = await client.head("/.well-known/gpc.json")
        post = await client.post("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"gpc": True, "lastUpdate": "2026-12-05"}
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(response.content))
    assert post.status_code in (404, 405)  # the app's own answer: only reading is ours


async def test_a_sites_own_support_resource_is_kept() -> None:
    routes = [*site_routes(), Route("/.well-known/gpc.json", own_gpc)]
    async with client_for(app_with(RecordingLog(), routes)) as client:
        response = await client.get("/.well-known/gpc.json")
    assert response.json() == {"gpc": False}


async def test_a_site_that_ignores_gpc_does_not_claim_it() -> None:
    async with client_for(app_with(RecordingLog(), gpc="ignore")) as client:
        response = await client.get("/.well-known/gpc.json")
    assert response.status_code == 404


async def test_the_apps_other_404s_are_untouched() -> None:
    async def missing(request: Request) -> Response:
        return PlainTextResponse("gone", status_code=404)

    routes = [*site_routes(), Route("/.well-known/other.json", missing)]
    async with client_for(app_with(RecordingLog(), routes)) as client:
        response = await client.get("/.well-known/other.json")
    assert response.status_code == 404 and response.text == "gone"


async def test_of_several_sec_gpc_headers_any_1_is_the_signal() -> None:
    log = RecordingLog()
    headers = [(b"sec-gpc", b"0"), (b"sec-gpc", b"1"), (b"accept-language", b"en")]
    async with client_for(app_with(log)) as client:
        banner = (await client.get("/page", headers=headers)).text
        await choose(client, "accept_all", headers=None)
        token = csrf_token((await client.get("/_consent/preferences")).text)
        data = {"action": "accept_all", "csrf_token": token, "next": "/page"}
        await client.post(
            "/_consent", data=data, headers=[(b"origin", BASE_URL.encode()), *headers]
        )
    assert NOTICE in banner
    assert log.records[-1].granted == ("statistics",)
