"""A visitor's own consent record: see it, download it, erase it (``<prefix>/me/...``)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from consentgate import ConfigurationError, ConsentState, StorageError
from consentgate._cookie import ConsentCookie
from consentgate._locales import available_languages, builtin_texts
from consentgate.log import ConsentLog, ConsentRecord
from consentgate.log._export import EXPORT_COLUMNS, export_chunks
from consentgate.log._record import Action, Source
from consentgate.providers import Provider

from .helpers import (
    BASE_URL,
    SECRET,
    RecordingLog,
    all_providers,
    choose,
    client_for,
    csrf_token,
    make_app,
    make_config,
    make_record,
)
from .stores import Store

pytestmark = pytest.mark.anyio

RECORD, ERASE = "/_consent/me/record", "/_consent/me/erase"
#: An embed's provider, which a visitor can allow on its own.
VIDEO = Provider(name="video-host", title="Video Host", category="marketing", body="<i>v</i>")


@pytest.fixture
async def log(store: Store) -> AsyncIterator[ConsentLog]:
    """A log of each store in turn, for the app to use."""
    log = store.open()
    yield log
    await log.aclose()


class UnreadableLog(RecordingLog):
    """Records choices, then cannot be read or erased: a database that went away."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        if self.down:
            raise StorageError("the test log is down on purpose")
        return await super().history(consent_id)

    async def erase(self, consent_id: str) -> int:
        if self.down:
            raise StorageError("the test log is down on purpose")
        return await super().erase(consent_id)


async def consent_id_of(client: httpx.AsyncClient) -> str:
    consent_id: str = (await client.get("/_consent/me")).json()["consent_id"]
    return consent_id


async def erase(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    """Do what a visitor does: open the confirmation page and press its button."""
    page = await client.get(ERASE)
    data = {"csrf_token": csrf_token(page.text), "next": "/page", "confirm": "yes", **overrides}
    return await client.post(ERASE, data=data, headers={"origin": BASE_URL})


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


# -- access ---------------------------------------------------------------------------


async def test_the_record_page_shows_every_choice_read_from_the_log(log: ConsentLog) -> None:
    config = make_config(store=log, log_user_agent="truncate", log_ip="truncate")
    async with client_for(make_app(config), headers={"user-agent": "Firefox/140"}) as client:
        await choose(client, "save", ["statistics"])
        await choose(client, "reject_all")
        consent_id = await consent_id_of(client)
        response = await client.get(RECORD, headers={"accept-language": "en"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert consent_id in page
    entries = re.findall(r"<li>\s*<h3>(.*?)</li>", page, re.S)
    assert len(entries) == 2
    assert "Consent given" in entries[0] and "Consent withdrawn" in entries[1]
    assert re.search(r"<dt>Accepted</dt><dd>Statistics</dd>", entries[0])
    assert re.search(r"<dt>Refused</dt><dd>Marketing</dd>", entries[0])
    assert re.search(r"<dt>Accepted</dt><dd>none</dd>", entries[1])
    assert "2026-11" in entries[0] and "the cookie banner" in entries[0]
    assert "<code>Firefox/140</code>" in entries[0] and "<code>127.0.0.0</code>" in entries[0]
    assert "quote your consent ID" in page
    assert "until you ask us to erase them" in page
    assert "cannot be corrected or restricted" in page


async def allow_video(client: httpx.AsyncClient) -> None:
    """Do what a visitor does on an embed's placeholder: allow its provider alone."""
    page = await client.get("/_consent/preferences")
    data = {
        "action": "allow",
        "providers": "video-host",
        "csrf_token": csrf_token(page.text),
        "next": "/page",
        "source": "embed",
    }
    response = await client.post("/_consent", data=data, headers={"origin": BASE_URL})
    assert response.status_code == 303


async def test_providers_allowed_one_by_one_are_on_the_record(log: ConsentLog) -> None:
    config = make_config(store=log, providers=[*all_providers(), VIDEO])
    async with client_for(make_app(config)) as client:
        await allow_video(client)
        await choose(client, "save", ["statistics"])
        english = (await client.get(RECORD, headers={"accept-language": "en"})).text
        danish = (await client.get(RECORD, headers={"accept-language": "da"})).text
        document = (await client.get(RECORD, params={"format": "json"})).json()
    entries = re.findall(r"<li>\s*<h3>(.*?)</li>", english, re.S)
    assert len(entries) == 2
    assert "Service allowed" in entries[0]
    assert "<dt>Services allowed one by one</dt><dd>Video Host</dd>" in entries[0]
    assert "the placeholder of an embedded service" in entries[0]
    # Allowing an embed answers nothing about the categories, so it refuses nothing.
    assert re.search(r"<dt>Refused</dt><dd>none</dd>", entries[0])
    assert "Services allowed one by one" not in entries[1]
    assert "Tjeneste tilladt" in danish and "Tjenester tilladt enkeltvis" in danish
    records = document["records"]
    assert [(r["action"], r["providers"], r["source"]) for r in records] == [
        ("allow", ["video-host"], "embed"),
        ("withdraw", [], "banner"),  # the save left the provider out: withdrawn
    ]


async def test_a_visitor_who_only_allowed_an_embed_can_see_and_erase_it(log: ConsentLog) -> None:
    """Allowing an embed answers no banner, but it is recorded: it is their record too."""
    config = make_config(store=log, providers=[*all_providers(), VIDEO])
    async with client_for(make_app(config)) as client:
        await allow_video(client)
        consent_id = await consent_id_of(client)
        assert (await client.get("/_consent/me")).json()["has_choice"] is False
        centre = (await client.get("/_consent/preferences")).text
        record = (await client.get(RECORD, headers={"accept-language": "en"})).text
        confirm = (await client.get(ERASE, headers={"accept-language": "en"})).text
        erased = await erase(client)
        after = (await client.get("/_consent/me")).json()
    assert 'href="/_consent/me/record?next=%2F"' in centre
    assert consent_id in record and "Service allowed" in record
    assert "there is no consent record" not in record
    assert 'name="confirm" value="yes"' in confirm
    assert erased.status_code == 303
    assert any(c.startswith("consentgate=;") for c in set_cookies(erased))
    assert after["consent_id"] is None and after["providers"] == []
    assert [r.action for r in await log.history(consent_id)] == ["erase"]


async def test_the_pages_are_whole_without_a_controller_name() -> None:
    async with client_for(
        make_app(make_config(store=RecordingLog(), controller_name=None))
    ) as client:
        await choose(client, "accept_all")
        pages = [(await client.get(path)).text for path in (RECORD, ERASE, "/_consent/preferences")]
    assert not any("\x00" in page for page in pages)


async def test_what_the_log_does_not_keep_is_said_so() -> None:
    async with client_for(make_app(make_config(store=RecordingLog()))) as client:
        await choose(client, "accept_all")
        page = (await client.get(RECORD, headers={"accept-language": "en"})).text
    assert page.count("not kept") == 2


async def test_the_record_is_proof_from_the_log_not_the_cookies_claim() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await choose(client, "accept_all")
        log.records.clear()  # the cookie still says "accepted"; the log holds nothing
        page = (await client.get(RECORD, headers={"accept-language": "en"})).text
    assert "no record of this consent ID" in page
    assert "Consent given" not in page


async def test_a_visitor_without_a_choice_has_no_record() -> None:
    async with client_for(make_app(make_config(store=RecordingLog()))) as client:
        page = await client.get(RECORD, headers={"accept-language": "en"})
        download = await client.get(RECORD, params={"format": "json"})
    assert page.status_code == 200
    assert "no consent record to show" in page.text
    assert "me/erase" not in page.text
    assert download.status_code == 404
    assert "error" in download.json()


async def test_a_log_that_cannot_be_read_is_said_so_with_503() -> None:
    log = UnreadableLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await choose(client, "accept_all")
        log.down = True
        page = await client.get(RECORD, headers={"accept-language": "en"})
        download = await client.get(RECORD, params={"format": "json"})
    assert page.status_code == 503
    assert "cannot be read right now" in page.text
    assert download.status_code == 503
    assert download.json() == {"error": "the consent log cannot be read right now"}


async def test_the_record_page_is_in_the_visitors_language() -> None:
    async with client_for(make_app(make_config(store=RecordingLog()))) as client:
        await choose(client, "save", ["marketing"])
        page = (await client.get(RECORD, headers={"accept-language": "da"})).text
    assert '<html lang="da">' in page
    assert "Din samtykkeregistrering" in page
    assert "Samtykke givet" in page and "Markedsføring" in page


async def test_the_preference_centre_links_to_the_record() -> None:
    config = make_config(store=RecordingLog(), retention_days=400)
    async with client_for(make_app(config), headers={"accept-language": "en"}) as client:
        before = (await client.get("/_consent/preferences")).text
        await choose(client, "accept_all")
        after = (await client.get("/_consent/preferences", params={"next": "/page"})).text
    assert "Your consent record" in before and "kept for 400 days" in before
    assert "me/record" not in before
    assert 'href="/_consent/me/record?next=%2Fpage"' in after
    assert 'href="/_consent/me/record?format=json" download' in after
    assert 'href="/_consent/me/erase?next=%2Fpage"' in after


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("record.html", '{% extends "@consentgate/record.html" %}{% block back %}{{ x }}{% endblock %}'),  # noqa: E501
        # Each branch is rendered at the start, not only the one a first visitor would see.
        ("record.html", "{% if records is none %}{{ bak }}{% endif %}"),
        ("record.html", "{% for r in records or [] %}{{ r.providres }}{% endfor %}"),
        ("erase.html", "{% if not state.has_choice %}{{ bak }}{% endif %}"),
        ("erase.html", "{% if problem %}{{ bak }}{% endif %}"),
    ],
)  # fmt: skip
def test_a_broken_override_of_the_record_pages_stops_the_start(
    tmp_path: Path, name: str, source: str
) -> None:
    """When the config is built, as the other pages: the app module is imported long
    before Starlette builds its middleware on the first request."""
    (tmp_path / name).write_text(source, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        make_config(template_dirs=[tmp_path])
    assert caught.value.field == "template_dirs"
    assert f"{name}, line 1:" in str(caught.value)


def test_every_action_and_source_has_a_name_in_every_language() -> None:
    for lang in available_languages():
        texts = builtin_texts(lang)
        for action in get_args(Action):
            assert f"record.action.{action}" in texts, lang
        for source in get_args(Source):
            assert f"record.source.{source}" in texts, lang


# -- portability -----------------------------------------------------------------------


async def test_the_download_is_the_record_as_json_in_the_exports_field_names(
    log: ConsentLog,
) -> None:
    config = make_config(
        store=log, controller_email="privacy@example.dk", controller_address="Vej 1\n8000 Aarhus"
    )
    async with client_for(make_app(config)) as client:
        await choose(client, "save", ["statistics"])
        await choose(client, "accept_all")
        consent_id = await consent_id_of(client)
        response = await client.get(RECORD, params={"format": "json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="consent-record-{consent_id}.json"'
    )
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert document["controller"] == {
        "name": "Testfirma ApS",
        "address": "Vej 1\n8000 Aarhus",
        "email": "privacy@example.dk",
        "privacy_policy_url": "/privatliv",
    }
    assert document["consent_id"] == consent_id
    assert document["retention_days"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", document["exported_at"])
    # Exactly what the JSON Lines export holds of this visitor.
    exported = "".join([c async for c in export_chunks(log, "jsonl", consent_id=consent_id)])
    assert document["records"] == [json.loads(line) for line in exported.splitlines()]
    assert [list(record) for record in document["records"]] == [list(EXPORT_COLUMNS)] * 2
    assert [r["action"] for r in document["records"]] == ["grant", "update"]


async def test_an_odd_consent_id_stays_out_of_the_download_header() -> None:
    log = RecordingLog()
    odd = 'visitor"\r\nX-Injected: 1'
    cookie = ConsentCookie(
        name="consentgate",
        keys=(SECRET,),
        policy_version="2026-11",
        categories=("statistics", "marketing"),
        max_age=3600,
        domain=None,
    )
    state = ConsentState(
        consent_id=odd, granted=frozenset(), policy_version="2026-11", decided_at=datetime.now(UTC)
    )
    await log.record(make_record(consent_id=odd))
    async with client_for(make_app(make_config(store=log))) as client:
        client.cookies.set("consentgate", cookie.encode(state))
        response = await client.get(RECORD, params={"format": "json"})
    assert response.status_code == 200
    assert response.json()["consent_id"] == odd
    assert response.headers["content-disposition"] == (
        'attachment; filename="consent-record-consent.json"'
    )
    assert "x-injected" not in response.headers


# -- erasure ---------------------------------------------------------------------------


async def test_erasing_tombstones_the_record_and_forgets_the_visitor(log: ConsentLog) -> None:
    app = make_app(make_config(store=log))
    async with client_for(app) as client:
        await choose(client, "accept_all")
        await choose(client, "save", ["statistics"])
        old_id = await consent_id_of(client)
        client.cookies.set("_ga", "GA1.1.1.1")
        client.cookies.set("_ga_TEST123456", "GS1.1.1")
        response = await erase(client)
        assert response.status_code == 303
        assert response.headers["location"] == "/_consent/me/record?erased=1&next=%2Fpage"
        cookies = set_cookies(response)
        assert any(c.startswith("consentgate=;") and "Max-Age=0" in c for c in cookies)
        assert any(c.startswith("_ga=;") and "Max-Age=0" in c for c in cookies)
        assert any(c.startswith("_ga_TEST123456=;") and "Max-Age=0" in c for c in cookies)
        assert response.headers["cache-control"] == "no-store"
        client.cookies.clear()  # as the browser does with the expired cookies
        page = await client.get(response.headers["location"], headers={"accept-language": "en"})
        assert "has been erased" in page.text
        assert 'id="consentgate-banner"' in (await client.get("/page")).text
        await choose(client, "reject_all")
        new_id = await consent_id_of(client)
    assert new_id != old_id
    # The chain still verifies, and shows the erasure without what was erased.
    report = await log.verify()
    assert report.ok, report.reason
    assert report.erased == 2
    [erase_record] = await log.history(old_id)
    assert erase_record.action == "erase"
    assert erase_record.granted == erase_record.refused == ()
    exported = "".join([c async for c in export_chunks(log, "jsonl")])
    rows = [json.loads(line) for line in exported.splitlines()]
    kept = [(row["consent_id"], row["action"]) for row in rows]
    assert kept == [(old_id, "erase"), (new_id, "reject")]


async def test_a_host_prefixed_consent_cookie_is_expired_as_its_prefix_requires() -> None:
    """A browser drops a __Host- cookie only on a Set-Cookie that says Secure."""
    app = make_app(make_config(store=RecordingLog(), cookie_name="__Host-consentgate"))
    async with client_for(app) as client:
        chosen = await choose(client, "accept_all")
        value = chosen.headers["set-cookie"].split(";", 1)[0]
        # httpx keeps no Secure cookie over http; the browser would send it back.
        page = await client.get(ERASE, headers={"cookie": value})
        response = await client.post(
            ERASE,
            data={"csrf_token": csrf_token(page.text), "confirm": "yes"},
            headers={"origin": BASE_URL, "cookie": value},
        )
    assert response.status_code == 303
    [expired] = [c for c in set_cookies(response) if c.startswith("__Host-consentgate=")]
    assert "Max-Age=0" in expired and "; Secure" in expired and "Domain" not in expired


async def test_the_confirmation_page_explains_what_erasing_means() -> None:
    async with client_for(make_app(make_config(store=RecordingLog()))) as client:
        await choose(client, "accept_all")
        page = (await client.get(ERASE, headers={"accept-language": "en"})).text
    assert "nobody can prove what you chose" in page
    assert "asked to choose again" in page
    assert '<form class="cg-erase-form" method="post" action="/_consent/me/erase">' in page
    assert 'name="confirm" value="yes"' in page
    assert "<script>" not in page.lower()


@pytest.mark.parametrize(
    ("overrides", "headers", "status"),
    [
        ({"csrf_token": "forged"}, {"origin": BASE_URL}, 403),
        ({}, {"origin": "https://evil.example"}, 403),
        ({}, {"origin": BASE_URL, "sec-fetch-site": "cross-site"}, 403),
        ({"confirm": ""}, {"origin": BASE_URL}, 400),
    ],
)
async def test_an_erasure_that_is_not_confirmed_from_the_site_erases_nothing(
    overrides: dict[str, str], headers: dict[str, str], status: int
) -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await choose(client, "accept_all")
        token = csrf_token((await client.get(ERASE)).text)
        data = {"csrf_token": token, "confirm": "yes", **overrides}
        response = await client.post(ERASE, data=data, headers=headers)
    assert response.status_code == status
    assert set_cookies(response) == []
    assert [r.action for r in log.records] == ["grant"]


async def test_an_erasure_the_log_cannot_do_changes_nothing_and_says_so() -> None:
    log = UnreadableLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await choose(client, "accept_all")
        log.down = True
        response = await erase(client)
    assert response.status_code == 503
    assert "could not be erased" in response.text or "kunne ikke slettes" in response.text
    assert set_cookies(response) == []
    assert len(log.records) == 1


async def test_a_withdrawal_still_in_the_outbox_is_shown_and_erased_too(tmp_path: Path) -> None:
    log, outbox = RecordingLog(), tmp_path / "outbox"
    async with client_for(make_app(make_config(store=log, outbox=outbox))) as client:
        await choose(client, "accept_all")
        consent_id = await consent_id_of(client)
        log.failing = True
        await choose(client, "reject_all")  # honoured, and kept in the outbox
        assert outbox.read_bytes() != b""
        log.failing = False  # back, before the outbox's retry in the background
        page = (await client.get(RECORD, headers={"accept-language": "en"})).text
        entries = re.findall(r"<li>\s*<h3>(.*?)</li>", page, re.S)
        assert [("Consent given" in e, "Consent withdrawn" in e) for e in entries] == [
            (True, False),
            (False, True),
        ]
        await choose(client, "accept_all")
        log.failing = True
        await choose(client, "reject_all")
        log.failing = False
        assert (await erase(client)).status_code == 303
        # Nothing is left to come back into the log once the erasure is done.
        assert outbox.read_bytes() == b""
    assert [r for r in log.records if r.consent_id == consent_id] == []


async def test_routes_answer_only_their_methods() -> None:
    async with client_for(make_app(make_config(store=RecordingLog()))) as client:
        post_record = await client.post(RECORD)
        put_erase = await client.put(ERASE)
        head = await client.head(RECORD)
    assert post_record.status_code == 405 and post_record.headers["allow"] == "GET, HEAD"
    assert put_erase.status_code == 405 and put_erase.headers["allow"] == "GET, HEAD, POST"
    assert head.status_code == 200
