"""get_consent: whatever it is handed, the visitor's consent or "no choice", never an error."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from consentgate import SCOPE_KEY, get_consent
from consentgate._state import ConsentState, CookieReading, LazyConsent


class Published(LazyConsent):
    """What the middleware puts in the scope, holding a fixed state."""

    def __init__(self, state: ConsentState) -> None:
        self._reading = CookieReading(state)

    @property
    def reading(self) -> CookieReading:
        return self._reading


CHOSEN = ConsentState(consent_id="abc", granted=frozenset({"statistics"}), policy_version="1")


def test_a_raw_scope() -> None:
    assert get_consent({"type": "http", SCOPE_KEY: Published(CHOSEN)}) is CHOSEN


def test_any_object_carrying_a_scope() -> None:
    # Django's ASGIRequest, Litestar's and Quart's Request are such objects.
    request = SimpleNamespace(scope={"type": "http", SCOPE_KEY: Published(CHOSEN)})
    assert get_consent(request) is CHOSEN


@pytest.mark.parametrize(
    "request_like",
    [
        {"type": "http"},
        {"type": "http", SCOPE_KEY: "not what the middleware puts there"},
        SimpleNamespace(scope={"type": "http"}),
        SimpleNamespace(scope=None),
        SimpleNamespace(),
        None,
        "GET /",
        42,
    ],
    ids=repr,
)
def test_outside_the_middleware_is_no_choice(request_like: Any) -> None:
    state = get_consent(request_like)
    assert state.has_choice is False and state.granted == frozenset()
