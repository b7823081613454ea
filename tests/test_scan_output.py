"""The scan report's outputs: JSON against its shipped schema, the HTML page, the table,
and the draft declaration."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import replace
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
from examples.leaky_site.app import app as leaky_app, config as leaky_config

from consentgate import ConsentConfig
from consentgate.scan import Declaration, ResourceSeen, ScanReport
from consentgate.scan._output import (
    SCHEMA_VERSION,
    declaration_toml,
    report_html,
    report_json,
    report_table,
)
from tests.helpers import SECRET
from tests.scan_sites import html_page, scan, site, subjects

pytestmark = pytest.mark.anyio


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (files("consentgate.scan") / "report.schema.json").read_text(encoding="utf-8")
    )
    return data


def validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema())
    return jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture
async def leaky() -> ScanReport:
    return await scan(leaky_app)


async def test_the_json_report_follows_its_schema(leaky: ScanReport) -> None:
    document = json.loads(json.dumps(report_json(leaky)))
    validator().validate(document)
    assert (
        document["schema_version"]
        == SCHEMA_VERSION
        == schema()["properties"]["schema_version"]["const"]
    )
    assert document["clean"] is False
    kinds = {(f["kind"], f["subject"]) for f in document["findings"]}
    assert {("violation", "_fbp"), ("undeclared", "_fbp"), ("stale", "ab_variant")} <= kinds
    fbp = next(c for c in document["cookies"] if c["name"] == "_fbp")
    assert fbp["lifetime_seconds"] == 90 * 24 * 3600


async def test_the_schema_is_strict(leaky: ScanReport) -> None:
    document = json.loads(json.dumps(report_json(leaky)))
    checker = validator()
    assert checker.is_valid(document)
    changes: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d["findings"][0].update(kind="oops"),
        lambda d: d["cookies"][0].pop("lifetime_seconds"),
        lambda d: d.update(schema_version=2),
        lambda d: d["pages"][0].update(visitor="robot"),
        lambda d: d.update(extra=True),
    ]
    for change in changes:
        copy = json.loads(json.dumps(document))
        change(copy)
        assert not checker.is_valid(copy)


async def test_a_browser_request_follows_the_schema(leaky: ScanReport) -> None:
    request = ResourceSeen(
        "request",
        "https://connect.facebook.net/x.js",
        "http://testserver/",
        "new",
        "meta-pixel",
        "marketing",
        False,
    )
    leaky.resources.append(request)
    validator().validate(json.loads(json.dumps(report_json(leaky))))


async def test_the_html_report_is_self_contained_and_escaped() -> None:
    hostile = 'https://evil.example/x.js?"><script>alert(1)</script>'
    pages = {"/": html_page(f"<img src='{hostile}'>")}
    report = await scan(site(pages))
    page = report_html(report)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Nothing outside the page: no stylesheets, scripts or images fetched.
    assert not re.search(r"<(link|script|img|iframe)\b", page)
    assert "clean" in page


async def test_the_html_report_names_the_findings(leaky: ScanReport) -> None:
    page = report_html(leaky)
    for finding in leaky.findings:
        assert finding.detail.replace("'", "&#39;") in page
    assert "FAILED" in page


async def test_the_table(leaky: ScanReport) -> None:
    table = report_table(leaky)
    lines = table.splitlines()
    assert lines[0] == "consentgate scan of http://testserver/"
    assert "3 pages x 3 visitors" in lines[1]
    for finding in leaky.findings:
        assert finding.detail in table
    assert lines[-1].startswith("FAILED: 6 errors")
    # Errors come first.
    rows = [line.split()[0] for line in lines if line.startswith(("error", "warning"))]
    assert rows == sorted(rows)


async def test_a_clean_table_says_clean() -> None:
    report = await scan(site({"/": html_page("<p>Hei</p>")}))
    assert report_table(report).splitlines()[-1] == "clean"


async def test_the_draft_declaration_completes_the_site(leaky: ScanReport) -> None:
    draft = declaration_toml(leaky)
    data = tomllib.loads(draft)
    assert [p["name"] for p in data["providers"]] == ["meta-pixel"]
    assert [c["name"] for c in data["providers"][0]["cookies"]] == ["_fbp"]
    assert data["providers"][0]["cookies"][0]["expiry"] == "90 days"
    # Taken as it is into the site's config, the cookie is declared.
    config = ConsentConfig.from_mapping(
        {"secret_key": SECRET, "store": "sqlite:///:memory:", "providers": data["providers"]}
    )
    completed = Declaration.from_config(
        replace(leaky_config, providers=[*leaky_config.providers, *config.providers]), "draft"
    )
    assert [e.provider for e in completed.covering("_fbp")] == ["meta-pixel"]


async def test_a_draft_with_nothing_to_add() -> None:
    report = await scan(site({"/": html_page("<p>Hei</p>")}))
    draft = declaration_toml(report)
    assert tomllib.loads(draft) == {}
    assert "Nothing to add" in draft


async def test_an_unknown_cookie_drafts_as_marketing_until_told() -> None:
    report = await scan(site({"/": html_page("<p>Hei</p>")}, cookies={"/": {"cart": "1"}}))
    assert subjects(report, "undeclared") == {("cart", "new")}
    data = tomllib.loads(declaration_toml(report))
    assert data["providers"][0]["category"] == "marketing"
    ConsentConfig.from_mapping(
        {"secret_key": SECRET, "store": "sqlite:///:memory:", "providers": data["providers"]}
    )
