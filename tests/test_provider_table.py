"""ProviderTable: provider names, their categories, and their bits in the consent cookie."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from consentgate._provider_table import EMPTY_TABLE, ProviderTable
from consentgate._state import ConsentState
from consentgate.providers import Buffer, GoogleAnalytics, Provider

TABLE = ProviderTable({"youtube": "marketing", "maps": "preferences", "uptime": "necessary"})


def test_names_are_sorted_whatever_the_configuration_order() -> None:
    assert TABLE.names == ("maps", "uptime", "youtube")
    assert ProviderTable(dict(reversed(list(TABLE.categories.items())))).digest == TABLE.digest


def test_another_set_of_names_has_another_digest() -> None:
    digests = {
        TABLE.digest,
        ProviderTable({**TABLE.categories, "vimeo": "marketing"}).digest,
        ProviderTable({"youtube": "marketing", "maps": "preferences"}).digest,
        ProviderTable({"youtube2": "marketing", "maps": "preferences", "uptime": "x"}).digest,
        EMPTY_TABLE.digest,
    }
    assert len(digests) == 5
    assert all(len(d) == 8 for d in digests)


def test_moving_a_provider_to_another_category_keeps_its_bit() -> None:
    moved = ProviderTable({**TABLE.categories, "youtube": "preferences"})
    assert moved.digest == TABLE.digest and moved.mask({"youtube"}) == TABLE.mask({"youtube"})


@given(st.frozensets(st.sampled_from(TABLE.names)))
def test_a_mask_reads_back_as_its_names(names: frozenset[str]) -> None:
    assert TABLE.names_in(TABLE.mask(names)) == names


def test_unknown_names_get_no_bit_and_foreign_bits_no_name() -> None:
    assert TABLE.mask({"bogus"}) == 0
    assert TABLE.names_in(1 << 3) is None
    assert TABLE.names_in(-1) is None


def test_only_optional_known_providers_can_be_allowed_on_their_own() -> None:
    assert TABLE.choosable(["youtube", "uptime", "bogus", "maps"]) == {"youtube", "maps"}


def test_providers_sharing_a_name_share_it_and_two_categories_are_refused() -> None:
    table = ProviderTable.of([GoogleAnalytics("G-AAAAAAAAAA"), GoogleAnalytics("G-BBBBBBBBBB")])
    assert table.categories == {"google-analytics": "statistics"}
    clash = Provider(name="buffer", title="Buffer ads", category="statistics")
    with pytest.raises(ValueError, match="buffer"):
        ProviderTable.of([Buffer(), clash])


def test_a_state_with_the_table_answers_for_each_provider() -> None:
    state = ConsentState(
        consent_id="id",
        granted=frozenset({"preferences"}),
        providers=frozenset({"youtube"}),
        provider_categories=TABLE.categories,
    )
    assert state.allows_provider("youtube") and state.allows_provider("maps")
    assert state.allows_provider("uptime")  # necessary
    assert not state.allows_provider("bogus")
    assert state.allowed_providers == {"youtube", "maps", "uptime"}
    # Without the table a state knows only what it names, never more.
    bare = ConsentState(consent_id="id", granted=frozenset({"preferences"}))
    assert not bare.allows_provider("maps")


def test_allowing_a_provider_is_no_answer_to_the_banner() -> None:
    assert not ConsentState(consent_id="id", providers=frozenset({"x"}), answered=False).has_choice
    assert ConsentState(consent_id="id").has_choice
    assert not ConsentState().has_choice
