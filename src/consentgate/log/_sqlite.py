"""The SQLite consent log: the core's dialect for one SQLite file.

One worker thread owns the one ``sqlite3`` connection, so the event loop
never waits on the disk and this process's writes are serialised on it. The
worker is also the group commit's writer (see ``_core``): it takes every
waiting record, writes them in one ``BEGIN IMMEDIATE`` transaction (the
database's single write lock, across threads and processes) and answers the
callers after COMMIT, which ``synchronous=FULL`` puts on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from .._exceptions import StorageError
from . import _schema
from ._chain import GENESIS_HASH, format_time, record_hash
from ._core import (
    MAX_BATCH,
    BrokenLog,
    ChainedLog,
    Execute,
    ExecuteMany,
    Fetch,
    Step,
    Steps,
    Transaction,
    answer,
    drive,
)
from ._export import EXPORT_COLUMNS, FORMULA_FREE_COLUMNS, FORMULA_STARTS
from ._record import RECORD_COLUMNS, placed, record_row

__all__ = ["SCHEMA_VERSION", "SQLiteConsentLog"]

_T = TypeVar("_T")

_MEMORY = ":memory:"
#: How a transaction starts: ``IMMEDIATE`` takes the write lock at once,
#: ``DEFERRED`` reads one snapshot.
_BEGIN: dict[Transaction, str | None] = {
    "write": "BEGIN IMMEDIATE",
    "snapshot": "BEGIN DEFERRED",
    "none": None,
}

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
    _schema.CONSENT_ID_INDEX,
)

_TYPES = _schema.Types(
    integer="INTEGER",
    serial="INTEGER",
    text="TEXT",
    time="TEXT",
    flag="INTEGER CHECK (erased IN (0, 1))",
    binary="BLOB",
    time_check=f" CHECK (time GLOB {_TIME_GLOB})",
)

#: Version 2: the chain columns, the optional fields, tombstones, checkpoints.
#: SQLite cannot change a CHECK in place, so the table is rebuilt (see ``_to_v2``).
_V2_AFTER: tuple[str, ...] = (
    "DROP TABLE consent_records",
    "ALTER TABLE consent_records_v2 RENAME TO consent_records",
    _schema.CONSENT_ID_INDEX,
    _schema.checkpoints_table(_TYPES),
)

#: A record as the CSV line ``_export.csv_lines`` writes: the sequence bare, every other
#: column in double quotes with ``"`` doubled (printf's ``%w``), absent values empty, and
#: a ``'`` before a cell a spreadsheet would take for a formula (tested by the code of its
#: first character: ``char()`` calls in the list would cost a fifth of the export's time).
_FORMULA = ", ".join(str(ord(start)) for start in FORMULA_STARTS)
#: ``gpc`` as the JSON text of its boolean.
_GPC_TEXT = "CASE gpc WHEN 1 THEN 'true' WHEN 0 THEN 'false' END"
_CSV_LINE = (
    "printf('%d"
    + ',"%w"' * (len(EXPORT_COLUMNS) - 1)
    + "' || char(13, 10), "
    + ", ".join(
        _GPC_TEXT
        if column == "gpc"
        else column
        if column in FORMULA_FREE_COLUMNS
        else f"CASE WHEN unicode({column}) IN ({_FORMULA}) THEN '''' || {column} "
        f"ELSE ifnull({column}, '') END"
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
        else f"'{column}', json(CASE WHEN NOT json_valid({column}) THEN json_quote({column}) "
        f"WHEN instr({column}, '\\u') = 0 THEN {column} "
        f"ELSE (SELECT json_group_object(key, value) FROM json_each({column})) END)"
        if column == "revisions"
        else f"'gpc', json({_GPC_TEXT})"
        if column == "gpc"
        else f"'{column}', {column}"
        for column in EXPORT_COLUMNS
    )
    + ") || char(10)"
)
#: A version 1 row as ``RECORD_COLUMNS``, for ``_to_v2``.
_V1_AS_V2 = (
    "SELECT sequence, consent_id, time, action, granted, refused, '[]', policy_version, "
    "language, source, text_fingerprint, NULL, NULL, 0, '{}', NULL, NULL, 1 FROM consent_records "
    "WHERE sequence > ? ORDER BY sequence LIMIT 1000"
)
#: Where ``record_row`` has the columns of the version 2 table, in ``_V2_INSERT``'s order.
_V2_PLACES = tuple(
    place
    for place, column in enumerate(RECORD_COLUMNS)
    if column not in ("providers", "gpc", "revisions", "chain_version")
)
_V2_INSERT = (
    "INSERT INTO consent_records_v2 (sequence, consent_id, time, action, granted, refused, "
    "policy_version, language, source, text_fingerprint, user_agent, ip, prev_hash, hash) "
    f"VALUES ({', '.join('?' * 14)})"
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
    _schema.CONSENT_ID_INDEX,
)

#: Version 4: the head, kept in the same transaction as every batch, so that a cut-off
#: tail shows and a sequence is never given out again. It starts where the chain ends.
_V4: tuple[str, ...] = (
    _schema.head_table(_TYPES),
    _schema.head_mac_column(_TYPES),
    f"""
    INSERT INTO consent_head (id, sequence, hash)
    SELECT 1, sequence, hash FROM (
        SELECT * FROM (SELECT sequence, hash FROM consent_records ORDER BY sequence DESC LIMIT 1)
        UNION ALL
        SELECT * FROM (SELECT sequence, hash FROM checkpoints ORDER BY sequence DESC LIMIT 1)
        UNION ALL
        SELECT 0, '{GENESIS_HASH}'
    ) ORDER BY sequence DESC LIMIT 1
    """,
)


#: Version 5: whether the visitor's browser sent Global Privacy Control with the choice,
#: and canonical encoding version 3, which holds it. Rebuilt, as a CHECK changes; the
#: default lets a writer of the previous release append its records meanwhile.
_V5_RECORDS = f"""
    CREATE TABLE consent_records_v5 (
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
        gpc               INTEGER DEFAULT 0 CHECK (gpc IN (0, 1)),
        prev_hash         TEXT NOT NULL CHECK (length(prev_hash) = 64),
        hash              TEXT NOT NULL CHECK (length(hash) = 64),
        chain_version     INTEGER NOT NULL DEFAULT 1 CHECK (chain_version IN (1, 2, 3)),
        erased            INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
        consent_id_digest TEXT CHECK (length(consent_id_digest) = 64),
        content_digest    TEXT CHECK (length(content_digest) = 64),
        CHECK (CASE erased
            WHEN 0 THEN consent_id IS NOT NULL AND time IS NOT NULL AND action IS NOT NULL
                    AND granted IS NOT NULL AND refused IS NOT NULL AND providers IS NOT NULL
                    AND policy_version IS NOT NULL AND language IS NOT NULL
                    AND source IS NOT NULL AND text_fingerprint IS NOT NULL
                    AND gpc IS NOT NULL
                    AND consent_id_digest IS NULL AND content_digest IS NULL
            ELSE coalesce(consent_id, time, action, granted, refused, policy_version,
                          language, source, text_fingerprint, user_agent, ip, providers,
                          gpc) IS NULL
                    AND consent_id_digest IS NOT NULL AND content_digest IS NOT NULL
        END)
    )
"""
_V4_COLUMNS = f"{_V2_COLUMNS}, providers, chain_version"
_V5: tuple[str, ...] = (
    _V5_RECORDS,
    f"INSERT INTO consent_records_v5 ({_V4_COLUMNS}, gpc) "
    f"SELECT {_V4_COLUMNS}, CASE erased WHEN 0 THEN 0 END FROM consent_records",
    "DROP TABLE consent_records",
    "ALTER TABLE consent_records_v5 RENAME TO consent_records",
    _schema.CONSENT_ID_INDEX,
)


#: Version 6: each granted category's revision (canonical encoding version 4), and the
#: texts table, what the revisions and text fingerprints are digests of. Rebuilt, as the
#: CHECK of ``chain_version`` widens; the default lets a writer of the previous release
#: append its records meanwhile.
_V6_RECORDS = (
    _V5_RECORDS.replace("consent_records_v5", "consent_records_v6")
    .replace("chain_version IN (1, 2, 3)", "chain_version IN (1, 2, 3, 4)")
    .replace(
        "        gpc               INTEGER DEFAULT 0 CHECK (gpc IN (0, 1)),\n",
        "        gpc               INTEGER DEFAULT 0 CHECK (gpc IN (0, 1)),\n"
        "        revisions         TEXT DEFAULT '{}',\n",
    )
    .replace(
        "                    AND gpc IS NOT NULL\n",
        "                    AND gpc IS NOT NULL AND revisions IS NOT NULL\n",
    )
    .replace(
        "                          gpc) IS NULL",
        "                          gpc, revisions) IS NULL",
    )
)
_V6: tuple[str, ...] = (
    _V6_RECORDS,
    f"INSERT INTO consent_records_v6 ({_V4_COLUMNS}, gpc, revisions) "
    f"SELECT {_V4_COLUMNS}, gpc, CASE erased WHEN 0 THEN '{{}}' END FROM consent_records",
    "DROP TABLE consent_records",
    "ALTER TABLE consent_records_v6 RENAME TO consent_records",
    _schema.CONSENT_ID_INDEX,
    _schema.texts_table(_TYPES, "BLOB"),
)
#: Version 7: RFC 3161 tokens of the head, from ``anchor_tsa_url``.
_V7: tuple[str, ...] = (_schema.timestamps_table(_TYPES),)


def _to_v2(log: ChainedLog) -> Steps[None]:
    """Rebuild the table with the chain columns, hashing the existing rows in sequence order.

    A v1 log has no chain yet, so its history is chained as it stands now:
    from here on it verifies, and whatever happened to it before stays unknown.
    The links are version 1 whatever chain key the log has: a migration never changes.
    """
    yield Execute(_schema.records_table("consent_records_v2", _TYPES))
    prev_hash, after = GENESIS_HASH, -(2**63)
    while rows := (yield Fetch(_V1_AS_V2, (after,))):
        linked = []
        for row, record in zip(rows, log._to_records(rows), strict=True):
            sequence = row[0]
            unhashed = placed(record, sequence=sequence, prev_hash=prev_hash, hash="")
            link = record_hash(unhashed)
            chained = placed(record, sequence=sequence, prev_hash=prev_hash, hash=link)
            row = record_row(chained, format_time(record.time))
            linked.append(tuple(row[place] for place in _V2_PLACES))
            prev_hash = link
        yield ExecuteMany(_V2_INSERT, linked)
        after = rows[-1][0]
    for statement in _V2_AFTER:
        yield Execute(statement)


class SQLiteConsentLog(ChainedLog):
    """A consent log in one SQLite file (or ``:memory:``).

    The file is opened on first use, in WAL mode with ``synchronous=FULL`` so
    that a committed record survives a power cut, and its schema is created or
    migrated then. After any failure a file's connection is dropped and the
    next call opens it again, so the log recovers by itself once the fault
    (missing directory, full disk, read-only file, ...) is gone. Several
    processes may share one file: the write lock orders their records into one chain.
    """

    migrations = (_V1, _to_v2, _V3, _V4, _V5, _V6, _V7)
    line_sql = {"csv": _CSV_LINE, "jsonl": _JSON_LINE}
    # A damaged ``revisions`` (no JSON) holds no revision, rather than failing the query.
    revision_values = (
        "SELECT revision.value FROM consent_records AS record, json_each(CASE WHEN "
        "json_valid(record.revisions) THEN record.revisions ELSE '{}' END) AS revision "
        "WHERE record.revisions IS NOT NULL AND record.revisions != '{}'"
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        max_batch: int = MAX_BATCH,
        chain_key: str | bytes | None = None,
    ) -> None:
        """``max_batch`` caps the records one commit takes; 1 commits each record on its own."""
        super().__init__(timeout=timeout, max_batch=max_batch, chain_key=chain_key)
        path = os.fspath(path)
        # Resolved now, so a later chdir cannot move the log.
        self._path = path if path == _MEMORY else os.path.abspath(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consentgate-log")
        # Touched only on the worker thread.
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None

    @property
    def path(self) -> str:
        """The absolute path of the database file, or ``":memory:"``."""
        return self._path

    @property
    def name(self) -> str:
        return self._path

    async def has_log(self) -> bool:
        """Whether the file holds a consent log already; creates nothing."""
        if self._path == _MEMORY:
            return True  # new each time: nothing to mistype
        return await asyncio.to_thread(_has_log, self._path)

    def _time_param(self, time: datetime) -> str:
        return format_time(time)

    def _time_value(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)

    async def _run(
        self, steps: Steps[_T], verb: str, *, transaction: Transaction, bounded: bool = True
    ) -> _T:
        """Run ``steps`` on the worker, within the timeout, as a StorageError on failure."""
        if self._closed:
            raise self._closed_error(verb)
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, self._call, steps, verb, transaction
        )
        try:
            return await asyncio.wait_for(future, self._timeout if bounded else None)
        except TimeoutError as exc:
            raise StorageError(
                f"consent log {verb} timed out after {self._timeout:g}s ({self._path})"
            ) from exc

    async def _close(self) -> None:
        # Queued after every pending call, so those finish first; shielded so
        # that a cancelled aclose still closes the connection.
        done = asyncio.wrap_future(self._executor.submit(self._shutdown))
        try:
            await asyncio.shield(done)
        finally:
            self._executor.shutdown(wait=False)

    # -- the worker thread ------------------------------------------------------------------

    def _call(self, steps: Steps[_T], verb: str, transaction: Transaction) -> _T:
        try:
            return self._drive(self._connection(), steps, transaction)
        except (sqlite3.Error, OSError, BrokenLog) as exc:
            self._drop()
            raise StorageError(f"consent log {verb} failed ({self._path}): {exc}") from exc

    def _drive(self, conn: sqlite3.Connection, steps: Steps[_T], transaction: Transaction) -> _T:
        with _transaction(conn, _BEGIN[transaction]):
            return drive(steps, functools.partial(_step, conn))

    def _start_writer(self) -> None:
        self._executor.submit(self._drain)

    def _drain(self) -> None:
        """Write one batch, then give the worker back to reads queued meanwhile."""
        batch = self._next_batch()
        if not batch:
            return
        try:
            self._write(batch)
        finally:
            answer(batch)
            self._executor.submit(self._drain)

    def _write(self, batch: list[Any]) -> None:
        """One transaction for the whole batch; each caller is answered after COMMIT."""
        ready = self._prepare(batch)
        if not ready:
            return
        for retry in (True, False):
            try:
                written = self._drive(self._connection(), self._append_batch(ready), "write")
            except Exception as exc:
                self._drop()
                # A connection opened while the file was read-only stays read-only:
                # once on a fresh one, so the first write after a fix succeeds.
                if retry and _read_only(exc):
                    continue
                self._batch_failed(ready, exc)
                return
            self._batch_written(written)
            return

    def _shutdown(self) -> None:
        # Records still queued are written first: their callers are waiting.
        while batch := self._next_batch():
            try:
                self._write(batch)
            finally:
                answer(batch)
        try:
            self._disconnect()
        except sqlite3.Error as exc:
            raise StorageError(f"could not close the consent log ({self._path}): {exc}") from exc

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
            info = os.stat(self._path)
        except FileNotFoundError:
            return False
        return (info.st_dev, info.st_ino) == self._file_id

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are spelled out where they happen.
        return sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)

    def _open(self) -> sqlite3.Connection:
        if self._path != _MEMORY:
            _restore_write_access(self._path)
        conn = self._connect()
        try:
            mode = self._switch_to_wal(conn)
            if self._path != _MEMORY and mode != "wal":
                raise sqlite3.OperationalError(f"could not switch to WAL mode (still {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            self._drive(conn, self._migrate(), "write")
            if self._path != _MEMORY:
                info = os.stat(self._path)
                self._file_id = (info.st_dev, info.st_ino)
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


def _read_only(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return isinstance(exc, sqlite3.Error) and code == sqlite3.SQLITE_READONLY


def _restore_write_access(path: str) -> None:
    """Make the -wal and -shm files writable again if the database file is.

    SQLite creates them with the database file's permissions: opened while the
    file was read-only, they stay read-only after its permissions are restored,
    and every connection then fails to write. Only our own files are changed,
    to the database file's mode, as SQLite would create them now.
    """
    try:
        database = os.stat(path)
    except OSError:
        return
    if not os.access(path, os.W_OK):
        return
    for suffix in ("-wal", "-shm"):
        side = path + suffix
        with contextlib.suppress(OSError):
            if not os.access(side, os.W_OK) and os.stat(side).st_uid == os.geteuid():
                os.chmod(side, stat.S_IMODE(database.st_mode))


def _step(conn: sqlite3.Connection, step: Step) -> Any:
    if isinstance(step, Fetch):
        return conn.execute(step.sql, step.params).fetchall()
    if isinstance(step, Execute):
        return conn.execute(step.sql, step.params).rowcount
    conn.executemany(step.sql, step.rows)
    return None


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, begin: str | None) -> Iterator[None]:
    """A transaction: committed (with synchronous=FULL, on disk) on exit, else rolled back."""
    if begin is None:
        yield
        return
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            # The original error is the one worth reporting.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


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


SCHEMA_VERSION = len(SQLiteConsentLog.migrations)
