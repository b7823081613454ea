"""Exporting the consent log as CSV or JSON Lines: one encoding for the CLI and the HTTP route.

Columns, in this order: ``sequence``, ``time``, ``consent_id``, ``action``,
``granted``, ``refused``, ``providers``, ``policy_version``, ``language``,
``source``, ``text_fingerprint``, ``user_agent``, ``ip``, ``prev_hash``, ``hash``,
``gpc``, ``revisions`` (columns added later go last, so that readers of the earlier
columns by position keep working).

- ``time`` is ISO 8601 in UTC with microseconds (``2024-05-01T12:30:15.123456Z``).
- ``granted`` and ``refused`` are JSON arrays of category names, ``providers``
  of the provider names allowed one by one: in JSON Lines real arrays, in CSV
  the array's text (``["marketing","statistics"]``), which no name can make
  ambiguous.
- ``user_agent`` and ``ip`` are empty (CSV) or ``null`` (JSON Lines) when the
  site does not record them.
- ``revisions`` is a JSON object of each granted category's revision (the SHA-256
  of what it showed, whose content ``consentgate export --texts`` gives): in JSON
  Lines a real object, in CSV its text (``{"statistics":"5b0c..."}``); ``{}`` for
  a record granting nothing, or written before revisions.
- ``gpc`` is ``true`` when the visitor's browser sent Global Privacy Control
  with the choice, else ``false``: JSON booleans, in CSV their text.
- CSV is RFC 4180: a header row, CRLF line ends, and every field but
  ``sequence`` in double quotes (``"`` doubled inside), so a comma, quote or
  line break in a user agent cannot shift a column.
- A CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return (:data:`FORMULA_STARTS`) is written with a ``'`` before it, so that a
  spreadsheet shows a user agent (or anything a tamperer wrote) as text instead
  of running it as a formula (OWASP's advice on CSV injection). JSON Lines
  stays exactly as stored.

Erased records are left out: their tombstones keep nothing but hashes. The
export streams page by page, so memory stays constant however large the log.
Every log writes its pages with ``ConsentLog.export_lines``: by default from
its records with :func:`csv_lines` and :func:`json_lines`; the SQL stores let
the database write the lines, byte for byte the same, which spares building a
record object per row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, Literal, get_args

from ._chain import format_time
from ._record import RECORD_COLUMNS, ConsentRecord, record_row

if TYPE_CHECKING:
    from ._base import ConsentLog

__all__ = [
    "CSV_HEADER",
    "EXPORT_COLUMNS",
    "FORMATS",
    "FORMULA_FREE_COLUMNS",
    "FORMULA_STARTS",
    "MEDIA_TYPES",
    "ExportFormat",
    "csv_lines",
    "export_chunks",
    "export_object",
    "json_lines",
    "parse_when",
]

#: Columns added after the export was released, in the order they came: they go last.
_LATER_COLUMNS = ("gpc", "revisions")
#: The record's columns with ``time`` first, as an auditor reads them, and those that
#: came later last; no encoding version.
EXPORT_COLUMNS = (
    "sequence",
    "time",
    "consent_id",
    *(c for c in RECORD_COLUMNS[3:-1] if c not in _LATER_COLUMNS),
    *_LATER_COLUMNS,
)

#: What a spreadsheet takes a cell starting with for a formula: such a CSV cell gets a ``'``.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Columns no stored value of can start like that (a number, a time, the schema's words):
#: the stores' SQL writers spare them the check.
FORMULA_FREE_COLUMNS = ("sequence", "time", "action", "source")

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

#: Records a page holds: big pages keep the cost per page small, and memory stays bounded.
DEFAULT_PAGE = 10_000


def csv_lines(records: Iterable[ConsentRecord]) -> str:
    """The records as CSV lines: ``sequence`` bare, every other field quoted, CRLF."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n").writerows(
        _csv_row(record) for record in records
    )
    return buffer.getvalue()


def json_lines(records: Iterable[ConsentRecord]) -> str:
    """The records as JSON Lines, one object per record with the keys of ``EXPORT_COLUMNS``."""
    return "".join(
        json.dumps(export_object(record), ensure_ascii=False, separators=(",", ":")) + "\n"
        for record in records
    )


def export_object(record: ConsentRecord) -> dict[str, Any]:
    """One record as JSON Lines (and a visitor's own download) give it: the keys of
    ``EXPORT_COLUMNS``, in their order."""
    return {
        "sequence": record.sequence,
        "time": format_time(record.time),
        "consent_id": record.consent_id,
        "action": record.action,
        "granted": list(record.granted),
        "refused": list(record.refused),
        "providers": list(record.providers),
        "policy_version": record.policy_version,
        "language": record.language,
        "source": record.source,
        "text_fingerprint": record.text_fingerprint,
        "user_agent": record.user_agent,
        "ip": record.ip,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        "gpc": record.gpc,
        "revisions": dict(record.revisions),
    }


async def export_chunks(
    log: ConsentLog,
    format: ExportFormat,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    consent_id: str | None = None,
    batch_size: int = DEFAULT_PAGE,
    on_page: Callable[[int], object] | None = None,
) -> AsyncIterator[str]:
    """The records with ``since <= time < until`` (of one visitor) as text, a page per chunk.

    A CSV export starts with the header row; an empty log gives just that.
    ``on_page`` is told how many records each chunk holds, e.g. for a progress bar.
    """
    if format == "csv":
        yield CSV_HEADER
    pages = log.export_lines(
        format, since=since, until=until, consent_id=consent_id, batch_size=batch_size
    )
    async for count, lines in pages:
        if on_page is not None:
            on_page(count)
        yield lines


def parse_when(text: str) -> datetime:
    """A ``--since``/``--until`` value: an ISO 8601 date (midnight UTC) or date and time.

    A time without an offset is taken as UTC. Raises ValueError with a hint.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time; use e.g. 2024-05-01, "
            "2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00"
        ) from None
    return when.replace(tzinfo=UTC) if when.utcoffset() is None else when.astimezone(UTC)


def _csv_row(record: ConsentRecord) -> tuple[Any, ...]:
    """The stored columns in the export's order: ``time`` before ``consent_id``, ``gpc``
    and ``revisions`` last, no version."""
    row = record_row(record, format_time(record.time))
    sequence, consent_id, when, *rest = (row[column] for column in _CSV_PLACES)
    return (
        sequence,
        when,
        *map(_defused, (consent_id, *rest)),
        _BOOLEANS[record.gpc],
        _defused(row[_REVISIONS]),
    )


#: Where ``record_row`` has each of the CSV's cells but the later ones.
_CSV_PLACES = tuple(
    place for place, c in enumerate(RECORD_COLUMNS) if c not in (*_LATER_COLUMNS, "chain_version")
)
_REVISIONS = RECORD_COLUMNS.index("revisions")
_BOOLEANS = {True: "true", False: "false"}


def _defused(cell: str | None) -> str | None:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + cell if cell and cell.startswith(FORMULA_STARTS) else cell


CSV_HEADER = ",".join(f'"{column}"' for column in EXPORT_COLUMNS) + "\r\n"
