"""Buffer, which publishes the site's posts to social networks and measures them off-site."""

from __future__ import annotations

from dataclasses import dataclass, field

from consentgate._exceptions import ConfigurationError
from consentgate._text import LocalizedText

from ._base import BuiltinProvider, bilingual

__all__ = ["Buffer"]

_DESCRIPTION = bilingual(
    en="We use Buffer to publish our posts on social networks. Buffer measures how the posts "
    "do away from this site: through the social networks' own statistics and by counting "
    "clicks on its buff.ly short links. Buffer sets no cookies on this site to do that. "
    "If a Buffer share button is shown, it loads a script from Buffer's servers, so Buffer "
    "receives your IP address and learns which page you are on.",
    da="Vi bruger Buffer til at udgive vores indlæg på sociale netværk. Buffer måler, hvordan "
    "indlæggene klarer sig uden for denne side: via de sociale netværks egen statistik og ved "
    "at tælle klik på sine korte buff.ly-links. Buffer sætter ingen cookies på denne side for "
    "at gøre det. Hvis der vises en delingsknap fra Buffer, henter den et script fra Buffers "
    "servere, så Buffer modtager din IP-adresse og kan se, hvilken side du er på.",
)


@dataclass(frozen=True, kw_only=True)
class Buffer(BuiltinProvider):
    """Buffer, declared so the preference centre tells the whole story.

    Buffer needs nothing on the site to measure posts, so without the share
    button this provider injects nothing and only informs. With it, Buffer's
    script (a third-party embed) turns the page's ``<a class="buffer-add-button">``
    links into share buttons once marketing is granted.
    """

    share_button: bool = True
    name: str = field(init=False, default="buffer")
    title: str = field(init=False, default="Buffer")
    category: str = field(init=False, default="marketing")
    description: LocalizedText = field(init=False, default_factory=lambda: _DESCRIPTION, hash=False)
    privacy_policy_url: str = field(init=False, default="https://buffer.com/privacy")

    def __post_init__(self) -> None:
        if self.share_button:
            object.__setattr__(self, "body_template", "snippets/buffer_button.html")

    def validate(self, field: str) -> None:
        super().validate(field)
        if not isinstance(self.share_button, bool):
            raise ConfigurationError(
                f"{field}.share_button", f"expected True or False, got {self.share_button!r}"
            )
