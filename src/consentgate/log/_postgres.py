"""The PostgreSQL consent log, which many app processes and machines share: the core's dialect.

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

As in the core (``_core``): one writer task per log takes up to ``max_batch``
waiting records into one transaction (one head lock, one WAL flush), and
answers each caller only after COMMIT has returned (``synchronous_commit=on``
is set on every connection, whatever the server's default). ``max_batch=1`` is
one commit per record, for benchmarks to compare with.

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
import functools
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._exceptions import ConfigurationError, StorageError
from . import _schema
from ._chain import GENESIS_HASH
from ._core import (
    MAX_BATCH,
    BrokenLog,
    ChainedLog,
    Execute,
    Fetch,
    Step,
    Steps,
    Transaction,
    answer,
    drive_async,
)
from ._export import EXPORT_COLUMNS, FORMULA_FREE_COLUMNS, FORMULA_STARTS
from ._record import ConsentRecord

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    _Conn: TypeAlias = AsyncConnection[tuple[Any, ...]]
    _Pool: TypeAlias = AsyncConnectionPool[_Conn]

__all__ = ["SCHEMA_VERSION", "PostgresConsentLog", "require_driver"]

_T = TypeVar("_T")

#: Connections each log may hold: one writes, the rest read.
_POOL_SIZE = 4
#: ``pg_advisory_xact_lock`` key that serialises schema migrations ("consentg").
_MIGRATION_LOCK = 0x636F6E73656E7467

_EXTRA_HINT = (
    "install the PostgreSQL driver with: pip install consentgate[postgres] "
    "(and psycopg[binary] where libpq is not installed)"
)

_TYPES = _schema.Types(
    integer="bigint",
    serial="bigserial",
    text="text",
    time="timestamptz",
    flag="boolean",
    binary="bytea",
)

_V1: tuple[str, ...] = (
    _schema.records_table("consent_records", _TYPES),
    _schema.CONSENT_ID_INDEX,
    _schema.checkpoints_table(_TYPES),
    _schema.head_table(_TYPES),
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
#: Version 3: a keyed chain's head carries its MAC.
_V3: tuple[str, ...] = (_schema.head_mac_column(_TYPES),)
#: Version 4: whether the visitor's browser sent Global Privacy Control with the choice,
#: and canonical encoding version 3, which holds it. The default lets a writer of the
#: previous release append its records meanwhile; only tombstones are rewritten.
_V4: tuple[str, ...] = (
    "ALTER TABLE consent_records ADD COLUMN gpc boolean DEFAULT false",
    "UPDATE consent_records SET gpc = NULL WHERE erased",
    "ALTER TABLE consent_records ADD CONSTRAINT consent_records_gpc_check CHECK "
    "((gpc IS NULL) = erased), "
    "DROP CONSTRAINT consent_records_chain_version_check, "
    "ADD CONSTRAINT consent_records_chain_version_check CHECK (chain_version IN (1, 2, 3))",
)
#: Version 5: each granted category's revision (canonical encoding version 4), and the
#: texts table, what the revisions and text fingerprints are digests of. The default
#: lets a writer of the previous release append its records meanwhile; only tombstones
#: are rewritten.
_V5: tuple[str, ...] = (
    "ALTER TABLE consent_records ADD COLUMN revisions text DEFAULT '{}'",
    "UPDATE consent_records SET revisions = NULL WHERE erased",
    "ALTER TABLE consent_records ADD CONSTRAINT consent_records_revisions_check CHECK "
    "((revisions IS NULL) = erased), "
    "DROP CONSTRAINT consent_records_chain_version_check, "
    "ADD CONSTRAINT consent_records_chain_version_check CHECK (chain_version IN (1, 2, 3, 4))",
    _schema.texts_table(_TYPES, "bytea"),
)
#: Version 6: RFC 3161 tokens of the head, from ``anchor_tsa_url``.
_V6: tuple[str, ...] = (_schema.timestamps_table(_TYPES),)

#: ``time`` as ``_chain.format_time`` writes it, whatever the session's time zone.
_UTC_TIME = "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#: A record as the CSV line ``_export.csv_lines`` writes: the sequence bare, every other
#: column in double quotes with ``"`` doubled, absent values empty, CRLF, and a ``'``
#: before a cell a spreadsheet would take for a formula. The category lists are the
#: JSON text stored, which is what ``csv_lines`` writes.
_FORMULA = ", ".join(f"chr({ord(start)})" for start in FORMULA_STARTS)


def _or_empty(column: str) -> str:
    """An optional column's value, or nothing; a required one as it is (NULL: no line)."""
    return f"coalesce({column}, '')" if column in ("user_agent", "ip") else column


_CSV_LINE = (
    "sequence::text || ',\"' || "
    + " || '\",\"' || ".join(
        _UTC_TIME
        if column == "time"
        else "CASE WHEN gpc THEN 'true' ELSE 'false' END"
        if column == "gpc"
        else f"replace({column}, '\"', '\"\"')"
        if column in FORMULA_FREE_COLUMNS
        else f"CASE WHEN left({column}, 1) IN ({_FORMULA}) THEN '''' ELSE '' END"
        f" || replace({_or_empty(column)}, '\"', '\"\"')"
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


def _json_revisions(column: str) -> str:
    """Stored revisions (an object of strings) as ``json.dumps(..., ensure_ascii=False)``
    writes them: as stored, but where a category goes beyond ASCII, as for category lists."""
    rewritten = (
        "coalesce((SELECT '{' || string_agg(to_json(key)::text || ':' || to_json(value)::text, "
        f"',' ORDER BY place) || '}}' FROM json_each_text({column}::json) WITH ORDINALITY "
        "AS revision(key, value, place)), '{}')"
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
    if column == "revisions":
        return _json_revisions(column)
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


class PostgresConsentLog(ChainedLog):
    """A consent log in a PostgreSQL database, shared by any number of app processes.

    ``url`` is a libpq URL (``postgresql://user:password@host:5432/dbname``,
    query parameters such as ``sslmode`` included; ``options=-csearch_path%3Dname``
    puts the tables in another schema). Nothing connects until first use,
    which also creates or migrates the schema. ``max_batch`` caps the records
    of one group commit (1 turns group commit off); ``pool_size`` caps the
    connections this log holds.

    .. versionadded:: 0.1
    """

    migrations = (_V1, _V2, _V3, _V4, _V5, _V6)
    line_sql = {"csv": _CSV_LINE, "jsonl": _JSON_LINE}
    lock_clause = " FOR UPDATE"
    revision_values = (
        "SELECT revision.value FROM consent_records AS record, "
        "json_each_text(record.revisions::json) AS revision "
        "WHERE record.revisions IS NOT NULL AND record.revisions <> '{}'"
    )

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        max_batch: int = MAX_BATCH,
        pool_size: int = _POOL_SIZE,
        chain_key: str | bytes | None = None,
    ) -> None:
        require_driver()
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        super().__init__(timeout=timeout, max_batch=max_batch, chain_key=chain_key)
        if pool_size < 2:
            raise ConfigurationError("pool_size", "must be at least 2: one writes, one reads")
        try:
            params = conninfo_to_dict(url)
        except ProgrammingError as exc:
            raise ConfigurationError("store", f"not a valid PostgreSQL URL: {exc}") from exc
        self._url = url
        self._name = _display_name(params)
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
        self._writer: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The database as ``postgresql://user@host:port/dbname``, without the password."""
        return self._name

    async def has_log(self) -> bool:
        """Whether the database holds a consent log already; creates nothing."""
        check = _fetch_one("SELECT to_regclass('schema_version') IS NOT NULL")
        return bool(await self._run(check, "read", transaction="none", migrate=False))

    def _refuse(self, record: ConsentRecord) -> None:
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

    def _before_migrating(self) -> Steps[None]:
        """App processes that start together take turns; a big upgrade may take its time."""
        yield Execute("SET LOCAL statement_timeout = 0")
        yield Fetch("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    async def _run(
        self,
        steps: Steps[_T],
        verb: str,
        *,
        transaction: Transaction,
        bounded: bool = True,
        migrate: bool = True,
    ) -> _T:
        """Run ``steps`` on a pooled connection, within the timeout; StorageError on failure."""
        import psycopg

        if self._closed:
            raise self._closed_error(verb)
        try:
            async with asyncio.timeout(self._timeout if bounded else None):
                return await self._drive(steps, transaction, migrate=migrate)
        except TimeoutError as exc:
            raise StorageError(
                f"consent log {verb} timed out after {self._timeout:g}s ({self._name})"
            ) from exc
        except (psycopg.Error, OSError, BrokenLog) as exc:
            raise StorageError(f"consent log {verb} failed ({self._name}): {exc}") from exc

    async def _drive(
        self, steps: Steps[_T], transaction: Transaction, *, migrate: bool = True
    ) -> _T:
        pool = await self._ready(migrate=migrate)
        async with pool.connection() as conn, _transaction(conn, transaction):
            return await drive_async(steps, functools.partial(_step, conn))

    async def _close(self) -> None:
        # Records already queued are written first: their callers are waiting.
        if self._writer is not None:
            await asyncio.shield(self._writer)
        if self._pool is not None:
            await self._pool.close()

    # -- group commit ---------------------------------------------------------------------

    def _start_writer(self) -> None:
        self._writer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        """Write batches while records wait; one writer task per log at a time."""
        try:
            while batch := self._next_batch():
                try:
                    await self._write(batch)
                finally:
                    answer(batch)
        finally:
            self._writer = None
            # Cancelled (its loop is closing): the next record starts a new writer.
            self._writer_stopped()

    async def _write(self, batch: list[Any]) -> None:
        """One transaction for the whole batch; each caller is answered after COMMIT."""
        ready = self._prepare(batch)
        if not ready:
            return
        try:
            async with asyncio.timeout(self._timeout):
                written = await self._drive(self._append_batch(ready), "write")
        except Exception as exc:
            self._batch_failed(ready, exc)
            return
        self._batch_written(written)

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
                async with self._pool.connection() as conn, _transaction(conn, "write"):
                    await drive_async(self._migrate(), functools.partial(_step, conn))
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


@asynccontextmanager
async def _transaction(conn: _Conn, transaction: Transaction) -> AsyncIterator[None]:
    if transaction == "none":
        yield
        return
    async with conn.transaction():
        if transaction == "snapshot":
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@functools.lru_cache(maxsize=128)
def _dialect(sql: str) -> bytes:
    """A statement of the core's with psycopg's placeholders."""
    return sql.replace("?", "%s").encode()


async def _step(conn: _Conn, step: Step) -> Any:
    if isinstance(step, Fetch):
        cursor = await conn.execute(_dialect(step.sql), step.params or None)
        return await cursor.fetchall()
    if isinstance(step, Execute):
        cursor = await conn.execute(_dialect(step.sql), step.params or None)
        return cursor.rowcount
    async with conn.cursor() as cursor:
        await cursor.executemany(_dialect(step.sql), step.rows)
    return None


def _fetch_one(sql: str) -> Steps[Any]:
    rows = yield Fetch(sql)
    return rows[0][0] if rows else None


def _display_name(params: dict[str, Any]) -> str:
    """The URL again, without password or options, for messages and reprs."""
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{host}{port}/{params.get('dbname') or ''}"


SCHEMA_VERSION = len(PostgresConsentLog.migrations)
