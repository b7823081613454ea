"""Trackers and embeds the consent gate injects only after consent.

Each :class:`Provider` names its consent category, the cookies it sets (for the
cookie declaration and the cookie firewall) and the markup to inject. The
built-ins cover Google Analytics 4, Site Kit by Google, Jetpack Stats and Buffer.
"""

from __future__ import annotations

from ._base import DeclaredCookie, Provider
from ._buffer import Buffer
from ._google import GoogleAnalytics, SiteKit
from ._wordpress import JetpackStats

__all__ = [
    "Buffer",
    "DeclaredCookie",
    "GoogleAnalytics",
    "JetpackStats",
    "Provider",
    "SiteKit",
]
