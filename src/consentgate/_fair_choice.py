"""A start-up check that every consent form offers its three choices on equal terms.

Refusing must be as easy as accepting (EDPB 03/2022, the Danish Datatilsynet's
guidance): a site that overrides ``banner.html`` or ``preferences.html`` and drops
"Reject all", hides it, or styles it apart from "Accept all" would make the banner
unlawful while every test of consentgate's own templates still passed. So the pages
are rendered once at start-up and their consent forms checked here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["CHOICES", "unfair_choice"]

#: The ``action`` values a consent form must offer, each once.
CHOICES = ("accept_all", "reject_all", "save")
# Attributes that may differ between the buttons: what they do, and nothing about their look.
_OWN = frozenset({"value", "id"})
# Attributes that take a button out of reach or sight.
_HIDING = frozenset({"hidden", "disabled", "inert", "aria-hidden"})


@dataclass
class _Button:
    tag: str
    attrs: dict[str, str | None]
    text: list[str] = field(default_factory=list)


class _ConsentForms(HTMLParser):
    """The submit buttons named ``action`` in each form posting to ``action_url``."""

    def __init__(self, action_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action_url = action_url
        self.forms: list[list[_Button]] = []
        self._in_form = False
        self._button: _Button | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._in_form = (values.get("method") or "").lower() == "post" and values.get(
                "action"
            ) == self.action_url
            if self._in_form:
                self.forms.append([])
        elif self._in_form and values.get("name") == "action":
            kind = (values.get("type") or "submit").lower()
            if tag == "button" and kind == "submit" or tag == "input" and kind == "submit":
                button = _Button(tag, values)
                self.forms[-1].append(button)
                if tag == "button":
                    self._button = button
                elif values.get("value"):
                    button.text.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "button":
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.text.append(data)


def unfair_choice(html: str, action_url: str) -> str | None:
    """What is wrong with the consent forms in ``html`` (posting to ``action_url``); None if fair.

    Every such form must have exactly one submit button for each of :data:`CHOICES`,
    each with a visible label, none hidden or disabled, and all three with the same
    element and the same attributes but for ``value`` and ``id``.
    """
    parser = _ConsentForms(action_url)
    parser.feed(html)
    parser.close()
    if not parser.forms:
        return f'no consent form (a <form method="post" action="{action_url}">)'
    for buttons in parser.forms:
        by_choice: dict[str, list[_Button]] = {}
        for button in buttons:
            by_choice.setdefault(button.attrs.get("value") or "", []).append(button)
        for choice in CHOICES:
            found = by_choice.get(choice, [])
            if len(found) != 1:
                return f"the consent form has {len(found)} {choice!r} buttons; it needs exactly one"
        chosen = [by_choice[choice][0] for choice in CHOICES]
        for choice, button in zip(CHOICES, chosen, strict=True):
            hiding = _HIDING & button.attrs.keys()
            if hiding:
                return f"the {choice!r} button is {', '.join(sorted(hiding))}"
            if not "".join(button.text).strip():
                return f"the {choice!r} button has no visible label"
        first = chosen[0]
        for choice, button in zip(CHOICES[1:], chosen[1:], strict=True):
            if button.tag != first.tag or _look(button) != _look(first):
                return (
                    f"the {choice!r} button is marked up unlike the 'accept_all' one "
                    f"({_describe(button)} vs {_describe(first)}): refusing must look and "
                    "work like accepting"
                )
    return None


def _look(button: _Button) -> dict[str, str | None]:
    return {name: value for name, value in button.attrs.items() if name not in _OWN}


def _describe(button: _Button) -> str:
    attrs = " ".join(f'{k}="{v}"' if v is not None else k for k, v in _look(button).items())
    return f"<{button.tag} {attrs}>"
