"""The SQLite consent log.

One worker thread owns the one ``sqlite3`` connection, so the event loop
never waits on the disk and writes are serialised without extra locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from .._exceptions import ConfigurationError, StorageError
from ._base import ConsentLog, ConsentRecord

__all__ = ["SQLiteConsentLog"]

_T = TypeVar("_T")

_MEMORY = ":memory:"

#: Schema changes, applied in order at open; version N is ``_MIGRATIONS[N - 1]``.
#: Append only: a released migration never changes, or existing logs diverge.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
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
    ),
)

_COLUMNS = (
    "consent_id, time, action, granted, refused, policy_version, language, source, text_fingerprint"
)


class SQLiteConsentLog(ConsentLog):
    """A consent log in one SQLite file (or ``:memory:``).

    The file is opened on first use, in WAL mode with ``synchronous=FULL`` so
    that a committed record survives a power cut. After any failure a file's
    connection is dropped and the next call opens it again, so the log
    recovers by itself once the fault (missing directory, full disk, ...)
    is gone.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigurationError("store_timeout", "must be a positive number of seconds")
        path = os.fspath(path)
        # Resolved now, so a later chdir cannot move the log.
        self._path = path if path == _MEMORY else os.path.abspath(path)
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consentgate-log")
        self._closed = False
        # Touched only on the worker thread.
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None

    @property
    def path(self) -> str:
        """The absolute path of the database file, or ``":memory:"``."""
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

    async def record(self, record: ConsentRecord) -> ConsentRecord:
        # Set when the caller stops waiting (timeout, cancellation), so that a
        # write still waiting for the lock rolls back instead of committing a
        # record the visitor was told had failed.
        abandoned = threading.Event()
        try:
            sequence = await self._run(lambda conn: _insert(conn, record, abandoned), "write")
        except BaseException:
            abandoned.set()
            raise
        return dataclasses.replace(record, sequence=sequence)

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        return await self._run(lambda conn: _select(conn, consent_id), "read")

    async def aclose(self) -> None:
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

    async def _run(self, job: Callable[[sqlite3.Connection], _T], verb: str) -> _T:
        """Run ``job`` on the worker, within the timeout, as a StorageError on failure."""
        if self._closed:
            raise StorageError(f"consent log {verb} failed: the log {self._path} is closed")
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._call, job, verb)
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError as exc:
            raise StorageError(
                f"consent log {verb} timed out after {self._timeout:g}s ({self._path})"
            ) from exc

    def _call(self, job: Callable[[sqlite3.Connection], _T], verb: str) -> _T:
        try:
            return job(self._connection())
        except (sqlite3.Error, OSError) as exc:
            self._drop()
            raise StorageError(f"consent log {verb} failed ({self._path}): {exc}") from exc

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
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
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
        try:
            self._disconnect()
        except sqlite3.Error as exc:
            raise StorageError(f"could not close the consent log ({self._path}): {exc}") from exc


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction: committed (and, with synchronous=FULL, on disk) on exit."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            # The original error is the one worth reporting.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to the newest version, all in one transaction."""
    with _transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current: int = row[0] or 0
        if current > len(_MIGRATIONS):
            raise sqlite3.DatabaseError(
                f"the database has schema version {current}, newer than the "
                f"{len(_MIGRATIONS)} this consentgate understands; upgrade consentgate"
            )
        for statements in _MIGRATIONS[current:]:
            for statement in statements:
                conn.execute(statement)
        if current < len(_MIGRATIONS):
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (len(_MIGRATIONS),))


class _Abandoned(Exception):
    """Nobody waits for this write any more; it was rolled back."""


def _insert(conn: sqlite3.Connection, record: ConsentRecord, abandoned: threading.Event) -> int:
    """Store one record; returns its sequence once the commit is on disk."""
    with _transaction(conn):
        if abandoned.is_set():
            raise _Abandoned
        cursor = conn.execute(
            f"INSERT INTO consent_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.consent_id,
                _format_time(record.time),
                record.action,
                _format_categories(record.granted),
                _format_categories(record.refused),
                record.policy_version,
                record.language,
                record.source,
                record.text_fingerprint,
            ),
        )
    sequence = cursor.lastrowid
    assert sequence is not None
    return sequence


def _select(conn: sqlite3.Connection, consent_id: str) -> list[ConsentRecord]:
    rows = conn.execute(
        f"SELECT sequence, {_COLUMNS} FROM consent_records WHERE consent_id = ? ORDER BY sequence",
        (consent_id,),
    ).fetchall()
    try:
        return [_to_record(row) for row in rows]
    except (TypeError, ValueError) as exc:
        raise sqlite3.DatabaseError(f"malformed consent record: {exc}") from exc


def _to_record(row: Sequence[Any]) -> ConsentRecord:
    sequence, consent_id, time, action, granted, refused, policy, language, source, text = row
    return ConsentRecord(
        consent_id=consent_id,
        time=datetime.fromisoformat(time),
        action=action,
        granted=tuple(json.loads(granted)),
        refused=tuple(json.loads(refused)),
        policy_version=policy,
        language=language,
        source=source,
        text_fingerprint=text,
        sequence=sequence,
    )


def _format_time(time: datetime) -> str:
    """ISO 8601 in UTC with all six fractional digits, e.g. ``2024-05-01T12:00:00.000000Z``.

    Fixed width, so text order is time order and auditors can read it as is.
    """
    return time.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _format_categories(categories: tuple[str, ...]) -> str:
    return json.dumps(categories, separators=(",", ":"))
