"""``{% load consentgate %}{% consent_settings_link %}``: the "Cookie settings" link, in the
visitor's language, where the template puts it (a footer, say), rather than floating.

With JavaScript it opens the settings dialog on the page; without, it leads to the
preference centre and back. Set ``show_settings_link`` to false, so that the page
has this one link: while consentgate also adds its own, this one only navigates.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ...._middleware import ConsentMiddleware
from ...._state import SCOPE_KEY

__all__ = ["consent_settings_link", "register"]

register = template.Library()


@register.simple_tag(takes_context=True)
def consent_settings_link(context: Any, css_class: str = "") -> SafeString:
    """The link, or nothing for a request that did not pass ConsentMiddleware."""
    request = context.get("request")
    middleware = _middleware_of(request)
    if middleware is None:
        return SafeString("")
    config = middleware.config
    lang = _language(middleware, context, request)
    label = middleware.renderer.texts[lang]["settings_link.label"]
    next_q = quote(request.get_full_path(), safe="")
    href = f"{config.prefix}/preferences?lang={lang}&next={next_q}"
    # The script opens the dialog from the element with this id; only one may have it.
    link_id = "" if config.show_settings_link else "consentgate-settings"
    return format_html(
        '<a{} href="{}" lang="{}"{}>{}</a>',
        format_html(' id="{}"', link_id) if link_id else "",
        href,
        lang,
        format_html(' class="{}"', css_class) if css_class else "",
        label,
    )


def _language(middleware: ConsentMiddleware, context: Any, request: Any) -> str:
    """The language consentgate shows this page in: as ``language_from`` says (with
    "html-lang", the language Django renders the page in), else Accept-Language."""
    renderer = middleware.renderer
    source = middleware.config.language_from
    if source == "html-lang":
        wanted = context.get("LANGUAGE_CODE") or getattr(request, "LANGUAGE_CODE", None)
    elif callable(source):
        wanted = middleware._language_from_app(source, request.scope)
    else:
        wanted = None
    return renderer.language_of(wanted) or renderer.negotiate(
        request.headers.get("accept-language")
    )


def _middleware_of(request: Any) -> ConsentMiddleware | None:
    """The ConsentMiddleware the request passed: its per-request gate in the scope knows it."""
    scope = getattr(request, "scope", None)
    gate = scope.get(SCOPE_KEY) if isinstance(scope, dict) else None
    middleware = getattr(gate, "mw", None)
    return middleware if isinstance(middleware, ConsentMiddleware) else None
