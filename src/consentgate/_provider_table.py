"""The site's providers by name: the category each needs, and their place in the consent cookie.

A visitor can allow a provider on its own (a click-to-load embed) as well as
through its category. The consent cookie keeps such providers as a bitmask over
this table, which is the configured provider names sorted, so that reordering
the configuration changes nothing. Beside the mask the cookie keeps the table's
digest: once the site adds, removes or renames a provider, a bit could come to
mean another provider, so a cookie written for another table keeps its
categories but reads as allowing no provider on its own (the visitor is asked
again on the placeholder). Each allowed provider's revision is kept beside the
mask too: an allowance lapses when what the provider discloses changes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._state import NECESSARY
from .providers import Provider

__all__ = ["EMPTY_TABLE", "ProviderTable"]


@dataclass(frozen=True, slots=True)
class ProviderTable:
    """Provider names with their categories, built once from the configuration."""

    #: Provider name -> the category it belongs to.
    categories: Mapping[str, str]
    #: Provider name -> the short revision of what it discloses (``_revisions``): an
    #: allowance kept in the cookie holds only while this stays the same.
    revisions: Mapping[str, str] = field(default_factory=dict)
    #: The names in the cookie's bit order: sorted.
    names: tuple[str, ...] = field(init=False)
    #: Ties a cookie's bitmask to this table (8 URL-safe characters).
    digest: str = field(init=False)
    _bits: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = tuple(sorted(self.categories))
        object.__setattr__(self, "categories", MappingProxyType(dict(self.categories)))
        object.__setattr__(self, "revisions", MappingProxyType(dict(self.revisions)))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "digest", table_digest(names))
        object.__setattr__(
            self, "_bits", MappingProxyType({name: 1 << i for i, name in enumerate(names)})
        )

    @classmethod
    def of(
        cls, providers: Iterable[Provider], revisions: Mapping[str, str] | None = None
    ) -> ProviderTable:
        """The table of configured providers; a name in two categories is a ValueError.

        Several providers may share a name (two Google Analytics properties): the
        visitor allows them together, as they are shown together.
        """
        categories: dict[str, str] = {}
        for provider in providers:
            known = categories.setdefault(provider.name, provider.category)
            if known != provider.category:
                raise ValueError(
                    f"provider {provider.name!r} is in both {known!r} and {provider.category!r}"
                )
        return cls(categories, dict(revisions or {}))

    def choosable(self, names: Iterable[str]) -> frozenset[str]:
        """The names a visitor can allow on their own: known, and not always on."""
        return frozenset(
            name for name in names if self.categories.get(name, NECESSARY) != NECESSARY
        )

    def mask(self, names: Iterable[str]) -> int:
        """The bitmask of ``names``; names not in the table are left out."""
        bits = 0
        for name in names:
            bits |= self._bits.get(name, 0)
        return bits

    def names_in(self, mask: int) -> frozenset[str] | None:
        """The names a bitmask stands for; None if it has a bit beyond the table."""
        if mask < 0 or mask >> len(self.names):
            return None
        return frozenset(name for i, name in enumerate(self.names) if mask >> i & 1)


def table_digest(names: tuple[str, ...]) -> str:
    """48 bits of SHA-256 over the sorted names: a cookie from another table cannot pass."""
    data = hashlib.sha256("\n".join(names).encode("utf-8")).digest()[:6]
    return base64.urlsafe_b64encode(data).decode("ascii")


EMPTY_TABLE = ProviderTable({})
