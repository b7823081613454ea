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

The POST runs as a task of its own, never on a visitor's request; a failure
(no answer, or any status but 2xx) is retried after 1, 5, 30 and 120 seconds
and then logged as a warning, and the next anchor comes as usual.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import UTC, datetime

from ._exceptions import StorageError
from .log import ChainHead, ConsentLog
from .log._chain import canonical_json, format_time

__all__ = ["Anchor", "signed_head"]

logger = logging.getLogger(__name__)

#: Seconds to wait before each retry of a failed POST.
RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
#: Seconds one POST may take, connecting included.
POST_TIMEOUT = 10.0


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
    """Sends ``log``'s head to ``url`` every ``every_records`` records or ``every_minutes``."""

    def __init__(
        self,
        log: ConsentLog,
        url: str,
        key: str,
        *,
        every_records: int,
        every_minutes: float,
    ) -> None:
        self.log = log
        self.url = url
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
        import httpx

        try:
            head = await self.log.head()
            if head is None:
                logger.warning("%s keeps no head to anchor", self.log.name)
                return
            anchor = signed_head(head, self._key, datetime.now(UTC))
            body = canonical_json(anchor)
            headers = {
                "Content-Type": "application/json",
                "X-Consentgate-Signature": str(anchor["signature"]),
            }
            problem = ""
            async with httpx.AsyncClient(timeout=POST_TIMEOUT, follow_redirects=False) as client:
                for delay in (*RETRY_DELAYS, None):
                    try:
                        response = await client.post(self.url, content=body, headers=headers)
                    except httpx.HTTPError as exc:
                        problem = f"{type(exc).__name__}: {exc}"
                    else:
                        if response.is_success:
                            return
                        problem = f"HTTP {response.status_code}"
                    if delay is None:
                        break
                    await asyncio.sleep(delay)
            logger.warning(
                "anchoring the consent log's head at %s failed after %d tries: %s",
                self.url,
                len(RETRY_DELAYS) + 1,
                problem,
            )
        except StorageError as exc:
            logger.warning("reading the head to anchor failed: %s", exc)
        except Exception:
            # Nobody awaits this task: an unexpected error is reported here or nowhere.
            logger.exception("anchoring the consent log's head failed")
        finally:
            if self._again:
                self._again = False
                self._start()
