"""The SQLite consent log.

One worker thread owns the one ``sqlite3`` connection, so the event loop
never waits on the disk and this process's writes are serialised on it.

Group commit: :meth:`SQLiteConsentLog.record` queues its record and waits.
The worker takes every waiting record (up to ``max_batch``) and writes them
in one transaction, chaining each onto the head of the log; only after COMMIT
(``synchronous=FULL``: on disk) is each caller answered, and if the
transaction fails, every caller in it gets a StorageError. A burst of choices
thus costs one fsync, not one each.

A caller that stops waiting (timeout, cancellation) before its batch holds
the write lock is left out of the batch. One that gives up later, while its
batch commits, still gets its StorageError, yet its record is committed: the
log then proves a choice the visitor was told had failed, never the reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import math
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, get_args

from .._exceptions import ConfigurationError, StorageError
from ._base import (
    BEFORE_ALL,
    Action,
    ChainLink,
    ChainPage,
    ConsentLog,
    ConsentRecord,
    Source,
    erase_request,
    link_from_row,
    placed,
    record_from_row,
    record_row,
    records_filter,
    walk_chain,
)
from ._chain import (
    GENESIS_HASH,
    Checkpoint,
    consent_id_digest,
    content_digest,
    encoding_version,
    format_time,
    link_hash,
    record_hash,
)
from ._expiry import Expiry
from ._export import EXPORT_COLUMNS, ExportFormat

__all__ = ["SQLiteConsentLog"]

_T = TypeVar("_T")

_MEMORY = ":memory:"

#: Most records one group-commit transaction takes, by default.
_MAX_BATCH = 256
#: Most rows one prune transaction deletes, so that writers get their turn in between.
_PRUNE_CHUNK = 5000
#: Below every sequence, even one a tamperer made up, so that walks miss no row.

_ACTIONS: frozenset[str] = frozenset(get_args(Action))
_SOURCES: frozenset[str] = frozenset(get_args(Source))

_TIME_GLOB = (
    "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'"
    " || '[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]'"
    " || '[0-9][0-9][0-9]Z'"
)

_V1: tuple[str, ...] = (
    """
        CREATE TABLE consent_records (
            sequence         INTEGER PRIMARY KEY AUTOINCREMENT,
            consent_id       TEXT NOT NULL,
            time             TEXT NOT NULL
                             CHECK (time GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
                                         || '[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]'
                                         || '[0-9][0-9][0-9]Z'),
            action           TEXT NOT NULL
                             CHECK (action IN ('grant', 'update', 'reject', 'withdraw')),
            granted          TEXT NOT NULL,
            refused          TEXT NOT NULL,
            policy_version   TEXT NOT NULL,
            language         TEXT NOT NULL,
            source           TEXT NOT NULL CHECK (source IN ('banner', 'preferences', 'api')),
            text_fingerprint TEXT NOT NULL
        )
        """,
    "CREATE INDEX consent_records_consent_id ON consent_records (consent_id)",
)

#: Version 2: the chain columns, the optional fields, tombstones, checkpoints.
#: SQLite cannot change a CHECK in place, so the table is rebuilt (see ``_to_v2``).
_V2_RECORDS = f"""
    CREATE TABLE consent_records_v2 (
        sequence          INTEGER PRIMARY KEY,
        consent_id        TEXT,
        time              TEXT CHECK (time GLOB {_TIME_GLOB}),
        action            TEXT CHECK (action IN ('grant', 'update', 'reject', 'withdraw', 'erase')),
        granted           TEXT,
        refused           TEXT,
        policy_version    TEXT,
        language          TEXT,
        source            TEXT CHECK (source IN ('banner', 'preferences', 'api', 'gpc')),
        text_fingerprint  TEXT,
        user_agent        TEXT,
        ip                TEXT,
        prev_hash         TEXT NOT NULL CHECK (length(prev_hash) = 64),
        hash              TEXT NOT NULL CHECK (length(hash) = 64),
        erased            INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
        consent_id_digest TEXT CHECK (length(consent_id_digest) = 64),
        content_digest    TEXT CHECK (length(content_digest) = 64),
        CHECK (CASE erased
            WHEN 0 THEN consent_id IS NOT NULL AND time IS NOT NULL AND action IS NOT NULL
                    AND granted IS NOT NULL AND refused IS NOT NULL
                    AND policy_version IS NOT NULL AND language IS NOT NULL
                    AND source IS NOT NULL AND text_fingerprint IS NOT NULL
                    AND consent_id_digest IS NULL AND content_digest IS NULL
            ELSE coalesce(consent_id, time, action, granted, refused, policy_version,
                          language, source, text_fingerprint, user_agent, ip) IS NULL
                    AND consent_id_digest IS NOT NULL AND content_digest IS NOT NULL
        END)
    )
"""
_V2_AFTER: tuple[str, ...] = (
    "DROP TABLE consent_records",
    "ALTER TABLE consent_records_v2 RENAME TO consent_records",
    "CREATE INDEX consent_records_consent_id ON consent_records (consent_id)",
    """
    CREATE TABLE checkpoints (
        id            INTEGER PRIMARY KEY,
        sequence      INTEGER NOT NULL,
        hash          TEXT NOT NULL CHECK (length(hash) = 64),
        deleted       INTEGER NOT NULL CHECK (deleted > 0),
        time          TEXT NOT NULL,
        pruned_before TEXT NOT NULL
    )
    """,
)

#: Version 3: providers allowed one by one, the ``"allow"`` action, the ``"embed"``
#: source, and each row's canonical encoding version. Rebuilt, as a CHECK changes. The
#: defaults let a process of the previous release, still running while another upgrades
#: the schema, go on appending its (version 1) records.
_V3_RECORDS = f"""
    CREATE TABLE consent_records_v3 (
        sequence          INTEGER PRIMARY KEY,
        consent_id        TEXT,
        time              TEXT CHECK (time GLOB {_TIME_GLOB}),
        action            TEXT CHECK (action IN ('grant', 'update', 'reject', 'withdraw', 'erase',
                                                 'allow')),
        granted           TEXT,
        refused           TEXT,
        policy_version    TEXT,
        language          TEXT,
        source            TEXT CHECK (source IN ('banner', 'preferences', 'api', 'gpc', 'embed')),
        text_fingerprint  TEXT,
        user_agent        TEXT,
        ip                TEXT,
        providers         TEXT DEFAULT '[]',
        prev_hash         TEXT NOT NULL CHECK (length(prev_hash) = 64),
        hash              TEXT NOT NULL CHECK (length(hash) = 64),
        chain_version     INTEGER NOT NULL DEFAULT 1 CHECK (chain_version IN (1, 2)),
        erased            INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
        consent_id_digest TEXT CHECK (length(consent_id_digest) = 64),
        content_digest    TEXT CHECK (length(content_digest) = 64),
        CHECK (CASE erased
            WHEN 0 THEN consent_id IS NOT NULL AND time IS NOT NULL AND action IS NOT NULL
                    AND granted IS NOT NULL AND refused IS NOT NULL AND providers IS NOT NULL
                    AND policy_version IS NOT NULL AND language IS NOT NULL
                    AND source IS NOT NULL AND text_fingerprint IS NOT NULL
                    AND consent_id_digest IS NULL AND content_digest IS NULL
            ELSE coalesce(consent_id, time, action, granted, refused, policy_version,
                          language, source, text_fingerprint, user_agent, ip, providers) IS NULL
                    AND consent_id_digest IS NOT NULL AND content_digest IS NOT NULL
        END)
    )
"""
_V2_COLUMNS = (
    "sequence, consent_id, time, action, granted, refused, policy_version, language, source, "
    "text_fingerprint, user_agent, ip, prev_hash, hash, erased, consent_id_digest, content_digest"
)
_V3: tuple[str, ...] = (
    _V3_RECORDS,
    f"INSERT INTO consent_records_v3 ({_V2_COLUMNS}, providers) "
    f"SELECT {_V2_COLUMNS}, CASE erased WHEN 0 THEN '[]' END FROM consent_records",
    "DROP TABLE consent_records",
    "ALTER TABLE consent_records_v3 RENAME TO consent_records",
    "CREATE INDEX consent_records_consent_id ON consent_records (consent_id)",
)

_CONTENT = (
    "consent_id, time, action, granted, refused, policy_version, language, source, "
    "text_fingerprint, user_agent, ip, providers"
)
_RECORD_COLUMNS = f"sequence, {_CONTENT}, prev_hash, hash, chain_version"
#: A record as the CSV line ``_export.csv_lines`` writes: the sequence bare, every other
#: column in double quotes with ``"`` doubled (printf's ``%w``), absent values empty.
_CSV_LINE = (
    "printf('%d"
    + ',"%w"' * (len(EXPORT_COLUMNS) - 1)
    + "' || char(13, 10), "
    + ", ".join(
        f"ifnull({column}, '')" if column in ("user_agent", "ip") else column
        for column in EXPORT_COLUMNS
    )
    + ")"
)
#: A record as the line ``_export.json_lines`` writes. A category list is stored as
#: ``json.dumps`` writes it with ``ensure_ascii=True``, which ``json()`` keeps; one with
#: a ``\u`` escape (a name beyond ASCII) is written again, with the characters
#: themselves. A category list that is no JSON (only a damaged row has one) is
#: exported as the string it is.
_JSON_LINE = (
    "json_object("
    + ", ".join(
        f"'{column}', json(CASE WHEN NOT json_valid({column}) THEN json_quote({column}) "
        f"WHEN instr({column}, '\\u') = 0 THEN {column} "
        f"ELSE (SELECT json_group_array(value) FROM json_each({column})) END)"
        if column in ("granted", "refused", "providers")
        else f"'{column}', {column}"
        for column in EXPORT_COLUMNS
    )
    + ") || char(10)"
)
_INSERT = f"INSERT INTO consent_records ({_RECORD_COLUMNS}) VALUES ({', '.join('?' * 16)})"
#: A version 1 row as ``_RECORD_COLUMNS``, for ``_to_v2``.
_V1_AS_V2 = (
    "SELECT sequence, consent_id, time, action, granted, refused, policy_version, language, "
    "source, text_fingerprint, NULL, NULL, '[]', NULL, NULL, 1 FROM consent_records "
    "ORDER BY sequence"
)
_ERASE = (
    "UPDATE consent_records SET "
    + ", ".join(f"{column.strip()} = NULL" for column in _CONTENT.split(","))
    + ", erased = 1, consent_id_digest = ?, content_digest = ? WHERE sequence = ?"
)


def _statements(statements: tuple[str, ...]) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return run


def _to_v2(conn: sqlite3.Connection) -> None:
    """Rebuild the table with the chain columns, hashing the existing rows in sequence order.

    A v1 log has no chain yet, so its history is chained as it stands now:
    from here on it verifies, and whatever happened to it before stays unknown.
    """
    conn.execute(_V2_RECORDS)
    prev_hash = GENESIS_HASH
    old = conn.execute(_V1_AS_V2)
    while rows := old.fetchmany(1000):
        linked = []
        for record in _to_records(rows):
            record = dataclasses.replace(record, prev_hash=prev_hash)
            prev_hash = record_hash(record)
            row = _row(dataclasses.replace(record, hash=prev_hash))
            linked.append(row[:12] + row[13:15])  # the version 2 table's columns
        conn.executemany(
            "INSERT INTO consent_records_v2 (sequence, consent_id, time, action, granted, "
            "refused, policy_version, language, source, text_fingerprint, user_agent, ip, "
            f"prev_hash, hash) VALUES ({', '.join('?' * 14)})",
            linked,
        )
    _statements(_V2_AFTER)(conn)


#: Schema changes, applied in order at open; version N is ``_MIGRATIONS[N - 1]``.
#: Append only: a released migration never changes, or existing logs diverge.
_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _statements(_V1),
    _to_v2,
    _statements(_V3),
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclasses.dataclass(slots=True)
class _Pending:
    """A record waiting for its batch, and the caller waiting for it.

    ``waiter`` is the caller's side, on its event loop, settled once per batch
    from ``outcome``, which the worker sets: the stored record or the caller's
    error. ``taken`` and ``given_up`` are guarded by the log's lock: a caller
    that gives up before a batch takes its record drops the record.
    """

    record: ConsentRecord
    loop: asyncio.AbstractEventLoop
    waiter: asyncio.Future[ConsentRecord]
    taken: bool = False
    given_up: bool = False
    outcome: ConsentRecord | StorageError | None = None


class SQLiteConsentLog(ConsentLog):
    """A consent log in one SQLite file (or ``:memory:``).

    The file is opened on first use, in WAL mode with ``synchronous=FULL`` so
    that a committed record survives a power cut, and its schema is created or
    migrated then. After any failure a file's connection is dropped and the
    next call opens it again, so the log recovers by itself once the fault
    (missing directory, full disk, ...) is gone. Several processes may share
    one file: the write lock orders their records into one chain.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 5.0, max_batch: int = _MAX_BATCH
    ) -> None:
        """``max_batch`` caps the records one commit takes; 1 commits each record on its own."""
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigurationError("store_timeout", "must be a positive number of seconds")
        if max_batch < 1:
            raise ConfigurationError("max_batch", "must be at least 1")
        self._max_batch = max_batch
        path = os.fspath(path)
        # Resolved now, so a later chdir cannot move the log.
        self._path = path if path == _MEMORY else os.path.abspath(path)
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consentgate-log")
        # Times out the callers waiting on one event loop (usually the only one; a
        # replaced one still times out those it watches).
        self._expiry: Expiry | None = None
        self._lock = threading.Lock()
        # Guarded by _lock.
        self._closed = False
        self._queue: list[_Pending] = []
        self._draining = False
        # Touched only on the worker thread.
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None
        #: Group-commit transactions committed so far (tests count them).
        self._commits = 0

    @property
    def path(self) -> str:
        """The absolute path of the database file, or ``":memory:"``."""
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

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
                self._executor.submit(self._drain)
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
                    f"consent log write timed out after {self._timeout:g}s ({self._path})"
                ) from exc
            raise

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        return await self._run(functools.partial(_select, consent_id=consent_id), "read")

    async def migrate(self) -> int:
        """Bring the schema to the newest version (opening the log does too); returns it.

        Not bound by the timeout: upgrading a big log rehashes every record.
        """
        return await self._run(_migrate, "migrate", bounded=False)

    async def has_log(self) -> bool:
        """Whether the file holds a consent log already; creates nothing."""
        if self._path == _MEMORY:
            return False
        return await asyncio.to_thread(_has_log, self._path)

    async def iter_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[ConsentRecord]:
        _check_batch_size(batch_size)
        condition, params = _filter(since, until, consent_id)
        after = BEFORE_ALL
        while True:
            page = functools.partial(
                _select_page, where=condition, params=params, after=after, limit=batch_size
            )
            records, after = await self._run(page, "read")
            for record in records:
                yield record
            if len(records) < batch_size:
                return

    async def count_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
    ) -> int:
        """How many records ``iter_records`` would give (for a progress bar)."""
        condition, params = _filter(since, until, consent_id)
        return await self._run(
            functools.partial(_count, where=condition, params=params), "read", bounded=False
        )

    async def export_lines(
        self,
        format: ExportFormat,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
        batch_size: int = 10_000,
    ) -> AsyncIterator[tuple[int, str]]:
        """The records ``iter_records`` gives as ``(count, lines)`` pages of CSV or JSON Lines.

        SQLite formats the lines (see ``_export``) itself, which is several
        times faster than building records. The next page is read while the
        caller writes this one (the worker thread leaves the GIL while SQLite works).
        """
        _check_batch_size(batch_size)
        condition, params = _filter(since, until, consent_id)

        def read(after: int) -> asyncio.Future[list[tuple[int, str]]]:
            page = functools.partial(
                _lines_page,
                line=_CSV_LINE if format == "csv" else _JSON_LINE,
                where=condition,
                params=params,
                after=after,
                limit=batch_size,
            )
            return asyncio.ensure_future(self._run(page, "read"))

        pending = read(BEFORE_ALL)
        try:
            while True:
                rows = await pending
                if len(rows) == batch_size:
                    pending = read(rows[-1][0])
                if rows:
                    yield len(rows), "".join([line for _, line in rows])
                if len(rows) < batch_size:
                    return
        finally:
            pending.cancel()

    async def iter_chain(self, *, batch_size: int = 1000) -> AsyncIterator[ChainLink]:
        """The newest checkpoint (if pruned), then every row in sequence order."""
        _check_batch_size(batch_size)

        async def read(after: int) -> ChainPage:
            page = functools.partial(_chain_page, after=after, limit=batch_size)
            return await self._run(page, "read")

        async for link in walk_chain(read, batch_size):
            yield link

    async def prune(self, before: datetime) -> int:
        """Delete the records older than ``before`` and leave a checkpoint where they were.

        Only a prefix of the chain can go, so deletion stops at the first
        record that is not older (times come from the callers and may be a
        little out of sequence order); it is caught by a later prune. Runs in
        transactions of at most ``_PRUNE_CHUNK`` rows, so writers are not held up.
        """
        cutoff, started = format_time(before), format_time(datetime.now(UTC))
        boundary = await self._run(functools.partial(_prune_boundary, cutoff=cutoff), "prune")
        deleted, checkpoint_id = 0, None
        while True:
            chunk = functools.partial(
                _prune_chunk,
                boundary=boundary,
                checkpoint_id=checkpoint_id,
                started=started,
                cutoff=cutoff,
            )
            count, checkpoint_id = await self._run(chunk, "prune")
            deleted += count
            if count < _PRUNE_CHUNK:
                return deleted

    async def erase(self, consent_id: str) -> int:
        """Turn the visitor's records into tombstones and append an ``"erase"`` record.

        Tombstones keep only the chain (sequence, hashes, digests). The erase
        record keeps the consent id and the time, as proof the request was
        honoured; it carries no choice, texts, user agent or address. Erasing
        an id with nothing left to erase changes nothing and returns 0.
        """
        request = erase_request(consent_id)
        digest = _check(request)
        return await self._run(functools.partial(_erase, request=request, digest=digest), "erase")

    async def aclose(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Queued after every pending call, so those finish first; shielded so
        # that a cancelled aclose still closes the connection.
        done = asyncio.wrap_future(self._executor.submit(self._shutdown))
        try:
            await asyncio.shield(done)
        finally:
            self._executor.shutdown(wait=False)

    async def _run(
        self, job: Callable[[sqlite3.Connection], _T], verb: str, *, bounded: bool = True
    ) -> _T:
        """Run ``job`` on the worker, within the timeout, as a StorageError on failure."""
        if self._closed:
            raise self._closed_error(verb)
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._call, job, verb)
        try:
            return await asyncio.wait_for(future, self._timeout if bounded else None)
        except TimeoutError as exc:
            raise StorageError(
                f"consent log {verb} timed out after {self._timeout:g}s ({self._path})"
            ) from exc

    def _closed_error(self, verb: str) -> StorageError:
        return StorageError(f"consent log {verb} failed: the log {self._path} is closed")

    def _call(self, job: Callable[[sqlite3.Connection], _T], verb: str) -> _T:
        try:
            return job(self._connection())
        except (sqlite3.Error, OSError) as exc:
            self._drop()
            raise StorageError(f"consent log {verb} failed ({self._path}): {exc}") from exc

    # -- group commit (worker thread) ---------------------------------------------------

    def _drain(self) -> None:
        """Write one batch, then give the worker back to reads queued meanwhile."""
        batch = self._take()
        try:
            self._write(batch)
        finally:
            _answer(batch)
            with self._lock:
                if self._queue:
                    self._executor.submit(self._drain)
                else:
                    self._draining = False

    def _take(self) -> list[_Pending]:
        with self._lock:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        return batch

    def _write(self, batch: list[_Pending]) -> None:
        """One transaction for the whole batch; each caller is answered after COMMIT."""
        ready: list[tuple[_Pending, str]] = []
        for pending in batch:
            try:
                ready.append((pending, _check(pending.record)))
            except (TypeError, ValueError) as exc:
                # Refused before the transaction, so it fails no one else.
                message = f"consent log write failed ({self._path}): invalid record: {exc}"
                _fail(pending, StorageError(message), exc)
        if not ready:
            return
        try:
            conn = self._connection()
            with _transaction(conn):
                # Taken only now that the batch holds the write lock: a caller
                # that gave up while the lock was busy is left out.
                live = self._take_live(ready)
                stored = _append(conn, [(p.record, d) for p, d in live])
        except Exception as exc:
            self._drop()
            for pending, _ in ready:
                message = f"consent log write failed ({self._path}): {exc}"
                _fail(pending, StorageError(message), exc)
            return
        if live:
            self._commits += 1
        for (pending, _), record in zip(live, stored, strict=True):
            pending.outcome = record

    def _take_live(self, ready: list[tuple[_Pending, str]]) -> list[tuple[_Pending, str]]:
        """The batch's records whose callers still wait; from now on they count as taken."""
        with self._lock:
            live = [(p, d) for p, d in ready if not p.given_up]
            for pending, _ in live:
                pending.taken = True
        return live

    # -- the connection (worker thread) ---------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and not self._same_file():
            # Someone moved or deleted the file. SQLite would go on writing to
            # the old inode, so open the path anew; but first checkpoint, or the
            # records still in the -wal file are lost: closing skips the
            # checkpoint of a moved database, and the next open discards the WAL.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._disconnect()
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _same_file(self) -> bool:
        if self._file_id is None:
            return True
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            return False
        return (stat.st_dev, stat.st_ino) == self._file_id

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are spelled out where they happen.
        return sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)

    def _open(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            mode = self._switch_to_wal(conn)
            if self._path != _MEMORY and mode != "wal":
                raise sqlite3.OperationalError(f"could not switch to WAL mode (still {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            _migrate(conn)
            if self._path != _MEMORY:
                stat = os.stat(self._path)
                self._file_id = (stat.st_dev, stat.st_ino)
        except BaseException:
            conn.close()
            raise
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> str:
        """Ask for WAL mode; returns the mode SQLite is in.

        While another connection creates the file, SQLite answers "locked"
        at once instead of waiting, so wait here, as the busy timeout would.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                mode: str = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                return mode
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(0.005)

    def _drop(self) -> None:
        """Forget a connection that failed, so the next call opens a fresh one."""
        # An in-memory database lives only in its connection: keep that one.
        if self._path != _MEMORY:
            self._disconnect()

    def _disconnect(self) -> None:
        conn, self._conn, self._file_id = self._conn, None, None
        if conn is not None:
            conn.close()

    def _shutdown(self) -> None:
        # Records still queued are written first: their callers are waiting.
        while batch := self._take():
            try:
                self._write(batch)
            finally:
                _answer(batch)
        try:
            self._disconnect()
        except sqlite3.Error as exc:
            raise StorageError(f"could not close the consent log ({self._path}): {exc}") from exc


def _has_log(path: str) -> bool:
    try:
        conn = sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False  # no such file, or not one SQLite can open
    try:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        return row is not None
    except sqlite3.DatabaseError:  # not a database at all
        return False
    finally:
        conn.close()


def _answer(batch: list[_Pending]) -> None:
    """Hand a written batch's outcomes to their callers: one wake-up per event loop.

    Waking a loop costs a system call, so a batch's callers are settled together
    rather than each by its own thread-safe callback.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
    for pending in batch:
        by_loop.setdefault(pending.loop, []).append(pending)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: no one waits
            loop.call_soon_threadsafe(_settle, waiting)


def _settle(waiting: list[_Pending]) -> None:
    """On the callers' loop: each waiter gets what the worker made of its record."""
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


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
    """A transaction: committed (with synchronous=FULL, on disk) on exit, else rolled back.

    ``IMMEDIATE`` takes the write lock at once; ``DEFERRED`` is a read snapshot.
    """
    conn.execute(f"BEGIN {mode}")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            # The original error is the one worth reporting.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to the newest version, all in one transaction; returns it."""
    with _transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current: int = row[0] or 0
        if current > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"the database has schema version {current}, newer than the "
                f"{SCHEMA_VERSION} this consentgate understands; upgrade consentgate"
            )
        for migration in _MIGRATIONS[current:]:
            migration(conn)
        if current < SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    return SCHEMA_VERSION


def _check(record: ConsentRecord) -> str:
    """The record's content digest, once it is clear the schema will take the record.

    Runs before the batch's transaction, so a bad record fails only its own caller.
    """
    if record.action not in _ACTIONS:
        raise ValueError(f"unknown action {record.action!r}")
    if record.source not in _SOURCES:
        raise ValueError(f"unknown source {record.source!r}")
    return content_digest(record)


def _head(conn: sqlite3.Connection) -> tuple[int, str]:
    """The end of the chain: the newest row, else the newest checkpoint, else genesis."""
    row = (
        conn.execute(
            "SELECT sequence, hash FROM consent_records ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
        or conn.execute(
            "SELECT sequence, hash FROM checkpoints ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
    )
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def _append(
    conn: sqlite3.Connection, items: Sequence[tuple[ConsentRecord, str]]
) -> list[ConsentRecord]:
    """Chain ``(record, content digest)`` pairs onto the head; inside a write transaction.

    The head is read in the same transaction that extends it, so the write lock
    alone keeps the chain in order, across threads and processes.
    """
    if not items:
        return []
    sequence, prev_hash = _head(conn)
    stored = []
    for record, digest in items:
        sequence += 1
        link = link_hash(
            sequence=sequence,
            prev_hash=prev_hash,
            consent_id_digest=consent_id_digest(record.consent_id),
            content_digest=digest,
            version=encoding_version(record),
        )
        stored.append(placed(record, sequence=sequence, prev_hash=prev_hash, hash=link))
        prev_hash = link
    conn.executemany(_INSERT, [_row(record) for record in stored])
    return stored


def _select(conn: sqlite3.Connection, consent_id: str) -> list[ConsentRecord]:
    rows = conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM consent_records WHERE consent_id = ? ORDER BY sequence",
        (consent_id,),
    ).fetchall()
    return _to_records(rows)


def _select_page(
    conn: sqlite3.Connection, where: str, params: list[str], after: int, limit: int
) -> tuple[list[ConsentRecord], int]:
    """One page of records after sequence ``after`` (keyset pagination); and the last sequence."""
    rows = conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM consent_records WHERE {where} AND sequence > ? "
        "ORDER BY sequence LIMIT ?",
        (*params, after, limit),
    ).fetchall()
    return _to_records(rows), rows[-1][0] if rows else after


def _filter(
    since: datetime | None, until: datetime | None, consent_id: str | None
) -> tuple[str, list[Any]]:
    return records_filter(
        since, until, consent_id, not_erased="erased = 0", placeholder="?", time_param=format_time
    )


def _count(conn: sqlite3.Connection, where: str, params: list[str]) -> int:
    count: int = conn.execute(
        f"SELECT count(*) FROM consent_records WHERE {where}", params
    ).fetchone()[0]
    return count


def _lines_page(
    conn: sqlite3.Connection, line: str, where: str, params: list[str], after: int, limit: int
) -> list[tuple[int, str]]:
    """One page of ``(sequence, export line)`` after sequence ``after``."""
    rows: list[tuple[int, str]] = conn.execute(
        f"SELECT sequence, {line} FROM consent_records WHERE {where} AND sequence > ? "
        "ORDER BY sequence LIMIT ?",
        (*params, after, limit),
    ).fetchall()
    return rows


def _chain_page(
    conn: sqlite3.Connection, after: int, limit: int
) -> tuple[Checkpoint | None, list[ChainLink], int]:
    """The newest checkpoint and one page of rows, from one snapshot; and the last sequence."""
    with _transaction(conn, "DEFERRED"):
        row = conn.execute(
            "SELECT sequence, hash, deleted, time, pruned_before FROM checkpoints "
            "ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
        rows = conn.execute(
            f"SELECT {_RECORD_COLUMNS}, erased, consent_id_digest, content_digest "
            "FROM consent_records WHERE sequence > ? ORDER BY sequence LIMIT ?",
            (after, limit),
        ).fetchall()
    try:
        checkpoint = None if row is None else _to_checkpoint(row)
    except (TypeError, ValueError) as exc:
        raise sqlite3.DatabaseError(f"malformed checkpoint: {exc}") from exc
    return checkpoint, [_to_link(link) for link in rows], rows[-1][0] if rows else after


def _prune_boundary(conn: sqlite3.Connection, cutoff: str) -> int:
    """The sequence before which everything is older than ``cutoff`` or erased."""
    with _transaction(conn, "DEFERRED"):
        row = conn.execute(
            "SELECT sequence FROM consent_records WHERE erased = 0 AND time >= ? "
            "ORDER BY sequence LIMIT 1",
            (cutoff,),
        ).fetchone()
        return int(row[0]) if row else _head(conn)[0] + 1


def _prune_chunk(
    conn: sqlite3.Connection, boundary: int, checkpoint_id: int | None, started: str, cutoff: str
) -> tuple[int, int | None]:
    """Delete the next rows below ``boundary`` and move this prune's checkpoint past them."""
    with _transaction(conn):
        last = (
            conn.execute(
                "SELECT sequence, hash FROM consent_records WHERE sequence < ? "
                "ORDER BY sequence LIMIT 1 OFFSET ?",
                (boundary, _PRUNE_CHUNK - 1),
            ).fetchone()
            or conn.execute(
                "SELECT sequence, hash FROM consent_records WHERE sequence < ? "
                "ORDER BY sequence DESC LIMIT 1",
                (boundary,),
            ).fetchone()
        )
        if last is None:
            return 0, checkpoint_id
        sequence, hash_ = last
        deleted: int = conn.execute(
            "DELETE FROM consent_records WHERE sequence <= ?", (sequence,)
        ).rowcount
        if checkpoint_id is None:
            checkpoint_id = conn.execute(
                "INSERT INTO checkpoints (sequence, hash, deleted, time, pruned_before) "
                "VALUES (?, ?, ?, ?, ?)",
                (sequence, hash_, deleted, started, cutoff),
            ).lastrowid
        else:
            conn.execute(
                "UPDATE checkpoints SET sequence = ?, hash = ?, deleted = deleted + ? WHERE id = ?",
                (sequence, hash_, deleted, checkpoint_id),
            )
    return deleted, checkpoint_id


def _erase(conn: sqlite3.Connection, request: ConsentRecord, digest: str) -> int:
    """Tombstone the visitor's records and chain the erase record, in one transaction."""
    with _transaction(conn):
        rows = conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM consent_records "
            "WHERE consent_id = ? AND action != 'erase' ORDER BY sequence",
            (request.consent_id,),
        ).fetchall()
        if not rows:
            return 0
        id_digest = consent_id_digest(request.consent_id)
        # Digests of the content as stored: a record edited before its erasure
        # still fails verification as a tombstone.
        conn.executemany(
            _ERASE,
            [(id_digest, content_digest(record), record.sequence) for record in _to_records(rows)],
        )
        _append(conn, [(request, digest)])
    return len(rows)


def _to_records(rows: list[Any]) -> list[ConsentRecord]:
    try:
        return [_to_record(row) for row in rows]
    except (TypeError, ValueError) as exc:
        raise sqlite3.DatabaseError(f"malformed consent record: {exc}") from exc


def _to_link(row: Sequence[Any]) -> ChainLink:
    return link_from_row(row, _to_record)


def _to_record(row: Sequence[Any]) -> ConsentRecord:
    return record_from_row(row, datetime.fromisoformat(row[2]))


def _to_checkpoint(row: Sequence[Any]) -> Checkpoint:
    sequence, hash_, deleted, time, before = row
    return Checkpoint(
        sequence=sequence,
        hash=hash_,
        deleted=deleted,
        time=datetime.fromisoformat(time),
        before=datetime.fromisoformat(before),
    )


def _row(record: ConsentRecord) -> tuple[Any, ...]:
    """A stored record as the values of ``_RECORD_COLUMNS``."""
    return record_row(record, format_time(record.time))
