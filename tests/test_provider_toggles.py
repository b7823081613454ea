"""The second layer's toggle per provider: without JavaScript, by plain form posts.

The preference centre (and the settings dialog, which is the same form) has a
toggle per provider inside each category. A category's toggle stands for all of
its providers: it is granted only when none of its providers' toggles shown on
the form was left off; what is ticked of the rest is allowed provider by provider.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from hypothesis import given, strategies as st

from consentgate._endpoints import Choice, _narrowed, _saved
from consentgate._provider_table import ProviderTable
from consentgate._state import ConsentState
from consentgate.providers import GoogleAnalytics, Provider

from .helpers import BASE_URL, RecordingLog, client_for, csrf_token, make_app, make_config

pytestmark = pytest.mark.anyio

CHECKBOX = re.compile(
    r'<input type="checkbox" name="(categories|providers)" value="([^"]+)"( checked)?>'
)
SHOWN = re.compile(r'<input type="hidden" name="providers_shown" value="([^"]+)">')


def toggles(html: str) -> dict[tuple[str, str], bool]:
    return {(kind, value): bool(checked) for kind, value, checked in CHECKBOX.findall(html)}


async def save(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    """Post the preference centre's form as a browser without JavaScript does."""
    page = (await client.get("/_consent/preferences")).text
    data = {
        "action": "save",
        "source": "preferences",
        "csrf_token": csrf_token(page),
        "next": "/page",
        "providers_shown": SHOWN.findall(page),
        **fields,
    }
    return await client.post("/_consent", data=data, headers={"origin": BASE_URL})


async def state_of(client: httpx.AsyncClient) -> dict[str, Any]:
    state: dict[str, Any] = (await client.get("/_consent/me")).json()
    return state


async def test_every_optional_provider_has_a_toggle_inside_its_category() -> None:
    async with client_for(make_app()) as client:
        html = (await client.get("/_consent/preferences")).text
    assert toggles(html) == {
        ("categories", "statistics"): False,
        ("categories", "marketing"): False,
        ("providers", "google-analytics"): False,
        ("providers", "site-kit"): False,
        ("providers", "jetpack-stats"): False,
        ("providers", "buffer"): False,
    }
    assert sorted(SHOWN.findall(html)) == [
        "buffer",
        "google-analytics",
        "jetpack-stats",
        "site-kit",
    ]
    # Each toggle sits in its category's section, after the category's own.
    statistics = html[html.index('value="statistics"') : html.index('value="marketing"')]
    assert 'value="google-analytics"' in statistics and 'value="buffer"' not in statistics


async def test_providers_sharing_a_name_share_one_toggle() -> None:
    config = make_config(
        providers=[GoogleAnalytics("G-AAAAAAAAAA"), GoogleAnalytics("G-BBBBBBBBBB")]
    )
    async with client_for(make_app(config)) as client:
        html = (await client.get("/_consent/preferences")).text
    assert html.count('name="providers" value="google-analytics"') == 1
    assert SHOWN.findall(html) == ["google-analytics"]


async def test_a_category_with_every_provider_ticked_is_granted() -> None:
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await save(
            client,
            categories=["statistics"],
            providers=["google-analytics", "site-kit", "jetpack-stats"],
        )
        state = await state_of(client)
        html = (await client.get("/_consent/preferences")).text
    assert state["granted"] == ["statistics"] and state["providers"] == []
    assert log.records[0].granted == ("statistics",) and log.records[0].providers == ()
    assert toggles(html)[("categories", "statistics")] is True
    assert toggles(html)[("providers", "jetpack-stats")] is True


STATISTICS_TOOLS = ["google-analytics", "site-kit", "jetpack-stats"]


async def test_a_provider_left_off_keeps_its_category_from_being_granted() -> None:
    """Without JavaScript the category's box stays ticked: the provider's says no."""
    log = RecordingLog()
    async with client_for(make_app(make_config(store=log))) as client:
        await save(client, categories=["statistics"], providers=STATISTICS_TOOLS)
        await save(client, categories=["statistics"], providers=["google-analytics", "site-kit"])
        state = await state_of(client)
        html = (await client.get("/_consent/preferences")).text
    assert state["granted"] == []
    assert state["providers"] == ["google-analytics", "site-kit"]
    assert "jetpack-stats" not in state["allowed_providers"]
    record = log.records[-1]
    assert record.action == "withdraw"
    assert record.granted == () and record.providers == ("google-analytics", "site-kit")
    assert record.refused == ("marketing", "statistics")
    assert toggles(html)[("categories", "statistics")] is False
    assert toggles(html)[("providers", "google-analytics")] is True
    assert toggles(html)[("providers", "jetpack-stats")] is False


async def test_unticking_a_category_alone_takes_all_its_providers_off() -> None:
    """Without JavaScript its providers' boxes stay ticked: the category's says no to all."""
    async with client_for(make_app()) as client:
        await save(client, categories=["statistics"], providers=STATISTICS_TOOLS)
        await save(client, providers=STATISTICS_TOOLS)
        state = await state_of(client)
        page = (await client.get("/page")).text
    assert state["granted"] == [] and state["providers"] == []
    assert "googletagmanager" not in page and "stats.wp.com" not in page


async def test_ticking_a_category_alone_allows_all_its_providers() -> None:
    async with client_for(make_app()) as client:
        await save(client, providers=["google-analytics"])
        # The category's box ticked, the other providers' boxes left as they were.
        await save(client, categories=["statistics"], providers=["google-analytics"])
        state = await state_of(client)
    assert state["granted"] == ["statistics"] and state["providers"] == []


async def test_the_script_unticking_the_category_with_one_provider_keeps_the_rest() -> None:
    """With JavaScript, unticking one provider unticks its category's box too."""
    async with client_for(make_app()) as client:
        await save(client, categories=["statistics"], providers=STATISTICS_TOOLS)
        await save(client, providers=["google-analytics", "jetpack-stats"])
        state = await state_of(client)
    assert state["granted"] == []
    assert state["providers"] == ["google-analytics", "jetpack-stats"]


async def test_ticking_every_provider_with_the_category_grants_it() -> None:
    async with client_for(make_app()) as client:
        await save(client, providers=["google-analytics"])
        await save(client, categories=["statistics"], providers=STATISTICS_TOOLS)
        assert (await state_of(client))["granted"] == ["statistics"]


async def test_one_provider_of_an_unticked_category_is_allowed_on_its_own() -> None:
    async with client_for(make_app()) as client:
        await save(client, categories=["statistics"], providers=STATISTICS_TOOLS)
        await save(client, providers=["buffer"])
        state = await state_of(client)
        page = (await client.get("/page")).text
    assert state["granted"] == [] and state["providers"] == ["buffer"]
    assert "bufferapp" in page and "googletagmanager" not in page


async def test_a_form_without_provider_toggles_grants_whole_categories() -> None:
    """The first layer and older overridden templates post categories only."""
    async with client_for(make_app()) as client:
        await save(client, categories=["statistics"], providers_shown=[])
        assert (await state_of(client))["granted"] == ["statistics"]


async def test_accept_all_and_reject_all_ignore_the_toggles() -> None:
    async with client_for(make_app()) as client:
        await save(client, action="accept_all", providers=[])
        accepted = await state_of(client)
        await save(client, action="reject_all", providers=["buffer"])
        rejected = await state_of(client)
    assert accepted["granted"] == ["marketing", "statistics"]
    assert rejected["granted"] == [] and rejected["providers"] == []


async def test_a_necessary_provider_has_no_toggle() -> None:
    uptime = Provider(name="uptime", title="Uptime", category="necessary")
    async with client_for(
        make_app(make_config(providers=[uptime, GoogleAnalytics("G-AAAAAAAAAA")]))
    ) as client:
        html = (await client.get("/_consent/preferences")).text
    assert 'value="uptime"' not in html
    assert "<h3>Uptime</h3>" in html


async def test_the_form_of_a_site_with_many_providers_is_taken() -> None:
    many = [Provider(name=f"tool-{i}", title=f"Tool {i}", category="marketing") for i in range(60)]
    async with client_for(make_app(make_config(providers=many))) as client:
        response = await save(client, providers=[p.name for p in many[:30]])
        state = await state_of(client)
    assert response.status_code == 303
    assert len(state["providers"]) == 30 and state["granted"] == []


# -- the rule, for any form and any current choice -----------------------------------------

TABLE = ProviderTable(
    {"ga": "statistics", "jetpack": "statistics", "buffer": "marketing", "maps": "preferences"}
)
CHOOSABLE = frozenset({"statistics", "marketing", "preferences"})


@given(
    granted=st.frozensets(st.sampled_from(sorted(CHOOSABLE))),
    allowed=st.frozensets(st.sampled_from(TABLE.names)),
    ticked_categories=st.frozensets(st.sampled_from(sorted(CHOOSABLE))),
    ticked=st.frozensets(st.sampled_from(TABLE.names)),
    shown=st.frozensets(st.sampled_from(TABLE.names)),
)
def test_a_saved_form_never_allows_what_the_visitor_left_off(
    granted: frozenset[str],
    allowed: frozenset[str],
    ticked_categories: frozenset[str],
    ticked: frozenset[str],
    shown: frozenset[str],
) -> None:
    current = ConsentState(
        consent_id="id", granted=granted, providers=allowed, provider_categories=TABLE.categories
    )
    choice = Choice(
        action="save",
        categories=tuple(ticked_categories),
        providers=tuple(ticked),
        providers_shown=tuple(shown),
        next_path="/",
        csrf_token="",
        source="preferences",
        language=None,
    )
    new_granted, new_providers = _saved(current, choice, CHOOSABLE, TABLE)
    state = ConsentState(
        consent_id="id",
        granted=new_granted,
        providers=new_providers,
        provider_categories=TABLE.categories,
    )
    # Nothing is granted whose box was not ticked, nothing allowed that was not ticked
    # itself or through its ticked category's box.
    assert new_granted <= ticked_categories
    for name in TABLE.names:
        if state.allows_provider(name):
            assert name in ticked or TABLE.categories[name] in ticked_categories
    # A category ticked with every toggle shown for it ticked is granted.
    for category in ticked_categories:
        toggles = {p for p in shown if TABLE.categories[p] == category}
        if toggles <= ticked:
            assert category in new_granted
    # What the form ticks that its category does not cover is allowed one by one,
    # unless the visitor just unticked that category and left its providers alone.
    for name in ticked - {p for p in TABLE.names if TABLE.categories[p] in new_granted}:
        category = TABLE.categories[name]
        toggles = {p for p in shown if TABLE.categories[p] == category}
        untouched = category in granted and category not in ticked_categories
        if not (untouched and toggles and toggles <= ticked and name in toggles):
            assert name in new_providers
    assert not new_providers & {p for p in TABLE.names if TABLE.categories[p] in new_granted}


states = st.builds(
    ConsentState,
    consent_id=st.just("id"),
    granted=st.frozensets(st.sampled_from(sorted(CHOOSABLE))),
    providers=st.frozensets(st.sampled_from(TABLE.names)),
    answered=st.booleans(),
    provider_categories=st.just(TABLE.categories),
)


@given(current=states, state=states)
def test_what_a_failed_log_leaves_is_what_both_choices_allow(
    current: ConsentState, state: ConsentState
) -> None:
    """When a grant cannot be proven, only the withdrawal in it is applied."""
    kept = _narrowed(current, state)
    for name in TABLE.names:
        both = current.allows_provider(name) and state.allows_provider(name)
        assert kept.allows_provider(name) is both, name
    assert kept.granted <= current.granted & state.granted
    assert kept.has_choice is current.has_choice
