"""Everything a visitor reads: Jinja2 templates, texts per language, snippets per choice.

Work that does not depend on the request is done once: templates are compiled
and the banner is rendered per language at start-up with holes for the few
per-request values; snippets are rendered once per set of granted categories.
Rendering every page at start-up also means a site's broken template override
(a syntax error, a misspelt variable) stops the app from starting, with the
template and line named, instead of failing a visitor's request.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Any
from urllib.parse import quote

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
)
from markupsafe import escape

from ._assets import Assets
from ._cache import Memo, size_of
from ._config import ConsentConfig
from ._cookie import LAPSED
from ._csp import SCRIPT_NONCE, STYLE_NONCE
from ._exceptions import ConfigurationError
from ._fair_choice import unfair_choice
from ._locales import (
    CatalogText,
    Texts,
    available_languages,
    builtin_texts,
    country_key,
    country_names,
    provider_texts,
)
from ._provider_table import ProviderTable
from ._revisions import Revisions, canonical_json, provider_revisions, short
from ._state import NECESSARY, NO_CONSENT, ConsentState
from ._text import LocalizedText, localized
from ._theme import theme_css
from .log._texts import KeptTexts, ShownTexts
from .providers import DeclaredCookie, Provider
from .providers._google import CONSENT_MODE_PRELUDE

__all__ = ["BANNER_ROOM", "CategoryView", "Fragment", "Renderer"]

_BANNER_INTRO = {True: "banner.intro", False: "banner.intro_without_link"}

_HOLE = re.compile("\x00([a-z_]+)\x00")
_LANGUAGE_RANGE = re.compile(
    r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*"
)


#: Longer Accept-Language headers are negotiated without being remembered.
MAX_CACHED_ACCEPT_LANGUAGE = 256
#: Ranges read from an Accept-Language header; browsers send a handful.
_MAX_RANGES = 20
#: Only the ranges wholly within an Accept-Language header's first KB are read.
ACCEPT_LANGUAGE_READ = 1024

# Browsers of Norwegian readers may ask for "no" or Nynorsk; Bokmål serves them.
_LANGUAGE_ALIASES = {"no": "nb", "nn": "nb"}

# A visitor who has chosen: the preference centre is also rendered for one at
# start-up, so a site's template breaks there rather than on a visitor's request.
_SAMPLE_CHOICE = ConsentState(
    consent_id="0" * 32,
    granted=frozenset({"statistics"}),
    policy_version="1",
    decided_at=datetime(2026, 1, 1, tzinfo=UTC),
)


def hole(name: str) -> str:
    """A placeholder the Fragment fills per request."""
    return f"\x00{name}\x00"


class Fragment:
    """Pre-rendered HTML with holes for per-request values (escaped when filled)."""

    def __init__(self, html: str) -> None:
        self.html = html
        pieces = _HOLE.split(html)
        self._literals = pieces[0::2]
        self._names = pieces[1::2]

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self._literals[0]]
        for name, literal in zip(self._names, self._literals[1:], strict=True):
            out.append(str(escape(values[name])))
            out.append(literal)
        return "".join(out)


#: A provider with its compiled head and body templates.
_SnippetTemplates = tuple[Provider, Template | None, Template | None]


@dataclass(frozen=True, slots=True)
class CategoryView:
    name: str
    title: str
    description: str
    providers: tuple[Provider, ...]
    always_on: bool


@dataclass(frozen=True, slots=True)
class LapsedView:
    """A category whose grant lapsed, as the banner asking again shows it."""

    category: CategoryView
    #: Titles of its providers that are new since the visitor's grant, and of those whose
    #: disclosure changed; both empty when that revision's texts are unknown.
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()


@contextmanager
def _naming_template_errors(field: str = "template_dirs") -> Iterator[None]:
    """Turn a template's error into a ConfigurationError that names the template and line.

    Jinja2 names the template in a syntax error but not in a runtime error (an
    undefined variable); its traceback has the template's frame, so the line is
    taken from there.
    """
    try:
        yield
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}, line {exc.lineno}"
        raise ConfigurationError(field, f"{where}: {exc.message}") from exc
    except TemplateError as exc:
        where = _template_frame(exc.__traceback__) or "a template"
        raise ConfigurationError(field, f"{where}: {exc}") from exc


def _template_frame(tb: TracebackType | None) -> str | None:
    """``path, line N`` of the innermost template frame in a traceback."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        # Jinja2 rewrites the traceback so a template's frames carry its file name
        # ("<template>" for a provider's snippet given as a string).
        if not filename.endswith(".py"):
            found = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


#: Room at the end of a page under the banner, so its last links can scroll out from under
#: it (the stylesheet gives it the banner's height only while the banner is there).
BANNER_ROOM = '<div class="cg-room"></div>'


class Renderer:
    def __init__(self, config: ConsentConfig, assets: Assets) -> None:
        self.config = config
        self.assets = assets
        self.site = config.site_locales
        self.languages = (*available_languages(), *self.site.added)
        self.env = Environment(
            loader=ChoiceLoader(
                [
                    FileSystemLoader([str(d) for d in config.template_dirs]),
                    PackageLoader("consentgate", "templates"),
                    PrefixLoader({"@consentgate": PackageLoader("consentgate", "templates")}),
                ]
            ),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            # A misspelt variable in a site's template is an error, not an empty string.
            undefined=StrictUndefined,
        )
        self.env.filters["localized"] = self.localized
        self.env.filters["countries"] = self.country_names
        self.texts: dict[str, Texts] = {
            lang: {
                **(builtin_texts(lang) if lang not in self.site.added else {}),
                **self.site.texts.get(lang, {}),
                **config.texts.get(lang, {}),
            }
            for lang in self.languages
        }
        self.theme_url = (
            assets.add("theme.css", theme_css(config.theme).encode())
            if config.theme is not None
            else None
        )
        #: What the templates get about the site's look and its controller.
        self._look: dict[str, Any] = {
            "theme_url": self.theme_url,
            "position": config.theme.position if config.theme is not None else "bar",
            "controller_address": (config.controller_address or "").strip().splitlines(),
            "controller_email": config.controller_email,
        }
        #: How long the log keeps a record, per language (the preference centre says so).
        self.retention = {
            lang: (
                self.texts[lang]["record.kept_until_erased"]
                if config.retention_days is None
                else self.texts[lang]["record.kept_for"].format(days=config.retention_days)
            )
            for lang in self.languages
        }
        self.own_provider = self._own_provider()
        self.choosable = self._choosable_categories()
        #: What each category and provider the visitor is asked about is shown as.
        self.revisions = self._revisions()
        #: Provider names and their categories, as consent states and the cookie know them.
        self.provider_table = ProviderTable.of(config.providers, self.revisions.short_providers())
        self._snippet_templates: list[_SnippetTemplates] = [
            (p, self._compile(p.head_template, p.head), self._compile(p.body_template, p.body))
            for p in config.providers
        ]
        #: Whether any provider runs behind Google Consent Mode, which the script updates.
        self.uses_consent_mode = any(CONSENT_MODE_PRELUDE in p.preludes for p in config.providers)
        #: Providers behind Google Consent Mode, by name, with their categories.
        self._consent_mode_providers = {
            p.name: p.category for p in config.providers if CONSENT_MODE_PRELUDE in p.preludes
        }
        self._preludes = {
            name: self.env.get_template(name) for p in config.providers for name in p.preludes
        }
        #: What a Global Privacy Control signal refuses here, of what visitors are asked about.
        self.gpc_refused = config.gpc_refused & frozenset(self.choosable)
        self.banner = {lang: Fragment(self._banner_html(lang)) for lang in self.languages}
        #: The banner a browser sending GPC gets: it says the signal is honoured.
        self.gpc_banner = (
            {lang: Fragment(self._banner_html(lang, gpc=True)) for lang in self.languages}
            if self.gpc_refused
            else self.banner
        )
        #: The banner on the privacy policy's own page: folded to its title and its choice,
        #: so the policy it links to can be read under it (also on a phone).
        self.folded_banner = {
            lang: Fragment(self._banner_html(lang, folded=True)) for lang in self.languages
        }
        #: Folded, for a browser sending GPC: the notice stays in view.
        self.folded_gpc_banner = (
            {
                lang: Fragment(self._banner_html(lang, folded=True, gpc=True))
                for lang in self.languages
            }
            if self.gpc_refused
            else self.folded_banner
        )
        #: Category -> short revision -> provider name -> its revision, of revisions the
        #: site showed before (``remember``): what tells what is new in a lapsed category.
        self.history: dict[str, dict[str, dict[str, str]]] = {}
        #: The banner asking again about categories whose grant lapsed, per language, set
        #: of them, folding and GPC; rendered on first use (any set can lapse), once per
        #: language at start-up with every category, so a broken override fails the start.
        self.banner_again = Memo(
            self._banner_again,
            max_entries=256,
            max_bytes=8 * 1024 * 1024,
            max_key_bytes=4096,
            value_bytes=lambda fragment: len(fragment.html),
        )
        self.settings_link = {
            lang: Fragment(self._render("settings_link.html", lang, next_q=hole("next_q")))
            for lang in self.languages
        }
        pages = {
            (source, lang, gpc): html
            for lang in self.languages
            for gpc in ((False, True) if self.gpc_refused else (False,))
            for source, html in (
                ("banner", (self.gpc_banner if gpc else self.banner)[lang].html),
                ("preferences", self._preferences_html(lang, NO_CONSENT, hole_values(), gpc=gpc)),
            )
        }
        for (source, lang, _), html in pages.items():
            unfair = unfair_choice(html, config.prefix)
            if unfair is not None:
                raise ConfigurationError("template_dirs", f"{source}.html ({lang}): {unfair}")
        every = tuple((c, LAPSED) for c in self.choosable)
        for lang in self.languages:
            for folded in (False, True):
                for gpc in (False, True) if self.gpc_refused else (False,):
                    self._banner_again(lang, every, folded, gpc)
        digests = {key: hashlib.sha256(html.encode()).hexdigest() for key, html in pages.items()}
        self.fingerprints = {(s, lang): d for (s, lang, gpc), d in digests.items() if not gpc}
        self._gpc_fingerprints = {
            (s, lang): d for (s, lang, gpc), d in digests.items() if gpc
        } or self.fingerprints
        #: The pages a record's text fingerprint names, for the log's texts table.
        self._fingerprinted = pages
        self._error_pages = {
            (lang, key): Fragment(
                self._render("error.html", lang, message=self.texts[lang][key], next=hole("next"))
            )
            for lang in self.languages
            for key in ERROR_KEYS
        }
        # Embeds allowed before any answer: the preference centre's other branch.
        table = self.provider_table
        allowed_only = ConsentState(
            consent_id=_SAMPLE_CHOICE.consent_id,
            decided_at=_SAMPLE_CHOICE.decided_at,
            providers=table.choosable(table.names),
            answered=False,
            provider_categories=table.categories,
        )
        for lang in self.languages:
            self._preferences_html(lang, _SAMPLE_CHOICE, hole_values(), saved=True, gpc=True)
            self._preferences_html(lang, allowed_only, hole_values())
            self.confirm_page(
                lang,
                action="save",
                fields=[("categories", "statistics"), ("source", "banner")],
                csrf_token="token",
                next_path="/",
            )
        # Every provider's snippets, for all, none and each one category granted, so
        # that a broken one stops the start rather than failing visitors' pages.
        optional = config.optional_categories
        with _naming_template_errors("providers"):
            for granted in (optional, (), *((name,) for name in optional)):
                self._snippets(frozenset(granted), frozenset(), "202601", "www.example.com")
        self.snippets = Memo(
            self._snippets,
            max_entries=512,
            max_bytes=4 * 1024 * 1024,
            max_key_bytes=512,
            value_bytes=size_of,
        )
        self.negotiate = Memo(
            self._negotiate,
            max_entries=1024,
            max_bytes=1024 * (MAX_CACHED_ACCEPT_LANGUAGE + 100),
            max_key_bytes=MAX_CACHED_ACCEPT_LANGUAGE,
        )

    # -- language -------------------------------------------------------

    def _negotiate(self, accept_language: str | None) -> str:
        """The best available language for an ``Accept-Language`` header (RFC 9110)."""
        best, best_q = self.config.default_language, 0.0
        text = accept_language or ""
        if len(text) > ACCEPT_LANGUAGE_READ:
            comma = text.rfind(",", 0, ACCEPT_LANGUAGE_READ + 1)
            text = text[:comma] if comma >= 0 else ""
        for item in text.split(",", _MAX_RANGES)[:_MAX_RANGES]:
            match = _LANGUAGE_RANGE.fullmatch(item)
            if match is None:
                continue
            try:
                q = float(match[2]) if match[2] else 1.0
            except ValueError:
                continue
            lang = match[1].lower()
            lang = _LANGUAGE_ALIASES.get(lang, lang)
            if lang in self.languages and q > best_q:
                best, best_q = lang, q
        return best

    def localized(self, text: LocalizedText, lang: str) -> str:
        """``text`` in ``lang``; a built-in provider's text also in a language the site added."""
        if isinstance(text, CatalogText) and lang in self.site.provider_texts:
            own = self.site.provider_texts[lang].get(text.key)
            if own is not None:
                return str(own)
        return localized(text, lang)

    def country_names(self, codes: Iterable[str], lang: str) -> str:
        """Country names in ``lang`` (a language the site added included), comma-separated."""
        if lang not in self.site.provider_texts:
            return country_names(codes, lang)
        own = self.site.provider_texts[lang]
        return ", ".join(
            str(own[country_key(code)]) if country_key(code) in own else country_names([code], "en")
            for code in codes
        )

    def provider_description(self, name: str, lang: str) -> str:
        """A registry tracker's built-in description (``descriptions.<name>``), or ""."""
        key = f"descriptions.{name}"
        if lang in self.site.provider_texts:
            own = self.site.provider_texts[lang].get(key)
            return str(own) if own is not None else provider_texts("en").get(key, "")
        return provider_texts(lang).get(key, "")

    def language_of(self, tag: object) -> str | None:
        """The available language a language tag (``da``, ``de-AT``, ``no``) names, if any."""
        if not isinstance(tag, str):
            return None
        primary = tag.strip().partition("-")[0].partition("_")[0].lower()
        primary = _LANGUAGE_ALIASES.get(primary, primary)
        return primary if primary in self.languages else None

    # -- what pages get -------------------------------------------------

    def _snippets(
        self, granted: frozenset[str], providers: frozenset[str], iso_week: str, host: str
    ) -> tuple[str, str]:
        """Head and body HTML of every provider ``granted`` or ``providers`` allows.

        The head also names the granted categories (and the providers allowed on
        their own, if any), for consentgate's script.
        """
        running = self._running(granted, providers)
        head, body = self._render_snippets(running, (), granted, providers, iso_week, host)
        names = escape(" ".join(sorted(granted)))
        meta = f'<meta name="consentgate-granted" content="{names}">'
        if providers:
            allowed = escape(" ".join(sorted(providers)))
            meta += f'<meta name="consentgate-providers" content="{allowed}">'
        return meta + head, body

    def started(
        self, before: ConsentState, after: ConsentState, iso_week: str, host: str
    ) -> tuple[str, str]:
        """Head and body HTML of the providers ``after`` allows that ``before`` did not.

        The page a visitor decided on ran what ``before`` allowed (nothing at all
        while the banner was up, but for providers allowed one by one); the script
        starts the rest without a reload.
        """
        running = self._running_for(before)
        new = [entry for entry in self._running_for(after) if entry not in running]
        present = {name for p, _, _ in running for name in p.preludes}
        return self._render_snippets(new, present, after.granted, after.providers, iso_week, host)

    def needs_reload(self, before: ConsentState, after: ConsentState) -> bool:
        """Whether a withdrawal leaves a provider running that only a reload stops.

        Google tags stop storing and sending identifiers on a Consent Mode update
        to denied, which the script sends; any other provider cannot be stopped
        once its script has run.
        """
        still = self._running_for(after)
        return any(
            CONSENT_MODE_PRELUDE not in entry[0].preludes
            for entry in self._running_for(before)
            if entry not in still
        )

    def _running_for(self, state: ConsentState) -> list[_SnippetTemplates]:
        """What a page for ``state`` ran: the banner page runs only providers allowed one by one."""
        if state.has_choice or not self.choosable:
            return self._running(state.granted, state.providers)
        return self._running(frozenset(), state.providers) if state.providers else []

    def consent_mode(self, granted: frozenset[str], providers: frozenset[str]) -> dict[str, str]:
        """The Google Consent Mode types for ``granted``, and for the category of each
        Google provider allowed on its own: allowed, it runs as if its category were granted
        (no other Google tag of that category runs, as none is allowed)."""
        google = self._consent_mode_providers
        return consent_mode(granted | {google[name] for name in providers if name in google})

    def _running(
        self, granted: frozenset[str], providers: frozenset[str]
    ) -> list[_SnippetTemplates]:
        return [
            entry
            for entry in self._snippet_templates
            if entry[0].category == NECESSARY
            or entry[0].category in granted
            or entry[0].name in providers
        ]

    def _render_snippets(
        self,
        allowed: list[_SnippetTemplates],
        present: Iterable[str],
        granted: frozenset[str],
        providers: frozenset[str],
        iso_week: str,
        host: str,
    ) -> tuple[str, str]:
        context: dict[str, Any] = {
            "granted": granted,
            "consent_mode": self.consent_mode(granted, providers),
            "iso_week": iso_week,
            "host": host,
            "csp_nonce": SCRIPT_NONCE,
            "csp_style_nonce": STYLE_NONCE,
        }
        skip = set(present)
        preludes = dict.fromkeys(
            name for p, _, _ in allowed for name in p.preludes if name not in skip
        )
        heads = [self._preludes[name].render(context) for name in preludes]
        bodies = []
        for provider, head, body in allowed:
            own = {**context, **provider.template_context(), "provider": provider}
            if head is not None:
                heads.append(head.render(own))
            if body is not None:
                bodies.append(body.render(own))
        return "".join(heads), "".join(bodies)

    def stylesheet(self) -> str:
        """What every page with consentgate's UI gets in its head: stylesheets and script.

        The script only enhances what works without it, so it is deferred. All carry
        the page's CSP nonce where it has one (placeholders, filled per response).
        """
        urls = [self.assets.url("consentgate.css")]
        if self.theme_url is not None:
            urls.append(self.theme_url)
        links = "".join(
            f'<link rel="stylesheet" href="{escape(url)}" nonce="{STYLE_NONCE}">' for url in urls
        )
        js = escape(self.assets.url("consentgate.js"))
        return f'{links}<script src="{js}" defer nonce="{SCRIPT_NONCE}"></script>'

    def fingerprint(self, source: str, lang: str, gpc: bool) -> str:
        """The fingerprint of the page a choice was made on; with GPC it carried a notice."""
        return (self._gpc_fingerprints if gpc else self.fingerprints)[source, lang]

    def preferences_page(
        self,
        lang: str,
        state: ConsentState,
        *,
        next_path: str,
        csrf_token: str,
        saved: bool,
        gpc: bool = False,
    ) -> str:
        values = {"csrf": csrf_token, **next_values(next_path)}
        return self._preferences_html(lang, state, values, saved=saved, gpc=gpc)

    def _confirmed(self, lang: str, action: str, fields: Sequence[tuple[str, str]]) -> list[str]:
        """What a confirm page lists, so the visitor sees what they confirm: the categories
        a "save" switches on, the providers an "allow" allows."""

        def posted(field: str) -> set[str]:
            return {value for name, value in fields if name == field}

        declaration = self.declaration(lang)
        if action == "save":
            chosen = posted("categories")
            return [c.title for c in declaration if c.name in chosen and not c.always_on]
        if action == "allow":
            allowed = posted("providers")
            titles = (p.title for c in declaration for p in c.providers if p.name in allowed)
            return list(dict.fromkeys(titles))
        return []

    def error_page(self, lang: str, message_key: str, *, next_path: str) -> str:
        return self._error_pages[lang, message_key].fill(next_values(next_path))

    def confirm_page(
        self,
        lang: str,
        *,
        action: str,
        fields: Sequence[tuple[str, str]],
        csrf_token: str,
        next_path: str,
    ) -> str:
        """The page that offers a choice whose form expired again, with a fresh token.

        ``fields`` are the other posted fields (categories, source, lang, ...), sent back
        as they came. Rendered per request: it is only for the rare expired form.
        """
        html = self._render(
            "confirm.html",
            lang,
            action=action,
            button=_ACTION_BUTTONS.get(action, "banner.save"),
            chosen=self._confirmed(lang, action, fields),
            # NUL marks a hole; a posted value must not open one.
            fields=[(k.replace("\0", ""), v.replace("\0", "")) for k, v in fields],
            csrf_token=hole("csrf"),
            next=hole("next"),
        )
        return Fragment(html).fill({"csrf": csrf_token, **next_values(next_path)})

    # -- building blocks ------------------------------------------------

    def _preferences_html(
        self,
        lang: str,
        state: ConsentState,
        values: Mapping[str, str],
        saved: bool = False,
        gpc: bool = False,
    ) -> str:
        html = self._render(
            "preferences.html",
            lang,
            state=state,
            gpc=gpc and bool(self.gpc_refused),
            declaration=self.declaration(lang),
            saved=saved,
            retention=self.retention[lang],
            csrf_token=hole("csrf"),
            next=hole("next"),
            next_q=hole("next_q"),
        )
        return Fragment(html).fill(values)

    def render_embed(self, lang: str, **context: Any) -> str:
        """A click-to-load placeholder's panel (``embed.html``)."""
        return self._render("embed.html", lang, **context)

    def _banner_html(
        self,
        lang: str,
        lapsed: Sequence[LapsedView] = (),
        *,
        folded: bool = False,
        gpc: bool = False,
    ) -> str:
        categories = [c for c in self.declaration(lang) if not c.always_on]
        if lapsed:
            categories = [item.category for item in lapsed]
        return self._render(
            "banner.html",
            lang,
            folded=folded,
            gpc=gpc,
            categories=categories,
            lapsed=lapsed,
            csrf_token=hole("csrf"),
            next=hole("next"),
            next_q=hole("next_q"),
        )

    def _banner_again(
        self,
        lang: str,
        lapsed_from: tuple[tuple[str, str], ...],
        folded: bool = False,
        gpc: bool = False,
    ) -> Fragment:
        """The banner for a visitor whose grants lapsed (each category with the revision
        their cookie held): it says what changed and asks about those categories only; its
        buttons leave the others as they are. ``folded`` on the privacy policy's page;
        ``gpc`` for a browser whose Global Privacy Control signal refuses something here."""
        views = {c.name: c for c in self.declaration(lang)}
        lapsed = [
            self._what_changed(views[name], revision)
            for name, revision in lapsed_from
            if name in views
        ]
        html = self._banner_html(lang, lapsed, folded=folded, gpc=gpc and bool(self.gpc_refused))
        unfair = unfair_choice(html, self.config.prefix)
        if unfair is not None:
            raise ConfigurationError(
                "template_dirs", f"banner.html ({lang}, asking again): {unfair}"
            )
        return Fragment(html)

    def render_page(self, name: str, lang: str, **context: Any) -> str:
        """A page rendered whole for one request, with no holes to fill: for pages
        whose content comes from the log (a visitor's records), which must not pass
        through a Fragment."""
        return self._render(name, lang, **context)

    @_naming_template_errors()
    def _render(self, name: str, lang: str, **context: Any) -> str:
        texts = self.texts[lang]
        # Without a controller_name the texts say "this site": never the Host header,
        # which is the client's to write and no proof of who is responsible.
        controller = self.config.controller_name or ""
        site = texts["preferences.first_party"]
        return self.env.get_template(name).render(
            t=texts,
            **self._look,
            lang=lang,
            prefix=self.config.prefix,
            controller=controller,
            # The banner promises a settings link on every page only where there is one.
            intro=texts[_BANNER_INTRO[self.config.show_settings_link]].format(
                controller=controller or site
            ),
            preferences_intro=texts["preferences.intro"].format(
                controller=controller or site[:1].lower() + site[1:]
            ),
            config=self.config,
            gpc_refused=self.gpc_refused,
            privacy_policy_url=self.config.privacy_policy_url,
            stylesheet_url=self.assets.url("consentgate.css"),
            script_url=self.assets.url("consentgate.js"),
            **{"gpc": False, **context},
        )

    def declaration(self, lang: str) -> list[CategoryView]:
        """Categories with their providers and cookies, as the visitor reads them."""
        texts = self.texts[lang]
        providers = (self.own_provider, *self.config.providers)
        views = []
        for category in self.config.all_categories:
            if category.name != NECESSARY and category.name not in self.choosable:
                continue
            title = localized(category.title, lang) or texts[f"categories.{category.name}.title"]
            description = localized(category.description, lang) or texts.get(
                f"categories.{category.name}.description", ""
            )
            views.append(
                CategoryView(
                    name=category.name,
                    title=title,
                    description=description,
                    providers=tuple(p for p in providers if p.category == category.name),
                    always_on=category.name == NECESSARY,
                )
            )
        return views

    def remember(self, kept: Iterable[KeptTexts]) -> None:
        """Learn the revisions the site showed before, from the log's texts table, so that
        a banner asking again names the providers added or changed since."""
        for texts in kept:
            if texts.kind != "category" or not texts.intact:
                continue
            try:
                providers = provider_revisions(json.loads(texts.content))
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # kept by another release, in a form this one does not read
            self.history.setdefault(texts.name, {})[short(texts.fingerprint)] = providers
        self.banner_again.clear()

    def _what_changed(self, category: CategoryView, revision: str) -> LapsedView:
        """``category`` as it is now, with the providers added or changed since ``revision``
        (known when the log kept that revision's texts)."""
        before = self.history.get(category.name, {}).get(revision)
        if before is None:
            return LapsedView(category)
        now = self.revisions.providers
        titles = {p.name: p.title for p in category.providers}
        added = [titles[n] for n in sorted(titles) if n not in before]
        changed = [titles[n] for n in sorted(titles) if n in before and before[n] != now.get(n)]
        return LapsedView(category, tuple(dict.fromkeys(added)), tuple(dict.fromkeys(changed)))

    def shown_texts(self) -> list[ShownTexts]:
        """What the log's texts table keeps: each category's revision and each fingerprinted
        page, with exactly what their digests are taken over."""
        categories = [
            ShownTexts(
                kind="category",
                name=texts.name,
                language=None,
                content=canonical_json(dict(texts.content)),
            )
            for texts in self.revisions.categories.values()
        ]
        pages = [
            ShownTexts(kind="page", name=source, language=lang, content=html)
            # A page as a browser sending GPC saw it (with its notice) is a page of its own.
            for (source, lang, _), html in sorted(self._fingerprinted.items())
        ]
        return categories + pages

    def _revisions(self) -> Revisions:
        views = {lang: self.declaration(lang) for lang in self.languages}
        titled = {
            name: {
                lang: (v.title, v.description)
                for lang in self.languages
                for v in views[lang]
                if v.name == name
            }
            for name in self.choosable
        }
        return Revisions.of(titled.items(), self.config.providers, self.languages, self.localized)

    def _choosable_categories(self) -> tuple[str, ...]:
        """Categories worth asking about: they have a provider, or the site defined them."""
        used = {p.category for p in self.config.providers}
        own = {c.name for c in self.config.categories}
        return tuple(c for c in self.config.optional_categories if c in used or c in own)

    def _own_provider(self) -> Provider:
        """consentgate's own cookie, declared under necessary like any other."""
        days = self.config.cookie_max_age // 86400

        def per_language(key: str, fill: Callable[[str], str] = str) -> dict[str, str]:
            return {lang: fill(self.texts[lang][key]) for lang in self.languages}

        return Provider(
            name="consentgate",
            title=self.config.controller_name or "consentgate",
            category=NECESSARY,
            cookies=(
                DeclaredCookie(
                    name=self.config.cookie_name,
                    purpose=per_language("consent_cookie.purpose"),
                    expiry=per_language("consent_cookie.expiry", lambda t: t.format(days=days)),
                    party="first",
                    processing_location=per_language("consent_cookie.location"),
                ),
            ),
        )

    def _compile(self, name: str | None, source: str) -> Template | None:
        if name:
            return self.env.get_template(name)
        return self.env.from_string(source) if source else None


def consent_mode(granted: frozenset[str]) -> dict[str, str]:
    """Google Consent Mode v2 types for ``granted``: the one mapping of categories to them.

    snippets/google_consent_mode.html sends it on page load and consentgate.js on
    every change, both in a ``gtag("consent", "update", ...)``.
    """

    def state(category: str) -> str:
        return "granted" if category in granted else "denied"

    return {
        "ad_storage": state("marketing"),
        "ad_user_data": state("marketing"),
        "ad_personalization": state("marketing"),
        "analytics_storage": state("statistics"),
        "functionality_storage": state("preferences"),
        "personalization_storage": state("preferences"),
        "security_storage": "granted",
    }


def check_templates(config: ConsentConfig) -> None:
    """Render every page once with ``config``; ConfigurationError names a broken template."""
    from ._rights import check_rights_pages  # it builds on this module

    check_rights_pages(Renderer(config, Assets(config.prefix)))


#: The label of the button that sends each action again, on the confirm page.
_ACTION_BUTTONS = {
    "allow": "errors.confirm_allow",
    "accept_all": "banner.accept_all",
    "reject_all": "banner.reject_all",
    "save": "banner.save",
}

#: The texts an error page can carry (``errors.title`` and ``errors.back`` frame them).
ERROR_KEYS = ("errors.forbidden", "errors.bad_request", "errors.unavailable")


def next_values(next_path: str) -> dict[str, str]:
    """The ``next`` holes: as is for form fields, quoted for use inside a query string."""
    return {"next": next_path, "next_q": quote(next_path, safe="")}


def hole_values() -> dict[str, str]:
    """Values that leave every hole visible: what the fingerprint of a page is taken over."""
    return {
        "csrf": hole("csrf"),
        "next": hole("next"),
        "next_q": hole("next_q"),
    }


def iso_week() -> str:
    """The current ISO year and week, ``"202648"`` (Jetpack's loader is named after it)."""
    return _iso_week_of_day(int(time.time()) // 86400)


@lru_cache(maxsize=2)
def _iso_week_of_day(day: int) -> str:
    year, week, _ = datetime.fromtimestamp(day * 86400, UTC).isocalendar()
    return f"{year}{week:02d}"
