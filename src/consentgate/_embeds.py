"""Click-to-load placeholders: what a visitor sees in place of an embed not yet allowed.

The panel (texts, privacy link, the form that allows the provider) is rendered
once per language and provider from ``templates/embed.html``; per embed only its
size, its name, the page's address and the form's token are filled in. The
placeholder's stylesheet and script come with the first placeholder of a page, so
pages without embeds load nothing more.

Only a provider the site declares (``ConsentConfig(providers=...)``) can be allowed
from its placeholder: the preference centre and the cookie declaration tell the
visitor about it. A provider only the tracker registry knows was never shown
there, so its placeholder leads to the settings, where its category is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from html import escape
from urllib.parse import quote

from ._blocking import Attribute, Placeholder
from ._csp import SCRIPT_NONCE, STYLE_NONCE, Nonces, with_nonces, without_nonces
from ._registry import Tracker
from ._render import Fragment, Renderer, hole

__all__ = ["EmbedPlaceholders"]

#: The box of an embed that says no size of its own, by kind (YouTube's and Maps' defaults).
_DEFAULT_SIZE = {"video": (560, 315), "map": (600, 450), "content": (560, 315)}
_MAX_SIDE = 10_000


class EmbedPlaceholders:
    """Renders placeholders for one site; ``for_page`` gives the blocker its callback."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._providers = {p.name: p for p in renderer.config.providers}
        assets = renderer.assets
        self._assets = (
            f'<link rel="stylesheet" href="{escape(assets.url("consentgate-embed.css"))}" '
            f'nonce="{STYLE_NONCE}"><script src="{escape(assets.url("consentgate-embed.js"))}" '
            f'defer nonce="{SCRIPT_NONCE}"></script>'
        )
        self.panel = lru_cache(maxsize=256)(self._panel)

    def for_page(
        self,
        language: str,
        here: str,
        csrf: Callable[[], str],
        codec: str,
        nonces: Nonces | None,
    ) -> Placeholder:
        """The blocker's callback for one page: the placeholder of its nth blocked embed.

        ``nonces`` are those of the page's CSP (None: the page has none).
        """
        token: list[str] = []  # issued once a page has a placeholder

        def placeholder(tracker: Tracker, attrs: dict[str, Attribute], nth: int) -> bytes:
            if not token:
                token.append(csrf())
            anchor = f"consentgate-embed-{nth}"
            # Back to the embed itself once it is allowed, if it has an id to go to.
            own_id = attrs.get("id")
            target = own_id.value if own_id is not None and own_id.value else anchor
            label = attrs.get("title")
            back = f"{here}#{target}"
            panel = self.panel(language, tracker).fill(
                {
                    "label": label.value
                    if label is not None and label.value
                    else self._title(tracker),
                    "csrf": token[0],
                    "next": back,
                    "next_q": quote(back, safe=""),
                }
            )
            html = _box(tracker, attrs, anchor, language, panel).encode(codec, "xmlcharrefreplace")
            if nth > 1:
                return html
            if nonces is None:
                return without_nonces(self._assets).encode() + html
            return with_nonces(self._assets.encode(), nonces) + html

        return placeholder

    def _title(self, tracker: Tracker) -> str:
        """The provider's name as the site declares it, else as the registry does."""
        declared = self._providers.get(tracker.provider)
        return declared.title if declared is not None else tracker.label

    def _panel(self, language: str, tracker: Tracker) -> Fragment:
        declared = self._providers.get(tracker.provider)
        title = self._title(tracker)
        description = (
            self.renderer.localized(declared.description, language)
            if declared is not None
            else self.renderer.provider_description(tracker.provider, language)
        )
        privacy = (
            declared.privacy_policy_url
            if declared is not None and declared.privacy_policy_url
            else tracker.privacy_policy_url
        )
        renderer = self.renderer
        allowable = tracker.provider in renderer.provider_table.choosable((tracker.provider,))
        # Undeclared: the settings, if they offer its category.
        category = next(
            (c for c in renderer.declaration(language) if c.name == tracker.category), None
        )
        settings_url = (
            f"{renderer.config.prefix}/preferences?next={hole('next_q')}"
            if not allowable and category is not None and not category.always_on
            else ""
        )
        return Fragment(
            renderer.render_embed(
                language,
                provider=tracker.provider,
                kind=tracker.embed or "content",
                title=title,
                description=description,
                provider_privacy_url=privacy,
                allowable=allowable,
                settings_url=settings_url,
                category_title=category.title if category is not None else "",
                label=hole("label"),
                csrf_token=hole("csrf"),
                next=hole("next"),
            )
        )


def _box(
    tracker: Tracker, attrs: dict[str, Attribute], anchor: str, language: str, panel: str
) -> str:
    """The placeholder: the embed's class and style (so it takes the embed's place in the
    layout), a canvas of the embed's size (so it keeps its aspect ratio), and the panel."""
    classes = attrs.get("class")
    style = attrs.get("style")
    extra_class = f" {escape(classes.value)}" if classes is not None and classes.value else ""
    own_style = f' style="{escape(style.value)}"' if style is not None and style.value else ""
    width, height = _size(attrs, tracker.embed or "content")
    return (
        f'<div class="cg-embed{extra_class}" id="{anchor}" '
        f'data-consent-embed="{escape(tracker.provider)}" lang="{language}"{own_style}>'
        f'<canvas class="cg-embed-size" width="{width}" height="{height}" aria-hidden="true">'
        f"</canvas>{panel}</div>"
    )


def _size(attrs: dict[str, Attribute], kind: str) -> tuple[int, int]:
    """The embed's width and height in CSS pixels, from its attributes where they say so."""
    default = _DEFAULT_SIZE.get(kind, _DEFAULT_SIZE["content"])
    sides = []
    for name, fallback in zip(("width", "height"), default, strict=True):
        attribute = attrs.get(name)
        value = (attribute.value or "").strip().removesuffix("px") if attribute else ""
        sides.append(int(value) if value.isdigit() and 0 < int(value) <= _MAX_SIDE else fallback)
    return sides[0], sides[1]
