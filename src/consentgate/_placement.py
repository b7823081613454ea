"""Is the middleware where consentgate's own routes can reach it?

It must wrap the whole app. Set up inside an app's routing instead (Litestar's
``Litestar(middleware=[DefineMiddleware(ConsentMiddleware, ...)])``, a
Starlette route's or mount's ``middleware=``), it sees only requests the router
matched: pages get a banner, but ``/_consent`` (the choice, the preference
centre, the banner's stylesheet) answers the router's 404, so nobody can make a
choice. The router leaves its mark in the scope, which the first request shows.
"""

from __future__ import annotations

import logging

from starlette.types import Scope

__all__ = ["check_placement"]

logger = logging.getLogger(__name__)

#: Keys routers put in the scope of a request they matched: who puts them there, and
#: the set-up that works instead.
_ROUTED_BY = {
    "route_handler": (
        "Litestar's middleware=[DefineMiddleware(ConsentMiddleware, ...)]",
        "Litestar(..., plugins=[consentgate.litestar.ConsentPlugin(config)]), "
        "or wrap the whole app: app = ConsentMiddleware(app, config=config)",
    ),
    "endpoint": (
        "a route's or mount's middleware=[...]",
        "wrap the whole app: app = ConsentMiddleware(app, config=config)",
    ),
}

_logged = False


def check_placement(scope: Scope) -> None:
    """Log one error per process if ``scope`` was routed before it reached the middleware.

    Once per process, not per middleware: Litestar makes one per route handler.
    """
    global _logged
    found = next((found for key, found in _ROUTED_BY.items() if key in scope), None)
    if found is None or _logged:
        return
    _logged = True
    where, instead = found
    logger.error(
        "ConsentMiddleware is set up inside the app's routing (%s): requests to "
        "consentgate's own routes never reach it, so visitors get a banner but cannot "
        "make a choice. Use %s",
        where,
        instead,
    )
