"""Litestar: ``Litestar(..., plugins=[ConsentPlugin(config)])``.

The plugin puts ConsentMiddleware around the whole Litestar application, in
front of its router, as wrapping the app does, so the app stays a ``Litestar``
(``litestar run`` finds it, ``app.state`` and the rest are where they were).
It does so at start-up, where it also opens the consent log, and closes the
log at shutdown: serve the app with lifespan (uvicorn does; Litestar's test
clients do). Litestar's ``middleware=[DefineMiddleware(ConsentMiddleware, ...)]``
cannot work: it runs after routing, where ``/_consent`` never arrives.

Needs ``litestar`` installed; consentgate itself does not depend on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.plugins import InitPlugin

from ._config import ConsentConfig
from ._exceptions import StorageError
from ._middleware import ConsentMiddleware

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.config.app import AppConfig
    from starlette.types import Receive, Scope, Send

__all__ = ["ConsentPlugin"]


class ConsentPlugin(InitPlugin):
    """Gates the Litestar app behind the visitor's consent, set up from ``config``.

    The config is checked (templates rendered, snippets compiled) when the
    plugin is made, as for ConsentMiddleware.
    """

    def __init__(self, config: ConsentConfig) -> None:
        self.middleware = ConsentMiddleware(_not_started, config=config)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.on_startup.append(self._start)
        app_config.on_shutdown.append(self._stop)
        return app_config

    async def _start(self, app: Litestar) -> None:
        problem = await self.middleware.lifespan.startup()
        if problem is not None:
            raise StorageError(problem)
        self.middleware.app = app.asgi_handler  # type: ignore[assignment]
        app.asgi_handler = self.middleware  # type: ignore[assignment]

    async def _stop(self, app: Litestar) -> None:
        await self.middleware.lifespan.shutdown()


async def _not_started(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("consentgate's Litestar plugin serves requests only after start-up")
