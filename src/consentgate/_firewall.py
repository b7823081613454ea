"""The server-side cookie firewall: tracker cookies exist only with consent.

Every provider declares the cookies it sets. A ``Set-Cookie`` from the app for
a cookie whose provider is not allowed (neither on its own nor through its
category) is dropped, and such cookies the browser still holds are expired. A
cookie several providers declare passes when any of them is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from ._cache import Memo
from ._cookie import expire_cookie_header
from ._state import ConsentState
from .providers import Provider

__all__ = ["CookieFirewall"]

#: Browsers keep at most a few hundred cookies for a site; a request naming more
#: tracker cookies than this is not a browser's, and the rest are not expired.
MAX_TRACKER_COOKIES = 200
#: Longer cookie names are looked up without being remembered.
MAX_CACHED_NAME = 256


class CookieFirewall:
    def __init__(self, providers: Iterable[Provider], cookie_domain: str | None) -> None:
        patterns: dict[tuple[str, str], list[str]] = {}
        for provider in providers:
            for cookie in provider.cookies:
                owner = (provider.name, provider.category)
                patterns.setdefault(owner, []).append(cookie.pattern())
        self._matchers = [
            (owner, re.compile("|".join(f"(?:{p})" for p in sources)))
            for owner, sources in patterns.items()
        ]
        # Every declared name in one pattern, over raw header bytes: a request's cookie
        # names are checked without decoding or remembering any of them.
        self._declared = re.compile(
            "|".join(f"(?:{p})" for sources in patterns.values() for p in sources).encode("latin-1")
            or b"(?!)"
        )
        self._cookie_domain = cookie_domain
        self.owners_of = Memo(
            self._owners_of,
            max_entries=1024,
            max_bytes=1024 * (MAX_CACHED_NAME + 100),
            max_key_bytes=MAX_CACHED_NAME,
        )

    def __bool__(self) -> bool:
        return bool(self._matchers)

    def _owners_of(self, cookie_name: str) -> tuple[tuple[str, str], ...]:
        """The ``(provider name, category)`` of every provider that declared ``cookie_name``."""
        return tuple(owner for owner, matcher in self._matchers if matcher.fullmatch(cookie_name))

    def blocks(self, cookie_name: str, state: ConsentState) -> bool:
        owners = self.owners_of(cookie_name)
        return bool(owners) and not any(
            state.allows(category) or name in state.providers for name, category in owners
        )

    def allows_set_cookie(self, header_value: bytes, state: ConsentState) -> bool:
        name = header_value.split(b"=", 1)[0].strip().decode("latin-1")
        return not self.blocks(name, state)

    def trackers_in(self, cookie_names: Iterable[bytes]) -> tuple[str, ...]:
        """The names among ``cookie_names`` that some provider declared, each once."""
        declared = self._declared
        found: dict[str, None] = {}
        for raw in cookie_names:
            if declared.fullmatch(raw) is not None:
                found[raw.decode("latin-1")] = None
                if len(found) == MAX_TRACKER_COOKIES:
                    break
        return tuple(found)

    def expire(
        self, request_cookies: Iterable[str], state: ConsentState, hostname: str
    ) -> list[str]:
        """``Set-Cookie`` values expiring every blocked cookie the browser sent.

        ``request_cookies`` are the names sent (a mapping of cookies does too);
        ``hostname`` must be checked already (:func:`consentgate._http.hostname`).

        A tracker may have set its cookie on the host or on any parent domain
        (Google Analytics picks the highest it can), so each is expired on all
        of them; browsers ignore the ones naming a public suffix.
        """
        names = [name for name in request_cookies if self.blocks(name, state)]
        if not names:
            return []
        domains = _domains_for(hostname, self._cookie_domain)
        return [expire_cookie_header(name, domain) for name in names for domain in domains]


def _domains_for(hostname: str, cookie_domain: str | None) -> list[str | None]:
    domains: list[str | None] = [None]
    if hostname and "." in hostname and not _is_ip(hostname):
        labels = hostname.split(".")
        domains += [".".join(labels[i:]) for i in range(len(labels) - 1)]
    if cookie_domain and cookie_domain.lstrip(".") not in domains:
        domains.append(cookie_domain.lstrip("."))
    return domains


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return False
    return True
