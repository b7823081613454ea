"""``request.consent``: the visitor's ConsentState on every Django request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from ..._state import get_consent

__all__ = ["ConsentStateMiddleware"]


class ConsentStateMiddleware:
    """Sets ``request.consent`` from what ConsentMiddleware, around the ASGI app, found.

    Works in sync and async middleware chains alike. A request that did not pass
    ConsentMiddleware (Django's test client, for one) gets "no choice".
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        request.consent = get_consent(request)
        return self.get_response(request)

    async def _acall(self, request: Any) -> Any:
        request.consent = get_consent(request)
        response: Awaitable[Any] = self.get_response(request)
        return await response
