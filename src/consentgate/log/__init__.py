"""The consent log: tamper-evident proof of every choice a visitor makes (GDPR Art. 7(1))."""

from __future__ import annotations

from ._base import ConsentLog
from ._chain import (
    ChainHead,
    ChainLink,
    ChainReport,
    Checkpoint,
    Tombstone,
    UnreadableRecord,
    record_hash,
    verify_chain,
)
from ._open import open_log
from ._postgres import PostgresConsentLog
from ._privacy import minimise_user_agent, truncate_ip
from ._record import ConsentRecord
from ._sqlite import SQLiteConsentLog

__all__ = [
    "ChainHead",
    "ChainLink",
    "ChainReport",
    "Checkpoint",
    "ConsentLog",
    "ConsentRecord",
    "PostgresConsentLog",
    "SQLiteConsentLog",
    "Tombstone",
    "UnreadableRecord",
    "minimise_user_agent",
    "open_log",
    "record_hash",
    "truncate_ip",
    "verify_chain",
]
