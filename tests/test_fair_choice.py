"""The start-up check that refusing is offered as plainly as accepting."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentgate import ConfigurationError
from consentgate._fair_choice import unfair_choice

from .helpers import make_config

ACTIONS = """<form method="post" action="/_consent">
<button type="submit" class="cg-button" name="action" value="accept_all">Accept all</button>
<button type="submit" class="cg-button" name="action" value="reject_all">Reject all</button>
<button type="submit" class="cg-button" name="action" value="save">Save choices</button>
</form>"""


def test_the_three_equal_buttons_are_fair() -> None:
    assert unfair_choice(ACTIONS, "/_consent") is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (('value="reject_all">Reject all</button>', ""), "0 'reject_all' buttons"),
        (('value="save">', 'value="accept_all">'), "2 'accept_all' buttons"),
        (
            (
                'class="cg-button" name="action" value="reject_all"',
                'class="cg-link" name="action" value="reject_all"',
            ),
            "'reject_all' button is marked up unlike",
        ),
        (('value="reject_all">', 'value="reject_all" hidden>'), "'reject_all' button is hidden"),
        (('value="save">', 'value="save" disabled>'), "'save' button is disabled"),
        (('value="reject_all">Reject all<', 'value="reject_all"> <'), "no visible label"),
        (
            (
                '<button type="submit" class="cg-button" name="action" value="save">',
                '<button type="button" class="cg-button" name="action" value="save">',
            ),
            "0 'save' buttons",
        ),
        (('action="/_consent"', 'action="/elsewhere"'), "no consent form"),
    ],
)
def test_a_missing_hidden_or_unequal_choice_is_named(
    change: tuple[str, str], complaint: str
) -> None:
    html = ACTIONS.replace(*change)
    assert html != ACTIONS
    problem = unfair_choice(html, "/_consent")
    assert problem is not None and complaint in problem


def test_input_buttons_count_with_their_value_as_label() -> None:
    html = ACTIONS.replace(
        '<button type="submit" class="cg-button" name="action" value="save">Save choices</button>',
        '<input type="submit" class="cg-button" name="action" value="save">',
    )
    problem = unfair_choice(html, "/_consent")
    assert problem is not None and "'save' button is marked up unlike" in problem


def override(tmp_path: Path, name: str, source: str) -> Path:
    (tmp_path / name).write_text(source, encoding="utf-8")
    return tmp_path


def test_an_override_that_drops_reject_all_stops_the_start(tmp_path: Path) -> None:
    templates = override(
        tmp_path,
        "choice_actions.html",
        '<input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
        '<button type="submit" class="cg-button" name="action" value="accept_all">OK</button>'
        '<button type="submit" class="cg-button" name="action" value="save">Save</button>',
    )
    with pytest.raises(
        ConfigurationError, match=r"template_dirs: banner.html \(\w\w\): .*reject_all"
    ):
        make_config(template_dirs=[templates])


def test_an_override_that_styles_reject_all_apart_stops_the_start(tmp_path: Path) -> None:
    templates = override(
        tmp_path,
        "banner.html",
        '{% extends "@consentgate/banner.html" %}{% block actions %}'
        '<input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
        '<button type="submit" class="big" name="action" value="accept_all">Yes</button>'
        '<button type="submit" class="small" name="action" value="reject_all">No</button>'
        '<button type="submit" class="big" name="action" value="save">Save</button>'
        "{% endblock %}",
    )
    with pytest.raises(ConfigurationError, match="'reject_all' button is marked up unlike"):
        make_config(template_dirs=[templates])


def test_an_override_that_keeps_the_choices_equal_starts(tmp_path: Path) -> None:
    templates = override(
        tmp_path,
        "banner.html",
        '{% extends "@consentgate/banner.html" %}{% block footer %}<p>Hej</p>{% endblock %}',
    )
    assert make_config(template_dirs=[templates]).template_dirs == (templates,)
