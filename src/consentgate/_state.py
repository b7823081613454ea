"""The visitor's consent as one immutable value, and how the app reads it."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

__all__ = [
    "NECESSARY",
    "NO_CONSENT",
    "SCOPE_KEY",
    "ConsentState",
    "CookieReading",
    "LazyConsent",
    "get_consent",
]

#: Raw ASGI request headers.
Headers = Iterable[tuple[bytes, bytes]]

#: The key under which the middleware publishes consent in the ASGI scope.
SCOPE_KEY = "consentgate"

#: The category that is always on and never a choice.
NECESSARY = "necessary"

_NO_PROVIDERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ConsentState:
    """What a visitor has chosen.

    ``consent_id`` is ``None`` until the visitor first chooses anything;
    ``granted`` holds the optional categories they accepted (``necessary`` is
    implied). ``providers`` holds the providers they allowed one by one, e.g.
    by loading an embed, beside their categories. Allowing a provider is no
    answer to the banner: ``answered`` is False for a state holding only that.

    ``provider_categories`` is the site's provider name -> category table,
    which the middleware sets from the configuration whenever it reads the
    consent cookie, so ``allows_provider`` needs nothing from the caller and a
    state derived with ``dataclasses.replace`` stays right. A state built
    without it allows only the providers it names.

    ``lapsed`` holds the categories the visitor granted whose revision has
    changed since (what the site tells about them, e.g. a provider added):
    they are not granted, and the visitor is asked about them again.
    """

    consent_id: str | None = None
    granted: frozenset[str] = frozenset()
    policy_version: str = ""
    decided_at: datetime | None = None
    providers: frozenset[str] = frozenset()
    answered: bool = True
    lapsed: frozenset[str] = frozenset()
    provider_categories: Mapping[str, str] = field(
        default_factory=lambda: _NO_PROVIDERS, compare=False, repr=False
    )

    @property
    def has_choice(self) -> bool:
        """True once the visitor accepted, rejected or saved a choice, not just allowed an embed."""
        return self.consent_id is not None and self.answered

    @property
    def needs_answer(self) -> bool:
        """Whether the banner asks this visitor: no choice yet, or a grant lapsed."""
        return not self.has_choice or bool(self.lapsed)

    def allows(self, category: str) -> bool:
        """Whether anything of ``category`` may run for this visitor."""
        return category == NECESSARY or category in self.granted

    def allows_provider(self, name: str) -> bool:
        """Whether provider ``name`` may run: allowed on its own, or its category granted."""
        if name in self.providers:
            return True
        category = self.provider_categories.get(name)
        return category is not None and self.allows(category)

    @property
    def allowed_providers(self) -> frozenset[str]:
        """Every provider of the site that may run for this visitor."""
        return self.providers | {
            name for name, category in self.provider_categories.items() if self.allows(category)
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "consent_id": self.consent_id,
            "has_choice": self.has_choice,
            "granted": sorted(self.granted),
            "providers": sorted(self.providers),
            "allowed_providers": sorted(self.allowed_providers),
            "lapsed": sorted(self.lapsed),
            "policy_version": self.policy_version,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


NO_CONSENT = ConsentState()


class LazyConsent(abc.ABC):
    """What the middleware puts at ``scope["consentgate"]``: consent, read on first use.

    Every HTTP request gets one, so a JSON or asset response that never asks
    pays nothing for reading the consent cookie. ``.state`` is the visitor's
    ConsentState.
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def reading(self) -> CookieReading:
        """What the consent cookie said."""

    @property
    def state(self) -> ConsentState:
        return self.reading.state


@dataclass(frozen=True, slots=True)
class CookieReading:
    """What the consent cookie said."""

    state: ConsentState
    #: Signed with an older key of ``secret_keys``: send it again under the newest.
    reissue: bool = False
    #: Each lapsed category with the short revision the cookie held for it (``~``s when
    #: unknown): what the banner compares with the category now, to say what is new.
    lapsed_from: tuple[tuple[str, str], ...] = ()


def get_consent(request: object) -> ConsentState:
    """The current visitor's consent, for a request behind ``ConsentMiddleware``.

    Accepts a raw ASGI scope or any request object that carries one as
    ``.scope``: Starlette and FastAPI (``Request``, ``WebSocket``), Django's
    ``ASGIRequest``, Litestar's and Quart's ``Request``. Anything else, and a
    request that did not pass the middleware, answers "no choice", the safe
    default; it never raises.
    """
    scope = getattr(request, "scope", request)
    lazy = scope.get(SCOPE_KEY) if isinstance(scope, Mapping) else None
    if isinstance(lazy, LazyConsent):
        return lazy.state
    return NO_CONSENT
