"""The consent record, the interface every consent log implements, and ``open_log``.

The log is the site owner's proof of consent (GDPR Art. 7(1)): the
middleware answers a visitor's choice only after :meth:`ConsentLog.record`
has returned, so a backend must not return before the record is durable.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias

from .._exceptions import ConfigurationError
from ._chain import (
    ChainReport,
    ChainVerifier,
    Checkpoint,
    Tombstone,
    UnreadableRecord,
    encoding_version,
)

__all__ = ["Action", "ChainLink", "ConsentLog", "ConsentRecord", "Source", "open_log"]

#: ``"allow"``: the visitor allowed providers one by one (e.g. to load an embed),
#: which answers nothing about the categories.
Action = Literal["grant", "update", "reject", "withdraw", "erase", "allow"]
#: Where the choice was made; ``"gpc"`` is a Global Privacy Control signal taken as a
#: refusal, ``"embed"`` a click-to-load placeholder.
Source = Literal["banner", "preferences", "api", "gpc", "embed"]

#: How many chain links ``verify`` checks per hop off the event loop.
_VERIFY_PAGE = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsentRecord:
    """One choice one visitor made, as it is kept for proof.

    ``time`` is normalised to UTC and ``granted``/``refused``/``providers`` to
    sorted tuples, so that equal choices are stored (and later hashed) identically.
    """

    consent_id: str
    time: datetime
    action: Action
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    #: The providers allowed one by one, beside the granted categories, after this choice.
    providers: tuple[str, ...] = ()
    policy_version: str
    language: str
    source: Source
    #: Hex SHA-256 of the exact texts the visitor was shown.
    text_fingerprint: str
    #: Position in the log; ``None`` until the log has stored the record.
    sequence: int | None = None
    #: Off by default; when on, reduced by ``minimise_user_agent`` (truncated or hashed).
    user_agent: str | None = None
    #: Off by default; when on, reduced by ``truncate_ip`` to its /24 or /48 network.
    ip: str | None = None
    #: The predecessor's ``hash``; set by the log when it stores the record.
    prev_hash: str | None = None
    #: SHA-256 of the record and its place in the chain (see ``_chain``); set by the log.
    hash: str | None = None

    def __post_init__(self) -> None:
        time = self.time
        if time.tzinfo is not UTC:
            if time.utcoffset() is None:
                raise ValueError("ConsentRecord.time must be timezone-aware")
            object.__setattr__(self, "time", time.astimezone(UTC))
        granted, refused = tuple(sorted(self.granted)), tuple(sorted(self.refused))
        object.__setattr__(self, "granted", granted)
        object.__setattr__(self, "refused", refused)
        object.__setattr__(self, "providers", tuple(sorted(self.providers)))
        if granted and refused and not set(granted).isdisjoint(refused):
            both = sorted(set(granted) & set(refused))
            raise ValueError(f"categories both granted and refused: {both}")


def records_filter(
    since: datetime | None,
    until: datetime | None,
    consent_id: str | None,
    *,
    not_erased: str,
    placeholder: str,
    time_param: Callable[[datetime], Any],
) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters for the records a reader or an export asks for.

    One statement of which records those are, for every store; ``not_erased``,
    ``placeholder`` and ``time_param`` say it in the store's SQL.
    """
    where, params = [not_erased], []
    if since is not None:
        where.append(f"time >= {placeholder}")
        params.append(time_param(since))
    if until is not None:
        where.append(f"time < {placeholder}")
        params.append(time_param(until))
    if consent_id is not None:
        where.append(f"consent_id = {placeholder}")
        params.append(consent_id)
    return " AND ".join(where), params


def placed(record: ConsentRecord, *, sequence: int, prev_hash: str, hash: str) -> ConsentRecord:
    """``record`` with its place in the chain, as a log stores it.

    Like ``dataclasses.replace``, without normalising and checking the record
    again: a log's writer does this for every record, under the write lock.
    """
    stored = object.__new__(ConsentRecord)
    for name in _RECORD_FIELDS:
        object.__setattr__(stored, name, getattr(record, name))
    object.__setattr__(stored, "sequence", sequence)
    object.__setattr__(stored, "prev_hash", prev_hash)
    object.__setattr__(stored, "hash", hash)
    return stored


_PLACE = ("sequence", "prev_hash", "hash")
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(ConsentRecord) if f.name not in _PLACE)


#: What a walk along the chain meets: a checkpoint first if the log was pruned, then
#: records and tombstones in sequence order, and rows too damaged to read.
ChainLink: TypeAlias = ConsentRecord | Tombstone | Checkpoint | UnreadableRecord


#: A sequence before every stored one: where a walk along the log starts.
BEFORE_ALL = -(2**63)

#: One page of a walk along the chain: the newest checkpoint, the links after a
#: sequence, and the last sequence on the page.
ChainPage: TypeAlias = tuple[Checkpoint | None, list[ChainLink], int]


async def walk_chain(
    read_page: Callable[[int], Awaitable[ChainPage]], batch_size: int
) -> AsyncIterator[ChainLink]:
    """Every link of the chain, a page at a time: what ``iter_chain`` yields.

    ``read_page(after)`` reads a page together with the newest checkpoint from one
    snapshot, so a prune that overtakes the walk shows up as a checkpoint ahead
    of it, not as a gap.
    """
    after, anchor = BEFORE_ALL, None
    while True:
        checkpoint, links, last = await read_page(after)
        if checkpoint is not None and checkpoint.sequence > after and checkpoint != anchor:
            anchor = checkpoint
            yield checkpoint
        for link in links:
            yield link
        if len(links) < batch_size:
            return
        after = last


def erase_request(consent_id: str) -> ConsentRecord:
    """The ``"erase"`` record a log appends when it erases ``consent_id``.

    It keeps the consent id and the time, as proof the request was honoured; it
    carries no choice, texts, user agent or address.
    """
    return ConsentRecord(
        consent_id=consent_id,
        time=datetime.now(UTC),
        action="erase",
        granted=(),
        refused=(),
        policy_version="",
        language="",
        source="api",
        text_fingerprint="",
    )


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


@functools.lru_cache(maxsize=256)
def format_categories(categories: tuple[str, ...]) -> str:
    """A category list as the logs store it (compact JSON, ASCII) and CSV exports it.

    Cached: a site's records repeat a few combinations of categories.
    """
    return _COMPACT_JSON.encode(categories)


#: How many values ``record_row`` gives: the columns every store keeps per record.
RECORD_WIDTH = 16


def record_row(record: ConsentRecord, time: Any) -> tuple[Any, ...]:
    """A stored record as the values of the 16 record columns; ``time`` as the store keeps it.

    The last, ``chain_version``, is the canonical encoding its hash was computed
    with; a record's follows from its content, a tombstone keeps it.
    """
    return (
        record.sequence,
        record.consent_id,
        time,
        record.action,
        format_categories(record.granted),
        format_categories(record.refused),
        record.policy_version,
        record.language,
        record.source,
        record.text_fingerprint,
        record.user_agent,
        record.ip,
        format_categories(record.providers),
        record.prev_hash,
        record.hash,
        encoding_version(record),
    )


def record_from_row(row: Sequence[Any], time: datetime) -> ConsentRecord:
    """A stored record from the values of the 16 record columns; ``time`` already read.

    Raises TypeError or ValueError for a row that holds no record.
    """
    (
        sequence,
        consent_id,
        _,
        action,
        granted,
        refused,
        policy,
        language,
        source,
        text,
        user_agent,
        ip,
        providers,
        prev_hash,
        hash_,
        _,
    ) = row
    return ConsentRecord(
        consent_id=consent_id,
        time=time,
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
        prev_hash=prev_hash,
        hash=hash_,
    )


def link_from_row(
    row: Sequence[Any], to_record: Callable[[Sequence[Any]], ConsentRecord]
) -> ChainLink:
    """A stored row as the verifier sees it; a damaged row becomes an UnreadableRecord.

    Rows are the 16 record columns (``to_record`` reads those), then ``erased``
    and the two digests a tombstone keeps.
    """
    sequence, erased, id_digest, digest = row[0], row[-3], row[-2], row[-1]
    if erased:
        if id_digest is None or digest is None:
            return UnreadableRecord(sequence=sequence, reason="erased without its digests")
        return Tombstone(
            sequence=sequence,
            prev_hash=row[13],
            hash=row[14],
            consent_id_digest=id_digest,
            content_digest=digest,
            version=row[15],
        )
    try:
        return to_record(row[:RECORD_WIDTH])
    except (TypeError, ValueError) as exc:
        return UnreadableRecord(sequence=sequence, reason=str(exc))


class ConsentLog(abc.ABC):
    """Where consent records are kept.

    Every failure surfaces as ``StorageError``, so the middleware can refuse
    to confirm a choice it could not prove later. Beyond the three abstract
    methods, a backend offers reading, verification, pruning and erasure by
    overriding the defaults below, which a minimal log may leave alone.
    """

    @abc.abstractmethod
    async def record(self, record: ConsentRecord) -> ConsentRecord:
        """Store ``record`` durably; return it with ``sequence``, ``prev_hash`` and ``hash`` set."""

    @abc.abstractmethod
    async def history(self, consent_id: str) -> list[ConsentRecord]:
        """All records of one visitor, oldest first."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the backend; safe to call more than once."""

    async def migrate(self) -> int:
        """Create or upgrade the schema and return its version; 0 for a log without one."""
        return 0

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

        Erased records are left out. Backends read ``batch_size`` records at a
        time, so exporting a huge log takes constant memory.
        """

    def iter_chain(self, *, batch_size: int = 1000) -> AsyncIterator[ChainLink]:
        """The whole chain as stored, for verification and verifiable export.

        A backend that neither prunes nor erases has nothing but records.
        """
        return self.iter_records(batch_size=batch_size)

    async def verify(self) -> ChainReport:
        """Walk the chain and report its first broken link.

        Hashing runs off the event loop, a page at a time, so a running app can
        verify its own log; memory stays constant.
        """
        verifier = ChainVerifier()
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

    @abc.abstractmethod
    async def prune(self, before: datetime) -> int:
        """Delete records older than ``before``, keeping the chain verifiable; returns the count."""

    @abc.abstractmethod
    async def erase(self, consent_id: str) -> int:
        """Erase a visitor's records (GDPR Art. 17), keeping the chain verifiable.

        Returns how many records were erased.
        """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_EXAMPLES = (
    'use "sqlite:///consentgate.db" (relative to the working directory), '
    '"sqlite:////var/lib/app/consentgate.db" (absolute), "sqlite:///:memory:" '
    'or "postgresql://user:password@host/dbname"'
)
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_log(url: str, *, timeout: float = 5.0) -> ConsentLog:
    """Make the consent log that ``url`` names, without opening it yet.

    Nothing touches the filesystem or the network here, because this runs
    when the app is configured; the database is opened (and created or
    migrated) on first use.
    """
    target = check_store_url(url)
    if _is_postgres(url):
        from ._postgres import PostgresConsentLog

        return PostgresConsentLog(target, timeout=timeout)
    from ._sqlite import SQLiteConsentLog

    return SQLiteConsentLog(target, timeout=timeout)


def check_store_url(url: str) -> str:
    """Check a consent log URL without opening the log; returns what its backend takes.

    That is the database path of a ``sqlite:///<path>`` URL (``:memory:``
    included), or the libpq URL of a ``postgresql://`` (or ``postgres://``)
    one, its scheme in lower case. Raises ConfigurationError for anything
    else, and for a PostgreSQL URL when the ``postgres`` extra is missing.
    """
    if "://" not in url:
        raise ConfigurationError("store", f"{url!r} is not a consent log URL; {_EXAMPLES}")
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme.partition("+")[0] in _POSTGRES_SCHEMES:
        return _check_postgres_url(scheme, rest)
    if scheme != "sqlite":
        raise ConfigurationError(
            "store", f"unsupported consent log URL scheme {scheme!r}; {_EXAMPLES}"
        )
    if rest and not rest.startswith("/"):
        raise ConfigurationError(
            "store", f"{url!r} names a host, but SQLite URLs take none; {_EXAMPLES}"
        )
    path = rest[1:]
    if not path:
        raise ConfigurationError("store", f"{url!r} has no database path; {_EXAMPLES}")
    if "?" in path or "#" in path:
        raise ConfigurationError(
            "store", f"{url!r} has a query or fragment, which is not supported; {_EXAMPLES}"
        )
    return path


def _is_postgres(url: str) -> bool:
    return url.partition("://")[0].lower() in _POSTGRES_SCHEMES


def _check_postgres_url(scheme: str, rest: str) -> str:
    """Parse a PostgreSQL URL as libpq would, without connecting; never echo its password."""
    if scheme not in _POSTGRES_SCHEMES:
        raise ConfigurationError(
            "store",
            f"{scheme!r}: consentgate talks to PostgreSQL through psycopg itself, so name no "
            'driver; use "postgresql://user:password@host/dbname"',
        )
    from ._postgres import require_driver

    require_driver()
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    url = f"{scheme}://{rest}"
    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as exc:
        problem = str(exc).strip()
    else:
        ports = str(params.get("port") or "5432").split(",")
        if all(port.isdigit() and 0 < int(port) < 65536 for port in ports):
            return url
        problem = f"port {params['port']!r} is no port number"
    raise ConfigurationError(
        "store",
        f'not a valid PostgreSQL URL ({problem}); use "postgresql://user:password@host:5432/dbname"',
    )
