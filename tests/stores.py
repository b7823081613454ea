"""The consent log backends, side by side, for the one store-independent test suite.

A :class:`Store` is one empty log of one backend for one test: ``open()``
makes a log object on it (as often as a test likes, e.g. to reopen it), and
``tamper``/``query`` reach the database behind the log's back, as someone
with write access could. SQL is written once with ``?`` placeholders, in
the dialect both SQLite and PostgreSQL understand.
"""

from __future__ import annotations

import abc
import itertools
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from consentgate.log import PostgresConsentLog, SQLiteConsentLog, _core, _postgres, _sqlite

__all__ = ["PostgresStore", "SQLiteStore", "Store"]


class Store(abc.ABC):
    """One empty consent log of one backend."""

    kind: str
    #: The store's module, for its ``SCHEMA_VERSION``.
    module: ModuleType
    #: The core both stores are built on, for its constants (``_PRUNE_CHUNK``, ``_ERASE``, ...).
    core = _core

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The store URL a ConsentConfig would name."""

    @abc.abstractmethod
    def open(self, **options: Any) -> SQLiteConsentLog | PostgresConsentLog:
        """A log object on this store (not opened yet)."""

    @abc.abstractmethod
    def fresh(self) -> Store:
        """Another empty log of the same backend."""

    @abc.abstractmethod
    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one statement on a connection of its own; its rows, if any."""

    def tamper(self, sql: str, *params: Any) -> None:
        self.query(sql, *params)

    @abc.abstractmethod
    def row(self, sequence: int) -> dict[str, Any]:
        """Every column of one stored row, by name."""

    @abc.abstractmethod
    def refuse_inserts(self, message: str) -> None:
        """Make every insert into the log fail with ``message``, as a broken disk would."""

    @abc.abstractmethod
    def allow_inserts(self) -> None:
        """Undo ``refuse_inserts``."""

    @abc.abstractmethod
    def write_locked(self) -> AbstractAsyncContextManager[None]:
        """A context in which another connection holds the log's write lock."""

    def ids(self) -> list[str]:
        """The consent ids of every stored row, in sequence order."""
        return [
            row[0] for row in self.query("SELECT consent_id FROM consent_records ORDER BY sequence")
        ]

    @property
    def schema_version(self) -> int:
        version: int = self.module.SCHEMA_VERSION
        return version

    #: The schema version each feature of the log came with, in this store.
    versions: dict[str, int]

    async def migrate_to(self, version: int) -> None:
        """Create the schema as it was at ``version``, as an earlier release left it."""
        log = self.open()
        setattr(log, "migrations", log.migrations[:version])  # noqa: B010
        async with log:
            assert await log.migrate() == version


class SQLiteStore(Store):
    kind = "sqlite"
    module = _sqlite
    versions = {"chain": 2, "providers": 3, "head": 4, "gpc": 5, "revisions": 6, "timestamps": 7}

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "log.db"
        self._fresh = itertools.count(1)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def open(self, **options: Any) -> SQLiteConsentLog:
        return SQLiteConsentLog(self.path, **options)

    def fresh(self) -> SQLiteStore:
        directory = self.directory / f"fresh-{next(self._fresh)}"
        directory.mkdir()
        return SQLiteStore(directory)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.path, isolation_level=None)) as conn:
            return conn.execute(sql, params).fetchall()

    def refuse_inserts(self, message: str) -> None:
        self.tamper(
            "CREATE TRIGGER refuse BEFORE INSERT ON consent_records "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )

    def allow_inserts(self) -> None:
        self.tamper("DROP TRIGGER refuse")

    @asynccontextmanager
    async def write_locked(self) -> AsyncIterator[None]:
        with closing(sqlite3.connect(self.path, isolation_level=None)) as other_writer:
            other_writer.execute("BEGIN IMMEDIATE")
            yield
            other_writer.execute("ROLLBACK")

    def row(self, sequence: int) -> dict[str, Any]:
        with closing(sqlite3.connect(self.path)) as conn:
            cursor = conn.execute("SELECT * FROM consent_records WHERE sequence = ?", (sequence,))
            names = [column[0] for column in cursor.description]
            return dict(zip(names, cursor.fetchone(), strict=True))


class PostgresStore(Store):
    """A log in a schema of its own, so tests share one server and one database."""

    kind = "postgresql"
    module = _postgres
    versions = {"chain": 1, "providers": 2, "head": 3, "gpc": 4, "revisions": 5, "timestamps": 6}
    _schemas = itertools.count(1)

    def __init__(self, database_url: str) -> None:
        import psycopg

        self.database_url = database_url
        self.schema = f"log_{next(self._schemas)}"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {self.schema}")

    @property
    def url(self) -> str:
        return f"{self.database_url}?options={quote(f'-csearch_path={self.schema}')}"

    def open(self, **options: Any) -> PostgresConsentLog:
        return PostgresConsentLog(self.url, **options)

    def fresh(self) -> PostgresStore:
        return PostgresStore(self.database_url)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s").encode(), params)
            return cursor.fetchall() if cursor.description else []

    def refuse_inserts(self, message: str) -> None:
        self.tamper(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        self.tamper(
            "CREATE TRIGGER refuse BEFORE INSERT ON consent_records "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )

    def allow_inserts(self) -> None:
        self.tamper("DROP TRIGGER refuse ON consent_records")

    @asynccontextmanager
    async def write_locked(self) -> AsyncIterator[None]:
        """Hold the chain's head row, as another app process's batch does."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url) as other:
            await other.execute("SELECT * FROM consent_head FOR UPDATE")
            yield
            await other.rollback()

    def row(self, sequence: int) -> dict[str, Any]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            row = conn.execute(
                "SELECT * FROM consent_records WHERE sequence = %s", (sequence,)
            ).fetchone()
            assert row is not None
            return row
