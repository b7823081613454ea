"""The consent log's tables, written once and spoken in each store's column types.

A released migration never changes what it creates, so a store's migrations
call these with its own types, and what they create is frozen here (the lists
of actions and sources as they were then, not ``Action`` and ``Source``). A
change the two stores make differently (SQLite rebuilds the records table to
change a CHECK, PostgreSQL alters it: providers, ``gpc``) is written with the
store's migrations.
"""

from __future__ import annotations

import dataclasses

from ._record import RECORD_COLUMNS

__all__ = [
    "CONSENT_ID_INDEX",
    "CONTENT_COLUMNS",
    "Types",
    "checkpoints_table",
    "head_mac_column",
    "head_table",
    "records_table",
    "texts_table",
    "timestamps_table",
]

#: The columns of a record's content: what erasure blanks.
CONTENT_COLUMNS = RECORD_COLUMNS[1 : RECORD_COLUMNS.index("prev_hash")]

# What the records table of ``records_table`` took when it was released; later
# migrations widen them, this stays as it was.
_V2_CONTENT = (
    "consent_id",
    "time",
    "action",
    "granted",
    "refused",
    "policy_version",
    "language",
    "source",
    "text_fingerprint",
    "user_agent",
    "ip",
)
_V2_ACTIONS = ("grant", "update", "reject", "withdraw", "erase")
_V2_SOURCES = ("banner", "preferences", "api", "gpc")


@dataclasses.dataclass(frozen=True, slots=True)
class Types:
    """The column types a dialect's DDL uses for what the tables hold."""

    #: A 64-bit integer (sequences, counts).
    integer: str
    #: An auto-numbered integer key.
    serial: str
    text: str
    #: A point in time.
    time: str
    #: True or false, with the dialect's check of ``erased`` if it has no boolean type.
    flag: str
    #: Bytes.
    binary: str
    #: The dialect's check of a record's ``time``, if it keeps times as text.
    time_check: str = ""


def records_table(name: str, types: Types) -> str:
    """The records table as first chained: a record (or an erased one's tombstone) and its
    place in the chain. Later columns come with their own migrations."""
    integer, text = types.integer, types.text
    actions = ", ".join(f"'{action}'" for action in _V2_ACTIONS)
    sources = ", ".join(f"'{source}'" for source in _V2_SOURCES)
    required = [c for c in _V2_CONTENT if c not in ("user_agent", "ip")]
    blank = ", ".join("CAST(time AS TEXT)" if c == "time" else c for c in _V2_CONTENT)
    return f"""
    CREATE TABLE {name} (
        sequence          {integer} PRIMARY KEY,
        consent_id        {text},
        time              {types.time}{types.time_check},
        action            {text} CHECK (action IN ({actions})),
        granted           {text},
        refused           {text},
        policy_version    {text},
        language          {text},
        source            {text} CHECK (source IN ({sources})),
        text_fingerprint  {text},
        user_agent        {text},
        ip                {text},
        prev_hash         {text} NOT NULL CHECK (length(prev_hash) = 64),
        hash              {text} NOT NULL CHECK (length(hash) = 64),
        erased            {types.flag} NOT NULL DEFAULT FALSE,
        consent_id_digest {text} CHECK (length(consent_id_digest) = 64),
        content_digest    {text} CHECK (length(content_digest) = 64),
        CHECK (CASE WHEN erased
            THEN coalesce({blank}) IS NULL
                 AND consent_id_digest IS NOT NULL AND content_digest IS NOT NULL
            ELSE {" AND ".join(f"{c} IS NOT NULL" for c in required)}
                 AND consent_id_digest IS NULL AND content_digest IS NULL
        END)
    )
    """


def checkpoints_table(types: Types) -> str:
    """Where a pruned chain starts: the last deleted record's sequence and hash."""
    return f"""
    CREATE TABLE checkpoints (
        id            {types.serial} PRIMARY KEY,
        sequence      {types.integer} NOT NULL,
        hash          {types.text} NOT NULL CHECK (length(hash) = 64),
        deleted       {types.integer} NOT NULL CHECK (deleted > 0),
        time          {types.time} NOT NULL,
        pruned_before {types.time} NOT NULL
    )
    """


def head_table(types: Types) -> str:
    """The head: one row, moved on in the transaction of every batch (see ``_chain``)."""
    return f"""
    CREATE TABLE consent_head (
        id       {types.integer} PRIMARY KEY CHECK (id = 1),
        sequence {types.integer} NOT NULL,
        hash     {types.text} NOT NULL CHECK (length(hash) = 64)
    )
    """


def head_mac_column(types: Types) -> str:
    """A keyed chain's head carries its MAC (see ``_chain``)."""
    return f"ALTER TABLE consent_head ADD COLUMN mac {types.text} CHECK (length(mac) = 64)"


def texts_table(types: Types, blob: str) -> str:
    """What visitors were shown, once per fingerprint (see ``_texts``): ``content`` is the
    UTF-8 bytes the fingerprint is the SHA-256 of (a page's holes are NUL characters,
    which only a byte column holds in both databases)."""
    text, time = types.text, types.time
    return f"""
    CREATE TABLE consent_texts (
        fingerprint {text} PRIMARY KEY CHECK (length(fingerprint) = 64),
        kind        {text} NOT NULL CHECK (kind IN ('category', 'page')),
        name        {text} NOT NULL,
        language    {text},
        content     {blob} NOT NULL,
        first_seen  {time} NOT NULL,
        last_seen   {time} NOT NULL
    )
    """


def timestamps_table(types: Types) -> str:
    """The RFC 3161 tokens of heads (``anchor_tsa_url``): what was timestamped, when, the token."""
    return f"""
    CREATE TABLE head_timestamps (
        id       {types.serial} PRIMARY KEY,
        sequence {types.integer} NOT NULL CHECK (sequence > 0),
        hash     {types.text} NOT NULL CHECK (length(hash) = 64),
        time     {types.time} NOT NULL{types.time_check},
        token    {types.binary} NOT NULL
    )
    """


#: The index ``history`` and erasure look a visitor up by.
CONSENT_ID_INDEX = "CREATE INDEX consent_records_consent_id ON consent_records (consent_id)"
