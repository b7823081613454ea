"""Keeping what visitors are shown in the consent log's texts table, once per process.

At start-up (or, on a server without lifespan, before the first record) the
revision of each category and each fingerprinted page is written with what it
digests (``log._texts``), a warning line per category says how its revision
changed since the log last saw it (the revision the latest earlier start-up
kept, which the log's records since were granted in), and the renderer learns the revisions the site
showed before, so that a banner asking again can say which providers are new.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ._render import Renderer
from ._revisions import provider_revisions
from .log import ConsentLog
from .log._texts import KeptTexts, ShownTexts, TextsStore

__all__ = ["TextsKeeper", "log_changed_revisions"]

logger = logging.getLogger(__name__)


class TextsKeeper:
    def __init__(self, log: ConsentLog, renderer: Renderer) -> None:
        self.log = log
        self.renderer = renderer
        self._kept = False
        self._lock = asyncio.Lock()
        #: Fingerprints of pages rendered per visitor (a banner asking again) kept already.
        self._pages: set[str] = set()

    async def keep(self) -> None:
        """Write the texts and learn the earlier revisions, once; StorageError if the log fails
        (it is tried again next time)."""
        if self._kept:
            return
        async with self._lock:
            if self._kept:
                return
            log = self.log
            if not isinstance(log, TextsStore):
                logger.info(
                    "%s keeps no texts: the texts behind text fingerprints and category "
                    "revisions are not in the log",
                    type(log).__name__,
                )
                self._kept = True
                return
            shown = self.renderer.shown_texts()
            before = await log.kept_texts("category")
            await log.keep_texts(shown, datetime.now(UTC))
            log_changed_revisions(before, shown)
            self.renderer.remember(before)
            self._kept = True

    async def keep_page(self, page: ShownTexts) -> None:
        """Keep a page rendered on demand (a banner asking again), once per process."""
        fingerprint = page.fingerprint
        if fingerprint in self._pages or not isinstance(self.log, TextsStore):
            return
        await self.log.keep_texts([page], datetime.now(UTC))
        if len(self._pages) < 4096:
            self._pages.add(fingerprint)


def log_changed_revisions(before: Iterable[KeptTexts], shown: Iterable[ShownTexts]) -> list[str]:
    """Log a warning per category whose revision differs from the one the log last kept.

    ``before`` is the texts table's categories before this start-up kept its own;
    the revision last seen of each is what the log's records up to now were granted
    in. A category the log has not seen (a new one, or a log from before revisions)
    is no change. Returns the changed categories, sorted.
    """
    latest: dict[str, KeptTexts] = {}
    for texts in before:
        known = latest.get(texts.name)
        if texts.kind == "category" and (known is None or texts.last_seen >= known.last_seen):
            latest[texts.name] = texts
    changed = []
    for now in sorted((t for t in shown if t.kind == "category"), key=lambda t: t.name):
        last = latest.get(now.name)
        if last is None or last.fingerprint == now.fingerprint:
            continue
        changed.append(now.name)
        logger.warning(
            "consent category %r changed since the consent log last saw it (revision %s, "
            "shown until %s, is now %s): %s. Visitors who granted it are asked about it "
            "again; their other choices stand",
            now.name,
            last.fingerprint[:12],
            last.last_seen.isoformat(timespec="seconds"),
            now.fingerprint[:12],
            _what_changed(last.content, now.content),
        )
    return changed


def _what_changed(before: str, now: str) -> str:
    """What differs between two category contents (``_revisions``), in a few words."""
    try:
        old, new = json.loads(before), json.loads(now)
        was, is_ = provider_revisions(old), provider_revisions(new)
    except (ValueError, TypeError, KeyError, AttributeError):
        return "what it showed before is not readable here"
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (
            ("providers added:", sorted(set(is_) - set(was))),
            ("providers removed:", sorted(set(was) - set(is_))),
            ("providers changed:", sorted(n for n in set(is_) & set(was) if is_[n] != was[n])),
        )
        if names
    ]
    if _titles(old) != _titles(new):
        parts.append("its title or description changed")
    return "; ".join(parts) or "its texts changed"


def _titles(content: Any) -> Any:
    """A category's content without its providers: its title and description per language."""
    if not isinstance(content, dict):
        return content
    return {
        lang: {k: v for k, v in shown.items() if k != "providers"}
        if isinstance(shown, dict)
        else shown
        for lang, shown in content.items()
    }
