"""Errors raised by consentgate.

The tree::

    ConsentGateError
    ├── ConfigurationError (also a ValueError)   a config field is missing or wrong
    ├── StorageError                              the consent log cannot be read or written
    └── consentgate.scan.ScanError                a site could not be scanned (``consentgate
                                                  scan``: unreachable, no Chromium for --browser)
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "ConsentGateError", "StorageError"]


class ConsentGateError(Exception):
    """Base class of every error consentgate raises on purpose."""


class ConfigurationError(ConsentGateError, ValueError):
    """A configuration value is missing or invalid.

    :param field: the name of the offending field, e.g. ``"secret_key"``
        or ``"providers[1].measurement_id"``.
    :param message: what is wrong and how to fix it.
    """

    def __init__(self, field: str, message: str) -> None:
        #: The configuration field at fault.
        self.field = field
        super().__init__(f"{field}: {message}")


class StorageError(ConsentGateError):
    """The consent log could not be written or read."""
