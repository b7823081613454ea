"""The texts a visitor was shown, kept once per fingerprint beside the records.

A record carries the fingerprint of the page the choice was made on and the
revision of each category it granted; both are SHA-256 digests. The log's
texts table keeps what they digest, so the operator can show what a visitor
saw on a given day, and anyone can check it: the SHA-256 of ``content``'s UTF-8
bytes is ``fingerprint``.

- kind ``"category"``: a category's revision; ``content`` is the canonical JSON
  (sorted keys, no spaces) of what it shows per language: its title and
  description, and its providers with all they disclose (``_revisions``).
- kind ``"page"``: the banner or the preference centre in one language, as the
  text fingerprint of a record names it; ``content`` is its HTML, with the
  per-request values (form token, return path) left as ``\\x00csrf\\x00`` holes.

consentgate writes them at start-up (idempotently: a text already kept keeps
its ``first_seen``, and gets a new ``last_seen``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "KeptTexts",
    "ShownTexts",
    "TextsKind",
    "TextsStore",
    "texts_json",
]

TextsKind = Literal["category", "page"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ShownTexts:
    """Texts a visitor can be shown, as consentgate computed them at start-up."""

    kind: TextsKind
    #: The category's name, or the page's (``"banner"``, ``"preferences"``).
    name: str
    #: A page's language; a category's content holds every language (None).
    language: str | None
    #: Exactly what ``fingerprint`` is the SHA-256 of.
    content: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class KeptTexts:
    """Texts as the log keeps them: with their fingerprint and when they were shown."""

    fingerprint: str
    kind: TextsKind
    name: str
    language: str | None
    content: str
    #: The start-up that first kept them.
    first_seen: datetime
    #: The latest start-up that showed them.
    last_seen: datetime

    @property
    def intact(self) -> bool:
        """Whether ``content`` still digests to ``fingerprint``."""
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest() == self.fingerprint

    def as_json(self) -> dict[str, Any]:
        """For an export: a category's content as the JSON object it is, a page's as HTML."""
        return {
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "name": self.name,
            "language": self.language,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "intact": self.intact,
            "content": json.loads(self.content) if self.kind == "category" else self.content,
        }


def texts_json(kept: Iterable[KeptTexts]) -> str:
    """The texts as one JSON array (what ``export --texts`` prints), oldest first."""
    return json.dumps([t.as_json() for t in kept], ensure_ascii=False, indent=2) + "\n"


@runtime_checkable
class TextsStore(Protocol):
    """A consent log that keeps texts (the SQLite and PostgreSQL logs do)."""

    async def keep_texts(self, texts: Iterable[ShownTexts], now: datetime) -> None:
        """Store ``texts`` not kept yet with ``first_seen`` ``now``; for those kept, set
        ``last_seen`` to ``now``. Idempotent, in one transaction."""

    async def kept_texts(self, kind: TextsKind | None = None) -> list[KeptTexts]:
        """The texts kept (of ``kind``, if given), oldest first."""
