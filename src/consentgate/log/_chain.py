"""The hash chain that makes the consent log tamper-evident.

Canonical encoding
------------------

Every stored record carries ``prev_hash`` (its predecessor's ``hash``, or
:data:`GENESIS_HASH` for the first record) and ``hash``, computed in two
levels so that an erased record can still be checked (see *Erasure*):

1. ``content_digest`` = SHA-256 of the canonical JSON of the record's content::

       {"action": ..., "consent_id": ..., "gpc": true, "granted": [...],
        "ip": str | null, "language": ..., "policy_version": ...,
        "providers": [...], "refused": [...],
        "revisions": {category: revision, ...}, "source": ...,
        "text_fingerprint": ..., "time": "YYYY-MM-DDTHH:MM:SS.ffffffZ",
        "user_agent": str | null}

   ``granted``, ``refused`` and ``providers`` are sorted; ``revisions`` maps
   each granted category to its revision (64 lowercase hex digits), its keys
   sorted like any object's; ``time`` is UTC with all six fractional digits.
   A field added after version 1 (``providers``, ``gpc``, ``revisions``) is
   left out while it holds its default (no providers, no GPC, no revisions),
   so a record that uses none of them encodes byte for byte as in version 1,
   and ``gpc`` is only ever ``true``.
2. ``consent_id_digest`` = SHA-256 of the UTF-8 bytes of ``consent_id``.
3. The link: the canonical JSON ::

       {"consent_id_digest": ..., "content_digest": ..., "prev_hash": ...,
        "sequence": <int>, "v": <version>}

   and ``hash`` = its SHA-256, or with a chain key its HMAC (see *Keyed links*).

Canonical JSON is RFC 8785 (JCS). For these value types (ASCII keys, strings,
integers below 2**53, true, null, arrays of strings, and ``revisions``, an
object of strings whose keys are category names: ASCII for every category a
``ConsentConfig`` accepts) that is exactly Python's
``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8: no whitespace, only ``"``, ``\\`` and control characters
escaped. Digests and hashes are lowercase hex. ``hash`` itself is never hashed.

Encoding versions
-----------------

The link's ``"v"`` names the newest field the content may hold, and follows
from the content (:func:`encoding_version`), so every record says how it was
hashed:

====  =====================================  ==========================================
v     the content holds                      written
====  =====================================  ==========================================
1     the eleven fields of version 1         a record without providers or GPC
2     version 1's, and ``providers``         a record with providers allowed one by one
3     version 2's, and ``"gpc": true``       a choice made with Global Privacy Control
4     version 3's, and ``revisions``         a record granting a category, with the
                                             revision the visitor was shown it in
====  =====================================  ==========================================

A record is in the first version that holds what it carries: a choice made
with GPC is version 3 with or without providers, one granting a category with
its revision version 4 with or without either. Adding or taking off
providers, GPC or revisions changes a record's encoding and so its hash. A
tombstone keeps the version of the record it replaced (the ``chain_version``
column), as its content is gone.
Every store writes ``chain_version`` for every row, and the verifier holds a
record's stored version to the one its content calls for. A change to any of
this is a new version, never an edit of a released one: a log written by any
earlier release keeps verifying.

Keyed links
-----------

With a chain key (``ConsentConfig(chain_key=...)``, a secret that is not in the
database), ``hash`` is the hex HMAC-SHA256, keyed with the UTF-8 bytes of the
chain key, of the same link JSON, in the same version. Whoever can write to
the database but lacks the key cannot compute such a hash, so cannot forge,
edit or re-chain a keyed link. A log keyed later in its life keeps its
unkeyed links: the first keyed link's ``prev_hash`` commits to them. Once a
chain is keyed, the verifier (given the key) refuses any unkeyed link after a
keyed one, and it requires the head (see below) to carry ``mac`` = hex
HMAC-SHA256 (same key) of the canonical JSON ``{"hash": ..., "sequence": <int>}``
of the head (no link has those keys), so that rewriting the whole log unkeyed
is no way round the key either.

The head
--------

Each store keeps the end of its chain, the head (last sequence and hash),
written in the same transaction as every batch it appends, and never moved
back: a sequence is never given out twice, even after the newest records
were deleted. ``verify`` reads the head in the same snapshot as the last page
of the chain and requires the chain to end exactly there, so records cut off
the end, or appended behind the log's back, are a broken chain. Someone with
write access can still move the head along with a cut; keeping the head
elsewhere (``consentgate head``, ``verify --expect-head``, ``anchor_url``) shows that.

Timestamps
----------

With ``anchor_tsa_url``, each anchoring has an RFC 3161 timestamp authority
sign the head (see ``consentgate._tsa`` for what exactly), and the store keeps
the token with the head's sequence and hash (:class:`HeadTimestamp`). The
verifier is given those (sequence, hash) pairs: each record the chain still
holds must carry the timestamped hash, and no timestamped record may be
missing, so rewriting or cutting the chain before a timestamped head shows even
where the head row was moved along. Records pruned since are no longer checked
against the chain; their tokens still are (``consentgate verify``).

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

What it cannot show on its own: a tail cut together with the head, or a log
whose whole tail was rewritten with fresh hashes (unless the chain is keyed).
Keep the head somewhere else now and then to anchor it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring as _string  # what json.dumps uses
from typing import Any, TypeAlias

from ._record import ConsentRecord, encoding_version

__all__ = [
    "ENCODING_VERSION",
    "GENESIS_HASH",
    "ChainHead",
    "ChainLink",
    "ChainReport",
    "ChainVerifier",
    "Checkpoint",
    "HeadTimestamp",
    "Tombstone",
    "UnreadableRecord",
    "canonical_json",
    "consent_id_digest",
    "content_digest",
    "encoding_version",
    "format_time",
    "head_json",
    "head_mac",
    "link_hash",
    "record_hash",
    "verify_chain",
]

#: The newest canonical encoding (see *Encoding versions*).
ENCODING_VERSION = 4
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
    #: The canonical encoding version of the erased record (see *Encoding versions*).
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
    """A stored row that is no valid record any more, e.g. edited past the schema's checks.

    ``sequence`` is None for a row that is no record: a damaged checkpoint or head,
    which ``reason`` then names.
    """

    sequence: int | None
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ChainHead:
    """The end of the chain as the store keeps it: the last sequence and its hash.

    ``sequence`` 0 with :data:`GENESIS_HASH` is a log nothing was appended to;
    ``mac`` is set when the chain is keyed (see *Keyed links*).
    """

    sequence: int
    hash: str
    mac: str | None = None

    def __str__(self) -> str:
        """``SEQ:HASH``, as ``consentgate head`` prints it and ``--expect-head`` takes it."""
        return f"{self.sequence}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        """A head written as ``SEQ:HASH``; raises ValueError with a hint."""
        sequence, _, hash_ = text.strip().partition(":")
        if not (
            sequence.isascii()
            and sequence.isdigit()
            and len(hash_) == 64
            and all(c in "0123456789abcdef" for c in hash_)
        ):
            raise ValueError(
                f"{text!r} is no head; give it as `consentgate head` prints it: "
                "SEQUENCE:HASH, the hash 64 lowercase hex digits"
            )
        return cls(sequence=int(sequence), hash=hash_)


@dataclass(frozen=True, kw_only=True, slots=True)
class HeadTimestamp:
    """An RFC 3161 token a timestamp authority signed for the head ``sequence``/``hash``."""

    sequence: int
    hash: str
    #: When the authority says it signed (the token's ``genTime``).
    time: datetime
    #: The token: the DER of the CMS ``ContentInfo`` the authority signed.
    token: bytes


#: What a walk along the chain meets: a checkpoint first if the log was pruned, then
#: records and tombstones in sequence order, rows too damaged to read, and, from a store
#: that keeps one, the head last.
ChainLink: TypeAlias = ConsentRecord | Tombstone | Checkpoint | UnreadableRecord | ChainHead


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
    #: Links whose hash was checked with the chain key.
    keyed: int = 0
    #: Whether the chain's end was checked against the head the store keeps.
    head_checked: bool = False
    #: Timestamped records (see *Timestamps*) found in the chain with their timestamped hash.
    stamped: int = 0


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
                # From version 3, and only when true.
                ',"gpc":true' if record.gpc else "",
                ',"granted":',
                _strings(record.granted),
                ',"ip":',
                _optional(record.ip),
                ',"language":',
                _string(record.language),
                ',"policy_version":',
                _string(record.policy_version),
                # From version 2, and only when there are any.
                ',"providers":' + _strings(record.providers) if record.providers else "",
                ',"refused":',
                _strings(record.refused),
                # From version 4, and only when there are any.
                ',"revisions":' + _pairs(record.revisions) if record.revisions else "",
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
    content: dict[str, Any] = {
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
    if record.gpc:
        content["gpc"] = True
    if record.revisions:
        content["revisions"] = dict(record.revisions)
    return content


def _optional(value: str | None) -> str:
    return "null" if value is None else _string(value)


@lru_cache(maxsize=256)
def _strings(values: tuple[str, ...]) -> str:
    """A list of strings; cached, as records repeat a few combinations of categories."""
    return "[" + ",".join(map(_string, values)) + "]"


def _pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    """An object of strings from its items, sorted by key as canonical JSON sorts them."""
    return "{" + ",".join(_string(key) + ":" + _string(value) for key, value in pairs) + "}"


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
    key: bytes | None = None,
) -> str:
    """The hash of one link of the chain in encoding ``version``; an HMAC with a chain ``key``."""
    try:
        if type(sequence) is not int or type(version) is not int:
            raise TypeError  # a bool, float or text is json's to write
        data = (
            f'{{"consent_id_digest":{_string(consent_id_digest)},'
            f'"content_digest":{_string(content_digest)},"prev_hash":{_string(prev_hash)},'
            f'"sequence":{sequence},"v":{version}}}'
        ).encode()
    except TypeError:  # a value of another type (a tampered row read back)
        link = {
            "consent_id_digest": consent_id_digest,
            "content_digest": content_digest,
            "prev_hash": prev_hash,
            "sequence": sequence,
            "v": version,
        }
        data = canonical_json(link)
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def head_json(sequence: int, hash: str) -> bytes:
    """The head as canonical JSON: what its MAC signs and what a timestamp authority stamps."""
    return canonical_json({"hash": hash, "sequence": sequence})


def head_mac(key: bytes, sequence: int, hash: str) -> str:
    """The MAC a keyed chain's head carries (see *Keyed links*)."""
    return hmac.new(key, head_json(sequence, hash), hashlib.sha256).hexdigest()


def record_hash(record: ConsentRecord, key: bytes | None = None) -> str:
    """The hash a stored record must carry; raises ValueError before it has a place."""
    if record.sequence is None or record.prev_hash is None:
        raise ValueError("only a record with a sequence and a prev_hash has a hash")
    return link_hash(
        sequence=record.sequence,
        prev_hash=record.prev_hash,
        consent_id_digest=consent_id_digest(record.consent_id),
        content_digest=content_digest(record),
        version=encoding_version(record),
        key=key,
    )


class ChainVerifier:
    """Checks links one by one, in sequence order, and remembers the first broken one.

    ``key`` is the chain key, for keyed links (without it a keyed link reads
    as altered). ``expect`` is a head kept elsewhere: the chain must hold that
    record with that hash; ``stamped`` maps timestamped sequences to their
    hashes, each held like ``expect`` unless pruned. Memory stays constant but
    for ``stamped`` and one entry per erased consent id whose ``"erase"``
    record has not come yet.
    """

    def __init__(
        self,
        *,
        key: bytes | None = None,
        expect: ChainHead | None = None,
        stamped: Mapping[int, str] | None = None,
    ) -> None:
        self._key = key
        self._expect = expect
        self._stamped = dict(stamped or {})
        self._stamps_seen: set[int] = set()
        self._expect_seen = expect is not None and expect.sequence == 0
        self._broken: tuple[int | None, str] | None = None
        if expect is not None and expect.sequence == 0 and expect.hash != GENESIS_HASH:
            self._broken = (0, "the expected head names record 0, but not the genesis hash")
        self._last_sequence = 0
        self._last_hash = GENESIS_HASH
        #: What the next link must follow, for the reports.
        self._anchor = "the genesis hash"
        self._start = "genesis"
        self._pruned_to = 0
        self._checked = 0
        self._erased = 0
        self._keyed = 0
        self._head_checked = False
        #: consent_id_digest -> sequence of its first tombstone still waiting for an erase record.
        self._pending: dict[str, int] = {}

    def feed(self, link: ChainLink) -> bool:
        """Check the next link; False once the chain is broken (later links are ignored)."""
        if self._broken is not None:
            return False
        if isinstance(link, Checkpoint):
            return self._restart(link)
        if isinstance(link, ChainHead):
            return self._end(link)
        if isinstance(link, UnreadableRecord):
            if link.sequence is None:
                return self._break(None, link.reason)
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
            if not self._matches(link, stored, _tombstone_hash):
                return self._break(sequence, self._altered(f"erased record {sequence}"))
            self._pending.setdefault(link.consent_id_digest, sequence)
            self._erased += 1
        else:
            if not self._matches(link, stored, _hash_or_none):
                return self._break(
                    sequence,
                    self._altered(f"record {sequence}", ": its content does not match its hash"),
                )
            if link.action == "erase":
                self._pending.pop(consent_id_digest(link.consent_id), None)
        expect = self._expect
        if expect is not None and sequence == expect.sequence:
            if stored != expect.hash:
                return self._break(sequence, f"record {sequence} differs from the expected head")
            self._expect_seen = True
        if self._stamped and not self._stamp_holds(sequence, stored):
            return self._break(
                sequence, f"record {sequence} differs from the hash timestamped for it"
            )
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
        expect = self._expect
        if self._broken is not None:
            sequence, reason = self._broken
        elif self._pending:
            sequence = min(self._pending.values())
            reason = f"record {sequence} was erased, but no erase record of its consent id follows"
        elif expect is not None and not self._expect_seen:
            sequence = expect.sequence
            reason = f"record {sequence}, the expected head, is missing: " + (
                f"the log ends at record {self._last_sequence}"
                if expect.sequence > self._last_sequence
                else f"the chain now starts after record {self._pruned_to}"
            )
        elif (missing := self._missing_stamp()) is not None:
            sequence = missing
            reason = f"record {sequence} was timestamped, but it is missing: " + (
                f"the log ends at record {self._last_sequence}"
                if sequence > self._last_sequence
                else "the chain skips it"
            )
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
            keyed=self._keyed,
            head_checked=self._head_checked,
            stamped=len(self._stamps_seen),
        )

    def _stamp_holds(self, sequence: int, hash: str) -> bool:
        """Whether a timestamped ``sequence`` (if it is one) still has its timestamped hash."""
        stamped = self._stamped.get(sequence)
        if stamped is None:
            return True
        self._stamps_seen.add(sequence)
        return stamped == hash

    def _missing_stamp(self) -> int | None:
        """The first timestamped record neither pruned nor found in the chain."""
        return min(
            (
                sequence
                for sequence in self._stamped
                if sequence > self._pruned_to and sequence not in self._stamps_seen
            ),
            default=None,
        )

    def _matches(self, link: Any, stored: str, hash_of: Any) -> bool:
        """Whether ``stored`` is the link's hash: keyed, or (before any keyed link) unkeyed."""
        if self._key is not None and hash_of(link, self._key) == stored:
            self._keyed += 1
            return True
        return not self._keyed and hash_of(link, None) == stored

    def _altered(self, what: str, detail: str = "") -> str:
        if self._keyed:
            return f"{what} was altered or forged: it is not keyed with the chain key"
        return f"{what} was altered{detail}"

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
        expect = self._expect
        if expect is not None and not self._expect_seen:
            if checkpoint.sequence == expect.sequence:
                if checkpoint.hash != expect.hash:
                    return self._break(
                        expect.sequence,
                        f"the checkpoint at record {expect.sequence} differs from "
                        "the expected head",
                    )
                self._expect_seen = True
        if self._stamped and not self._stamp_holds(checkpoint.sequence, checkpoint.hash):
            return self._break(
                checkpoint.sequence,
                f"the checkpoint at record {checkpoint.sequence} differs from the hash "
                "timestamped for it",
            )
        self._last_sequence, self._last_hash = checkpoint.sequence, checkpoint.hash
        self._pruned_to = checkpoint.sequence
        self._anchor = self._start = f"the checkpoint after record {checkpoint.sequence}"
        # Tombstones it deleted may have had their erase record deleted with them.
        self._pending = {
            digest: sequence
            for digest, sequence in self._pending.items()
            if sequence > checkpoint.sequence
        }
        return True

    def _end(self, head: ChainHead) -> bool:
        """The store's head, read with the last page: the chain must end exactly there."""
        last = self._last_sequence
        if head.sequence > last:
            return self._break(
                last + 1,
                f"records {last + 1} to {head.sequence} are missing from the end: "
                f"the log's head names record {head.sequence}",
            )
        if head.sequence < last:
            return self._break(
                head.sequence + 1,
                f"record {head.sequence + 1} and later lie beyond the log's head "
                f"(record {head.sequence}): added behind the log's back",
            )
        if head.hash != self._last_hash:
            return self._break(
                last, f"the log's head names record {last} with another hash: its end was rewritten"
            )
        # A log nothing was appended to has no links to sign.
        if (
            self._key is not None
            and last
            and (
                head.mac is None
                or not hmac.compare_digest(head.mac, head_mac(self._key, last, head.hash))
            )
        ):
            return self._break(last, "the log's head is not signed with the chain key")
        self._head_checked = True
        return True

    def _break(self, sequence: int | None, reason: str) -> bool:
        self._broken = (sequence, reason)
        return False


def verify_chain(
    links: Iterable[ChainLink],
    *,
    key: bytes | None = None,
    expect: ChainHead | None = None,
    stamped: Mapping[int, str] | None = None,
) -> ChainReport:
    """Check a chain given in sequence order: records, tombstones, an optional first checkpoint.

    Reports edited records (hash mismatch), deleted ones (a link that does
    not match its predecessor), reordered ones, unaccounted erasures, and an
    end other than the head, when the links end with one. Consumes ``links``
    lazily, so a generator over a huge export is fine.
    """
    verifier = ChainVerifier(key=key, expect=expect, stamped=stamped)
    verifier.feed_all(links)
    return verifier.report()


def _tombstone_hash(tombstone: Tombstone, key: bytes | None) -> str:
    return link_hash(
        sequence=tombstone.sequence,
        prev_hash=tombstone.prev_hash,
        consent_id_digest=tombstone.consent_id_digest,
        content_digest=tombstone.content_digest,
        version=tombstone.version,
        key=key,
    )


def _hash_or_none(record: ConsentRecord, key: bytes | None) -> str | None:
    """The record's hash, or None if a damaged record cannot even be encoded."""
    try:
        return record_hash(record, key)
    except (TypeError, ValueError):
        return None
