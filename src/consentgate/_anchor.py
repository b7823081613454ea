"""Anchoring: the log's signed head, POSTed now and then to a URL the database host cannot rewrite.

With ``ConsentConfig(anchor_url=...)``, once ``anchor_every_records`` records
were written since the last anchor, or ``anchor_every_minutes`` after the
first of them, the middleware reads the log's head and POSTs it as JSON::

    {"sequence": 5367, "hash": "<64 hex>", "time": "2026-12-05T09:00:00.000000Z",
     "signature": "<64 hex>"}

``signature`` is the hex HMAC-SHA256, keyed with the newest ``secret_key``, of
the canonical JSON (sorted keys, no spaces) of the other three fields; the
same value goes in the ``X-Consentgate-Signature`` header. Whoever later holds
such a head can run ``consentgate verify --expect-head SEQUENCE:HASH``: a log
cut or rewritten before that record fails, even if its own head was moved.

With ``anchor_tsa_url`` (with or without ``anchor_url``), each anchoring also
asks that RFC 3161 timestamp authority to sign the head (see ``_tsa``), checks
its reply (granted, for this head and nonce, a valid signature) and keeps the
token in the log (``ConsentLog.add_timestamp``), where ``consentgate verify``
checks it.

Each runs as a task of its own, never on a visitor's request; a failure (no
answer, any status but 2xx, a reply that does not count, the log not taking
the token) is retried after 1, 5, 30 and 120 seconds and then logged as a
warning, and the next anchor comes as usual. Nothing is lost meanwhile: the
records are in the log, and the next head anchored covers them all.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from ._exceptions import ConfigurationError, StorageError
from .log import ChainHead, ConsentLog, HeadTimestamp
from .log._chain import canonical_json, format_time

if TYPE_CHECKING:
    import httpx

__all__ = ["Anchor", "signed_head"]

logger = logging.getLogger(__name__)

#: Seconds to wait before each retry of a failed POST.
RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
#: Seconds one POST may take, connecting included.
POST_TIMEOUT = 10.0
#: Most bytes a timestamp authority's reply may have (tokens are a few kilobytes).
MAX_REPLY = 1 << 20

_T = TypeVar("_T")


class _Failed(Exception):
    """One try failed, for this reason; the next may not."""


def signed_head(head: ChainHead, key: str, time: datetime) -> dict[str, str | int]:
    """What anchors ``head``: its sequence and hash, when it was read, and their signature."""
    fields: dict[str, str | int] = {
        "hash": head.hash,
        "sequence": head.sequence,
        "time": format_time(time),
    }
    signature = hmac.new(key.encode("utf-8"), canonical_json(fields), hashlib.sha256)
    return {**fields, "signature": signature.hexdigest()}


class Anchor:
    """Anchors ``log``'s head every ``every_records`` records or ``every_minutes``.

    It is POSTed to ``url`` and timestamped by ``tsa_url``, each if given.
    """

    def __init__(
        self,
        log: ConsentLog,
        key: str,
        *,
        url: str | None = None,
        tsa_url: str | None = None,
        every_records: int,
        every_minutes: float,
    ) -> None:
        if tsa_url is not None and type(log).add_timestamp is ConsentLog.add_timestamp:
            raise ConfigurationError(
                "anchor_tsa_url", f"{type(log).__name__} cannot keep timestamps (add_timestamp)"
            )
        self.log = log
        self.url = url
        self.tsa_url = tsa_url
        self._key = key
        self.every_records = every_records
        self.every_seconds = every_minutes * 60
        #: Records written since the last anchor started.
        self._waiting = 0
        self._timer: asyncio.TimerHandle | None = None
        self._again = False
        #: The anchor being sent or last sent; kept so the task is not garbage-collected.
        self.task: asyncio.Task[None] | None = None

    def recorded(self) -> None:
        """A record was stored: anchor now if enough wait, else within ``every_minutes``."""
        self._waiting += 1
        if self._waiting >= self.every_records:
            self._start()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.every_seconds, self._start)

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.task is not None and not self.task.done():
            self._again = True  # the head moves on: anchor it once this one is sent
            return
        self._waiting = 0
        self.task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            head = await self.log.head()
            if head is None:
                logger.warning("%s keeps no head to anchor", self.log.name)
                return
            jobs = []
            if self.url is not None:
                jobs.append(self._post(head, self.url))
            if self.tsa_url is not None:
                jobs.append(self._timestamp(head, self.tsa_url))
            await asyncio.gather(*jobs)
        except StorageError as exc:
            logger.warning("reading the head to anchor failed: %s", exc)
        except Exception:
            # Nobody awaits this task: an unexpected error is reported here or nowhere.
            logger.exception("anchoring the consent log's head failed")
        finally:
            if self._again:
                self._again = False
                # Once this task is done: started from within it, it would find itself running.
                asyncio.get_running_loop().call_soon(self._start)

    async def _post(self, head: ChainHead, url: str) -> None:
        import httpx

        anchor = signed_head(head, self._key, datetime.now(UTC))
        body = canonical_json(anchor)
        headers = {
            "Content-Type": "application/json",
            "X-Consentgate-Signature": str(anchor["signature"]),
        }
        async with httpx.AsyncClient(timeout=POST_TIMEOUT, follow_redirects=False) as client:

            async def post() -> None:
                await _posted(client, url, body, headers)

            await _retried(f"anchoring the consent log's head at {url}", post)

    async def _timestamp(self, head: ChainHead, url: str) -> None:
        """Have the TSA at ``url`` sign the head, and keep its token in the log."""
        import httpx

        from . import _tsa

        headers = {"Content-Type": _tsa.CONTENT_TYPE, "Accept": _tsa.REPLY_TYPE}
        async with httpx.AsyncClient(timeout=POST_TIMEOUT, follow_redirects=False) as client:

            async def request() -> HeadTimestamp:
                body, nonce = _tsa.new_request(head.sequence, head.hash)
                response = await _posted(client, url, body, headers)
                if len(response.content) > MAX_REPLY:
                    raise _Failed(f"a reply of {len(response.content)} bytes")
                try:
                    token, info = _tsa.check_reply(
                        response.content, head.sequence, head.hash, nonce
                    )
                except _tsa.TimestampError as exc:
                    raise _Failed(str(exc)) from exc
                return HeadTimestamp(
                    sequence=head.sequence, hash=head.hash, time=info.time, token=token
                )

            stamp = await _retried(f"timestamping the consent log's head at {url}", request)
        if stamp is None:
            return

        async def keep() -> None:
            try:
                await self.log.add_timestamp(stamp)
            except StorageError as exc:
                raise _Failed(str(exc)) from exc

        await _retried(f"keeping the timestamp of record {head.sequence}", keep)


async def _posted(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """The answer to a POST that went through and succeeded; _Failed for any other."""
    import httpx

    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise _Failed(f"{type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise _Failed(f"HTTP {response.status_code}")
    return response


async def _retried(what: str, attempt: Callable[[], Awaitable[_T]]) -> _T | None:
    """``attempt``'s result, tried again after each delay; None, and logged, if all fail."""
    problem = ""
    for delay in (*RETRY_DELAYS, None):
        try:
            return await attempt()
        except _Failed as exc:
            problem = str(exc)
        if delay is None:
            break
        await asyncio.sleep(delay)
    logger.warning("%s failed after %d tries: %s", what, len(RETRY_DELAYS) + 1, problem)
    return None
