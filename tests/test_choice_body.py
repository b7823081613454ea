"""Fuzzing the choice-body parser (form and JSON): any body is a choice or a clear 4xx.

Budgets are bounded and the runs derandomised, so CI sees the same examples every time.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import anyio
from hypothesis import HealthCheck, example, given, settings, strategies as st

from consentgate._csrf import CsrfTokens
from consentgate._endpoints import ACTIONS, SOURCES, BadRequest, Choice, _parse_choice
from consentgate._redirect import safe_next

from .helpers import BASE_URL, SECRET, RecordingLog, client_for, make_app, make_config

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FIELDS = ("action", "categories", "csrf_token", "next", "source", "lang")
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = st.sampled_from(
    [FORM, f"{FORM}; charset=utf-8", "application/json", "APPLICATION/JSON; x=y", "", "text/plain"]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
json_objects = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=8),
    st.sampled_from(ACTIONS) | st.lists(st.text(max_size=12), max_size=4) | json_values,
    max_size=8,
)
form_pairs = st.lists(
    st.tuples(
        st.sampled_from(FIELDS) | st.text(max_size=8),
        st.sampled_from(ACTIONS) | st.text(max_size=30),
    ),
    max_size=12,
)
nested = st.integers(min_value=1, max_value=20_000).map(lambda depth: b"[" * depth)

bodies = (
    st.binary(max_size=512)
    | json_objects.map(lambda o: json.dumps(o).encode())
    | form_pairs.map(lambda pairs: urlencode(pairs).encode())
    | nested
)


def check(choice: Choice) -> None:
    """What a parsed choice always is, whatever it was parsed from."""
    assert choice.action in ACTIONS
    assert all(isinstance(c, str) for c in choice.categories)
    assert choice.next_path == safe_next(choice.next_path)  # already as safe as it gets
    assert choice.source in (*SOURCES, "api")
    assert choice.language is None or (isinstance(choice.language, str) and choice.language)
    assert isinstance(choice.csrf_token, str)


@FUZZ
@given(body=bodies, content_type=CONTENT_TYPES)
@example(body=b"[" * 5000, content_type="application/json")
@example(body=b'{"action": "save", "categories": ' + b"[" * 5000, content_type="application/json")
@example(body=b"\xff\xfe", content_type=FORM)
@example(body=b"action=save&" + b"&".join([b"x=1"] * 100), content_type=FORM)
def test_any_body_is_a_choice_or_a_bad_request(body: bytes, content_type: str) -> None:
    try:
        choice = _parse_choice(body, content_type)
    except BadRequest as exc:
        assert exc.status in (400, 415)
        return
    check(choice)


@FUZZ
@given(
    action=st.sampled_from(ACTIONS),
    categories=st.lists(st.text(min_size=1, max_size=12), max_size=4),
    next_path=st.text(max_size=40),
    source=st.sampled_from(SOURCES),
    token=st.text(max_size=40),
    as_json=st.booleans(),
)
def test_a_well_formed_choice_parses_to_what_was_posted(
    action: str, categories: list[str], next_path: str, source: str, token: str, as_json: bool
) -> None:
    fields: dict[str, Any] = {
        "action": action,
        "categories": categories,
        "next": next_path,
        "csrf_token": token,
        "source": source,
    }
    if as_json:
        choice = _parse_choice(json.dumps(fields).encode(), "application/json")
    else:
        pairs = [(k, v) for k, v in fields.items() if k != "categories"]
        pairs += [("categories", c) for c in categories]
        try:
            body = urlencode(pairs).encode()
        except UnicodeEncodeError:  # lone surrogates: no browser sends them
            return
        choice = _parse_choice(body, FORM)
    check(choice)
    assert choice.action == action
    assert choice.categories == tuple(categories)
    assert choice.csrf_token == token
    assert choice.next_path == safe_next(next_path)
    assert choice.source == ("api" if as_json else source)


#: One app for every example: a post without a valid token changes nothing in it.
APP = make_app(make_config(store=RecordingLog()))
TOKEN = CsrfTokens((SECRET,), 60).issue()


@settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(body=bodies, content_type=CONTENT_TYPES, with_token=st.booleans())
def test_post_consent_never_answers_500(body: bytes, content_type: str, with_token: bool) -> None:
    if with_token:  # the first value of a repeated form field is the one taken
        body = b"csrf_token=" + TOKEN.encode() + b"&" + body

    async def post() -> int:
        async with client_for(APP) as client:
            response = await client.post(
                "/_consent",
                content=body,
                headers={"content-type": content_type, "origin": BASE_URL},
            )
        return response.status_code

    assert anyio.run(post) in (303, 400, 403, 413, 415)
