"""A ``Set-Cookie`` header as the scanner reports it: name, domain, lifetime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["SetCookie", "parse_set_cookie"]


@dataclass(frozen=True, slots=True)
class SetCookie:
    name: str
    #: The ``Domain`` attribute without its leading dot, or the host that set it.
    domain: str
    #: Seconds from now; None for a session cookie.
    lifetime: int | None

    @property
    def deletes(self) -> bool:
        """An expiry in the past: the header removes the cookie rather than setting it."""
        return self.lifetime is not None and self.lifetime <= 0


def parse_set_cookie(header: str, host: str, now: datetime | None = None) -> SetCookie | None:
    """The cookie a header sets; None for a header with no name (browsers ignore those).

    ``Max-Age`` wins over ``Expires``, as RFC 6265 says.
    """
    pair, *attributes = header.split(";")
    name, equals, _ = pair.partition("=")
    name = name.strip()
    if not equals or not name:
        return None
    domain = host
    max_age: int | None = None
    expires: int | None = None
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "domain" and value:
            domain = value.lstrip(".").lower()
        elif key == "max-age":
            try:
                max_age = int(value)
            except ValueError:
                continue  # ignored, as browsers do
        elif key == "expires":
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            expires = int((when - (now or datetime.now(UTC))).total_seconds())
    return SetCookie(name, domain, max_age if max_age is not None else expires)
