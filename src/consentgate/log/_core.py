"""The consent log's core, written once for every SQL store.

:class:`ChainedLog` is what the SQLite and PostgreSQL logs share: the record's
checks, group commit with its one timer, the chain append and the head, the
reading, verification, prune, erasure and export pipelines, and the migrations
runner. A store (a *dialect*) adds only its connections, its DDL, the few
statements its SQL spells differently, and what its database does natively
(such as writing export lines).

Steps
-----

SQLite runs on one worker thread with a blocking driver, PostgreSQL on the
event loop with an asynchronous one, so the core does not talk to a connection
itself. Each job is a generator that yields :class:`Fetch`, :class:`Execute`
and :class:`ExecuteMany` steps and is sent back their results; the store drives
it inside the transaction the job asks for (:data:`Transaction`). The job's
logic (what the append reads and writes, in which order) thus exists once, and
a SQLite job still runs whole on the worker thread: one hop per job.

SQL is written with ``?`` placeholders in the dialect both databases share;
the PostgreSQL store swaps them for ``%s``.

Group commit
------------

:meth:`ChainedLog.record` queues its record and waits. The store's writer
(SQLite: the worker thread; PostgreSQL: a task) takes every waiting record (up
to ``max_batch``) and writes them in one transaction, chaining each onto the
head of the log, which the same transaction moves on. Only after COMMIT is each
caller answered, and if the transaction fails, every caller in it gets a
StorageError. A burst of choices thus costs one flush, not one each.

A caller that stops waiting (timeout, cancellation) before its batch holds the
write lock is left out of the batch. One that gives up later, while its batch
commits, still gets its StorageError, yet its record is committed: the log then
proves a choice the visitor was told had failed, never the reverse.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeAlias, TypeVar, get_args

from .._exceptions import ConfigurationError, StorageError
from ._base import ConsentLog
from ._chain import (
    ChainHead,
    ChainLink,
    Checkpoint,
    HeadTimestamp,
    Tombstone,
    UnreadableRecord,
    consent_id_digest,
    content_digest,
    head_mac,
    link_hash,
)
from ._expiry import Expiry
from ._export import DEFAULT_PAGE, ExportFormat
from ._record import (
    RECORD_COLUMNS,
    Action,
    ConsentRecord,
    Source,
    encoding_version,
    erase_request,
    placed,
    record_row,
)
from ._schema import CONTENT_COLUMNS
from ._texts import KeptTexts, ShownTexts, TextsKind

__all__ = [
    "BrokenLog",
    "ChainedLog",
    "Execute",
    "ExecuteMany",
    "Fetch",
    "Step",
    "Steps",
    "Transaction",
]

_T = TypeVar("_T")

#: Most records one group-commit transaction takes, by default.
MAX_BATCH = 256
#: Most rows one prune transaction deletes, so that writers get their turn in between.
_PRUNE_CHUNK = 5000
#: A sequence before every stored one, even one a tamperer made up: where walks start.
_BEFORE_ALL = -(2**63)

_ACTIONS: frozenset[str] = frozenset(get_args(Action))
_SOURCES: frozenset[str] = frozenset(get_args(Source))

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Fetch:
    """Run a statement; the job is sent its rows."""

    sql: str
    params: Sequence[Any] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Execute:
    """Run a statement; the job is sent the count of rows it changed."""

    sql: str
    params: Sequence[Any] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ExecuteMany:
    """Run a statement once per row of parameters; the job is sent None."""

    sql: str
    rows: Sequence[Sequence[Any]]


Step: TypeAlias = Fetch | Execute | ExecuteMany
#: A job: yields steps, is sent their results, returns its result.
Steps: TypeAlias = Generator[Step, Any, _T]
#: What a job runs in: ``"write"`` holds the write lock from its start to COMMIT;
#: ``"snapshot"`` reads one consistent state; ``"none"`` is each statement on its own.
Transaction = Literal["write", "snapshot", "none"]


class BrokenLog(Exception):
    """The database holds something no consentgate wrote (or a newer one did)."""


_RECORD_COLUMNS = ", ".join(RECORD_COLUMNS)
_LINK_COLUMNS = f"{_RECORD_COLUMNS}, erased, consent_id_digest, content_digest"
_INSERT = (
    f"INSERT INTO consent_records ({_RECORD_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})"
)
_PREV_HASH, _HASH, _VERSION = map(RECORD_COLUMNS.index, ("prev_hash", "hash", "chain_version"))
_ERASE = (
    "UPDATE consent_records SET "
    + ", ".join(f"{column} = NULL" for column in CONTENT_COLUMNS)
    + ", erased = TRUE, consent_id_digest = ?, content_digest = ? WHERE sequence = ?"
)
_HEAD = "SELECT sequence, hash, mac FROM consent_head WHERE id = 1"
_SET_HEAD = "UPDATE consent_head SET sequence = ?, hash = ?, mac = ? WHERE id = 1"
_ADD_TIMESTAMP = "INSERT INTO head_timestamps (sequence, hash, time, token) VALUES (?, ?, ?, ?)"
_TIMESTAMPS = "SELECT id, sequence, hash, time, token FROM head_timestamps ORDER BY sequence, id"
_CHECKPOINT = (
    "SELECT sequence, hash, deleted, time, pruned_before FROM checkpoints "
    "ORDER BY sequence DESC LIMIT 1"
)


@dataclasses.dataclass(slots=True)
class _Pending:
    """A record waiting for its batch, and the caller waiting for it.

    ``waiter`` is the caller's side, on its event loop, settled once per batch
    from ``outcome``, which the writer sets: the stored record or the caller's
    error. ``taken`` and ``given_up`` are guarded by the log's lock: a caller
    that gives up before a batch takes its record drops the record.
    """

    record: ConsentRecord
    loop: asyncio.AbstractEventLoop
    waiter: asyncio.Future[ConsentRecord]
    taken: bool = False
    given_up: bool = False
    outcome: ConsentRecord | StorageError | None = None


#: A batch's records that passed their checks, each with its content digest.
Ready: TypeAlias = list[tuple[_Pending, str]]
#: What a group commit wrote: the callers still waiting, and their stored records.
Written: TypeAlias = tuple[Ready, list[ConsentRecord]]
#: One page of a walk along the chain: the newest checkpoint, the links after a
#: sequence, the last sequence on the page, and the head, all from one snapshot.
ChainPage: TypeAlias = tuple[
    Checkpoint | UnreadableRecord | None, list[ChainLink], int, ChainHead | UnreadableRecord
]


class ChainedLog(ConsentLog):
    """A consent log in a SQL database: everything but the connections and the dialect."""

    #: The schema changes, in order (version N is the N-th); each a job factory or
    #: statements. Append only: a released migration never changes.
    migrations: ClassVar[tuple[Callable[[Any], Steps[None]] | tuple[str, ...], ...]]
    #: The export line expressions, by format (see ``_export``).
    line_sql: ClassVar[dict[str, str]]
    #: What ``SELECT`` of the head appends to lock the row until COMMIT, if anything.
    lock_clause: ClassVar[str] = ""
    #: A query of every revision the records hold (the values of their ``revisions``).
    revision_values: ClassVar[str]

    def __init__(
        self,
        *,
        timeout: float,
        max_batch: int,
        chain_key: str | bytes | None,
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigurationError("store_timeout", "must be a positive number of seconds")
        if max_batch < 1:
            raise ConfigurationError("max_batch", "must be at least 1")
        if isinstance(chain_key, str):
            chain_key = chain_key.encode("utf-8")
        self.chain_key = chain_key
        self._timeout = timeout
        self._max_batch = max_batch
        # Times out the callers waiting on one event loop (usually the only one; a
        # replaced one still times out those it watches).
        self._expiry: Expiry | None = None
        self._lock = threading.Lock()
        # Guarded by _lock.
        self._closed = False
        self._queue: list[_Pending] = []
        self._draining = False
        #: Group-commit transactions committed so far (tests count them).
        self._commits = 0

    @property
    def max_batch(self) -> int:
        """Most records one group-commit transaction takes."""
        return self._max_batch

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- what a store provides ---------------------------------------------------------

    @abc.abstractmethod
    async def _run(
        self, steps: Steps[_T], verb: str, *, transaction: Transaction, bounded: bool = True
    ) -> _T:
        """Drive ``steps`` on a connection within the timeout; StorageError on failure."""

    @abc.abstractmethod
    def _start_writer(self) -> None:
        """Have the writer take batches (``_next_batch``) until the queue is empty."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Write what is queued, then release the connections."""

    def _time_param(self, time: datetime) -> Any:
        """A time as the store keeps it."""
        return time

    def _time_value(self, value: Any) -> datetime:
        """A stored time read back; TypeError or ValueError for what is none."""
        if not isinstance(value, datetime):
            raise TypeError(f"time is {value!r}, not a timestamp")
        return value

    def _refuse(self, record: ConsentRecord) -> None:
        """Raise ValueError for a record the store could not keep as it is."""

    def _before_migrating(self) -> Steps[None]:
        """Steps at the start of the migration transaction (e.g. a lock)."""
        yield from ()

    # -- writing ------------------------------------------------------------------------

    async def record(self, record: ConsentRecord) -> ConsentRecord:
        """Store ``record`` in the next group commit; returns it with its place in the chain."""
        loop = asyncio.get_running_loop()
        pending = _Pending(record, loop, loop.create_future())
        with self._lock:
            if self._closed:
                raise self._closed_error("write")
            self._queue.append(pending)
            if not self._draining:
                self._draining = True
                self._start_writer()
        expiry = self._expiry
        if expiry is None or expiry.loop is not loop:
            expiry = self._expiry = Expiry(loop, self._timeout)
        expiry.watch(pending.waiter)
        try:
            return await pending.waiter
        except BaseException as exc:
            # Failed, or gave up (timeout, cancellation): a record no batch has
            # taken yet stays out of every batch.
            with self._lock:
                pending.given_up = not pending.taken
            if isinstance(exc, TimeoutError):
                raise StorageError(
                    f"consent log write timed out after {self._timeout:g}s ({self.name})"
                ) from exc
            raise

    def _next_batch(self) -> list[_Pending]:
        """The next batch; empty, and the writer done, when nothing waits."""
        with self._lock:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            if not batch:
                self._draining = False
        return batch

    def _writer_stopped(self) -> None:
        """The writer ended, perhaps before the queue was empty: a new one may start."""
        with self._lock:
            self._draining = False

    def _prepare(self, batch: list[_Pending]) -> Ready:
        """The batch's records the store will take; the others' callers fail now.

        Runs before the batch's transaction, so a bad record fails only its own caller.
        """
        ready: Ready = []
        for pending in batch:
            try:
                ready.append((pending, self._check(pending.record)))
            except (TypeError, ValueError) as exc:
                message = f"consent log write failed ({self.name}): invalid record: {exc}"
                _fail(pending, StorageError(message), exc)
        return ready

    def _append_batch(self, ready: Ready) -> Steps[Written]:
        """The group commit's job: chain the callers still waiting onto the head."""
        head = yield from self._lock_head()
        # Taken only now that the batch holds the write lock: a caller that
        # gave up while the lock was busy is left out.
        with self._lock:
            live = [(p, d) for p, d in ready if not p.given_up]
            for pending, _ in live:
                pending.taken = True
        stored = yield from self._append(head, [(p.record, d) for p, d in live])
        return live, stored

    def _batch_written(self, written: Written) -> None:
        """After COMMIT: each caller gets its stored record."""
        live, stored = written
        if live:
            self._commits += 1
        for (pending, _), record in zip(live, stored, strict=True):
            pending.outcome = record

    def _batch_failed(self, ready: Ready, exc: BaseException) -> None:
        """Every caller of a batch whose transaction failed gets a StorageError."""
        logger.warning(
            "a batch of %d consent records was not written (%s): %s", len(ready), self.name, exc
        )
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
        for pending, _ in ready:
            _fail(pending, StorageError(f"consent log write failed ({self.name}): {reason}"), exc)

    def _check(self, record: ConsentRecord) -> str:
        """The record's content digest, once it is clear the schema will take the record."""
        if record.action not in _ACTIONS:
            raise ValueError(f"unknown action {record.action!r}")
        if record.source not in _SOURCES:
            raise ValueError(f"unknown source {record.source!r}")
        self._refuse(record)
        return content_digest(record)

    def _lock_head(self) -> Steps[ChainHead]:
        """The end of the chain, locked until the transaction ends."""
        rows = yield Fetch(_HEAD + self.lock_clause)
        if not rows:
            raise BrokenLog("the chain's head row is missing from consent_head")
        return ChainHead(sequence=int(rows[0][0]), hash=str(rows[0][1]))

    def _append(
        self, head: ChainHead, items: Sequence[tuple[ConsentRecord, str]]
    ) -> Steps[list[ConsentRecord]]:
        """Chain ``(record, content digest)`` pairs onto the locked head and move it on.

        The one place a link is made. The head is read in the same transaction
        that extends it, under a lock every writer takes, so no two records
        claim the same predecessor and transactions commit in sequence order.
        """
        if not items:
            return []
        key = self.chain_key
        sequence, prev_hash = head.sequence, head.hash
        stored = []
        for record, digest in items:
            sequence += 1
            link = link_hash(
                sequence=sequence,
                prev_hash=prev_hash,
                consent_id_digest=consent_id_digest(record.consent_id),
                content_digest=digest,
                version=encoding_version(record),
                key=key,
            )
            stored.append(placed(record, sequence=sequence, prev_hash=prev_hash, hash=link))
            prev_hash = link
        time = self._time_param
        yield ExecuteMany(_INSERT, [record_row(record, time(record.time)) for record in stored])
        mac = None if key is None else head_mac(key, sequence, prev_hash)
        yield Execute(_SET_HEAD, (sequence, prev_hash, mac))
        return stored

    # -- reading ------------------------------------------------------------------------

    async def migrate(self) -> int:
        """Create or upgrade the schema (first use does too); returns its version.

        Not bound by the timeout: an upgrade may rewrite a big log.
        """
        return await self._run(self._migrate(), "migrate", transaction="write", bounded=False)

    def _migrate(self) -> Steps[int]:
        """Bring the schema up to the newest version, all in one transaction; returns it."""
        newest = len(self.migrations)
        yield from self._before_migrating()
        yield Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        rows = yield Fetch("SELECT max(version) FROM schema_version")
        current: int = rows[0][0] or 0
        if current > newest:
            raise BrokenLog(
                f"the database has schema version {current}, newer than the "
                f"{newest} this consentgate understands; upgrade consentgate"
            )
        for migration in self.migrations[current:]:
            if isinstance(migration, tuple):
                for statement in migration:
                    yield Execute(statement)
            else:
                yield from migration(self)
        if current < newest:
            yield Execute("DELETE FROM schema_version")
            yield Execute("INSERT INTO schema_version (version) VALUES (?)", (newest,))
            logger.info("%s: schema migrated from version %d to %d", self.name, current, newest)
        return newest

    # -- the texts visitors were shown (see ``_texts``) ----------------------------------

    async def keep_texts(self, texts: Iterable[ShownTexts], now: datetime) -> None:
        """Store the texts not kept yet, first seen ``now``; those kept are last seen ``now``."""
        when = self._time_param(_aware(now))
        rows = [
            (t.fingerprint, t.kind, t.name, t.language, t.content.encode("utf-8"), when, when)
            for t in texts
        ]
        if rows:
            await self._run(_keep_texts(rows), "keep texts", transaction="write")

    async def kept_texts(self, kind: TextsKind | None = None) -> list[KeptTexts]:
        """The texts kept (of ``kind``, if given), in the order they were first seen."""
        where, params = ("WHERE kind = ?", (kind,)) if kind is not None else ("", ())
        rows = await self._run(
            _fetch(f"{_TEXTS} {where} ORDER BY first_seen, fingerprint", params),
            "read texts",
            transaction="snapshot",
        )
        try:
            return [
                KeptTexts(
                    fingerprint=fingerprint,
                    kind=kind_,
                    name=name,
                    language=language,
                    content=bytes(content).decode("utf-8"),
                    first_seen=self._time_value(first),
                    last_seen=self._time_value(last),
                )
                for fingerprint, kind_, name, language, content, first, last in rows
            ]
        except (TypeError, ValueError) as exc:
            raise StorageError(f"the consent log's texts table is damaged: {exc}") from exc

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        return await self._run(
            self._select(
                "consent_id = ? ORDER BY sequence", (consent_id,), columns=_RECORD_COLUMNS
            ),
            "read",
            transaction="none",
        )

    def _select(self, where: str, params: Sequence[Any], *, columns: str) -> Steps[Any]:
        rows = yield Fetch(f"SELECT {columns} FROM consent_records WHERE {where}", params)
        return self._to_records(rows)

    async def iter_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[ConsentRecord]:
        _check_batch_size(batch_size)
        condition, params = self._filter(since, until, consent_id)
        where = f"{condition} AND sequence > ? ORDER BY sequence LIMIT ?"
        after = _BEFORE_ALL
        while True:
            page = self._select(where, (*params, after, batch_size), columns=_RECORD_COLUMNS)
            records: list[ConsentRecord] = await self._run(page, "read", transaction="none")
            for record in records:
                yield record
            if len(records) < batch_size:
                return
            after = _sequence(records[-1])

    async def count_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
    ) -> int:
        condition, params = self._filter(since, until, consent_id)
        return await self._run(
            _count(f"SELECT count(*) FROM consent_records WHERE {condition}", params),
            "read",
            transaction="none",
            bounded=False,
        )

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

        The database formats the lines (see ``_export``) itself, several times
        faster than building records. Each page is one query, bound by the
        timeout like any read, and the next page is asked for before this one
        is handed over, so the database works on it while the caller writes.
        """
        _check_batch_size(batch_size)
        condition, params = self._filter(since, until, consent_id)
        query = (
            f"SELECT sequence, {self.line_sql[format]} FROM consent_records "
            f"WHERE {condition} AND sequence > ? ORDER BY sequence LIMIT ?"
        )

        def read(after: int) -> asyncio.Future[tuple[int, int, str]]:
            page = _lines_page(query, (*params, after, batch_size), after)
            return asyncio.ensure_future(self._run(page, "read", transaction="none"))

        pending = read(_BEFORE_ALL)
        try:
            while True:
                count, last, lines = await pending
                if count == batch_size:
                    pending = read(last)
                if count:
                    yield count, lines
                if count < batch_size:
                    return
        finally:
            pending.cancel()

    async def head(self) -> ChainHead:
        """The end of the chain, as the last batch left it."""
        head = await self._run(self._read_head(), "read", transaction="none")
        if isinstance(head, UnreadableRecord):
            raise StorageError(f"consent log read failed ({self.name}): {head.reason}")
        return head

    def _read_head(self) -> Steps[ChainHead | UnreadableRecord]:
        rows = yield Fetch(_HEAD)
        if not rows:
            return UnreadableRecord(sequence=None, reason="the log's head row is missing")
        sequence, hash_, mac = rows[0]
        if not (
            type(sequence) is int
            and sequence >= 0
            and isinstance(hash_, str)
            and (mac is None or isinstance(mac, str))
        ):
            return UnreadableRecord(
                sequence=None, reason=f"the log's head is malformed: {rows[0]!r}"
            )
        return ChainHead(sequence=sequence, hash=hash_, mac=mac)

    async def iter_chain(self, *, batch_size: int = 1000) -> AsyncIterator[ChainLink]:
        """The newest checkpoint (if pruned), every row in sequence order, then the head.

        Each page is read together with the newest checkpoint and the head from
        one snapshot, so a prune that overtakes the walk shows up as a checkpoint
        ahead of it, not as a gap, and the head ends the walk where its last page did.
        """
        _check_batch_size(batch_size)
        after: int = _BEFORE_ALL
        anchor: object = None
        while True:
            page = self._chain_page(after, batch_size)
            checkpoint, links, last, head = await self._run(page, "read", transaction="snapshot")
            if checkpoint is not None and checkpoint != anchor:
                if isinstance(checkpoint, UnreadableRecord) or checkpoint.sequence > after:
                    anchor = checkpoint
                    yield checkpoint
            for link in links:
                yield link
            if len(links) < batch_size:
                yield head
                return
            after = last

    def _chain_page(self, after: int, limit: int) -> Steps[ChainPage]:
        rows = yield Fetch(_CHECKPOINT)
        checkpoint = self._to_checkpoint(rows[0]) if rows else None
        rows = yield Fetch(
            f"SELECT {_LINK_COLUMNS} FROM consent_records WHERE sequence > ? "
            "ORDER BY sequence LIMIT ?",
            (after, limit),
        )
        head = yield from self._read_head()
        return (
            checkpoint,
            [self._to_link(row) for row in rows],
            rows[-1][0] if rows else after,
            head,
        )

    # -- timestamps -----------------------------------------------------------------------

    async def add_timestamp(self, stamp: HeadTimestamp) -> None:
        """Keep a timestamp authority's token for a head (see ``_chain``, *Timestamps*)."""
        row = (stamp.sequence, stamp.hash, self._time_param(_aware(stamp.time)), stamp.token)
        await self._run(_execute(_ADD_TIMESTAMP, row), "write", transaction="write")

    async def timestamps(self) -> list[HeadTimestamp | UnreadableRecord]:
        rows = await self._run(_fetch(_TIMESTAMPS), "read", transaction="none")
        return [self._to_timestamp(row) for row in rows]

    def _to_timestamp(self, row: Sequence[Any]) -> HeadTimestamp | UnreadableRecord:
        """A kept timestamp; a damaged row is a broken chain, not a read failure."""
        id_, sequence, hash_, time, token = row
        try:
            if type(sequence) is not int or not isinstance(hash_, str):
                raise TypeError("its sequence or hash is of the wrong type")
            if not isinstance(token, bytes | bytearray | memoryview):
                raise TypeError(f"its token is {type(token).__name__}, not bytes")
            return HeadTimestamp(
                sequence=sequence, hash=hash_, time=self._time_value(time), token=bytes(token)
            )
        except (TypeError, ValueError) as exc:
            return UnreadableRecord(
                sequence=None, reason=f"the timestamp row {id_!r} is unreadable: {exc}"
            )

    # -- prune and erase ----------------------------------------------------------------

    async def prune(self, before: datetime) -> int:
        """Delete the records older than ``before`` and leave a checkpoint where they were.

        Only a prefix of the chain can go, so deletion stops at the first
        record that is not older (times come from the callers and may be a
        little out of sequence order); it is caught by a later prune. Runs in
        transactions of at most ``_PRUNE_CHUNK`` rows, so writers are not held up.
        """
        cutoff = self._time_param(_aware(before))
        started = self._time_param(datetime.now(UTC))
        boundary = await self._run(self._prune_boundary(cutoff), "prune", transaction="snapshot")
        deleted, checkpoint_id = 0, None
        while True:
            chunk = self._prune_chunk(boundary, checkpoint_id, started, cutoff)
            count, checkpoint_id = await self._run(chunk, "prune", transaction="write")
            deleted += count
            if count < _PRUNE_CHUNK:
                logger.info("%s: pruned %d records older than %s", self.name, deleted, before)
                break
        try:
            texts = await self._run(_prune_texts(self, cutoff), "prune texts", transaction="write")
        except StorageError as exc:  # the records are pruned; the texts wait for the next prune
            logger.warning("%s: texts no record refers to were not pruned: %s", self.name, exc)
        else:
            if texts:
                logger.info("%s: pruned %d texts no record refers to", self.name, texts)
        return deleted

    def _prune_boundary(self, cutoff: Any) -> Steps[int]:
        """The sequence before which everything is older than ``cutoff`` or erased."""
        rows = yield Fetch(
            "SELECT sequence FROM consent_records WHERE NOT erased AND time >= ? "
            "ORDER BY sequence LIMIT 1",
            (cutoff,),
        )
        if rows:
            return int(rows[0][0])
        rows = yield Fetch(_HEAD)
        return int(rows[0][0]) + 1 if rows else 0

    def _prune_chunk(
        self, boundary: int, checkpoint_id: int | None, started: Any, cutoff: Any
    ) -> Steps[tuple[int, int | None]]:
        """Delete the next rows below ``boundary`` and move this prune's checkpoint past them."""
        last = (
            yield Fetch(
                "SELECT sequence, hash FROM consent_records WHERE sequence < ? "
                "ORDER BY sequence LIMIT 1 OFFSET ?",
                (boundary, _PRUNE_CHUNK - 1),
            )
        ) or (
            yield Fetch(
                "SELECT sequence, hash FROM consent_records WHERE sequence < ? "
                "ORDER BY sequence DESC LIMIT 1",
                (boundary,),
            )
        )
        if not last:
            return 0, checkpoint_id
        sequence, hash_ = last[0]
        deleted: int = yield Execute("DELETE FROM consent_records WHERE sequence <= ?", (sequence,))
        if checkpoint_id is None:
            rows = yield Fetch(
                "INSERT INTO checkpoints (sequence, hash, deleted, time, pruned_before) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (sequence, hash_, deleted, started, cutoff),
            )
            return deleted, int(rows[0][0])
        yield Execute(
            "UPDATE checkpoints SET sequence = ?, hash = ?, deleted = deleted + ? WHERE id = ?",
            (sequence, hash_, deleted, checkpoint_id),
        )
        return deleted, checkpoint_id

    async def erase(self, consent_id: str) -> int:
        """Turn the visitor's records into tombstones and append an ``"erase"`` record.

        Tombstones keep only the chain (sequence, hashes, digests). The erase
        record keeps the consent id and the time, as proof the request was
        honoured; it carries no choice, texts, user agent or address. Erasing
        an id with nothing left to erase changes nothing and returns 0.
        """
        request = erase_request(consent_id)
        digest = self._check(request)
        return await self._run(self._erase(request, digest), "erase", transaction="write")

    def _erase(self, request: ConsentRecord, digest: str) -> Steps[int]:
        """Tombstone the visitor's records and chain the erase record, in one transaction."""
        head = yield from self._lock_head()
        records: list[ConsentRecord] = yield from self._select(
            "consent_id = ? AND action != 'erase' ORDER BY sequence",
            (request.consent_id,),
            columns=_RECORD_COLUMNS,
        )
        if not records:
            return 0
        id_digest = consent_id_digest(request.consent_id)
        # Digests of the content as stored: a record edited before its erasure
        # still fails verification as a tombstone.
        yield ExecuteMany(
            _ERASE, [(id_digest, content_digest(record), record.sequence) for record in records]
        )
        yield from self._append(head, [(request, digest)])
        return len(records)

    async def aclose(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        await self._close()

    def _closed_error(self, verb: str) -> StorageError:
        return StorageError(f"consent log {verb} failed: the log {self.name} is closed")

    # -- rows -----------------------------------------------------------------------------

    def _filter(
        self, since: datetime | None, until: datetime | None, consent_id: str | None
    ) -> tuple[str, list[Any]]:
        """The WHERE clause and parameters for the records a reader or an export asks for."""
        where, params = ["NOT erased"], []
        if since is not None:
            where.append("time >= ?")
            params.append(self._time_param(_aware(since)))
        if until is not None:
            where.append("time < ?")
            params.append(self._time_param(_aware(until)))
        if consent_id is not None:
            where.append("consent_id = ?")
            params.append(consent_id)
        return " AND ".join(where), params

    def _to_records(self, rows: list[Any]) -> list[ConsentRecord]:
        try:
            return [self._to_record(row) for row in rows]
        except (TypeError, ValueError) as exc:
            raise BrokenLog(f"malformed consent record: {exc}") from exc

    def _to_record(self, row: Sequence[Any]) -> ConsentRecord:
        """A stored record from the values of ``RECORD_COLUMNS``.

        Raises TypeError or ValueError for a row that holds no record.
        ``chain_version`` is not read: it follows from the content (``_to_link``
        checks that it does).
        """
        (
            sequence,
            consent_id,
            time,
            action,
            granted,
            refused,
            providers,
            policy,
            language,
            source,
            text,
            user_agent,
            ip,
            gpc,
            revisions,
            prev_hash,
            hash_,
            _,
        ) = row
        pairs = json.loads(revisions)
        if not isinstance(pairs, dict):
            raise TypeError(f"revisions are not an object: {revisions!r}")
        return ConsentRecord(
            consent_id=consent_id,
            time=self._time_value(time),
            action=action,
            granted=tuple(json.loads(granted)),
            refused=tuple(json.loads(refused)),
            providers=tuple(json.loads(providers)),
            policy_version=policy,
            language=language,
            source=source,
            text_fingerprint=text,
            sequence=sequence,
            user_agent=user_agent,
            ip=ip,
            gpc=_flag(gpc),
            revisions=tuple(pairs.items()),
            prev_hash=prev_hash,
            hash=hash_,
        )

    def _to_link(self, row: Sequence[Any]) -> ChainLink:
        """A stored row as the verifier sees it; a damaged row becomes an UnreadableRecord.

        Rows are ``RECORD_COLUMNS``, then ``erased`` and the two digests a tombstone keeps.
        """
        sequence, erased, id_digest, digest = row[0], row[-3], row[-2], row[-1]
        if erased:
            if id_digest is None or digest is None:
                return UnreadableRecord(sequence=sequence, reason="erased without its digests")
            return Tombstone(
                sequence=sequence,
                prev_hash=row[_PREV_HASH],
                hash=row[_HASH],
                consent_id_digest=id_digest,
                content_digest=digest,
                version=row[_VERSION],
            )
        try:
            record = self._to_record(row[: len(RECORD_COLUMNS)])
        except (TypeError, ValueError) as exc:
            return UnreadableRecord(sequence=sequence, reason=str(exc))
        version = encoding_version(record)
        if row[_VERSION] != version:
            reason = f"its chain_version is {row[_VERSION]!r}, its content is version {version}"
            return UnreadableRecord(sequence=sequence, reason=reason)
        return record

    def _to_checkpoint(self, row: Sequence[Any]) -> Checkpoint | UnreadableRecord:
        """A checkpoint row; a damaged one is a broken chain, not a read failure."""
        try:
            sequence, hash_, deleted, time, before = row
            if type(sequence) is not int or not isinstance(hash_, str):
                raise TypeError("its sequence or hash is of the wrong type")
            return Checkpoint(
                sequence=sequence,
                hash=hash_,
                deleted=deleted,
                time=self._time_value(time),
                before=self._time_value(before),
            )
        except (TypeError, ValueError) as exc:
            return UnreadableRecord(
                sequence=None, reason=f"the prune checkpoint is unreadable: {exc}"
            )


_TEXTS = (
    "SELECT fingerprint, kind, name, language, content, first_seen, last_seen FROM consent_texts"
)
_KEEP_TEXTS = (
    "INSERT INTO consent_texts (fingerprint, kind, name, language, content, first_seen, "
    "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (fingerprint) DO UPDATE SET last_seen = excluded.last_seen"
)


def _keep_texts(rows: Sequence[Sequence[Any]]) -> Steps[None]:
    yield ExecuteMany(_KEEP_TEXTS, rows)


def _prune_texts(log: ChainedLog, cutoff: Any) -> Steps[int]:
    """Delete the texts no record refers to any more, last shown before ``cutoff``.

    A record refers to a page by its ``text_fingerprint`` and to a category's texts
    by a revision. What the latest start-up kept stays whatever the records say
    (its category texts were last seen then, its pages with them, and a banner
    asking again later still): it may be shown to the next visitor, whose record
    will refer to it. One pass over the records, not one per text.
    """
    deleted: int = yield Execute(
        "DELETE FROM consent_texts WHERE last_seen < ? "
        "AND last_seen < (SELECT max(last_seen) FROM consent_texts WHERE kind = 'category') "
        "AND fingerprint NOT IN (SELECT text_fingerprint FROM consent_records "
        f"WHERE text_fingerprint IS NOT NULL UNION {log.revision_values})",
        (cutoff,),
    )
    return deleted


def _fetch(sql: str, params: Sequence[Any] = ()) -> Steps[list[Any]]:
    rows: list[Any] = yield Fetch(sql, params)
    return rows


def _flag(value: Any) -> bool:
    """A stored boolean: PostgreSQL's, or SQLite's 0 or 1; TypeError for anything else."""
    if type(value) not in (bool, int) or value not in (0, 1):
        raise TypeError(f"gpc is {value!r}, not true or false")
    return bool(value)


def _execute(sql: str, params: Sequence[Any]) -> Steps[None]:
    yield Execute(sql, params)


def _count(sql: str, params: Sequence[Any]) -> Steps[int]:
    rows = yield Fetch(sql, params)
    count: int = rows[0][0]
    return count


def _lines_page(sql: str, params: Sequence[Any], after: int) -> Steps[tuple[int, int, str]]:
    """One page of export lines: their count, the last sequence, and the text."""
    rows = yield Fetch(sql, params)
    try:
        lines = "".join([line for _, line in rows])
    except TypeError:  # a NULL line: no record can be read from its row
        broken = next(sequence for sequence, line in rows if line is None)
        raise BrokenLog(f"malformed consent record {broken}") from None
    return len(rows), rows[-1][0] if rows else after, lines


def drive(steps: Steps[_T], run: Callable[[Step], Any]) -> _T:
    """Run a job's steps with a blocking ``run``; returns the job's result."""
    try:
        step = next(steps)
        while True:
            step = steps.send(run(step))
    except StopIteration as done:
        result: _T = done.value
        return result


async def drive_async(steps: Steps[_T], run: Callable[[Step], Awaitable[Any]]) -> _T:
    """Run a job's steps with an asynchronous ``run``; returns the job's result."""
    try:
        step = next(steps)
        while True:
            step = steps.send(await run(step))
    except StopIteration as done:
        result: _T = done.value
        return result


def answer(batch: list[_Pending]) -> None:
    """Hand a written batch's outcomes to their callers: one wake-up per event loop.

    Waking a loop from another thread costs a system call, so a batch's callers
    are settled together rather than each by its own thread-safe callback.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
    for pending in batch:
        by_loop.setdefault(pending.loop, []).append(pending)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: no one waits
            loop.call_soon_threadsafe(_settle, waiting)


def _settle(waiting: list[_Pending]) -> None:
    """On the callers' loop: each waiter gets what the writer made of its record."""
    for pending in waiting:
        waiter, outcome = pending.waiter, pending.outcome
        if waiter.done() or outcome is None:
            continue  # the caller gave up
        if isinstance(outcome, StorageError):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


def _fail(pending: _Pending, error: StorageError, cause: BaseException) -> None:
    """Fail one caller; each gets its own exception object."""
    error.__cause__ = cause
    pending.outcome = error


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")


def _aware(time: datetime) -> datetime:
    if time.utcoffset() is None:
        raise ValueError("the time must be timezone-aware")
    return time


def _sequence(record: ConsentRecord) -> int:
    assert record.sequence is not None  # every stored record has one
    return record.sequence
