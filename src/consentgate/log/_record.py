"""The consent record: one choice one visitor made, as a consent log keeps it."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "RECORD_COLUMNS",
    "Action",
    "ConsentRecord",
    "Source",
    "encoding_version",
    "erase_request",
    "format_categories",
    "format_revisions",
    "placed",
    "record_row",
]

#: ``"allow"``: the visitor allowed providers one by one (e.g. to load an embed),
#: which answers nothing about the categories.
Action = Literal["grant", "update", "reject", "withdraw", "erase", "allow"]
#: Where the choice was made; ``"gpc"`` is a Global Privacy Control signal taken as a
#: refusal, ``"embed"`` a click-to-load placeholder.
Source = Literal["banner", "preferences", "api", "gpc", "embed"]

_REVISION = re.compile(r"[0-9a-f]{64}")


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
    #: Whether the visitor's browser sent Global Privacy Control (``Sec-GPC: 1``) with
    #: this choice: the choice was made with that objection in force.
    gpc: bool = False
    #: Each granted category with its revision: the hex SHA-256 of what the visitor was
    #: shown about it (``consentgate._revisions``), whose content the log's texts table
    #: keeps. Given as pairs or a mapping; kept as pairs sorted by category.
    revisions: tuple[tuple[str, str], ...] = ()
    #: The predecessor's ``hash``; set by the log when it stores the record.
    prev_hash: str | None = None
    #: SHA-256 (or, with a chain key, HMAC) of the record and its place in the chain
    #: (see ``_chain``); set by the log.
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
        if type(self.gpc) is not bool:
            raise TypeError(f"ConsentRecord.gpc must be True or False, not {self.gpc!r}")
        given: Any = self.revisions
        revisions = tuple(sorted(given.items() if isinstance(given, Mapping) else given))
        object.__setattr__(self, "revisions", revisions)
        if revisions:
            _check_revisions(revisions, granted)
        if granted and refused and not set(granted).isdisjoint(refused):
            both = sorted(set(granted) & set(refused))
            raise ValueError(f"categories both granted and refused: {both}")


def _check_revisions(revisions: tuple[tuple[str, str], ...], granted: tuple[str, ...]) -> None:
    """ValueError unless ``revisions`` name granted categories, once each, with digests."""
    categories = [category for category, _ in revisions]
    if len(set(categories)) != len(categories):
        raise ValueError(f"a category with two revisions: {categories}")
    if not set(categories) <= set(granted):
        raise ValueError(
            f"revisions of categories not granted: {sorted(set(categories) - set(granted))}"
        )
    for category, revision in revisions:
        if not (isinstance(revision, str) and _REVISION.fullmatch(revision)):
            raise ValueError(f"not a revision (64 lowercase hex digits): {category}: {revision!r}")


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


def format_revisions(revisions: tuple[tuple[str, str], ...]) -> str:
    """Revisions as the logs store them and CSV exports them: a compact JSON object
    (ASCII), its keys, the categories, in order."""
    return _COMPACT_JSON.encode(dict(revisions))


#: The columns every store keeps per record, in the order of :func:`record_row`.
RECORD_COLUMNS = (
    "sequence",
    "consent_id",
    "time",
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
    "gpc",
    "revisions",
    "prev_hash",
    "hash",
    "chain_version",
)


def record_row(record: ConsentRecord, time: Any) -> tuple[Any, ...]:
    """A stored record as the values of :data:`RECORD_COLUMNS`; ``time`` as the store keeps it.

    The last, ``chain_version``, is the canonical encoding its hash is computed
    in (see ``_chain``): it follows from the content, and a tombstone keeps it.
    """
    return (
        record.sequence,
        record.consent_id,
        time,
        record.action,
        format_categories(record.granted),
        format_categories(record.refused),
        format_categories(record.providers),
        record.policy_version,
        record.language,
        record.source,
        record.text_fingerprint,
        record.user_agent,
        record.ip,
        record.gpc,
        format_revisions(record.revisions),
        record.prev_hash,
        record.hash,
        encoding_version(record),
    )


def encoding_version(record: ConsentRecord) -> int:
    """The canonical encoding a record is hashed in: the first that holds what it carries.

    4 with revisions, else 3 with GPC, else 2 with providers, else 1 (see ``_chain``,
    *Encoding versions*).
    """
    if record.revisions:
        return 4
    if record.gpc:
        return 3
    return 2 if record.providers else 1
