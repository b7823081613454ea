"""consentgate: a pure-ASGI consent gate for GDPR and ePrivacy.

``app.add_middleware(ConsentMiddleware, config=ConsentConfig(...))`` serves a
cookie banner that works without JavaScript, records every choice in a consent
log, and lets tracker snippets and cookies through only with consent.
"""

from __future__ import annotations

from ._config import BUILTIN_CATEGORIES, Category, ConsentConfig
from ._exceptions import ConfigurationError, ConsentGateError, StorageError
from ._middleware import ConsentMiddleware
from ._registry import Tracker
from ._state import SCOPE_KEY, ConsentState, get_consent
from ._theme import Theme

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_CATEGORIES",
    "SCOPE_KEY",
    "Category",
    "ConfigurationError",
    "ConsentConfig",
    "ConsentGateError",
    "ConsentMiddleware",
    "ConsentState",
    "StorageError",
    "Theme",
    "Tracker",
    "get_consent",
]
