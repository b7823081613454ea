"""``GET <prefix>/admin/export``: the consent log as CSV or JSON Lines, for the site owner.

Off unless ``ConsentConfig(admin_token=...)`` is set (404). Every request must
carry ``Authorization: Bearer <admin_token>``, compared in constant time;
anything else is answered 401 with no data. Query parameters: ``format``
(``csv``, the default, or ``jsonl``), ``since`` and ``until`` (ISO 8601 dates or
times, UTC unless they say otherwise; ``+`` must be sent as ``%2B``) and
``consent_id``. The body streams a page of records at a time, the same bytes
``consentgate export`` writes. ``format=texts`` (alone) answers the log's texts
table as JSON instead, what ``consentgate export --texts`` prints.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import cast

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ._exceptions import StorageError
from .log import ConsentLog
from .log._export import FORMATS, MEDIA_TYPES, ExportFormat, export_chunks, parse_when
from .log._texts import TextsStore, texts_json

__all__ = ["AdminExport"]

logger = logging.getLogger(__name__)

_PARAMETERS = frozenset({"format", "since", "until", "consent_id"})
_NO_STORE = {"Cache-Control": "no-store"}
#: Records per chunk over HTTP: small enough that the first bytes leave soon.
_PAGE = 2000


class _BadParameter(Exception):
    pass


class AdminExport:
    """The export route; ``token`` None means the route does not exist."""

    def __init__(self, log: ConsentLog, token: str | None) -> None:
        self.log = log
        self._token = token.encode() if token is not None else None

    async def __call__(self, request: Request) -> Response:
        if self._token is None:
            return PlainTextResponse("Not Found", status_code=404)
        if request.method != "GET":
            return PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": "GET"}
            )
        denied = _check_token(self._token, request.headers.get("authorization"))
        if denied is not None:
            return denied
        if request.query_params.get("format") == "texts":
            return await self._texts(request)
        try:
            format, since, until, consent_id = _parameters(request)
        except _BadParameter as exc:
            return PlainTextResponse(f"Bad Request: {exc}\n", status_code=400, headers=_NO_STORE)
        chunks = export_chunks(
            self.log, format, since=since, until=until, consent_id=consent_id, batch_size=_PAGE
        )
        # Read the first page before answering, so that a store that is down
        # gets a clean 503 rather than a 200 that breaks off.
        head: list[str] = []
        try:
            async for chunk in chunks:
                head.append(chunk)
                if format == "jsonl" or len(head) == 2:
                    break
        except StorageError as exc:
            logger.error("admin export failed: %s", exc)
            return PlainTextResponse(
                "Service Unavailable: the consent log cannot be read\n",
                status_code=503,
                headers=_NO_STORE,
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            _stream(head, chunks),
            media_type=MEDIA_TYPES[format],
            headers={
                **_NO_STORE,
                "Content-Disposition": f'attachment; filename="consent-log-{stamp}.{format}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def _texts(self, request: Request) -> Response:
        """The texts visitors were shown, per revision and fingerprint (``log._texts``)."""
        others = sorted(set(request.query_params) - {"format"})
        if others or len(request.query_params.getlist("format")) > 1:
            message = "Bad Request: format=texts takes no other parameter\n"
            return PlainTextResponse(message, status_code=400, headers=_NO_STORE)
        if not isinstance(self.log, TextsStore):
            message = "Not Implemented: this consent log keeps no texts\n"
            return PlainTextResponse(message, status_code=501, headers=_NO_STORE)
        try:
            kept = await self.log.kept_texts()
        except StorageError as exc:
            logger.error("admin export of texts failed: %s", exc)
            return PlainTextResponse(
                "Service Unavailable: the consent log cannot be read\n",
                status_code=503,
                headers=_NO_STORE,
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            texts_json(kept),
            media_type="application/json",
            headers={
                **_NO_STORE,
                "Content-Disposition": f'attachment; filename="consent-texts-{stamp}.json"',
                "X-Content-Type-Options": "nosniff",
            },
        )


def _check_token(token: bytes, authorization: str | None) -> Response | None:
    """None when the request carries the token; else the 401 to answer."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    given = credentials.strip().encode("utf-8", "surrogateescape")
    if scheme.lower() == "bearer" and hmac.compare_digest(given, token):
        return None
    challenge = 'Bearer realm="consentgate"'
    if authorization:
        challenge += ', error="invalid_token"'
    return PlainTextResponse(
        "Unauthorized\n",
        status_code=401,
        headers={**_NO_STORE, "WWW-Authenticate": challenge},
    )


async def _stream(head: list[str], chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    for chunk in head:
        yield chunk
    try:
        async for chunk in chunks:
            yield chunk
    except StorageError as exc:
        # The status is sent already: breaking the connection off is the only
        # way left to tell the client the export is incomplete.
        logger.error("admin export broke off: %s", exc)
        raise


def _parameters(
    request: Request,
) -> tuple[ExportFormat, datetime | None, datetime | None, str | None]:
    params = request.query_params
    unknown = sorted(set(params) - _PARAMETERS)
    if unknown:
        raise _BadParameter(
            f"unknown parameter {unknown[0]!r}; use {', '.join(sorted(_PARAMETERS))}"
        )
    for name in params:
        if len(params.getlist(name)) > 1:
            raise _BadParameter(f"{name} given more than once")
    format = params.get("format", "csv")
    if format not in FORMATS:
        raise _BadParameter(f"format must be {', '.join(FORMATS)} or texts")
    format = cast(ExportFormat, format)
    since, until = (_when(params, name) for name in ("since", "until"))
    if since is not None and until is not None and since >= until:
        raise _BadParameter("since must be before until")
    consent_id = params.get("consent_id")
    if consent_id is not None and not consent_id:
        raise _BadParameter("consent_id must not be empty")
    return format, since, until, consent_id


def _when(params: QueryParams, name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise _BadParameter(f"{name}: {exc}") from None
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise _BadParameter(f"{name}: {value!r} is out of the range of dates") from None
