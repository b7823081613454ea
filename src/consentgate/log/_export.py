"""Exporting the consent log as CSV or JSON Lines: one encoding for the CLI and the HTTP route.

Columns, in this order: ``sequence``, ``time``, ``consent_id``, ``action``,
``granted``, ``refused``, ``providers``, ``policy_version``, ``language``,
``source``, ``text_fingerprint``, ``user_agent``, ``ip``, ``prev_hash``, ``hash``.

- ``time`` is ISO 8601 in UTC with microseconds (``2024-05-01T12:30:15.123456Z``).
- ``granted`` and ``refused`` are JSON arrays of category names, ``providers``
  of the provider names allowed one by one: in JSON Lines real arrays, in CSV
  the array's text (``["marketing","statistics"]``), which no name can make
  ambiguous.
- ``user_agent`` and ``ip`` are empty (CSV) or ``null`` (JSON Lines) when the
  site does not record them.
- CSV is RFC 4180: a header row, CRLF line ends, and every field but
  ``sequence`` in double quotes (``"`` doubled inside), so a comma, quote or
  line break in a user agent cannot shift a column. Values are exported as
  stored; a spreadsheet may still read a user agent starting with ``=`` as a
  formula, so import the file as text.

Erased records are left out: their tombstones keep nothing but hashes. The
export streams page by page, so memory stays constant however large the log.
A backend with an ``export_lines`` method (see :class:`LineSource`) writes the
lines itself, byte for byte as :func:`csv_lines` and :func:`json_lines` would,
which spares building a record object per row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from ._base import ConsentLog, ConsentRecord, record_row
from ._chain import format_time

__all__ = [
    "CSV_HEADER",
    "EXPORT_COLUMNS",
    "FORMATS",
    "MEDIA_TYPES",
    "Countable",
    "ExportFormat",
    "LineSource",
    "csv_lines",
    "export_chunks",
    "export_object",
    "json_lines",
    "parse_when",
]

EXPORT_COLUMNS = (
    "sequence",
    "time",
    "consent_id",
    "action",
    "granted",
    "refused",
    "providers",
    "policy_version",
    "language",
    "source",
    "text_fingerprint",
    "user_agent",
    "ip",
    "prev_hash",
    "hash",
)

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

#: Records a page holds: big pages keep the cost per page small, and memory stays bounded.
DEFAULT_PAGE = 10_000


@runtime_checkable
class LineSource(Protocol):
    """A log that writes its records' lines itself (no header): ``(records, text)`` pages."""

    def export_lines(
        self,
        format: ExportFormat,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
        batch_size: int = DEFAULT_PAGE,
    ) -> AsyncIterator[tuple[int, str]]: ...


@runtime_checkable
class Countable(Protocol):
    """A log that can count the records an export would give, e.g. for a progress bar."""

    async def count_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        consent_id: str | None = None,
    ) -> int: ...


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
    filters: dict[str, Any] = {"since": since, "until": until, "consent_id": consent_id}
    if format == "csv":
        yield CSV_HEADER
    if isinstance(log, LineSource):
        async for count, lines in log.export_lines(format, **filters, batch_size=batch_size):
            if on_page is not None:
                on_page(count)
            yield lines
        return
    encode = csv_lines if format == "csv" else json_lines
    page: list[ConsentRecord] = []
    async for record in log.iter_records(**filters, batch_size=batch_size):
        page.append(record)
        if len(page) >= batch_size:
            if on_page is not None:
                on_page(len(page))
            yield encode(page)
            page = []
    if page:
        if on_page is not None:
            on_page(len(page))
        yield encode(page)


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
    """The stored columns in the export's order: ``time`` before ``consent_id``,
    ``providers`` after ``refused``, and no encoding version."""
    row = record_row(record, format_time(record.time))
    return (row[0], row[2], row[1], *row[3:6], row[12], *row[6:12], row[13], row[14])


CSV_HEADER = ",".join(f'"{column}"' for column in EXPORT_COLUMNS) + "\r\n"
