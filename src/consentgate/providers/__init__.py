"""Trackers and embeds the consent gate injects only after consent.

Each :class:`Provider` names its consent category, the cookies it sets (for the
cookie declaration and the cookie firewall) and the markup to inject. The
built-ins cover Google Analytics 4, Site Kit by Google, Jetpack Stats and Buffer,
which consentgate injects, and the trackers and embeds a site writes in its own
templates (Google Tag Manager, Meta Pixel, LinkedIn, Hotjar, Clarity, Matomo,
YouTube, Vimeo, Google Maps), which it declares and blocks until allowed.
"""

from __future__ import annotations

from ._base import DeclaredCookie, Provider
from ._buffer import Buffer
from ._declared import (
    GoogleMaps,
    GoogleTagManager,
    Hotjar,
    LinkedInInsight,
    Matomo,
    MetaPixel,
    MicrosoftClarity,
    Vimeo,
    YouTube,
)
from ._disclosure import Disclosure
from ._google import GoogleAnalytics, SiteKit
from ._wordpress import JetpackStats

__all__ = [
    "Buffer",
    "DeclaredCookie",
    "Disclosure",
    "GoogleAnalytics",
    "GoogleMaps",
    "GoogleTagManager",
    "Hotjar",
    "JetpackStats",
    "LinkedInInsight",
    "Matomo",
    "MetaPixel",
    "MicrosoftClarity",
    "Provider",
    "SiteKit",
    "Vimeo",
    "YouTube",
]
