"""The interface every consent log implements.

The log is the site owner's proof of consent (GDPR Art. 7(1)): the
middleware answers a visitor's choice only after :meth:`ConsentLog.record`
has returned, so a store must not return before the record is durable.

Writing a store of your own
---------------------------

Subclass :class:`ConsentLog` and implement the three abstract methods:
``record`` (store durably, set ``sequence``, ``prev_hash`` and ``hash``; see
``consentgate.log._chain`` for the hashes), ``iter_records`` and ``aclose``.
Everything else has a default built on those: ``history``, ``count_records``
and ``export_lines`` page through ``iter_records``; ``verify`` walks
``iter_chain`` (by default the records); ``head`` is None (no head kept, so
``verify`` cannot see a cut-off tail); ``prune`` and ``erase`` refuse with
NotImplementedError. Override what the store does better or at all, then run
the shared suite in :mod:`consentgate.log.testing` against it. A SQL store is
best built on ``consentgate.log._core.ChainedLog``, as the SQLite and
PostgreSQL stores are: it has group commit, the chain and the head, and asks
the store only for its connections and SQL.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from types import TracebackType
from typing import Self

from ._chain import ChainHead, ChainLink, ChainReport, ChainVerifier
from ._export import DEFAULT_PAGE, ExportFormat, csv_lines, json_lines
from ._record import ConsentRecord

__all__ = ["ConsentLog"]

#: How many chain links ``verify`` checks per hop off the event loop.
_VERIFY_PAGE = 1000


class ConsentLog(abc.ABC):
    """Where consent records are kept.

    Every failure surfaces as ``StorageError``, so the middleware can refuse
    to confirm a choice it could not prove later.
    """

    #: The chain key this log hashes its links with (see ``_chain``), if any.
    chain_key: bytes | None = None

    @property
    def name(self) -> str:
        """Where the log is, for messages: a path or a URL without its password."""
        return repr(self)

    @abc.abstractmethod
    async def record(self, record: ConsentRecord) -> ConsentRecord:
        """Store ``record`` durably; return it with ``sequence``, ``prev_hash`` and ``hash`` set."""

    @abc.abstractmethod
    def iter_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[ConsentRecord]:
        """Stored records with ``since <= time < until``, in sequence order, for export.

        Erased records are left out. Stores read ``batch_size`` records at a
        time, so exporting a huge log takes constant memory.
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the store; safe to call more than once."""

    async def migrate(self) -> int:
        """Create or upgrade the schema and return its version; 0 for a log without one."""
        return 0

    async def has_log(self) -> bool:
        """Whether the store holds a consent log already, without creating one.

        Reading commands ask first, so that a mistyped path or database is an
        error rather than a fresh, empty log that verifies.
        """
        return True

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        """All records of one visitor, oldest first."""
        return [record async for record in self.iter_records(consent_id=consent_id)]

    async def count_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
    ) -> int:
        """How many records ``iter_records`` would give (for a progress bar)."""
        count = 0
        async for _ in self.iter_records(since=since, until=until, consent_id=consent_id):
            count += 1
        return count

    async def export_lines(
        self,
        format: ExportFormat,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
        batch_size: int = DEFAULT_PAGE,
    ) -> AsyncIterator[tuple[int, str]]:
        """The records ``iter_records`` gives as ``(count, lines)`` pages of CSV or JSON Lines.

        No header; the bytes are those of ``_export.csv_lines`` and ``json_lines``.
        """
        encode = csv_lines if format == "csv" else json_lines
        page: list[ConsentRecord] = []
        records = self.iter_records(
            since=since, until=until, consent_id=consent_id, batch_size=batch_size
        )
        async for record in records:
            page.append(record)
            if len(page) >= batch_size:
                yield len(page), encode(page)
                page = []
        if page:
            yield len(page), encode(page)

    def iter_chain(self, *, batch_size: int = 1000) -> AsyncIterator[ChainLink]:
        """The whole chain as stored, for verification and verifiable export.

        A store that neither prunes, erases nor keeps a head has nothing but records.
        """
        return self.iter_records(batch_size=batch_size)

    async def head(self) -> ChainHead | None:
        """The end of the chain as the store keeps it; None for a store that keeps none."""
        return None

    async def verify(self, *, expect_head: ChainHead | None = None) -> ChainReport:
        """Walk the chain and report its first broken link.

        ``expect_head`` is a head kept elsewhere (``consentgate head``): the
        chain must still hold that record, with that hash. Hashing runs off
        the event loop, a page at a time, so a running app can verify its own
        log; memory stays constant.
        """
        verifier = ChainVerifier(key=self.chain_key, expect=expect_head)
        page: list[ChainLink] = []
        async for link in self.iter_chain():
            page.append(link)
            if len(page) == _VERIFY_PAGE:
                if not await asyncio.to_thread(verifier.feed_all, page):
                    break
                page = []
        else:
            await asyncio.to_thread(verifier.feed_all, page)
        return verifier.report()

    async def prune(self, before: datetime) -> int:
        """Delete records older than ``before``, keeping the chain verifiable; returns the count."""
        raise NotImplementedError(f"{type(self).__name__} cannot prune records")

    async def erase(self, consent_id: str) -> int:
        """Erase a visitor's records (GDPR Art. 17), keeping the chain verifiable.

        Returns how many records were erased.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot erase records")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
