"""The middleware's life cycle, on servers that speak the ASGI lifespan protocol.

    lifespan.startup ──> the app starts ──> the app says startup.complete
        ──> consentgate opens the consent log and migrates it, keeps the texts it
            shows (warning of changed category revisions), starts retention, and
            replays (in the background) what an earlier process left in the outbox
              ├─ fine ──> startup.complete to the server
              └─ fails ──> startup.failed, with what to fix (the server exits)
    lifespan.shutdown ──> the app shuts down ──> the app says shutdown.complete
        ──> consentgate stops retention and the outbox's retries, finishes pending
            log writes, closes the log
        ──> shutdown.complete to the server

consentgate starts after the app, so that an app whose own start-up fails is
not left with a migrated log, and closes after it, so that nothing the app
does while shutting down finds the log closed. An app that refuses the
lifespan before it begins (Django's handler raises at once; others return) is
left out of it, and consentgate answers the server alone. On a server without
lifespan none of this runs: the log opens on first use, and retention and the
outbox start with the first request to consentgate's routes, as before.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._outbox import Outbox
from ._retention import Retention
from ._texts_keeper import TextsKeeper
from .log import ConsentLog

__all__ = ["Lifespan"]

logger = logging.getLogger(__name__)


class Lifespan:
    """Opens the consent log at start-up and closes it at shutdown, around the app's own."""

    def __init__(
        self, log: ConsentLog, retention: Retention | None, outbox: Outbox, texts: TextsKeeper
    ) -> None:
        self.log = log
        self.retention = retention
        self.outbox = outbox
        self.texts = texts

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        received = False

        async def receive_noted() -> Message:
            nonlocal received
            received = True
            return await receive()

        async def send_after_ours(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                problem = await self.startup()
                if problem is not None:
                    message = {"type": "lifespan.startup.failed", "message": problem}
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.shutdown()
            await send(message)

        try:
            await app(scope, receive_noted, send_after_ours)
        except Exception:
            if received:
                raise
        if received:
            return
        # Refused or ignored before it began: the app does not speak lifespan (Django's
        # handler raises at once, others return), so consentgate speaks it alone.
        logger.debug("the app does not take part in the lifespan; consentgate does alone")
        await self.alone(receive, send)

    async def alone(self, receive: Receive, send: Send) -> None:
        """The lifespan protocol for consentgate only, around an app that does not speak it."""
        if (await receive())["type"] != "lifespan.startup":
            return
        problem = await self.startup()
        if problem is not None:
            await send({"type": "lifespan.startup.failed", "message": problem})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown: nothing else may come
        await self.shutdown()
        await send({"type": "lifespan.shutdown.complete"})

    async def startup(self) -> str | None:
        """Open and migrate the log, start retention and the outbox's replay; what went
        wrong, or None."""
        try:
            version = await self.log.migrate()
            await self.texts.keep()
        except Exception as exc:
            problem = (
                f"consentgate could not open the consent log: {exc}. Check the store "
                "setting and that the database is reachable (`consentgate migrate "
                "--store URL` tells the same)"
            )
            logger.error("%s", problem)
            await self.log.aclose()
            return problem
        logger.info("consent log ready (schema version %d)", version)
        if self.retention is not None:
            self.retention.start()
        self.outbox.poke()
        return None

    async def shutdown(self) -> None:
        """Stop retention and the outbox's retries (what is pending stays in its file), then
        close the log once its pending writes are done; never raises."""
        if self.retention is not None:
            await self.retention.stop()
        await self.outbox.aclose()
        try:
            await self.log.aclose()
        except Exception:
            logger.exception("closing the consent log failed")
