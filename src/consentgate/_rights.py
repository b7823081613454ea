"""A visitor's rights over their own consent record (GDPR Art. 15, 17 and 20).

- ``GET <prefix>/me/record``: the history of the visitor's consent id, read
  from the log (so it is proof, not what the cookie claims); with
  ``?format=json``, the same as a file to download (see :func:`record_document`).
- ``GET <prefix>/me/erase``: what erasing means, and the form that confirms it.
- ``POST <prefix>/me/erase``: erase the record (its entries become tombstones,
  and the log appends an ``erase`` record), expire the consent cookie and the
  refused trackers' cookies; the visitor starts over without a choice.

The consent id is taken from the signed consent cookie only, so a visitor
reaches their own record and nobody else's. A log that cannot be read is said
so on the page (with 503), never a 500.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from ._config import ConsentConfig
from ._cookie import ConsentCookie
from ._csrf import CsrfTokens, same_site_request
from ._exceptions import StorageError
from ._firewall import CookieFirewall
from ._http import hostname, read_cookies
from ._outbox import Outbox
from ._redirect import safe_next
from ._render import Renderer
from ._state import NO_CONSENT, ConsentState
from .log import ConsentLog, ConsentRecord
from .log._chain import format_time
from .log._export import export_object

__all__ = [
    "RIGHTS_PATHS",
    "RecordView",
    "VisitorRights",
    "check_rights_pages",
    "controller_of",
    "erase_from",
    "history_of",
    "record_document",
]

logger = logging.getLogger("consentgate")

#: The paths under the prefix that this module answers.
RIGHTS_PATHS = frozenset({"/me/record", "/me/erase"})
#: The erase form is two fields and a button; anything longer is not it.
_MAX_FORM = 4096
_PRIVATE = {"Cache-Control": "no-store", "Vary": "Cookie"}
_PLAIN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")

# A visitor with a record, for rendering every page once at start-up.
_SAMPLE_STATE = ConsentState(
    consent_id="0" * 32,
    granted=frozenset({"statistics"}),
    policy_version="1",
    decided_at=datetime(2026, 1, 1, tzinfo=UTC),
)


@dataclass(frozen=True, slots=True)
class RecordView:
    """One record as the visitor reads it, in their language."""

    time: datetime
    action: str
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    #: Providers allowed one by one, beside the granted categories.
    providers: tuple[str, ...]
    policy_version: str
    source: str
    language: str
    user_agent: str | None
    ip: str | None
    #: The browser sent Global Privacy Control with this choice.
    gpc: bool


def record_document(
    consent_id: str,
    records: Iterable[ConsentRecord],
    *,
    controller: Mapping[str, str | None],
    retention_days: int | None,
    exported_at: datetime | None = None,
) -> dict[str, Any]:
    """A visitor's consent record as one JSON document: what they download, and what
    ``consentgate show --format json`` and ``GET <prefix>/admin/records`` give.

    ``records`` are in the export's field names (``log._export.export_object``).
    """
    return {
        "controller": {
            key: controller.get(key) for key in ("name", "address", "email", "privacy_policy_url")
        },
        "consent_id": consent_id,
        "exported_at": format_time(exported_at or datetime.now(UTC)),
        "retention_days": retention_days,
        "records": [export_object(record) for record in records],
    }


def controller_of(config: ConsentConfig) -> dict[str, str | None]:
    """The controller as a record document names it."""
    return {
        "name": config.controller_name,
        "address": config.controller_address,
        "email": config.controller_email,
        "privacy_policy_url": config.privacy_policy_url,
    }


class VisitorRights:
    """The routes of :data:`RIGHTS_PATHS`."""

    def __init__(
        self,
        *,
        renderer: Renderer,
        cookie: ConsentCookie,
        csrf: CsrfTokens,
        log: ConsentLog,
        outbox: Outbox,
        firewall: CookieFirewall,
        trusted_origins: frozenset[str],
    ) -> None:
        self.renderer = renderer
        self.cookie = cookie
        self.csrf = csrf
        self.log = log
        self.outbox = outbox
        self.firewall = firewall
        self.trusted_origins = trusted_origins
        self.config = renderer.config
        self.prefix = self.config.prefix
        self._cookie_name = cookie.name.encode("latin-1")

    async def __call__(self, request: Request, path: str) -> Response:
        method = request.method
        if path == "/me/record":
            if method in ("GET", "HEAD"):
                return await self.record(request)
            allowed = "GET, HEAD"
        else:
            if method in ("GET", "HEAD"):
                return self.confirm_erase(request)
            if method == "POST":
                return await self.erase(request)
            allowed = "GET, HEAD, POST"
        return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": allowed})

    # -- the routes -----------------------------------------------------

    async def record(self, request: Request) -> Response:
        lang = self._language(request)
        state = self._current(request)
        next_path = safe_next(request.query_params.get("next"))
        wants_json = request.query_params.get("format") == "json"
        records: list[ConsentRecord] | None = []
        if state.consent_id is not None:
            try:
                records = await history_of(self.log, self.outbox, state.consent_id)
            except StorageError as exc:
                logger.error("consent log read failed, record not shown: %s", exc)
                records = None
        if wants_json:
            return self._download(state, records)
        html = self.renderer.render_page(
            "record.html",
            lang,
            state=state,
            records=None if records is None else record_views(self.renderer, records, lang),
            erased=state.consent_id is None and request.query_params.get("erased") == "1",
            retention=self.renderer.retention[lang],
            **_next(next_path),
        )
        return HTMLResponse(html, status_code=503 if records is None else 200, headers=_PRIVATE)

    def confirm_erase(self, request: Request) -> Response:
        return self._erase_page(
            request, safe_next(request.query_params.get("next")), problem=None, status=200
        )

    async def erase(self, request: Request) -> Response:
        fields = await _form(request)
        next_path = safe_next(fields.get("next"))
        if fields.get("confirm") != "yes":
            return self._erase_page(request, next_path, problem="errors.bad_request", status=400)
        if not self._same_site(request) or not self.csrf.valid(fields.get("csrf_token", "")):
            return self._erase_page(request, next_path, problem="errors.forbidden", status=403)
        state = self._current(request)
        if state.consent_id is not None:
            try:
                erased = await erase_from(self.log, self.outbox, state.consent_id)
            except StorageError as exc:
                logger.error("consent log erase failed, nothing erased: %s", exc)
                return self._erase_page(
                    request, next_path, problem="record.erase_failed", status=503
                )
            logger.info("erased %d consent records at the visitor's request", erased)
        location = f"{self.prefix}/me/record?erased=1&next={quote(next_path, safe='')}"
        response = Response(status_code=303, headers={"Location": location, **_PRIVATE})
        self._forget(request, response)
        return response

    # -- helpers --------------------------------------------------------

    def _download(self, state: ConsentState, records: list[ConsentRecord] | None) -> Response:
        if state.consent_id is None:
            return _json({"error": "no consent record: this browser has made no choice"}, 404)
        if records is None:
            return _json({"error": "the consent log cannot be read right now"}, 503)
        document = record_document(
            state.consent_id,
            records,
            controller=controller_of(self.config),
            retention_days=self.config.retention_days,
        )
        response = _json(document, 200)
        # Ids are UUIDs; anything else (an older release's cookie) stays out of the header.
        name = state.consent_id if _PLAIN_ID.fullmatch(state.consent_id) else "consent"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="consent-record-{name}.json"'
        )
        return response

    def _erase_page(
        self, request: Request, next_path: str, *, problem: str | None, status: int
    ) -> Response:
        lang = self._language(request)
        html = self.renderer.render_page(
            "erase.html",
            lang,
            state=self._current(request),
            csrf_token=self.csrf.issue(),
            problem=None if problem is None else self.renderer.texts[lang][problem],
            **_next(next_path),
        )
        return HTMLResponse(html, status_code=status, headers=_PRIVATE)

    def _forget(self, request: Request, response: Response) -> None:
        """Expire the consent cookie, and every tracker cookie as a withdrawal does."""
        secure = self.cookie.secure_for(request.url.scheme)
        response.headers.append("Set-Cookie", self.cookie.expire_cookie(secure=secure))
        host = hostname(request.headers.get("host"))
        names = read_cookies(request.scope["headers"], self._cookie_name)[1]
        for header in self.firewall.expire(self.firewall.trackers_in(names), NO_CONSENT, host):
            response.headers.append("Set-Cookie", header)

    def _same_site(self, request: Request) -> bool:
        headers = request.headers
        return same_site_request(
            headers.get("host", ""),
            headers.getlist("origin"),
            headers.get("referer"),
            headers.get("sec-fetch-site"),
            self.trusted_origins,
            scheme=request.url.scheme,
        )

    def _current(self, request: Request) -> ConsentState:
        value = read_cookies(request.scope["headers"], self._cookie_name)[0]
        return self.cookie.read(value.decode("latin-1") if value is not None else None).state

    def _language(self, request: Request) -> str:
        return self.renderer.negotiate(request.headers.get("accept-language"))


async def history_of(log: ConsentLog, outbox: Outbox, consent_id: str) -> list[ConsentRecord]:
    """A visitor's records, with the withdrawals still waiting in the outbox written first,
    so their record shows them."""
    if outbox.pending():
        await outbox.replay()
    return await log.history(consent_id)


async def erase_from(log: ConsentLog, outbox: Outbox, consent_id: str) -> int:
    """Erase a visitor's records, the outbox's first: a withdrawal replayed after the
    erasure would bring their consent id, user agent and IP back into the log."""
    if outbox.pending():
        await outbox.replay()
    return await log.erase(consent_id)


def record_views(
    renderer: Renderer, records: Sequence[ConsentRecord], lang: str
) -> list[RecordView]:
    """The records in the visitor's language: category and provider titles, action and
    source names. A name the site no longer declares is shown as the log holds it."""
    texts = renderer.texts[lang]
    declaration = renderer.declaration(lang)
    titles = {category.name: category.title for category in declaration}
    provider_titles = {p.name: p.title for category in declaration for p in category.providers}
    return [
        RecordView(
            time=record.time,
            action=texts.get(f"record.action.{record.action}", record.action),
            granted=tuple(titles.get(name, name) for name in record.granted),
            refused=tuple(titles.get(name, name) for name in record.refused),
            providers=tuple(provider_titles.get(name, name) for name in record.providers),
            policy_version=record.policy_version,
            source=texts.get(f"record.source.{record.source}", record.source),
            language=record.language,
            user_agent=record.user_agent,
            ip=record.ip,
            gpc=record.gpc,
        )
        for record in records
    ]


def check_rights_pages(renderer: Renderer) -> None:
    """Render the record and erase pages once in every language, each branch, so that a
    broken override of them stops the start, not a visitor's request. The config does so
    when it is built with ``template_dirs`` (``_render.check_templates``); without them
    the pages are the built-in ones, which the tests render."""
    sample = ConsentRecord(
        consent_id=str(_SAMPLE_STATE.consent_id),
        time=datetime(2026, 1, 1, tzinfo=UTC),
        action="grant",
        granted=("statistics",),
        refused=("marketing",),
        providers=("sample",),
        policy_version="1",
        gpc=True,
        language="en",
        source="banner",
        text_fingerprint="0" * 64,
    )
    for lang in renderer.languages:
        for state, records in ((_SAMPLE_STATE, [sample]), (_SAMPLE_STATE, None), (NO_CONSENT, [])):
            renderer.render_page(
                "record.html",
                lang,
                state=state,
                records=None if records is None else record_views(renderer, records, lang),
                erased=state is NO_CONSENT,
                retention=renderer.retention[lang],
                **_next("/"),
            )
        # Every branch of the erase page: the form with a problem, and no record to erase.
        for state, problem in ((_SAMPLE_STATE, "errors.forbidden"), (NO_CONSENT, None)):
            renderer.render_page(
                "erase.html",
                lang,
                state=state,
                csrf_token="token",
                problem=None if problem is None else renderer.texts[lang][problem],
                **_next("/"),
            )


def _next(next_path: str) -> dict[str, str]:
    return {"next": next_path, "next_q": quote(next_path, safe="")}


def _json(document: Mapping[str, Any], status: int) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return Response(
        body.encode("utf-8"),
        status_code=status,
        media_type="application/json",
        headers={**_PRIVATE, "X-Content-Type-Options": "nosniff"},
    )


async def _form(request: Request) -> dict[str, str]:
    """The erase form's fields (first value of each); empty for anything else."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            return {}
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ("application/x-www-form-urlencoded", ""):
        return {}
    try:
        form = parse_qs(body.decode("utf-8"), max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[0] for key, values in form.items()}
