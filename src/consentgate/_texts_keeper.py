"""Keeping what visitors are shown in the consent log's texts table, once per process.

At start-up (or, on a server without lifespan, before the first record) the
revision of each category and each fingerprinted page is written with what it
digests (``log._texts``), a warning names the categories whose revision changed
since the log last saw them, and the renderer learns the revisions the site
showed before, so that a banner asking again can say which providers are new.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from ._render import Renderer
from .log import ConsentLog
from .log._texts import ShownTexts, TextsStore, latest_revisions, warn_changed_revisions

__all__ = ["TextsKeeper"]

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
            warn_changed_revisions(latest_revisions(before), shown)
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
