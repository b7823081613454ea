"""Buffer, which publishes the site's posts to social networks and measures them off-site."""

from __future__ import annotations

from dataclasses import dataclass, field

from consentgate._exceptions import ConfigurationError
from consentgate._locales import provider_text
from consentgate._text import LocalizedText

from ._base import BuiltinProvider
from ._disclosure import Disclosure

__all__ = ["Buffer"]

#: Buffer's share button loads from Buffer's servers, which use what they receive for
#: Buffer's own purposes: an independent controller, processing in the USA.
_BUFFER_DISCLOSURE = Disclosure(
    legal_entity="Buffer Inc.",
    address="2261 Market Street #4671, San Francisco, CA 94114, USA",
    role="independent-controller",
    countries=("US",),
    transfer_basis=("scc",),
    retention=provider_text("retention.buffer"),
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
    description: LocalizedText = field(
        init=False, default_factory=lambda: provider_text("descriptions.buffer"), hash=False
    )
    privacy_policy_url: str = field(init=False, default="https://buffer.com/privacy")
    disclosure: Disclosure | None = field(init=False, default=_BUFFER_DISCLOSURE, hash=False)

    def __post_init__(self) -> None:
        if self.share_button:
            object.__setattr__(self, "body_template", "snippets/buffer_button.html")

    def validate(self, field: str) -> None:
        super().validate(field)
        if not isinstance(self.share_button, bool):
            raise ConfigurationError(
                f"{field}.share_button", f"expected True or False, got {self.share_button!r}"
            )
