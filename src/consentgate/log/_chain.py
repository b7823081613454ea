"""The hash chain that makes the consent log tamper-evident.

Canonical encoding, version 1
-----------------------------

Every stored record carries ``prev_hash`` (its predecessor's ``hash``, or
:data:`GENESIS_HASH` for the first record) and ``hash``, computed in two
levels so that an erased record can still be checked (see *Erasure*):

1. ``content_digest`` = SHA-256 of the canonical JSON of the record's content::

       {"action": ..., "consent_id": ..., "granted": [...], "ip": str | null,
        "language": ..., "policy_version": ..., "refused": [...], "source": ...,
        "text_fingerprint": ..., "time": "YYYY-MM-DDTHH:MM:SS.ffffffZ",
        "user_agent": str | null}

   ``granted`` and ``refused`` are sorted; ``time`` is UTC with all six
   fractional digits.
2. ``consent_id_digest`` = SHA-256 of the UTF-8 bytes of ``consent_id``.
3. ``hash`` = SHA-256 of the canonical JSON of the link::

       {"consent_id_digest": ..., "content_digest": ..., "prev_hash": ...,
        "sequence": <int>, "v": 1}

Canonical JSON is RFC 8785 (JCS). For these value types (ASCII keys, strings,
integers below 2**53, null, arrays of strings) that is exactly Python's
``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8: no whitespace, only ``"``, ``\\`` and control characters
escaped. Digests and hashes are lowercase hex. ``hash`` itself is never hashed.
A change to any of this is a new ``"v"``, never an edit of version 1.

Canonical encoding, version 2
-----------------------------

Version 2 adds the providers a visitor allowed one by one. It differs from
version 1 in exactly two places: the content has one more key, between
``policy_version`` and ``refused``::

       {..., "policy_version": ..., "providers": [...], "refused": [...], ...}

with ``providers`` sorted, and the link says ``"v": 2``. A record is encoded
in version 2 exactly when it carries providers (:func:`encoding_version`), so
every record without them is hashed as it always was and every log written
before keeps verifying byte for byte. Adding providers to a version 1 record,
or taking them off a version 2 one, changes its encoding and so its hash. A
tombstone keeps the version of the record it replaced (the ``chain_version``
column), as its content is gone.

Chain order
-----------

The chain runs in ``sequence`` order. A record gets its sequence and
``prev_hash`` inside the write transaction that stores it, reading the head of
the chain in that same transaction while holding a lock every writer must take:
on SQLite ``BEGIN IMMEDIATE`` (the database's single write lock, across threads
and processes), on PostgreSQL the one-row head table taken ``FOR UPDATE``. So no
two records can claim the same predecessor, none commits out of order, and a
reader sees a gapless prefix of the chain even while other processes write.

Erasure and retention
---------------------

An erased record becomes a :class:`Tombstone`: its content is gone, its
``sequence``, ``prev_hash``, ``hash`` and both digests stay, so its hash is
recomputed and its links are checked like any other. Every tombstone must be
followed by an ``"erase"`` record of the same consent id, otherwise someone
blanked a record without an erasure request. Pruning deletes a prefix of the
chain and leaves a :class:`Checkpoint` with the last deleted record's sequence
and hash, where verification then starts instead of at genesis.

What it cannot show: records cut off the end of the log, or a log whose whole
tail was rewritten with fresh hashes. Keep :attr:`ChainReport.last_hash`
somewhere else now and then to anchor the head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring as _string  # what json.dumps uses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._base import ChainLink, ConsentRecord

__all__ = [
    "ENCODING_VERSION",
    "encoding_version",
    "GENESIS_HASH",
    "ChainReport",
    "ChainVerifier",
    "Checkpoint",
    "Tombstone",
    "UnreadableRecord",
    "canonical_json",
    "consent_id_digest",
    "content_digest",
    "format_time",
    "link_hash",
    "record_hash",
    "verify_chain",
]

#: The newest canonical encoding; records without providers still use version 1.
ENCODING_VERSION = 2
#: The ``prev_hash`` of the very first record.
GENESIS_HASH = "0" * 64


@dataclass(frozen=True, kw_only=True, slots=True)
class Tombstone:
    """What is left of an erased record: enough to keep the chain checkable, nothing personal."""

    sequence: int
    prev_hash: str
    hash: str
    consent_id_digest: str
    content_digest: str
    #: The canonical encoding version of the erased record (see the module docstring).
    version: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Checkpoint:
    """Where the chain starts after a prune: the last deleted record's sequence and hash."""

    sequence: int
    hash: str
    #: Records (and tombstones) this prune deleted.
    deleted: int
    #: When the prune ran.
    time: datetime
    #: Records older than this were deleted.
    before: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class UnreadableRecord:
    """A stored row that is no valid record any more, e.g. edited past the schema's checks."""

    sequence: int
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ChainReport:
    """The outcome of walking the chain; ``first_broken_sequence`` names the first bad link."""

    ok: bool
    #: Records and tombstones whose hash and link were checked.
    checked: int
    first_broken_sequence: int | None
    reason: str
    #: Tombstones among the checked.
    erased: int = 0
    #: The head of the verified part: keep it elsewhere to notice a cut-off tail later.
    last_sequence: int | None = None
    last_hash: str | None = None


_UTC_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def format_time(time: datetime) -> str:
    """ISO 8601 in UTC with all six fractional digits, e.g. ``2024-05-01T12:00:00.000000Z``.

    Fixed width, so text order is time order and auditors can read it as is.
    """
    if time.tzinfo is UTC:  # every ConsentRecord's time: the quick way (twice isoformat's speed)
        return _UTC_FORMAT % (
            time.year,
            time.month,
            time.day,
            time.hour,
            time.minute,
            time.second,
            time.microsecond,
        )
    if time.utcoffset() is None:
        raise ValueError("the time must be timezone-aware")
    return time.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# One encoder for every call: json.dumps with options builds a new one each time,
# which is a good part of what a record costs the log's writer.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON for the value types records use (see the module docstring)."""
    return _CANONICAL.encode(value).encode("utf-8")


def encoding_version(record: ConsentRecord) -> int:
    """The canonical encoding a record is hashed in: 2 if it carries providers, else 1."""
    return 2 if record.providers else 1


def content_digest(record: ConsentRecord) -> str:
    """SHA-256 over the record's content: everything but its place in the chain.

    Written out field by field, in canonical key order, rather than through
    ``canonical_json`` of a dict: the same bytes (a test holds them equal for any
    record), at half the cost, and a log's writer computes one per record. A
    value of another type (a tampered row read back) takes the general way.
    """
    try:
        text = "".join(
            (
                '{"action":',
                _string(record.action),
                ',"consent_id":',
                _string(record.consent_id),
                ',"granted":',
                _strings(record.granted),
                ',"ip":',
                _optional(record.ip),
                ',"language":',
                _string(record.language),
                ',"policy_version":',
                _string(record.policy_version),
                # Version 2 only: version 1 records have no providers.
                ',"providers":' + _strings(record.providers) if record.providers else "",
                ',"refused":',
                _strings(record.refused),
                ',"source":',
                _string(record.source),
                ',"text_fingerprint":',
                _string(record.text_fingerprint),
                ',"time":',
                _string(format_time(record.time)),
                ',"user_agent":',
                _optional(record.user_agent),
                "}",
            )
        )
    except TypeError:
        return hashlib.sha256(canonical_json(_content(record))).hexdigest()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content(record: ConsentRecord) -> dict[str, Any]:
    content = {
        "action": record.action,
        "consent_id": record.consent_id,
        "granted": list(record.granted),
        "ip": record.ip,
        "language": record.language,
        "policy_version": record.policy_version,
        "refused": list(record.refused),
        "source": record.source,
        "text_fingerprint": record.text_fingerprint,
        "time": format_time(record.time),
        "user_agent": record.user_agent,
    }
    if record.providers:
        content["providers"] = list(record.providers)
    return content


def _optional(value: str | None) -> str:
    return "null" if value is None else _string(value)


@lru_cache(maxsize=256)
def _strings(values: tuple[str, ...]) -> str:
    """A list of strings; cached, as records repeat a few combinations of categories."""
    return "[" + ",".join(map(_string, values)) + "]"


def consent_id_digest(consent_id: str) -> str:
    """SHA-256 of a consent id, which ties a tombstone to its ``"erase"`` record."""
    return hashlib.sha256(consent_id.encode("utf-8")).hexdigest()


def link_hash(
    *,
    sequence: int,
    prev_hash: str,
    consent_id_digest: str,
    content_digest: str,
    version: int = 1,
) -> str:
    """The hash of one link of the chain, in canonical encoding ``version``."""
    try:
        if type(sequence) is not int or type(version) is not int:
            raise TypeError  # a bool, float or text is json's to write
        text = (
            f'{{"consent_id_digest":{_string(consent_id_digest)},'
            f'"content_digest":{_string(content_digest)},"prev_hash":{_string(prev_hash)},'
            f'"sequence":{sequence},"v":{version}}}'
        )
    except TypeError:  # a value of another type (a tampered row read back)
        link = {
            "consent_id_digest": consent_id_digest,
            "content_digest": content_digest,
            "prev_hash": prev_hash,
            "sequence": sequence,
            "v": version,
        }
        return hashlib.sha256(canonical_json(link)).hexdigest()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hash(record: ConsentRecord) -> str:
    """The hash a stored record must carry; raises ValueError before it has a place."""
    if record.sequence is None or record.prev_hash is None:
        raise ValueError("only a record with a sequence and a prev_hash has a hash")
    return link_hash(
        sequence=record.sequence,
        prev_hash=record.prev_hash,
        consent_id_digest=consent_id_digest(record.consent_id),
        content_digest=content_digest(record),
        version=encoding_version(record),
    )


class ChainVerifier:
    """Checks links one by one, in sequence order, and remembers the first broken one.

    Memory stays constant but for one entry per erased consent id whose
    ``"erase"`` record has not come yet.
    """

    def __init__(self) -> None:
        self._last_sequence = 0
        self._last_hash = GENESIS_HASH
        #: What the next link must follow, for the reports.
        self._anchor = "the genesis hash"
        self._start = "genesis"
        self._checked = 0
        self._erased = 0
        #: consent_id_digest -> sequence of its first tombstone still waiting for an erase record.
        self._pending: dict[str, int] = {}
        self._broken: tuple[int | None, str] | None = None

    def feed(self, link: ChainLink) -> bool:
        """Check the next link; False once the chain is broken (later links are ignored)."""
        if self._broken is not None:
            return False
        if isinstance(link, Checkpoint):
            return self._restart(link)
        if isinstance(link, UnreadableRecord):
            reason = f"record {link.sequence} is unreadable: {link.reason}"
            return self._break(link.sequence, reason)
        sequence, prev_hash, stored = link.sequence, link.prev_hash, link.hash
        if sequence is None or prev_hash is None or stored is None:
            return self._break(sequence, "a record without sequence or hash was never stored")
        if sequence <= self._last_sequence:
            return self._break(
                sequence, f"record {sequence} is out of order: it comes after {self._anchor}"
            )
        if prev_hash != self._last_hash:
            missing = (
                f"records {self._last_sequence + 1} to {sequence - 1} are missing: "
                if sequence > self._last_sequence + 1
                else ""
            )
            return self._break(
                sequence, f"{missing}record {sequence} does not link to {self._anchor}"
            )
        if isinstance(link, Tombstone):
            if _tombstone_hash(link) != stored:
                return self._break(sequence, f"erased record {sequence} was altered")
            self._pending.setdefault(link.consent_id_digest, sequence)
            self._erased += 1
        else:
            if _hash_or_none(link) != stored:
                return self._break(
                    sequence, f"record {sequence} was altered: its content does not match its hash"
                )
            if link.action == "erase":
                self._pending.pop(consent_id_digest(link.consent_id), None)
        self._last_sequence, self._last_hash = sequence, stored
        self._anchor = f"record {sequence}"
        self._checked += 1
        return True

    def feed_all(self, links: Iterable[ChainLink]) -> bool:
        """Feed links until one breaks the chain."""
        return all(self.feed(link) for link in links)

    def report(self) -> ChainReport:
        """The verdict on everything fed so far."""
        sequence: int | None
        if self._broken is not None:
            sequence, reason = self._broken
        elif self._pending:
            sequence = min(self._pending.values())
            reason = f"record {sequence} was erased, but no erase record of its consent id follows"
        else:
            sequence, reason = None, f"{self._checked} records verified from {self._start}"
        return ChainReport(
            ok=sequence is None and self._broken is None,
            checked=self._checked,
            first_broken_sequence=sequence,
            reason=reason,
            erased=self._erased,
            last_sequence=self._last_sequence or None,
            last_hash=self._last_hash if self._last_sequence else None,
        )

    def _restart(self, checkpoint: Checkpoint) -> bool:
        """Continue from a prune checkpoint: at the start, or when a prune overtook the walk."""
        behind = checkpoint.sequence < self._last_sequence
        if behind or (
            checkpoint.sequence == self._last_sequence and checkpoint.hash != self._last_hash
        ):
            return self._break(
                checkpoint.sequence,
                f"the checkpoint at record {checkpoint.sequence} contradicts {self._anchor}",
            )
        self._last_sequence, self._last_hash = checkpoint.sequence, checkpoint.hash
        self._anchor = self._start = f"the checkpoint after record {checkpoint.sequence}"
        # Tombstones it deleted may have had their erase record deleted with them.
        self._pending = {
            digest: sequence
            for digest, sequence in self._pending.items()
            if sequence > checkpoint.sequence
        }
        return True

    def _break(self, sequence: int | None, reason: str) -> bool:
        self._broken = (sequence, reason)
        return False


def verify_chain(links: Iterable[ChainLink]) -> ChainReport:
    """Check a chain given in sequence order: records, tombstones, an optional first checkpoint.

    Reports edited records (hash mismatch), deleted ones (a link that does
    not match its predecessor), reordered ones, and unaccounted erasures.
    Consumes ``links`` lazily, so a generator over a huge export is fine.
    """
    verifier = ChainVerifier()
    verifier.feed_all(links)
    return verifier.report()


def _tombstone_hash(tombstone: Tombstone) -> str:
    return link_hash(
        sequence=tombstone.sequence,
        prev_hash=tombstone.prev_hash,
        consent_id_digest=tombstone.consent_id_digest,
        content_digest=tombstone.content_digest,
        version=tombstone.version,
    )


def _hash_or_none(record: ConsentRecord) -> str | None:
    """The record's hash, or None if a damaged record cannot even be encoded."""
    try:
        return record_hash(record)
    except (TypeError, ValueError):
        return None
