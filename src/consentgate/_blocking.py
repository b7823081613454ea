"""Server-side blocking: the app's own tracker markup is made inert until the visitor allows it.

The blocker sits in front of the injector (``_rewrite.py``) and looks only at the
four tags that load something: ``<script>``, ``<iframe>``, ``<img>`` and ``<link>``.
A regular-expression search finds them; nothing else of the page is parsed. Per tag:

- a script from a tracker's URL, or an inline script carrying a tracker's
  signature: ``type="text/plain"``, ``data-consent="<provider>"``,
  ``data-consent-category`` and the original type in ``data-consent-type``;
- an iframe of an embed (YouTube, Maps, ...): its ``src`` becomes
  ``data-consent-src``, it is hidden, and a click-to-load placeholder goes before it;
  a tracker's other iframes (GTM's noscript one) are removed;
- a tracker's pixel ``<img>`` and its ``<link rel=preload|prefetch|preconnect|
  dns-prefetch|modulepreload>``: removed;
- opt-in markup (``<script type="text/plain" data-consent="statistics">``,
  ``<iframe data-consent-src=… data-consent=…>``, CookieConsent's ``data-category``)
  is switched on once its category or provider is allowed.

Markup the visitor allows passes byte for byte. The decisions depend only on an
element's own bytes, read at most ``bound`` bytes from its ``<``: past that, an
element is decided on what was read (an inline script with no signature there is
held to need marketing), so a stream split anywhere gives the output of the whole
body, and a stream holds back at most ``bound`` bytes.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import urlsplit

from ._registry import Registry, Tracker, builtin_trackers
from ._state import ConsentState

if TYPE_CHECKING:
    from ._config import ConsentConfig

__all__ = ["BOUND", "Attribute", "Blocker", "Blocking", "PageBlocker", "UnknownPolicy"]

logger = logging.getLogger(__name__)

UnknownPolicy = Literal["warn", "block", "allow"]

#: How far past an element's ``<`` the blocker reads to decide it.
BOUND = 256 * 1024
#: The category unknown content needs, when it is blocked.
FAIL_CLOSED_CATEGORY = "marketing"

_SPACE = rb"\t\n\f\r "
_TAG = re.compile(rb"<(script|iframe|img|link)(?=[" + _SPACE + rb"/>])", re.IGNORECASE)
# The rest of a start tag, as the HTML tokenizer reads it: names, = and values, up to ">".
_START_REST = re.compile(
    rb"(?:[" + _SPACE + rb"/]++|[^" + _SPACE + rb"/>\"'=][^" + _SPACE + rb"/>=]*+"
    rb"(?:["
    + _SPACE
    + rb"]*+=["
    + _SPACE
    + rb"]*+(?:\"[^\"]*+\"|'[^']*+'|[^"
    + _SPACE
    + rb">\"'][^"
    + _SPACE
    + rb">]*+)?+)?+)*+>"
)
_ATTRIBUTE = re.compile(
    rb"([^"
    + _SPACE
    + rb"/>\"'=][^"
    + _SPACE
    + rb"/>=]*)(?:["
    + _SPACE
    + rb"]*=["
    + _SPACE
    + rb"]*(?:\"([^\"]*)\"|'([^']*)'|([^"
    + _SPACE
    + rb">\"'][^"
    + _SPACE
    + rb">]*))?)?"
)
_SCRIPT_END = re.compile(rb"</script[" + _SPACE + rb"/>]", re.IGNORECASE)
#: "</script" and the byte after it: where an end tag cut off at a chunk's end may start.
_LONGEST_SCRIPT_END = len(b"</script>")
_IFRAME_END = re.compile(rb"</iframe[" + _SPACE + rb"]*>", re.IGNORECASE)
#: The longest prefix of a tag the search may see cut off at a chunk's end ("<iframe").
_LONGEST_TAG_START = 7
_JS_TYPES = frozenset(
    {
        "",
        "module",
        "text/javascript",
        "application/javascript",
        "text/ecmascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/x-ecmascript",
        "text/x-javascript",
        "text/x-ecmascript",
        "text/jscript",
        "text/livescript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
    }
)
_PRELOADS = frozenset({"preload", "prefetch", "preconnect", "dns-prefetch", "modulepreload"})
#: Hints that name only a host, which several trackers may share.
_HOST_HINTS = frozenset({"preconnect", "dns-prefetch"})
#: CookieConsent v3's usual category names, as consentgate names them.
CATEGORY_ALIASES = {
    "analytics": "statistics",
    "functionality": "preferences",
    "functional": "preferences",
    "personalization": "preferences",
    "ads": "marketing",
    "advertising": "marketing",
    "targeting": "marketing",
}
#: Most hosts remembered as warned about (a bound on the process's memory).
_MAX_WARNED = 1024


class Attribute(NamedTuple):
    """One attribute of a start tag: its value (None when bare) and its span in the tag."""

    value: str | None
    start: int
    end: int


def attributes(tag: bytes, start: int) -> dict[str, Attribute]:
    """The attributes of a start tag from ``start`` (after its name), by lowercase name;
    the first of a name wins, as in HTML."""
    found: dict[str, Attribute] = {}
    for match in _ATTRIBUTE.finditer(tag, start, len(tag) - 1):
        name = match[1].lower().decode("latin-1")
        if name in found:
            continue
        raw = match[2] if match[2] is not None else match[3] if match[3] is not None else match[4]
        if raw is None:
            found[name] = Attribute(None, *match.span())
            continue
        value = raw.decode("latin-1")
        if b"&" in raw:
            value = html.unescape(value)
        found[name] = Attribute(value, *match.span())
    return found


def needs_a_look(hosts: Iterable[str], bound: int) -> re.Pattern[bytes]:
    """One search, compiled at start-up, for the start tags that may need blocking or a
    warning: it stops at a ``<script``, ``<iframe``, ``<img`` or ``<link`` (any case)
    unless the engine itself can tell, without leaving C, that the tag is plain.

    Plain: the start tag ends within the bound at its first ``>``, has no ``&``
    (character references could spell a URL), no ``'`` and no ``"`` except around a
    value after ``=``, and no ``>`` in a value; a script or iframe besides has no
    ``//`` (no absolute URL, so no tracker's and no unknown host) and no
    ``data-c…`` (opt-in markup), and a script a ``src`` (an inline one is searched for
    signatures); an image or link has no ``//`` followed by a registry host, no ``@``
    and no backslash. A plain tag is one the tag-by-tag scan would keep as it is, so
    skipping it changes nothing but the time; and since plain needs the tag's ``>``,
    a tag cut off at a chunk's end is never plain and is held back as before.
    """
    space = _SPACE
    host = (
        rb"(?:[a-z0-9-]+\.)*(?:" + b"|".join(re.escape(h.encode()) for h in sorted(hosts)) + rb")"
        if hosts
        else rb"(?!)"
    )

    # The checks run over runs of single-byte classes, which the engine does in tight
    # loops, and branch only at a ``/``, a ``d`` or a value; a pattern that alternated
    # at every byte would cost more than the scan it saves.
    def attributes(excluded: bytes, slash: bytes, d: bytes = b"") -> bytes:
        """The rest of a plain start tag up to its ``>``: quotes only around a value after
        ``=``, with no ``<`` or ``>`` in it; none of ``excluded`` anywhere; a ``/`` only
        followed by ``slash``; a ``d`` only followed by ``d``."""
        run = rb'[^>"=/' + excluded + (b"d" if d else b"") + rb"]*+"
        in_quotes = rb'[^"<>/' + excluded + rb"]*+"
        quoted = rb'"' + in_quotes + rb"(?:/" + slash + in_quotes + rb')*+"'
        branch = (
            rb"/" + slash + rb"|=[" + space + rb"]*+" + quoted + rb"(?=[" + space + rb"/>])"
            rb"|=(?![" + space + rb"\"'])" + (rb"|d" + d if d else b"")
        )
        return run + rb"(?:(?:" + branch + rb")" + run + rb")*+>"

    # A script or iframe: no absolute URL, no opt-in markup (data-consent...).
    script_or_iframe = attributes(b"'&", rb"(?!/)", rb"(?!ata-c)")
    # An image or link: no URL to a registry host (nor one a userinfo or backslash hides)
    # up to the first ">" outside double quotes. Cheaper than ``attributes``, which the
    # many images of a page would pay for; its ``src`` rule does not matter here.
    no_host = rb"(?!/" + host + rb")"
    pixel_run = rb"[^>\"/'&@\\]*+"
    in_quotes = rb"[^\"/'&@\\]*+"
    pixel = (
        pixel_run
        + rb'(?:(?:"'
        + in_quotes
        + rb"(?:/"
        + no_host
        + in_quotes
        + rb')*+"|/'
        + no_host
        + rb")"
        + pixel_run
        + rb")*+>"
    )
    src = rb'(?=(?:[^>"]*+"[^>"]*+")*?[^>"]*?(?<=[' + space + rb'/"])src[' + space + rb"]*=)"

    def plain(name: bytes, rest: bytes, *checks: bytes) -> bytes:
        within = b"(?=[^>]{0,%d}>)" % max(bound - len(name) - 2, 0)
        # The name's first letter is read by the class before the branches.
        return (
            b"(?<=" + name[:1] + b")" + name[1:] + rb"(?=[" + space + rb"/>])"
            b"(?!" + within + b"".join(checks) + rest + b")"
        )

    return re.compile(
        # "<" and a class first: a cheaper miss at the many other tags than four branches
        # (18.6 against 11.3 µs over a 30 KB page whose tags are all others).
        b"<[sil](?:"
        + b"|".join(
            (
                plain(b"script", script_or_iframe, src),
                plain(b"iframe", script_or_iframe),
                plain(b"img", pixel),
                plain(b"link", pixel),
            )
        )
        + b")",
        re.IGNORECASE,
    )


#: Whether the visitor allows a tracker (its provider or its whole category).
Allows = Callable[[Tracker], bool]
#: Whether the visitor allows a name in ``data-consent``: a category or a provider.
AllowsName = Callable[[str], bool]
#: The placeholder for a blocked embed: the tracker, its iframe's attributes, the page's nth one.
Placeholder = Callable[[Tracker, dict[str, Attribute], int], bytes]

# What a start tag is, whoever looks at it (see Blocker.classify).
_KEEP, _URL, _INLINE, _OPT_IN, _HINT = range(5)


class _Tag(NamedTuple):
    """A start tag's part in blocking, the same for every visitor."""

    kind: int
    #: _URL: whose URL it loads (None: nobody's); _INLINE: unused.
    tracker: Tracker | None = None
    attrs: dict[str, Attribute] | None = None
    #: _OPT_IN: the category or provider it waits for.
    wanted: str = ""
    #: _HINT (a preconnect or dns-prefetch, which names only a host): the host's trackers.
    sharing: tuple[Tracker, ...] = ()


_KEEP_TAG = _Tag(_KEEP)


class Blocker:
    """The registry and the site's policy, prepared once per middleware.

    What a start tag is does not depend on the visitor, and a site's pages repeat
    the same tags, so each distinct tag is classified once (up to a bound).
    """

    #: Most start tags remembered per middleware.
    CACHE_SIZE = 4096

    def __init__(
        self,
        registry: Registry,
        *,
        unknown: UnknownPolicy,
        declared: frozenset[str] | None = None,
        bound: int = BOUND,
    ) -> None:
        self.registry = registry
        self.unknown = unknown
        self.bound = bound
        #: The providers the site declares (None: do not check).
        self.declared = declared
        #: Unknown hosts already logged, and undeclared providers.
        self._warned: set[str] = set()
        self._undeclared: set[str] = set()
        self._tags: dict[tuple[bytes, str], _Tag] = {}
        self._look = needs_a_look(registry.hosts, bound)

    def next_to_look_at(self, buf: bytes, pos: int) -> re.Match[bytes] | None:
        """The next start tag from ``pos`` that may need blocking or a warning (see
        ``needs_a_look``), as ``_TAG`` matches it; every other tag passes unread."""
        return self._look.search(buf, pos)

    def page(
        self,
        *,
        allows: Allows,
        allows_name: AllowsName,
        host: str,
        path: str,
        placeholder: Placeholder | None = None,
    ) -> PageBlocker:
        """A blocker for one page, for the visitor whose consent ``allows`` tells."""
        return PageBlocker(self, allows, allows_name, host, path, placeholder)

    def classify(self, tag: bytes, site: str, path: str) -> _Tag:
        """What the start tag ``tag`` (of a script, iframe, img or link) is on ``site``."""
        key = (tag, site)
        known = self._tags.get(key)
        if known is None:
            known = self._classify(tag, site, path)
            if len(self._tags) >= self.CACHE_SIZE:
                self._tags.clear()
            self._tags[key] = known
        return known

    def _classify(self, tag: bytes, site: str, path: str) -> _Tag:
        named = _TAG.match(tag)
        assert named is not None
        name = named[1].lower()
        if name != b"script" and b"//" not in tag and b"data-" not in tag:
            return _KEEP_TAG  # no absolute URL and no opt-in: nobody else's
        attrs = attributes(tag, named.end())
        if name == b"script":
            kind = attrs.get("type")
            script_type = (kind.value or "").strip().lower() if kind is not None else ""
            if script_type not in _JS_TYPES:
                wanted = _consent_name(attrs) if script_type == "text/plain" else None
                return _Tag(_OPT_IN, None, attrs, wanted) if wanted else _KEEP_TAG
            src = attrs.get("src")
            if src is None:
                return _Tag(_INLINE, None, attrs)
            return _Tag(_URL, self._owner(src.value, site, path, third_party=True), attrs)
        if name == b"iframe":
            src = attrs.get("src")
            if src is None:
                wanted = _consent_name(attrs) if "data-consent-src" in attrs else None
                return _Tag(_OPT_IN, None, attrs, wanted) if wanted else _KEEP_TAG
            return _Tag(_URL, self._owner(src.value, site, path, third_party=True), attrs)
        if name == b"img":
            url = attrs.get("src")
        else:
            rel = attrs.get("rel")
            if rel is None or rel.value is None or _PRELOADS.isdisjoint(rel.value.lower().split()):
                return _KEEP_TAG
            url = attrs.get("href")
            if not _HOST_HINTS.isdisjoint(rel.value.lower().split()):
                host = _host_and_path(url.value)[0] if url and url.value else ""
                sharing = self.registry.on_host(host) if host else ()
                return _Tag(_HINT, None, attrs, sharing=sharing) if sharing else _KEEP_TAG
        tracker = self._owner(url.value if url else None, site, path)
        return _Tag(_URL, tracker, attrs) if tracker is not None else _KEEP_TAG

    def _owner(
        self, url: str | None, site: str, path: str, *, third_party: bool = False
    ) -> Tracker | None:
        """The tracker ``url`` belongs to; with ``third_party``, an unknown host's policy too."""
        if not url:
            return None
        host, url_path = _host_and_path(url)
        if not host:
            return None
        tracker = self.registry.owner_of(host, url_path)
        if tracker is not None or not third_party or _first_party(host, site):
            return tracker
        if self.unknown == "warn":
            self._warn_unknown(host, path)
        elif self.unknown == "block":
            return _unknown_tracker(host)
        return None

    def blocked(self, tracker: Tracker, path: str) -> None:
        """Note blocked markup: say once if no configured provider declares it, since the
        banner then does not ask about it and only its category's consent releases it."""
        declared = self.declared
        if declared is None or tracker.provider in declared or tracker.provider in self._undeclared:
            return
        self._undeclared.add(tracker.provider)
        logger.warning(
            "the page %r carries markup of %s (provider %r), which stays inert "
            "until the visitor grants %r; declare the provider in ConsentConfig(providers=...) "
            "so the banner and the cookie declaration tell visitors about it",
            path,
            tracker.label,
            tracker.provider,
            tracker.category,
        )

    def _warn_unknown(self, host: str, path: str) -> None:
        """Log a third-party host neither the registry nor the site knows, once per process."""
        if host in self._warned or len(self._warned) >= _MAX_WARNED:
            return
        self._warned.add(host)
        logger.warning(
            "the page %r loads a script or iframe from %s, which no tracker entry "
            "names; it passes. Declare it (ConsentConfig(trackers=[Tracker(provider=..., "
            "category=..., urls=[%r])]), with category 'necessary' if it needs no consent), "
            "or set unknown_third_party='block'",
            path,
            host,
            host,
        )


class PageBlocker:
    """Blocks one page's tracker markup as its body streams through ``feed``/``finish``."""

    __slots__ = (
        "_allows",
        "_allows_name",
        "_blocker",
        "_embeds",
        "_path",
        "_pending",
        "_placeholder",
        "_held_searched",
        "_site",
    )

    def __init__(
        self,
        blocker: Blocker,
        allows: Allows,
        allows_name: AllowsName,
        host: str,
        path: str,
        placeholder: Placeholder | None,
    ) -> None:
        self._blocker = blocker
        self._allows = allows
        self._allows_name = allows_name
        self._site = host.lower().removeprefix("www.")
        self._path = path
        self._placeholder = placeholder
        self._pending = b""
        self._embeds = 0
        #: How far past its "<" the inline script held back was searched for its end.
        self._held_searched = 0

    def feed(self, chunk: bytes) -> bytes:
        """Returns what can be sent now (may be b"")."""
        buf = self._pending + chunk if self._pending else chunk
        parts, kept = self._scan(buf, final=False)
        self._pending = buf[kept:]
        return b"".join(parts)

    def finish(self) -> bytes:
        """Returns the rest."""
        parts, _ = self._scan(self._pending, final=True)
        self._pending = b""
        return b"".join(parts)

    def whole(self, body: bytes) -> bytes:
        """``feed(body) + finish()``, for a body that came in one piece: most pages
        pass after one search that finds no tag needing a look."""
        parts, _ = self._scan(body, final=True)
        return body if len(parts) == 1 else b"".join(parts)

    # -- the scan ---------------------------------------------------------

    def _scan(self, buf: bytes, *, final: bool) -> tuple[list[bytes | memoryview], int]:
        """The output for ``buf`` and where the bytes not yet decided start."""
        search = self._blocker.next_to_look_at
        parts: list[bytes | memoryview] = []
        view = memoryview(buf)
        sent = pos = 0
        size = len(buf)
        while (match := search(buf, pos)) is not None:
            start = match.start()
            decided = self._element(buf, start, match.end(), final)
            if decided is None:  # needs bytes not here yet
                parts.append(view[sent:start])
                return parts, start
            replacement, end, pos = decided
            if replacement is not None:
                parts += (view[sent:start], replacement)
                sent = end
        if not final:
            # A tag cut off at the end ("<scr") is decided with the next chunk.
            cut = buf.rfind(b"<", max(size - _LONGEST_TAG_START, sent, pos))
            if cut >= 0:
                parts.append(view[sent:cut])
                return parts, cut
        parts.append(view[sent:])
        return parts, size

    def _element(
        self, buf: bytes, start: int, name_end: int, final: bool
    ) -> tuple[bytes | None, int, int] | None:
        """How the element at ``start`` is rewritten: (replacement of ``buf[start:end]``
        or None to keep it, end, where to search on); None while more bytes are needed."""
        limit = start + self._blocker.bound
        complete = final or len(buf) >= limit
        # Most tags end at their first ">", outside their double-quoted values; any other
        # quoting needs the tokenizer's reading.
        tag_end = buf.find(b">", name_end, limit) + 1
        rest = buf[name_end:tag_end]
        if tag_end == 0 or b"'" in rest or rest.count(b'"') % 2:
            tag_match = _START_REST.match(buf, name_end, min(len(buf), limit))
            if tag_match is None:
                if not complete:
                    return None
                if buf[start + 1 : start + 3].lower() in (b"sc", b"if"):
                    # No ">" within reach of a script or iframe: never let it become
                    # one (fail closed). An image or link loads nothing of a tracker
                    # unless the page names one, which the scan would see.
                    return b"&lt;", start + 1, start + 1
                return None, start + 1, start + 1
            tag_end = tag_match.end()
        tag = buf[start:tag_end]
        info = self._blocker.classify(tag, self._site, self._path)
        kind = info.kind
        # An image or link kept is searched on from its name, as a whole page without
        # a tracker's host is searched for scripts and iframes alone (``whole``).
        kept = (None, tag_end, name_end if tag[1:3].lower() in (b"im", b"li") else tag_end)
        if kind == _KEEP:
            return kept
        if kind == _INLINE:
            return self._inline_script(buf, start, tag, info, limit, complete)
        if kind == _OPT_IN:
            return self._opt_in(tag, info), tag_end, tag_end
        if kind == _HINT:
            return (b"", tag_end, tag_end) if not any(map(self._allows, info.sharing)) else kept
        tracker = info.tracker
        if tracker is None or self._allows(tracker):
            return kept
        self._blocker.blocked(tracker, self._path)
        assert info.attrs is not None
        name = tag[1:3].lower()
        if name == b"sc":
            inert = _inert_script(tag, info.attrs, tracker.provider, tracker.category)
            return inert, tag_end, tag_end
        if name != b"if":  # a pixel or a preload
            return b"", tag_end, tag_end
        if tracker.embed is None:
            # Not content a visitor chose to see (GTM's noscript iframe): remove it whole.
            end_match = _IFRAME_END.search(buf, tag_end, min(len(buf), limit))
            if end_match is None and not complete:
                return None
            end = end_match.end() if end_match is not None else tag_end
            return b"", end, end
        inert = _inert_iframe(tag, info.attrs, tracker)
        if self._placeholder is not None:
            self._embeds += 1
            inert = self._placeholder(tracker, info.attrs, self._embeds) + inert
        return inert, tag_end, tag_end

    def _inline_script(
        self, buf: bytes, start: int, tag: bytes, info: _Tag, limit: int, complete: bool
    ) -> tuple[bytes | None, int, int] | None:
        tag_end = start + len(tag)
        # A script held back over several chunks is searched on from where it was left.
        search_from = max(tag_end, start + self._held_searched)
        end_match = _SCRIPT_END.search(buf, search_from, min(len(buf), limit))
        if end_match is None and not complete:
            self._held_searched = max(len(buf) - start - _LONGEST_SCRIPT_END, 0)
            return None
        self._held_searched = 0
        content_end = end_match.start() if end_match is not None else min(len(buf), limit)
        trackers = self._blocker.registry.signed(buf[tag_end:content_end])
        resume = content_end if end_match is not None else tag_end
        refused = next((t for t in trackers if not self._allows(t)), None)
        assert info.attrs is not None
        if refused is not None:
            self._blocker.blocked(refused, self._path)
            inert = _inert_script(tag, info.attrs, refused.provider, refused.category)
            return inert, tag_end, resume
        if end_match is None and not trackers and not self._allows_name(FAIL_CLOSED_CATEGORY):
            # Longer than the bound and no signature in reach: it may be anything.
            inert = _inert_script(tag, info.attrs, FAIL_CLOSED_CATEGORY, FAIL_CLOSED_CATEGORY)
            return inert, tag_end, resume
        return None, tag_end, resume

    def _opt_in(self, tag: bytes, info: _Tag) -> bytes | None:
        """Opt-in markup, switched on once what it waits for is allowed."""
        if not self._allows_name(info.wanted):
            return None
        attrs = info.attrs
        assert attrs is not None
        source = attrs.get("data-consent-src")
        if source is not None and tag[1:3].lower() == b"if":
            return tag[: source.start] + b"src" + tag[source.start + len("data-consent-src") :]
        kind = attrs["type"]
        original = attrs.get("data-consent-type") or attrs.get("data-type")
        restored = b""
        if original is not None and original.value:
            restored = b' type="' + _attr(original.value) + b'"'
        return tag[: kind.start].rstrip() + restored + tag[kind.end :]


def _first_party(host: str, site: str) -> bool:
    return not site or host == site or host.endswith("." + site) or site.endswith("." + host)


class Blocking:
    """The site's blocking, from its config: the registry, and per page a blocker for the
    visitor's consent."""

    def __init__(self, config: ConsentConfig) -> None:
        declared = {p.name: p.category for p in config.providers}
        trackers = (
            *config.trackers,
            *(t for p in config.providers for t in p.trackers()),
            *(builtin_trackers() if config.block_known_trackers else ()),
        )
        self.registry = Registry.of(trackers, declared)
        self.blocker = Blocker(
            self.registry, unknown=config.unknown_third_party, declared=frozenset(declared)
        )
        #: What each name ``data-consent`` may hold needs: a category itself, a provider its
        #: category (every tracker of a provider has the same one, see ``Registry.of``).
        self._needs = {
            **{t.provider: t.category for t in self.registry.trackers},
            **{c.name: c.name for c in config.all_categories},
        }

    def page_of(
        self, state: ConsentState, host: str, path: str, placeholder: Placeholder | None = None
    ) -> PageBlocker:
        """The blocker of one page, for a visitor of consent ``state``.

        One rule decides all markup: a provider's runs once the visitor grants its
        category or allowed it on its own. ``state.providers`` holds only providers
        the site declares (the consent cookie indexes them by the provider table), so
        a provider only the registry knows is released by its category alone.
        """
        needs = self._needs

        def allows_name(name: str) -> bool:
            category = needs.get(name)
            return name in state.providers or category is not None and state.allows(category)

        def allows(tracker: Tracker) -> bool:
            return allows_name(tracker.provider)

        return self.blocker.page(
            allows=allows, allows_name=allows_name, host=host, path=path, placeholder=placeholder
        )


def _consent_name(attrs: dict[str, Attribute]) -> str | None:
    """What opt-in markup waits for: ``data-consent``, or CookieConsent's ``data-category``."""
    for name in ("data-consent", "data-category"):
        attribute = attrs.get(name)
        if attribute is not None and attribute.value and attribute.value.strip():
            wanted = attribute.value.strip().lower()
            return CATEGORY_ALIASES.get(wanted, wanted) if name == "data-category" else wanted
    return None


def _inert_script(tag: bytes, attrs: dict[str, Attribute], consent: str, category: str) -> bytes:
    """The start tag as ``type="text/plain"``, naming what it waits for; all else kept."""
    kind = attrs.get("type")
    marks = b' type="text/plain" data-consent="%s" data-consent-category="%s"' % (
        _attr(consent),
        _attr(category),
    )
    if kind is not None and kind.value:
        marks += b' data-consent-type="' + _attr(kind.value) + b'"'
        tag = tag[: kind.start].rstrip() + tag[kind.end :]
    elif kind is not None:
        tag = tag[: kind.start].rstrip() + tag[kind.end :]
    return tag[:7] + marks + tag[7:]


def _inert_iframe(tag: bytes, attrs: dict[str, Attribute], tracker: Tracker) -> bytes:
    """The start tag with ``src`` renamed ``data-consent-src``, hidden, naming its provider."""
    src = attrs["src"]
    renamed = tag[: src.start] + b"data-consent-src" + tag[src.start + len("src") :]
    marks = b' data-consent="%s" data-consent-category="%s" hidden' % (
        _attr(tracker.provider),
        _attr(tracker.category),
    )
    return renamed[:7] + marks + renamed[7:]


def _attr(value: str) -> bytes:
    return html.escape(value).encode("latin-1", "xmlcharrefreplace")


def _host_and_path(url: str) -> tuple[str, str]:
    """The lowercase host and the path of an absolute or scheme-relative http(s) URL."""
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    elif not url[:6].lower().startswith("http"):
        return "", ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "", ""
    if parts.scheme not in ("http", "https"):
        return "", ""
    return host.rstrip("."), parts.path or "/"


def _unknown_tracker(host: str) -> Tracker:
    return Tracker(provider=FAIL_CLOSED_CATEGORY, category=FAIL_CLOSED_CATEGORY, title=host)
