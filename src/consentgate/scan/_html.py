"""What the scanner reads in a page: what it loads, where it links, and its consent forms.

A real HTML parser (the standard library's), unlike the middleware's blocker:
the scanner reads each page once, and must see a page as a browser does, not as
fast as possible. Only markup that loads or runs something counts as a
resource: a ``<script type="text/plain">`` or an ``<iframe data-consent-src>``
(markup the blocker made inert, or the site wrote inert) is recorded as blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

from .._blocking import _JS_TYPES

__all__ = ["Form", "PageMarkup", "ResourceKind", "TagResource", "parse_page"]

ResourceKind = Literal["script", "inline-script", "iframe", "img", "link"]

#: ``<link rel>`` values that make the browser fetch or connect to the URL.
_LOADING_RELS = frozenset(
    {"stylesheet", "preload", "prefetch", "preconnect", "dns-prefetch", "modulepreload", "icon"}
)


@dataclass(frozen=True, slots=True)
class TagResource:
    """One tag that loads or runs something, as written in the page."""

    kind: ResourceKind
    #: The URL as written (resolve it against the page), or "" for an inline script.
    url: str
    #: An inline script's text.
    text: str = ""
    #: Inert: a script of a type browsers do not run, an iframe without ``src``.
    blocked: bool = False


@dataclass(slots=True)
class Form:
    """A ``<form method=post>``: where it posts, its fields, and its submit buttons."""

    action: str
    hidden: list[tuple[str, str]] = field(default_factory=list)
    #: (name, value, checked) of each checkbox.
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)
    #: (name, value) of each submit button.
    buttons: list[tuple[str, str]] = field(default_factory=list)
    #: The ``href`` of every link inside the form.
    links: list[str] = field(default_factory=list)

    @property
    def is_consent_form(self) -> bool:
        """A consentgate choice form: a token, and buttons that name an action."""
        return any(name == "csrf_token" for name, _ in self.hidden) and any(
            name == "action" for name, _ in self.buttons
        )


@dataclass(slots=True)
class PageMarkup:
    resources: list[TagResource] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)

    def consent_forms(self) -> list[Form]:
        return [form for form in self.forms if form.is_consent_form]


def parse_page(html: str) -> PageMarkup:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.page


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = PageMarkup()
        self._script: tuple[bool, list[str]] | None = None
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        form = self._form
        if tag == "script":
            executable = values.get("type", "").strip().lower() in _JS_TYPES
            src = values.get("src", "").strip()
            if src:
                self.page.resources.append(TagResource("script", src, blocked=not executable))
            else:
                self._script = (executable, [])
        elif tag == "iframe":
            src = values.get("src", "").strip()
            waiting = values.get("data-consent-src", "").strip()
            if src:
                self.page.resources.append(TagResource("iframe", src))
            elif waiting:
                self.page.resources.append(TagResource("iframe", waiting, blocked=True))
        elif tag == "img":
            src = values.get("src", "").strip()
            if src:
                self.page.resources.append(TagResource("img", src))
        elif tag == "link":
            rels = set(values.get("rel", "").lower().split())
            href = values.get("href", "").strip()
            if href and rels & _LOADING_RELS:
                self.page.resources.append(TagResource("link", href))
        elif tag == "a":
            href = values.get("href", "").strip()
            if href:
                self.page.links.append(href)
                if form is not None:
                    form.links.append(href)
        elif tag == "form":
            if values.get("method", "get").lower() == "post":
                self._form = Form(action=values.get("action", ""))
                self.page.forms.append(self._form)
        elif tag == "input" and form is not None:
            kind = values.get("type", "text").lower()
            name, value = values.get("name", ""), values.get("value", "")
            if kind == "hidden":
                form.hidden.append((name, value))
            elif kind == "checkbox":
                form.checkboxes.append((name, value or "on", "checked" in values))
            elif kind == "submit":
                form.buttons.append((name, value))
        elif tag == "button" and form is not None:
            if values.get("type", "submit").lower() == "submit":
                form.buttons.append((values.get("name", ""), values.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            executable, parts = self._script
            self._script = None
            text = "".join(parts)
            if text.strip():
                self.page.resources.append(
                    TagResource("inline-script", "", text=text, blocked=not executable)
                )
        elif tag == "form":
            self._form = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script[1].append(data)
