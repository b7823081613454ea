"""The PostgreSQL consent log, which many app processes and machines share.

Needs the ``postgres`` extra (``pip install consentgate[postgres]``: psycopg 3
and psycopg_pool); psycopg is imported only when such a log is made, so
consentgate itself imports without it.

Chain order
-----------

One row of the table ``consent_head`` holds the end of the chain (sequence
and hash). Every transaction that extends the chain (a group commit, an
erasure) first takes that row with ``SELECT ... FOR UPDATE``, computes the
sequences and hashes of its records from it, inserts them and moves the head
on, all before COMMIT. So appends from every process on every machine are
serialised by that one row lock; each reads the head its predecessor
committed (READ COMMITTED re-reads a row after waiting for its lock), and no
two records can claim the same predecessor. As the lock is held until
COMMIT, transactions also *commit* in sequence order: every snapshot sees a
gapless prefix of the chain, which is why ``verify`` is right while writers
run. Sequences are counted in the head, not drawn from a SEQUENCE object,
so a rolled-back batch leaves no gap.

Group commit
------------

As in the SQLite log: :meth:`PostgresConsentLog.record` queues its record
and waits; one writer task per log takes up to ``max_batch`` waiting records
into one transaction (one head lock, one WAL flush), and answers each caller
only after COMMIT has returned (``synchronous_commit=on`` is set on every
connection, whatever the server's default). ``max_batch=1`` is one commit
per record, for benchmarks to compare with. A caller that gave up before its
batch holds the head lock is left out; one that gives up later may find its
record committed though it was told it failed, never the reverse.

Faults
------

Every call is bounded by ``timeout`` (the config's ``store_timeout``): the
pool's wait for a connection, libpq's ``connect_timeout``, the server's
``statement_timeout`` and ``idle_in_transaction_session_timeout`` (so no
crashed or stalled client keeps the head lock), and an asyncio timeout round
the whole call for a server that stopped answering. A failure is a
StorageError. The pool checks a connection before lending it and makes new
ones when the server is back, so the log recovers by itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._exceptions import ConfigurationError, StorageError
from ._base import (
    BEFORE_ALL,
    ChainLink,
    ChainPage,
    ConsentLog,
    ConsentRecord,
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
)
from ._expiry import Expiry
from ._export import EXPORT_COLUMNS, ExportFormat
from ._sqlite import _check as _check_fields, _check_batch_size

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    _Conn: TypeAlias = AsyncConnection[tuple[Any, ...]]
    _Pool: TypeAlias = AsyncConnectionPool[_Conn]

__all__ = ["SCHEMA_VERSION", "PostgresConsentLog", "require_driver"]

_T = TypeVar("_T")

#: Most records one group-commit transaction takes, unless told otherwise.
_MAX_BATCH = 256
#: Most rows one prune transaction deletes, so that writers get their turn in between.
_PRUNE_CHUNK = 5000
#: Below every sequence, even one a tamperer made up, so that walks miss no row.
#: Connections each log may hold: one writes, the rest read.
_POOL_SIZE = 4
#: ``pg_advisory_xact_lock`` key that serialises schema migrations ("consentg").
_MIGRATION_LOCK = 0x636F6E73656E7467

_EXTRA_HINT = (
    "install the PostgreSQL driver with: pip install consentgate[postgres] "
    "(and psycopg[binary] where libpq is not installed)"
)

_V1: tuple[str, ...] = (
    """
    CREATE TABLE consent_records (
        sequence          bigint PRIMARY KEY,
        consent_id        text,
        time              timestamptz,
        action            text CHECK (action IN ('grant', 'update', 'reject', 'withdraw', 'erase')),
        granted           text,
        refused           text,
        policy_version    text,
        language          text,
        source            text CHECK (source IN ('banner', 'preferences', 'api', 'gpc')),
        text_fingerprint  text,
        user_agent        text,
        ip                text,
        prev_hash         text NOT NULL CHECK (length(prev_hash) = 64),
        hash              text NOT NULL CHECK (length(hash) = 64),
        erased            boolean NOT NULL DEFAULT false,
        consent_id_digest text CHECK (length(consent_id_digest) = 64),
        content_digest    text CHECK (length(content_digest) = 64),
        CHECK (CASE WHEN erased
            THEN coalesce(consent_id, time::text, action, granted, refused, policy_version,
                          language, source, text_fingerprint, user_agent, ip) IS NULL
                 AND consent_id_digest IS NOT NULL AND content_digest IS NOT NULL
            ELSE consent_id IS NOT NULL AND time IS NOT NULL AND action IS NOT NULL
                 AND granted IS NOT NULL AND refused IS NOT NULL
                 AND policy_version IS NOT NULL AND language IS NOT NULL
                 AND source IS NOT NULL AND text_fingerprint IS NOT NULL
                 AND consent_id_digest IS NULL AND content_digest IS NULL
        END)
    )
    """,
    "CREATE INDEX consent_records_consent_id ON consent_records (consent_id)",
    """
    CREATE TABLE checkpoints (
        id            bigserial PRIMARY KEY,
        sequence      bigint NOT NULL,
        hash          text NOT NULL CHECK (length(hash) = 64),
        deleted       bigint NOT NULL CHECK (deleted > 0),
        time          timestamptz NOT NULL,
        pruned_before timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE consent_head (
        id       integer PRIMARY KEY CHECK (id = 1),
        sequence bigint NOT NULL,
        hash     text NOT NULL CHECK (length(hash) = 64)
    )
    """,
    f"INSERT INTO consent_head (id, sequence, hash) VALUES (1, 0, '{GENESIS_HASH}')",
)

#: Version 2: providers allowed one by one, the ``"allow"`` action, the ``"embed"``
#: source, and each row's canonical encoding version. The defaults let a process of
#: the previous release, still running while another upgrades the schema, go on
#: appending its (version 1) records; only tombstones are rewritten.
_V2: tuple[str, ...] = (
    "ALTER TABLE consent_records ADD COLUMN providers text DEFAULT '[]', "
    "ADD COLUMN chain_version smallint NOT NULL DEFAULT 1 CHECK (chain_version IN (1, 2))",
    "UPDATE consent_records SET providers = NULL WHERE erased",
    "ALTER TABLE consent_records DROP CONSTRAINT consent_records_action_check, "
    "ADD CONSTRAINT consent_records_action_check CHECK "
    "(action IN ('grant', 'update', 'reject', 'withdraw', 'erase', 'allow')), "
    "DROP CONSTRAINT consent_records_source_check, "
    "ADD CONSTRAINT consent_records_source_check CHECK "
    "(source IN ('banner', 'preferences', 'api', 'gpc', 'embed')), "
    "ADD CONSTRAINT consent_records_providers_check CHECK "
    "((providers IS NULL) = erased)",
)

#: Schema changes, applied in order; version N is ``_MIGRATIONS[N - 1]``.
#: Append only: a released migration never changes, or existing logs diverge.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)
SCHEMA_VERSION = len(_MIGRATIONS)

_CONTENT = (
    "consent_id, time, action, granted, refused, policy_version, language, source, "
    "text_fingerprint, user_agent, ip, providers"
)
_RECORD_COLUMNS = f"sequence, {_CONTENT}, prev_hash, hash, chain_version"
_INSERT = f"INSERT INTO consent_records ({_RECORD_COLUMNS}) VALUES ({', '.join(['%s'] * 16)})"
_ERASE = (
    "UPDATE consent_records SET "
    + ", ".join(f"{column.strip()} = NULL" for column in _CONTENT.split(","))
    + ", erased = true, consent_id_digest = %s, content_digest = %s WHERE sequence = %s"
)
_CHECKPOINT = (
    "SELECT sequence, hash, deleted, time, pruned_before FROM checkpoints "
    "ORDER BY sequence DESC LIMIT 1"
)

#: ``time`` as ``_chain.format_time`` writes it, whatever the session's time zone.
_UTC_TIME = "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#: A record as the CSV line ``_export.csv_lines`` writes: the sequence bare, every other
#: column in double quotes with ``"`` doubled, absent values empty, CRLF. The category
#: lists are the JSON text stored, which is what ``csv_lines`` writes.
_CSV_LINE = (
    "sequence::text || ',\"' || "
    + " || '\",\"' || ".join(
        _UTC_TIME
        if column == "time"
        else f"replace(coalesce({column}, ''), '\"', '\"\"')"
        if column in ("user_agent", "ip")
        else f"replace({column}, '\"', '\"\"')"
        for column in EXPORT_COLUMNS[1:]
    )
    + " || E'\"\\r\\n'"
)


def _json_categories(column: str) -> str:
    """A stored category list as ``json.dumps(..., ensure_ascii=False)`` writes it.

    The log stores the list as ``json.dumps`` writes it with ``ensure_ascii=True``,
    which differs only where a name goes beyond ASCII (a ``\\u`` escape): only such a
    list is decoded and written again. The cast refuses a list that is no JSON at all
    (only a damaged row has one) rather than write a line that is none either.
    """
    rewritten = (
        "coalesce((SELECT '[' || string_agg(to_json(name)::text, ',' ORDER BY place) || ']' "
        f"FROM json_array_elements_text({column}::json) WITH ORDINALITY AS category(name, place)"
        "), '[]')"
    )
    return (
        f"CASE WHEN strpos({column}, E'\\\\u') = 0 THEN {column}::json::text ELSE {rewritten} END"
    )


def _json_value(column: str) -> str:
    """One value of a JSON Lines object, escaped as ``json.dumps`` does (so does ``to_json``)."""
    if column == "sequence":
        return "sequence::text"
    if column == "time":
        return f"'\"' || {_UTC_TIME} || '\"'"
    if column in ("granted", "refused", "providers"):
        return _json_categories(column)
    if column in ("user_agent", "ip"):
        return f"coalesce(to_json({column})::text, 'null')"
    return f"to_json({column})::text"


#: A record as the line ``_export.json_lines`` writes: its keys in order, no spaces.
_JSON_LINE = (
    " || ".join(
        f"'{',' if place else '{'}\"{column}\":' || {_json_value(column)}"
        for place, column in enumerate(EXPORT_COLUMNS)
    )
    + " || E'}\\n'"
)


def require_driver() -> None:
    """Raise ConfigurationError naming ``store`` unless psycopg and psycopg_pool import."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            "store", f"a PostgreSQL consent log needs psycopg 3 ({exc}); {_EXTRA_HINT}"
        ) from exc


class _BrokenLog(Exception):
    """The database holds something no consentgate wrote (or a newer one did)."""


@dataclasses.dataclass(slots=True)
class _Pending:
    """A record waiting for its batch, and the caller waiting for it."""

    record: ConsentRecord
    future: asyncio.Future[ConsentRecord]


class PostgresConsentLog(ConsentLog):
    """A consent log in a PostgreSQL database, shared by any number of app processes.

    ``url`` is a libpq URL (``postgresql://user:password@host:5432/dbname``,
    query parameters such as ``sslmode`` included; ``options=-csearch_path%3Dname``
    puts the tables in another schema). Nothing connects until first use,
    which also creates or migrates the schema. ``max_batch`` caps the records
    of one group commit (1 turns group commit off); ``pool_size`` caps the
    connections this log holds.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        max_batch: int = _MAX_BATCH,
        pool_size: int = _POOL_SIZE,
    ) -> None:
        require_driver()
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigurationError("store_timeout", "must be a positive number of seconds")
        if max_batch < 1:
            raise ConfigurationError("max_batch", "must be at least 1")
        if pool_size < 2:
            raise ConfigurationError("pool_size", "must be at least 2: one writes, one reads")
        try:
            params = conninfo_to_dict(url)
        except ProgrammingError as exc:
            raise ConfigurationError("store", f"not a valid PostgreSQL URL: {exc}") from exc
        self._url = url
        self._name = _display_name(params)
        self._timeout = timeout
        self._max_batch = max_batch
        self._pool_size = pool_size
        self._options = " ".join(
            str(option)
            for option in (
                params.get("options"),
                # After the URL's own options, so that these win.
                f"-c statement_timeout={math.ceil(timeout * 1000)}",
                f"-c idle_in_transaction_session_timeout={math.ceil(timeout * 1000)}",
                "-c synchronous_commit=on",
                "-c TimeZone=UTC",
            )
            if option
        )
        self._pool: _Pool | None = None
        self._migrated = False
        self._starting = asyncio.Lock()
        self._closed = False
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        # Times out callers with one timer per event loop (see _expiry).
        self._expiry: Expiry | None = None
        #: Group-commit transactions committed so far (tests count them).
        self._commits = 0

    @property
    def name(self) -> str:
        """The database as ``postgresql://user@host:port/dbname``, without the password."""
        return self._name

    @property
    def max_batch(self) -> int:
        """Most records one group-commit transaction takes."""
        return self._max_batch

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"

    async def record(self, record: ConsentRecord) -> ConsentRecord:
        """Store ``record`` in the next group commit; returns it with its place in the chain."""
        if self._closed:
            raise self._closed_error("write")
        loop = asyncio.get_running_loop()
        pending = _Pending(record, loop.create_future())
        self._queue.append(pending)
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        expiry = self._expiry
        if expiry is None or expiry.loop is not loop:
            expiry = self._expiry = Expiry(loop, self._timeout)
        # On timeout (or cancellation) the future is done, which drops the record
        # from its batch unless the batch already holds the head lock.
        expiry.watch(pending.future)
        try:
            return await pending.future
        except TimeoutError as exc:
            raise StorageError(
                f"consent log write timed out after {self._timeout:g}s ({self._name})"
            ) from exc

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        async def select(conn: _Conn) -> list[ConsentRecord]:
            cursor = await conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM consent_records WHERE consent_id = %s "
                "ORDER BY sequence",
                (consent_id,),
            )
            return _to_records(await cursor.fetchall())

        return await self._run(select, "read")

    async def migrate(self) -> int:
        """Create or upgrade the schema (first use does too); returns its version.

        Not bound by the timeout, as a future upgrade may rewrite a big log.
        """
        return await self._run(_migrate, "migrate", bounded=False)

    async def has_log(self) -> bool:
        """Whether the database holds a consent log already; creates nothing."""
        return await self._run(_has_log, "read", migrate=False)

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
        query = (
            f"SELECT {_RECORD_COLUMNS} FROM consent_records WHERE {condition} "
            "AND sequence > %s ORDER BY sequence LIMIT %s"
        )
        after = BEFORE_ALL

        async def page(conn: _Conn) -> list[tuple[Any, ...]]:
            cursor = await conn.execute(query, (*params, after, batch_size))
            return await cursor.fetchall()

        while True:
            rows = await self._run(page, "read")
            for record in _to_records(rows):
                yield record
            if len(rows) < batch_size:
                return
            after = rows[-1][0]

    async def count_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
    ) -> int:
        """How many records ``iter_records`` would give (for a progress bar)."""
        condition, params = _filter(since, until, consent_id)
        query = f"SELECT count(*) FROM consent_records WHERE {condition}"

        async def count(conn: _Conn) -> int:
            cursor = await conn.execute(query, params)
            row = await cursor.fetchone()
            assert row is not None  # count(*) always answers one row
            total: int = row[0]
            return total

        return await self._run(count, "read", bounded=False)

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

        The server formats the lines (see ``_export``), several times faster than
        building records here. Each page is one query, bound by the timeout like
        any read. The next page is asked for before this one is handed over, so
        the server works on it while a caller that awaits its writes (an HTTP
        response) sends this one.
        """
        _check_batch_size(batch_size)
        condition, params = _filter(since, until, consent_id)
        query = (
            f"SELECT sequence, {_CSV_LINE if format == 'csv' else _JSON_LINE} "
            f"FROM consent_records WHERE {condition} AND sequence > %s ORDER BY sequence LIMIT %s"
        )

        def read(after: int) -> asyncio.Future[tuple[int, int, str]]:
            async def page(conn: _Conn) -> tuple[int, int, str]:
                cursor = await conn.execute(query, (*params, after, batch_size))
                rows = await cursor.fetchall()
                try:
                    lines = "".join([line for _, line in rows])
                except TypeError:  # a NULL line: no record can be read from its row
                    broken = next(sequence for sequence, line in rows if line is None)
                    raise _BrokenLog(f"malformed consent record {broken}") from None
                return len(rows), rows[-1][0] if rows else after, lines

            return asyncio.ensure_future(self._run(page, "read"))

        pending = read(BEFORE_ALL)
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

    async def iter_chain(self, *, batch_size: int = 1000) -> AsyncIterator[ChainLink]:
        """The newest checkpoint (if pruned), then every row in sequence order."""
        _check_batch_size(batch_size)

        async def read(after: int) -> ChainPage:
            async def page(conn: _Conn) -> ChainPage:
                async with conn.transaction():
                    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    row = await (await conn.execute(_CHECKPOINT)).fetchone()
                    cursor = await conn.execute(
                        f"SELECT {_RECORD_COLUMNS}, erased, consent_id_digest, content_digest "
                        "FROM consent_records WHERE sequence > %s ORDER BY sequence LIMIT %s",
                        (after, batch_size),
                    )
                    rows = await cursor.fetchall()
                links = [_to_link(r) for r in rows]
                return _to_checkpoint(row), links, rows[-1][0] if rows else after

            return await self._run(page, "read")

        async for link in walk_chain(read, batch_size):
            yield link

    async def prune(self, before: datetime) -> int:
        """Delete the records older than ``before`` and leave a checkpoint where they were.

        As in the SQLite log, only a prefix of the chain goes, up to the first
        record that is not older, in transactions of at most ``_PRUNE_CHUNK`` rows.
        """
        cutoff, started = _aware(before), datetime.now(UTC)

        async def find_boundary(conn: _Conn) -> int:
            row = await (
                await conn.execute(
                    "SELECT coalesce(("
                    "  SELECT sequence FROM consent_records WHERE NOT erased AND time >= %s"
                    "  ORDER BY sequence LIMIT 1"
                    "), (SELECT max(sequence) + 1 FROM consent_records), 0)",
                    (cutoff,),
                )
            ).fetchone()
            return int(row[0]) if row else 0

        boundary = await self._run(find_boundary, "prune")
        deleted, checkpoint_id = 0, None
        while True:
            chunk = _PruneChunk(boundary, checkpoint_id, started, cutoff)
            count, checkpoint_id = await self._run(chunk.run, "prune")
            deleted += count
            if count < _PRUNE_CHUNK:
                return deleted

    async def erase(self, consent_id: str) -> int:
        """Turn the visitor's records into tombstones and append an ``"erase"`` record.

        Tombstones keep only the chain (sequence, hashes, digests); the erase
        record keeps the consent id and the time, as proof the request was
        honoured. Erasing an id with nothing left to erase changes nothing.
        """
        request = erase_request(consent_id)
        digest = _check(request)

        async def erase(conn: _Conn) -> int:
            async with conn.transaction():
                head = await _lock_head(conn)
                cursor = await conn.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM consent_records "
                    "WHERE consent_id = %s AND action != 'erase' ORDER BY sequence",
                    (consent_id,),
                )
                records = _to_records(await cursor.fetchall())
                if not records:
                    return 0
                id_digest = consent_id_digest(consent_id)
                # Digests of the content as stored: a record edited before its
                # erasure still fails verification as a tombstone.
                async with conn.cursor() as cur:
                    await cur.executemany(
                        _ERASE,
                        [(id_digest, content_digest(r), r.sequence) for r in records],
                    )
                await _append(conn, head, [(request, digest)])
            return len(records)

        return await self._run(erase, "erase")

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Records already queued are written first: their callers are waiting.
        if self._writer is not None:
            await asyncio.shield(self._writer)
        if self._pool is not None:
            await self._pool.close()

    # -- connections ----------------------------------------------------------------------

    async def _ready(self, *, migrate: bool = True) -> _Pool:
        """The pool, opened on first use, and the schema, migrated on first use."""
        if self._pool is not None and (self._migrated or not migrate):
            return self._pool
        # One caller opens and migrates; the others wait for it rather than race it.
        async with self._starting:
            if self._pool is None:
                self._pool = await self._open_pool()
            if migrate and not self._migrated:
                async with self._pool.connection() as conn:
                    await _migrate(conn)
                self._migrated = True
            return self._pool

    async def _open_pool(self) -> _Pool:
        from psycopg import AsyncConnection
        from psycopg_pool import AsyncConnectionPool

        pool: _Pool = AsyncConnectionPool(
            self._url,
            connection_class=AsyncConnection[tuple[Any, ...]],
            kwargs={
                "autocommit": True,
                # libpq counts whole seconds and takes no less than 2.
                "connect_timeout": max(2, math.ceil(self._timeout)),
                "options": self._options,
            },
            min_size=1,
            max_size=self._pool_size,
            open=False,
            timeout=self._timeout,
            # Give up a reconnection soon and start afresh on the next request,
            # rather than backing off for minutes after an outage.
            reconnect_timeout=self._timeout,
            check=AsyncConnectionPool.check_connection,
            name="consentgate",
        )
        await pool.open(wait=False)
        return pool

    async def _run(
        self,
        job: Callable[[_Conn], Awaitable[_T]],
        verb: str,
        *,
        bounded: bool = True,
        migrate: bool = True,
    ) -> _T:
        """Run ``job`` on a pooled connection, within the timeout, as a StorageError on failure."""
        import psycopg

        if self._closed:
            raise self._closed_error(verb)
        try:
            async with asyncio.timeout(self._timeout if bounded else None):
                pool = await self._ready(migrate=migrate)
                async with pool.connection() as conn:
                    return await job(conn)
        except TimeoutError as exc:
            raise StorageError(
                f"consent log {verb} timed out after {self._timeout:g}s ({self._name})"
            ) from exc
        except (psycopg.Error, OSError, _BrokenLog) as exc:
            raise StorageError(f"consent log {verb} failed ({self._name}): {exc}") from exc

    def _closed_error(self, verb: str) -> StorageError:
        return StorageError(f"consent log {verb} failed: the log {self._name} is closed")

    # -- group commit ---------------------------------------------------------------------

    async def _drain(self) -> None:
        """Write batches while records wait; one writer task per log at a time."""
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: list[_Pending]) -> None:
        """One transaction for the whole batch; each caller is answered after COMMIT."""
        ready: list[tuple[_Pending, str]] = []
        for pending in batch:
            if pending.future.done():
                continue  # its caller gave up while it was queued
            try:
                ready.append((pending, _check(pending.record)))
            except (TypeError, ValueError) as exc:
                # Refused before the transaction, so it fails no one else.
                message = f"consent log write failed ({self._name}): invalid record: {exc}"
                _fail(pending.future, StorageError(message), exc)
        if not ready:
            return
        live: list[tuple[_Pending, str]] = []
        try:
            async with asyncio.timeout(self._timeout):
                pool = await self._ready()
                async with pool.connection() as conn, conn.transaction():
                    head = await _lock_head(conn)
                    # Taken only now that the batch holds the head lock: a
                    # caller that gave up while the lock was busy is left out.
                    live = [(p, d) for p, d in ready if not p.future.done()]
                    stored = await _append(conn, head, [(p.record, d) for p, d in live])
        except Exception as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            for pending, _ in ready:
                message = f"consent log write failed ({self._name}): {reason}"
                _fail(pending.future, StorageError(message), exc)
            return
        if live:
            self._commits += 1
        for (pending, _), record in zip(live, stored, strict=True):
            if not pending.future.done():
                pending.future.set_result(record)


@dataclasses.dataclass(frozen=True, slots=True)
class _PruneChunk:
    """One prune transaction: delete the next rows below ``boundary``, move the checkpoint."""

    boundary: int
    checkpoint_id: int | None
    started: datetime
    cutoff: datetime

    async def run(self, conn: _Conn) -> tuple[int, int | None]:
        async with conn.transaction():
            last = (
                await (
                    await conn.execute(
                        "SELECT sequence, hash FROM consent_records WHERE sequence < %s "
                        "ORDER BY sequence LIMIT 1 OFFSET %s",
                        (self.boundary, _PRUNE_CHUNK - 1),
                    )
                ).fetchone()
                or await (
                    await conn.execute(
                        "SELECT sequence, hash FROM consent_records WHERE sequence < %s "
                        "ORDER BY sequence DESC LIMIT 1",
                        (self.boundary,),
                    )
                ).fetchone()
            )
            if last is None:
                return 0, self.checkpoint_id
            sequence, hash_ = last
            cursor = await conn.execute(
                "DELETE FROM consent_records WHERE sequence <= %s", (sequence,)
            )
            deleted = cursor.rowcount
            if self.checkpoint_id is None:
                row = await (
                    await conn.execute(
                        "INSERT INTO checkpoints (sequence, hash, deleted, time, pruned_before) "
                        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                        (sequence, hash_, deleted, self.started, self.cutoff),
                    )
                ).fetchone()
                if row is None:
                    raise _BrokenLog("INSERT ... RETURNING returned no row")
                return deleted, int(row[0])
            await conn.execute(
                "UPDATE checkpoints SET sequence = %s, hash = %s, deleted = deleted + %s "
                "WHERE id = %s",
                (sequence, hash_, deleted, self.checkpoint_id),
            )
        return deleted, self.checkpoint_id


def _display_name(params: dict[str, Any]) -> str:
    """The URL again, without password or options, for messages and reprs."""
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{host}{port}/{params.get('dbname') or ''}"


def _fail(future: asyncio.Future[ConsentRecord], error: StorageError, cause: BaseException) -> None:
    """Fail one caller, unless it already gave up; each gets its own exception object."""
    error.__cause__ = cause
    if not future.done():
        future.set_exception(error)


def _aware(time: datetime) -> datetime:
    format_time(time)  # raises ValueError for a naive time, as the SQLite log does
    return time


def _filter(
    since: datetime | None, until: datetime | None, consent_id: str | None
) -> tuple[str, list[Any]]:
    return records_filter(
        since, until, consent_id, not_erased="NOT erased", placeholder="%s", time_param=_aware
    )


async def _has_log(conn: _Conn) -> bool:
    cursor = await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    row = await cursor.fetchone()
    return bool(row and row[0])


async def _migrate(conn: _Conn) -> int:
    """Bring the schema up to the newest version, in one transaction; returns it.

    An advisory lock makes app processes that start together take turns.
    """
    async with conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = 0")
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        row = await (await conn.execute("SELECT max(version) FROM schema_version")).fetchone()
        current: int = (row[0] if row else None) or 0
        if current > SCHEMA_VERSION:
            raise _BrokenLog(
                f"the database has schema version {current}, newer than the "
                f"{SCHEMA_VERSION} this consentgate understands; upgrade consentgate"
            )
        for migration in _MIGRATIONS[current:]:
            for statement in migration:
                await conn.execute(statement)
        if current < SCHEMA_VERSION:
            await conn.execute("DELETE FROM schema_version")
            await conn.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,)
            )
    return SCHEMA_VERSION


def _check(record: ConsentRecord) -> str:
    """The record's content digest, once it is clear the database will take the record.

    Runs before the batch's transaction, so a bad record fails only its own caller.
    """
    texts = (
        record.consent_id,
        record.policy_version,
        record.language,
        record.text_fingerprint,
        record.user_agent or "",
        record.ip or "",
    )
    if any("\x00" in text for text in texts):
        raise ValueError("PostgreSQL text cannot hold the NUL character")
    return _check_fields(record)


async def _lock_head(conn: _Conn) -> tuple[int, str]:
    """The end of the chain, locked until the transaction ends (see "Chain order")."""
    row = await (
        await conn.execute("SELECT sequence, hash FROM consent_head WHERE id = 1 FOR UPDATE")
    ).fetchone()
    if row is None:
        raise _BrokenLog("the chain's head row is missing from consent_head")
    return int(row[0]), str(row[1])


async def _append(
    conn: _Conn, head: tuple[int, str], items: Sequence[tuple[ConsentRecord, str]]
) -> list[ConsentRecord]:
    """Chain ``(record, content digest)`` pairs onto the locked head and move it on."""
    if not items:
        return []
    sequence, prev_hash = head
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
    async with conn.cursor() as cursor:
        await cursor.executemany(_INSERT, [_row(record) for record in stored])
        await cursor.execute(
            "UPDATE consent_head SET sequence = %s, hash = %s WHERE id = 1", (sequence, prev_hash)
        )
    return stored


def _to_records(rows: list[tuple[Any, ...]]) -> list[ConsentRecord]:
    try:
        return [_to_record(row) for row in rows]
    except (TypeError, ValueError) as exc:
        raise _BrokenLog(f"malformed consent record: {exc}") from exc


def _to_link(row: Sequence[Any]) -> ChainLink:
    return link_from_row(row, _to_record)


def _to_record(row: Sequence[Any]) -> ConsentRecord:
    time = row[2]
    if not isinstance(time, datetime):
        raise TypeError(f"time is {time!r}, not a timestamp")
    return record_from_row(row, time)


def _to_checkpoint(row: Sequence[Any] | None) -> Checkpoint | None:
    if row is None:
        return None
    sequence, hash_, deleted, time, before = row
    return Checkpoint(sequence=sequence, hash=hash_, deleted=deleted, time=time, before=before)


def _row(record: ConsentRecord) -> tuple[Any, ...]:
    """A stored record as the values of ``_RECORD_COLUMNS``."""
    return record_row(record, record.time)
