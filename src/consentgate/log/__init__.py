"""The consent log: tamper-evident proof of every choice a visitor makes (GDPR Art. 7(1))."""

from __future__ import annotations

from ._base import ChainLink, ConsentLog, ConsentRecord, open_log
from ._chain import (
    ChainReport,
    Checkpoint,
    Tombstone,
    UnreadableRecord,
    record_hash,
    verify_chain,
)
from ._postgres import PostgresConsentLog
from ._privacy import minimise_user_agent, truncate_ip
from ._sqlite import SQLiteConsentLog

__all__ = [
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
