"""consentgate's own routes under the prefix (``/_consent`` by default).

- ``POST <prefix>``: record a choice (form or JSON), then redirect or answer JSON.
- ``GET <prefix>/preferences``: the preference centre and cookie declaration.
- ``GET <prefix>/me``: the visitor's current consent as JSON.
- ``<prefix>/me/record``, ``<prefix>/me/erase``: the visitor's own consent record (``_rights``).
- ``GET <prefix>/static/<name>``: the banner's assets, content-hashed, cached for a year.
- ``GET <prefix>/admin/export``: the consent log for the site owner (``_admin``).
- ``GET <prefix>/admin/records``, ``POST <prefix>/admin/erase``: one visitor's record, for
  the site owner (``_admin_records``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from ._admin import AdminExport
from ._admin_records import ADMIN_RECORD_PATHS, AdminRecords
from ._anchor import Anchor
from ._assets import IMMUTABLE, Assets
from ._cookie import ConsentCookie, new_consent_id
from ._csp import without_nonces
from ._csrf import CsrfTokens, normalize_origin, same_site_request
from ._exceptions import StorageError
from ._firewall import CookieFirewall
from ._gpc import gpc_in
from ._http import hostname, read_cookies
from ._outbox import Outbox
from ._provider_table import ProviderTable
from ._redirect import safe_next
from ._render import Renderer, iso_week, next_values
from ._retention import Retention
from ._rights import RIGHTS_PATHS, VisitorRights
from ._state import NECESSARY, ConsentState, CookieReading
from ._texts_keeper import TextsKeeper
from .log import ConsentLog, ConsentRecord, minimise_user_agent, truncate_ip
from .log._record import Action
from .log._texts import ShownTexts

__all__ = ["ConsentEndpoints"]

logger = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
#: Fields a form may have: the preference centre posts two per provider (its toggle, and
#: that it was shown) beside the categories; MAX_BODY bounds the work anyway.
MAX_FIELDS = 512
ACTIONS = ("accept_all", "reject_all", "save", "allow")
#: Where a form may say it was posted from; a JSON body is ``"api"``.
SOURCES = ("banner", "preferences", "embed")


class BadRequest(Exception):
    """The choice could not be understood; answered 400 (or 413)."""

    def __init__(self, status: int = 400) -> None:
        self.status = status


@dataclass(frozen=True, slots=True)
class Choice:
    action: str
    categories: tuple[str, ...]
    providers: tuple[str, ...]
    #: The provider toggles the form showed, ticked or not (the preference centre's).
    providers_shown: tuple[str, ...]
    next_path: str
    csrf_token: str
    source: str
    language: str | None
    #: The categories a banner asking again (their grants lapsed) asked about.
    asked: tuple[str, ...] = ()
    #: The page's script saw ``navigator.globalPrivacyControl`` (a proxy may drop Sec-GPC).
    gpc: bool = False


class ConsentEndpoints:
    def __init__(
        self,
        *,
        prefix: str,
        renderer: Renderer,
        cookie: ConsentCookie,
        csrf: CsrfTokens,
        log: ConsentLog,
        firewall: CookieFirewall,
        assets: Assets,
        trusted_origins: Sequence[str],
    ) -> None:
        self.prefix = prefix
        self.renderer = renderer
        self.cookie = cookie
        self.csrf = csrf
        self.log = log
        self.firewall = firewall
        self.assets = assets
        self.trusted_origins = frozenset(filter(None, map(normalize_origin, trusted_origins)))
        self.policy_version = renderer.config.policy_version
        config = renderer.config
        self.outbox = Outbox(log, config.outbox_path)
        self.texts = TextsKeeper(log, renderer)
        if config.outbox_path is None and isinstance(config.store, str):
            if not config.store.lower().startswith("sqlite:"):
                logger.warning(
                    "no outbox set: a refusal made while the consent log is down "
                    "is kept in memory only until the log is back; set outbox to a file on a "
                    "local disk so it survives a restart"
                )
        self.anchor = (
            Anchor(
                log,
                config.signing_keys[0],
                url=config.anchor_url,
                tsa_url=config.anchor_tsa_url,
                every_records=config.anchor_every_records,
                every_minutes=config.anchor_every_minutes,
            )
            if config.anchor_url is not None or config.anchor_tsa_url is not None
            else None
        )
        self.admin = AdminExport(log, config.admin_token)
        self.admin_records = AdminRecords(log, config, self.outbox)
        self.retention = (
            Retention(log, config.retention_days) if config.retention_days is not None else None
        )
        self.body_timeout = config.body_timeout
        self.rights = VisitorRights(
            renderer=renderer,
            cookie=cookie,
            csrf=csrf,
            log=log,
            outbox=self.outbox,
            firewall=firewall,
            trusted_origins=self.trusted_origins,
        )
        self.log_user_agent = config.log_user_agent
        self.log_ip = config.log_ip
        # Keyed with the newest secret, so hashed user agents cannot be looked up
        # in a table of common ones; rotating the secret starts new hashes.
        self.user_agent_salt = hashlib.sha256(
            b"consentgate.user-agent\0" + config.signing_keys[0].encode()
        ).digest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.retention is not None:
            self.retention.poke()
        self.outbox.poke()
        request = Request(scope, receive)
        path = scope["path"][len(self.prefix) :]
        method = request.method
        allowed: tuple[str, ...]
        response: Response | None
        if path in ("", "/"):
            allowed = ("POST",)
            response = await self.choose(request) if method == "POST" else None
        elif path == "/preferences":
            allowed = ("GET", "HEAD")
            response = self.preferences(request) if method in allowed else None
        elif path == "/me":
            allowed = ("GET", "HEAD")
            response = self.me(request) if method in allowed else None
        elif path in RIGHTS_PATHS:
            allowed = ()  # they answer 405 themselves
            response = await self.rights(request, path)
        elif path.startswith("/static/"):
            allowed = ("GET", "HEAD")
            response = self.static(path[len("/static/") :]) if method in allowed else None
        elif path == "/admin/export":
            allowed = ("GET",)
            response = await self.admin(request)
        elif path in ADMIN_RECORD_PATHS:
            allowed = ()  # they answer 405 themselves
            response = await self.admin_records(request, path)
        else:
            allowed = ()
            response = PlainTextResponse("Not Found", status_code=404)
        if response is None:
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": ", ".join(allowed)}
            )
        if response.headers.get("content-type", "").startswith("text/html"):
            # A page with consent buttons in another site's frame can be clickjacked.
            response.headers.update(_FRAMED_BY_THIS_SITE_ONLY)
        await response(scope, receive, send)

    # -- the routes -----------------------------------------------------

    async def choose(self, request: Request) -> Response:
        lang = self.renderer.negotiate(request.headers.get("accept-language"))
        wants_json = "application/json" in request.headers.get("accept", "") or _is_json(request)
        host = request.headers.get("host", "")
        if not same_site_request(
            host,
            request.headers.getlist("origin"),
            request.headers.get("referer"),
            request.headers.get("sec-fetch-site"),
            self.trusted_origins,
            scheme=request.url.scheme,
        ):
            return self._error(403, "errors.forbidden", lang, "/", host, wants_json)
        try:
            body = await _read_body(request, self.body_timeout)
            choice = _parse_choice(body, request.headers.get("content-type"))
        except BadRequest as exc:
            bad = self._error(exc.status, "errors.bad_request", lang, "/", host, wants_json)
            if exc.status == 408:
                bad.headers["Connection"] = "close"  # the rest of the body is not waited for
            return bad
        if choice.language in self.renderer.languages:
            lang = choice.language
        if not self.csrf.valid(choice.csrf_token):
            if self.csrf.expired(choice.csrf_token) and not wants_json and choice.source != "api":
                return self._confirm_again(body, choice, lang)
            return self._error(403, "errors.forbidden", lang, choice.next_path, host, wants_json)

        reading = self._reading(request)
        current = reading.state
        # The signal is recorded as sent; it is honoured where it refuses something here.
        sent_gpc = choice.gpc or gpc_in(request.headers.raw)
        gpc = self._honours(sent_gpc)
        shown = self._page_shown(reading, choice, lang, gpc)
        now = datetime.now(UTC)
        state = self._decide(current, choice, now.replace(microsecond=0), gpc)
        if state is None:
            return self._error(400, "errors.bad_request", lang, choice.next_path, host, wants_json)
        action = _action(current, state, choice.action)
        record = ConsentRecord(
            consent_id=str(state.consent_id),
            time=now,
            action=action,
            granted=tuple(state.granted),
            # Only an answer to the banner refuses: allowing an embed first refuses nothing.
            refused=tuple(c for c in self.renderer.choosable if c not in state.granted)
            if state.has_choice
            else (),
            providers=tuple(state.providers),
            revisions=self._revisions_of(state.granted),
            policy_version=self.policy_version,
            language=lang,
            source=choice.source,  # type: ignore[arg-type]
            text_fingerprint=shown.fingerprint
            if shown is not None
            else self.renderer.fingerprint(_shown(choice.source), lang, gpc),
            user_agent=self._user_agent(request),
            ip=self._ip(request),
            gpc=sent_gpc,
        )
        try:
            # Written at start-up; here only on a server without lifespan (once).
            await self.texts.keep()
            if shown is not None:
                await self.texts.keep_page(shown)
            if self.outbox.pending():
                await self.outbox.replay()  # earlier choices first: the log keeps their order
            await self.log.record(record)
        except StorageError as exc:
            if _widens(current, state):
                # A grant needs its proof; what the visitor withdrew is still honoured.
                logger.error("consent log write failed, choice not acknowledged: %s", exc)
                refused = self._error(
                    503, "errors.unavailable", lang, choice.next_path, host, wants_json
                )
                if action == "withdraw":
                    kept = _narrowed(current, state)
                    await self._keep_for_later(self._withdrawal(record, kept), exc)
                    self._apply(refused, request, kept)
                return refused
            if not await self._keep_for_later(record, exc):
                # Nowhere to keep the proof: still honoured, but not acknowledged.
                unsaved = self._error(
                    503, "errors.unavailable", lang, choice.next_path, host, wants_json
                )
                self._apply(unsaved, request, state)
                return unsaved
        else:
            if self.anchor is not None:
                self.anchor.recorded()

        response: Response
        if wants_json:
            response = JSONResponse(
                {**state.as_json(), **self._page_update(current, state, choice, lang, host)}
            )
        else:
            response = Response(status_code=303, headers={"Location": choice.next_path})
        self._apply(response, request, state)
        return response

    def _confirm_again(self, body: bytes, choice: Choice, lang: str) -> Response:
        """403 for a form that expired in its tab, offering the same choice with a fresh token.

        Only a genuine token (signed by us, just old) from this site gets here; the
        visitor's click on the page is what makes the choice, as on the banner.
        """
        posted = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        html = self.renderer.confirm_page(
            lang,
            action=choice.action,
            fields=[(k, v) for k, v in posted if k not in ("csrf_token", "next", "action")],
            csrf_token=self.csrf.issue(),
            next_path=choice.next_path,
        )
        return HTMLResponse(html, status_code=403, headers=_PRIVATE)

    async def _keep_for_later(self, record: ConsentRecord, error: StorageError) -> bool:
        """Put a refusal the log could not take into the outbox; False if that failed too."""
        try:
            await self.outbox.add(record)
        except (OSError, TypeError, ValueError) as exc:  # TypeError: a field JSON cannot hold
            logger.error(
                "consent log unavailable and the outbox (%s) unwritable: the %s "
                "of consent id %s is applied, NOT recorded: %s; %s",
                self.outbox.where,
                record.action,
                record.consent_id,
                error,
                exc,
            )
            return False
        logger.warning(
            "consent log unavailable: the %s of consent id %s is applied, "
            "not yet recorded; kept in the outbox (%s) until the log answers: %s",
            record.action,
            record.consent_id,
            self.outbox.where,
            error,
        )
        return True

    def _withdrawal(self, record: ConsentRecord, kept: ConsentState) -> ConsentRecord:
        """``record`` cut down to what it withdrew: what is applied when its grant is refused."""
        return replace(
            record,
            action="withdraw",
            granted=tuple(sorted(kept.granted)),
            refused=tuple(c for c in sorted(self.renderer.choosable) if c not in kept.granted)
            if kept.has_choice
            else (),
            providers=tuple(sorted(kept.providers)),
            revisions=self._revisions_of(kept.granted),
        )

    def _revisions_of(self, granted: frozenset[str]) -> tuple[tuple[str, str], ...]:
        """Each granted category with the revision the visitor was shown it in: now's."""
        categories = self.renderer.revisions.categories
        return tuple((c, categories[c].revision) for c in sorted(granted) if c in categories)

    def preferences(self, request: Request) -> Response:
        # The banner and settings link name the language the page showed them in.
        lang = self.renderer.language_of(request.query_params.get("lang")) or (
            self.renderer.negotiate(request.headers.get("accept-language"))
        )
        html = self.renderer.preferences_page(
            lang,
            self._current(request),
            next_path=safe_next(request.query_params.get("next")),
            csrf_token=self.csrf.issue(),
            saved=False,
            gpc=self._honours(gpc_in(request.headers.raw)),
        )
        return HTMLResponse(html, headers=_PRIVATE)

    def me(self, request: Request) -> Response:
        return JSONResponse(self._current(request).as_json(), headers=_PRIVATE)

    def static(self, name: str) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(
            asset.content, media_type=asset.media_type, headers={"Cache-Control": IMMUTABLE}
        )

    # -- helpers --------------------------------------------------------

    def _user_agent(self, request: Request) -> str | None:
        """What the log keeps of the User-Agent: by default nothing."""
        user_agent = request.headers.get("user-agent")
        if self.log_user_agent == "off" or user_agent is None:
            return None
        return minimise_user_agent(user_agent, self.log_user_agent, salt=self.user_agent_salt)

    def _ip(self, request: Request) -> str | None:
        """The client's network (/24 or /48), from the server's view of the connection.

        X-Forwarded-For is not read: anyone can send it. Behind a reverse proxy,
        let the server put the real client in the scope (uvicorn --proxy-headers).
        """
        if self.log_ip == "off" or request.client is None:
            return None
        try:
            return truncate_ip(request.client.host)
        except ValueError:
            return None  # e.g. a Unix socket: no address to keep

    def _current(self, request: Request) -> ConsentState:
        return self._reading(request).state

    def _reading(self, request: Request) -> CookieReading:
        value = read_cookies(request.scope["headers"], self.cookie.name.encode("latin-1"))[0]
        return self.cookie.read(value.decode("latin-1") if value is not None else None)

    def _page_shown(
        self, reading: CookieReading, choice: Choice, lang: str, gpc: bool
    ) -> ShownTexts | None:
        """The banner asking again that a choice answers, if it does: its fingerprint goes in
        the record, and its texts in the log's texts table (rendered per set of lapsed
        categories, it is not among the pages kept at start-up)."""
        lapsed_from = reading.lapsed_from
        if choice.source != "banner" or not lapsed_from or not reading.state.has_choice:
            return None
        if set(choice.asked) != {name for name, _ in lapsed_from}:
            return None  # not the banner this cookie gets now: the plain banner's texts
        html = self.renderer.banner_again(lang, lapsed_from, False, gpc).html
        return ShownTexts(kind="page", name="banner", language=lang, content=html)

    def _honours(self, sent_gpc: bool) -> bool:
        """Whether a browser's Global Privacy Control refuses something here."""
        return sent_gpc and bool(self.renderer.gpc_refused)

    def _decide(
        self, current: ConsentState, choice: Choice, now: datetime, gpc: bool
    ) -> ConsentState | None:
        """The visitor's consent after ``choice``; None for an ``allow`` of no known provider.

        Accept, reject and save answer the banner with the whole choice: what they
        do not name is off, providers allowed one by one included (a provider whose
        category is granted needs no entry of its own). ``allow`` adds providers and
        changes nothing else, not even when the choice lapses. A banner that asked
        again about lapsed grants posts ``asked``: its answer is for those alone. With
        GPC, "Accept all" leaves out what the signal refuses; a category the visitor
        ticks or a provider they allow themselves is their own choice, and granted.
        """
        table = self.renderer.provider_table
        choosable = frozenset(self.renderer.choosable)
        named = table.choosable(choice.providers)
        decided = ConsentState(
            consent_id=current.consent_id or new_consent_id(),
            policy_version=self.policy_version,
            decided_at=now,
            provider_categories=table.categories,
        )
        if choice.action == "allow":
            if not named:
                return None
            return replace(
                decided,
                granted=current.granted,
                providers=current.providers
                | {p for p in named if table.categories[p] not in current.granted},
                answered=current.has_choice,
                # A lapsed grant stays a question open, not a refusal.
                lapsed=current.lapsed,
                decided_at=current.decided_at if current.consent_id else now,
            )
        asked = frozenset(choice.asked) & choosable
        refused = self.renderer.gpc_refused if gpc else frozenset()
        if asked and current.has_choice:
            return _answered_again(current, choice, asked, decided, refused)
        if choice.action == "accept_all":
            return replace(decided, granted=choosable - refused)
        if choice.action == "reject_all":
            return decided
        granted, providers = _saved(current, choice, choosable, table)
        return replace(decided, granted=granted, providers=providers)

    def _page_update(
        self, before: ConsentState, state: ConsentState, choice: Choice, lang: str, host: str
    ) -> dict[str, Any]:
        """What consentgate.js needs to bring the page the visitor is on up to date.

        ``snippets``: head and body HTML of the providers this choice starts;
        ``reload``: a withdrawn provider can only be stopped by reloading;
        ``consent_mode``: the Google Consent Mode update, where Google tags are set up;
        ``settings_link``: the link that takes the banner's place.
        """
        renderer = self.renderer
        head, body = renderer.started(before, state, iso_week(), hostname(host))
        # No nonce placeholders: the script gives what it starts its own nonce.
        head, body = without_nonces(head), without_nonces(body)
        link = None
        if renderer.config.show_settings_link:
            values = next_values(choice.next_path)
            link = renderer.settings_link[lang].fill(values)
        return {
            "snippets": {"head": head, "body": body},
            "reload": renderer.needs_reload(before, state),
            "consent_mode": renderer.consent_mode(state.granted, state.providers)
            if renderer.uses_consent_mode
            else None,
            "settings_link": link,
        }

    def _apply(self, response: Response, request: Request, state: ConsentState) -> None:
        """Set the consent cookie and expire the cookies of every refused category."""
        secure = self.cookie.secure_for(request.url.scheme)
        response.headers.append("Set-Cookie", self.cookie.set_cookie(state, secure=secure))
        host = hostname(request.headers.get("host"))
        names = read_cookies(request.scope["headers"], self.cookie.name.encode("latin-1"))[1]
        for header in self.firewall.expire(self.firewall.trackers_in(names), state, host):
            response.headers.append("Set-Cookie", header)
        response.headers["Cache-Control"] = "no-store"

    def _error(
        self, status: int, key: str, lang: str, next_path: str, host: str, wants_json: bool
    ) -> Response:
        if wants_json:
            message = self.renderer.texts["en"][key]
            return JSONResponse({"error": message}, status_code=status, headers=_PRIVATE)
        html = self.renderer.error_page(lang, key, next_path=next_path)
        return HTMLResponse(html, status_code=status, headers=_PRIVATE)


_PRIVATE = {"Cache-Control": "no-store", "Vary": "Cookie"}
#: On every page consentgate serves itself (X-Frame-Options for browsers without CSP 2).
_FRAMED_BY_THIS_SITE_ONLY = {
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}


async def _read_body(request: Request, timeout: float) -> bytes:
    """The whole body, if it is small (else 413) and arrives within ``timeout`` seconds (else 408).

    The deadline is for the whole body, so a client trickling a byte at a time
    cannot hold a worker.
    """
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    raise BadRequest(413)
    except TimeoutError as exc:
        raise BadRequest(408) from exc
    except ClientDisconnect as exc:
        raise BadRequest() from exc  # nobody left to answer, but no traceback either
    return bytes(body)


def _is_json(request: Request) -> bool:
    """Whether the request's body is JSON: an API client, answered in JSON whatever it accepts."""
    content_type = request.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _parse_choice(body: bytes, content_type: str | None) -> Choice:
    """The posted fields, from a urlencoded form or a JSON object."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    fields: Mapping[str, Any]
    try:
        if media_type == "application/json":
            fields = json.loads(body)
            if not isinstance(fields, dict):
                raise BadRequest()
            categories = fields.get("categories", [])
            providers = fields.get("providers", [])
            shown = fields.get("providers_shown", [])
            asked = fields.get("asked", [])
            source = "api"
        elif media_type in ("application/x-www-form-urlencoded", ""):
            form = parse_qs(body.decode("utf-8"), max_num_fields=MAX_FIELDS, strict_parsing=False)
            fields = {k: v[0] for k, v in form.items()}
            categories = form.get("categories", [])
            providers = form.get("providers", [])
            shown = form.get("providers_shown", [])
            asked = form.get("asked", [])
            source = fields.get("source", "banner")
        else:
            raise BadRequest(415)
    except (ValueError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than the parser goes, e.g. "[" * 5000.
        raise BadRequest() from exc
    action = fields.get("action")
    lists = (categories, providers, shown, asked)
    if action not in ACTIONS or not all(isinstance(names, list) for names in lists):
        raise BadRequest()
    if not all(isinstance(name, str) for names in lists for name in names):
        raise BadRequest()
    token, next_value, language = (fields.get(k, "") for k in ("csrf_token", "next", "lang"))
    if not all(isinstance(v, str) for v in (token, next_value, language)):
        raise BadRequest()
    return Choice(
        action=action,
        categories=tuple(categories),
        providers=tuple(providers),
        providers_shown=tuple(shown),
        asked=tuple(asked),
        next_path=safe_next(next_value),
        csrf_token=token,
        source=source if source in (*SOURCES, "api") else "banner",
        language=language or None,
        gpc=fields.get("gpc") in ("1", True),
    )


def _saved(
    current: ConsentState, choice: Choice, choosable: frozenset[str], table: ProviderTable
) -> tuple[frozenset[str], frozenset[str]]:
    """The categories a saved form grants, and the providers it allows one by one.

    The preference centre has a toggle per provider inside each category, and
    says which it showed (``providers_shown``). A category stands for all its
    providers. Without JavaScript its box and theirs are posted as left, so
    what the visitor changed is read against their current choice: a category
    ticked now is granted whole; one unticked now with its providers' boxes
    untouched takes them all off; otherwise a category is granted only with
    every one of its providers ticked, and the ticked ones of the rest are
    allowed one by one. The script keeps the boxes in step, which reads the same.
    """
    named = table.choosable(choice.providers)
    shown = table.choosable(choice.providers_shown)
    posted = frozenset(choice.categories) & choosable
    granted: set[str] = set()
    providers = set(named)
    for category in choosable:
        toggles = {p for p in shown if table.categories[p] == category}
        ticked = toggles & named
        if category in posted and (ticked == toggles or not current.allows(category)):
            granted.add(category)
        elif category not in posted and toggles and ticked == toggles and current.allows(category):
            providers -= toggles
    return frozenset(granted), frozenset(p for p in providers if table.categories[p] not in granted)


def _answered_again(
    current: ConsentState,
    choice: Choice,
    asked: frozenset[str],
    decided: ConsentState,
    gpc_refused: frozenset[str],
) -> ConsentState:
    """The answer to a banner that asked again about ``asked`` (their grants lapsed).

    Its buttons answer for those categories only: accept grants them (but what a
    Global Privacy Control signal refuses, ``gpc_refused``), reject refuses them,
    save grants the ticked ones; every other category, and the providers allowed
    one by one, stay as they were. It renews nothing else, so the choice still
    lapses ``cookie_max_age`` after the visitor last answered everything.
    """
    kept = current.granted - asked
    if choice.action == "accept_all":
        granted = kept | (asked - gpc_refused)
    elif choice.action == "reject_all":
        granted = kept
    else:
        granted = kept | (frozenset(choice.categories) & asked)
    table = decided.provider_categories
    return replace(
        decided,
        granted=granted,
        providers=frozenset(p for p in current.providers if table.get(p) not in granted),
        lapsed=current.lapsed - asked,
        decided_at=current.decided_at,
    )


def _action(current: ConsentState, state: ConsentState, posted: str) -> Action:
    """What the log calls a change from ``current`` to ``state``."""
    before = current.granted if current.has_choice else frozenset()
    if before - state.granted or not all(map(state.allows_provider, current.providers)):
        return "withdraw"
    if posted == "allow":
        return "allow"
    chose = bool(state.granted or state.providers)
    if not current.has_choice:
        return "grant" if chose else "reject"
    return "update" if chose else "reject"


def _widens(current: ConsentState, state: ConsentState) -> bool:
    """Whether ``state`` allows a category or provider ``current`` did not."""
    before = current.granted if current.has_choice else frozenset()
    return not state.granted <= before or not all(map(current.allows_provider, state.providers))


def _narrowed(current: ConsentState, state: ConsentState) -> ConsentState:
    """What both ``current`` and ``state`` allow: ``state``'s withdrawal alone.

    A provider both allow stays allowed, on its own where no category kept covers it.
    """
    granted = state.granted & current.granted
    table = state.provider_categories
    names = current.providers | state.providers | set(table)
    kept = {p for p in names if current.allows_provider(p) and state.allows_provider(p)}
    return replace(
        state,
        granted=granted,
        providers=frozenset(p for p in kept if table.get(p) not in (*granted, NECESSARY)),
        answered=current.has_choice,
    )


def _shown(source: str) -> str:
    """Which page's texts a choice was made on (the script posts from the banner).

    An embed's placeholder names its provider, its purpose and privacy policy,
    which is that provider's entry in the cookie declaration of the preference
    centre: its texts are the ones fingerprinted.
    """
    return "preferences" if source in ("preferences", "embed") else "banner"
