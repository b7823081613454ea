"""``consent`` in Django templates: ``{% if "marketing" in consent.granted %}``."""

from __future__ import annotations

from typing import Any

from ..._state import ConsentState, get_consent

__all__ = ["consent"]


def consent(request: Any) -> dict[str, ConsentState]:
    """The visitor's ConsentState as ``consent``."""
    state = getattr(request, "consent", None)
    return {"consent": state if isinstance(state, ConsentState) else get_consent(request)}
