"""``GET <prefix>/admin/records`` and ``POST <prefix>/admin/erase``: a site owner answering
a visitor's access or erasure request over HTTP.

The same rules as the export (``_admin``): off unless ``admin_token`` is set
(404), and every request must carry ``Authorization: Bearer <admin_token>``
(401 otherwise, with no data).

- ``GET <prefix>/admin/records?consent_id=ID``: the visitor's record as they
  would download it themselves (``_rights.record_document``).
- ``POST <prefix>/admin/erase`` with ``consent_id`` in a form or a JSON object:
  tombstones the visitor's records; the log appends an ``erase`` record, so the
  chain shows the erasure and when. Answers ``{"consent_id": ..., "erased": N}``.

Both answer 404 for a consent id the log has never held, and 503 when the log
cannot be reached.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ._admin import _check_token
from ._config import ConsentConfig
from ._exceptions import StorageError
from ._outbox import Outbox
from ._rights import controller_of, erase_from, history_of, record_document
from .log import ConsentLog, ConsentRecord

__all__ = ["ADMIN_RECORD_PATHS", "AdminRecords"]

logger = logging.getLogger("consentgate")

#: The paths under the prefix that this module answers.
ADMIN_RECORD_PATHS = frozenset({"/admin/records", "/admin/erase"})
_MAX_BODY = 4096
_NO_STORE = {"Cache-Control": "no-store"}


class _BadRequest(Exception):
    pass


class AdminRecords:
    """The routes of :data:`ADMIN_RECORD_PATHS`; ``config.admin_token`` None turns them off."""

    def __init__(self, log: ConsentLog, config: ConsentConfig, outbox: Outbox) -> None:
        self.log = log
        self.config = config
        self.outbox = outbox
        token = config.admin_token
        self._token = token.encode() if token is not None else None

    async def __call__(self, request: Request, path: str) -> Response:
        if self._token is None:
            return PlainTextResponse("Not Found", status_code=404)
        method = "GET" if path == "/admin/records" else "POST"
        if request.method != method:
            return PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": method}
            )
        denied = _check_token(self._token, request.headers.get("authorization"))
        if denied is not None:
            return denied
        try:
            consent_id = (
                _query_consent_id(request) if method == "GET" else await _body_consent_id(request)
            )
        except _BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        try:
            records = await history_of(self.log, self.outbox, consent_id)
            if not records:
                return _json({"error": "the consent log holds no record of this consent_id"}, 404)
            if method == "GET":
                return _json(self._document(consent_id, records), 200)
            erased = await erase_from(self.log, self.outbox, consent_id)
        except StorageError as exc:
            logger.error("admin %s failed: %s", path, exc)
            return _json({"error": "the consent log cannot be reached"}, 503)
        logger.info("erased %d consent records at the site owner's request", erased)
        return _json({"consent_id": consent_id, "erased": erased}, 200)

    def _document(self, consent_id: str, records: list[ConsentRecord]) -> dict[str, Any]:
        return record_document(
            consent_id,
            records,
            controller=controller_of(self.config),
            retention_days=self.config.retention_days,
        )


def _query_consent_id(request: Request) -> str:
    params = request.query_params
    unknown = sorted(set(params) - {"consent_id"})
    if unknown:
        raise _BadRequest(f"unknown parameter {unknown[0]!r}; use consent_id")
    if len(params.getlist("consent_id")) > 1:
        raise _BadRequest("consent_id given more than once")
    return _checked(params.get("consent_id"))


async def _body_consent_id(request: Request) -> str:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise _BadRequest("the body is too large")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if media_type == "application/json":
            fields: Any = json.loads(body)
            if not isinstance(fields, Mapping):
                raise _BadRequest('send a JSON object: {"consent_id": "..."}')
            return _checked(fields.get("consent_id"))
        if media_type in ("application/x-www-form-urlencoded", ""):
            form = parse_qs(body.decode("utf-8"), max_num_fields=8)
            values = form.get("consent_id", [])
            if len(values) > 1:
                raise _BadRequest("consent_id given more than once")
            return _checked(values[0] if values else None)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _BadRequest(f"the body cannot be read: {exc}") from None
    raise _BadRequest("send a form or a JSON object with consent_id")


def _checked(consent_id: object) -> str:
    if not isinstance(consent_id, str) or not consent_id:
        raise _BadRequest("consent_id is required")
    return consent_id


def _json(document: Mapping[str, Any], status: int) -> Response:
    return JSONResponse(dict(document), status_code=status, headers=_NO_STORE)
