"""The consent log: durable proof of every choice a visitor makes (GDPR Art. 7(1))."""

from __future__ import annotations

from ._base import ConsentLog, ConsentRecord, open_log
from ._sqlite import SQLiteConsentLog

__all__ = ["ConsentLog", "ConsentRecord", "SQLiteConsentLog", "open_log"]
