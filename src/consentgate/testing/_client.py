"""A visitor of an ASGI app behind consentgate, choosing through the site's real forms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, Literal, Self

import httpx
from anyio.from_thread import start_blocking_portal

from .._state import ConsentState
from ..scan._declaration import Declaration
from ..scan._html import Form, parse_page

__all__ = ["Action", "AsyncConsentClient", "ConsentClient"]

Action = Literal["accept_all", "reject_all", "save"]
_BASE_URL = "http://testserver"


class AsyncConsentClient:
    """A visitor with their own cookies, in process (httpx's ASGI transport).

    ``await client.choose("reject_all")`` posts the banner's form as a browser does
    (its token, an ``Origin`` header); ``choose("save", categories=[...],
    providers=[...])`` posts the preference centre's, which has a toggle per provider.
    """

    def __init__(self, app: Any, *, base_url: str = _BASE_URL, prefix: str = "/_consent"):
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, follow_redirects=True
        )
        self.prefix = prefix
        self.origin = base_url.rstrip("/")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def page(self, path: str) -> httpx.Response:
        """GET ``path`` with this visitor's cookies."""
        return await self.http.get(path)

    async def choose(
        self,
        action: Action,
        *,
        categories: Sequence[str] = (),
        providers: Sequence[str] = (),
        page: str = "/",
    ) -> httpx.Response:
        """Choose on ``page`` (its banner; the preference centre for ``save``, or once the
        banner is gone); returns the page the visitor lands on."""
        shown = await self.http.get(_form_page(action, page, self.prefix))
        if not _has_form(shown):
            shown = await self.http.get(self.prefix + "/preferences")
        form, data = _choice(shown, action, categories, providers, self.prefix, page)
        answer = await self.http.post(
            form.action or self.prefix, data=data, headers={"origin": self.origin}
        )
        return _checked(answer)

    async def consent(self) -> ConsentState:
        """The visitor's consent as the site sees it (``<prefix>/me``)."""
        me = await self.http.get(self.prefix + "/me")
        preferences = await self.http.get(self.prefix + "/preferences")
        return _state(me, preferences)


class ConsentClient:
    """:class:`AsyncConsentClient` for sync tests: the same visitor, run in an event loop
    of its own (a thread) for as long as the client is open. Use it in a ``with`` block,
    or call :meth:`close`."""

    def __init__(self, app: Any, *, base_url: str = _BASE_URL, prefix: str = "/_consent"):
        self._portal_context = start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._client = AsyncConsentClient(app, base_url=base_url, prefix=prefix)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._portal.call(self._client.aclose)
        finally:
            self._portal_context.__exit__(None, None, None)

    @property
    def http(self) -> httpx.AsyncClient:
        """The visitor's httpx client (async: for a request the kit has no method for,
        use :class:`AsyncConsentClient`)."""
        return self._client.http

    def page(self, path: str) -> httpx.Response:
        """GET ``path`` with this visitor's cookies."""
        return self._portal.call(self._client.page, path)

    def choose(
        self,
        action: Action,
        *,
        categories: Sequence[str] = (),
        providers: Sequence[str] = (),
        page: str = "/",
    ) -> httpx.Response:
        """As :meth:`AsyncConsentClient.choose`: through the banner on ``page``, or the
        preference centre for ``save`` or once the banner is gone."""
        choose = partial(
            self._client.choose, action, categories=categories, providers=providers, page=page
        )
        return self._portal.call(choose)

    @property
    def consent(self) -> ConsentState:
        """The visitor's consent as the site sees it (``<prefix>/me``)."""
        return self._portal.call(self._client.consent)


def _has_form(shown: httpx.Response) -> bool:
    return shown.status_code == 200 and bool(parse_page(shown.text).consent_forms())


def _form_page(action: Action, page: str, prefix: str) -> str:
    if action == "save":
        return f"{prefix}/preferences"
    return page


def _choice(
    shown: httpx.Response,
    action: Action,
    categories: Sequence[str],
    providers: Sequence[str],
    prefix: str,
    page: str,
) -> tuple[Form, dict[str, list[str]]]:
    """The form to post and its fields: the form's hidden fields, the action, and the
    boxes ticked as asked (each must be one the form offers)."""
    if action not in ("accept_all", "reject_all", "save"):
        raise ValueError(f"action must be accept_all, reject_all or save, not {action!r}")
    if action != "save" and (categories or providers):
        raise ValueError("categories and providers go with action='save'")
    if shown.status_code != 200:
        raise AssertionError(f"GET {shown.url} answered {shown.status_code}:\n{shown.text}")
    forms = parse_page(shown.text).consent_forms()
    if not forms:
        raise AssertionError(f"neither the page nor {prefix}/preferences shows a consent form")
    form = forms[0]
    offered = {(name, value) for name, value, _ in form.checkboxes}
    for name, values in (("categories", categories), ("providers", providers)):
        unknown = [v for v in values if (name, v) not in offered]
        if unknown:
            known = sorted(v for n, v in offered if n == name)
            raise ValueError(f"the form offers no {name} {unknown}; it offers {known}")
    data: dict[str, list[str]] = {}
    for name, value in form.hidden:
        data.setdefault(name, []).append(value)
    if action == "save":
        data["next"] = [page]
    data["action"] = [action]
    data["categories"] = list(categories)
    data["providers"] = list(providers)
    return form, data


def _checked(answer: httpx.Response) -> httpx.Response:
    if answer.status_code >= 400:
        raise AssertionError(
            f"the choice was refused: {answer.status_code} at {answer.url}\n{answer.text}"
        )
    return answer


def _state(me: httpx.Response, preferences: httpx.Response) -> ConsentState:
    if me.status_code != 200:
        raise AssertionError(f"GET {me.url} answered {me.status_code}")
    data = me.json()
    declaration = Declaration.from_preferences_page(preferences.text, str(preferences.url))
    decided_at = data.get("decided_at")
    return ConsentState(
        consent_id=data["consent_id"],
        granted=frozenset(data["granted"]),
        policy_version=data["policy_version"],
        decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
        providers=frozenset(data["providers"]),
        answered=data["has_choice"] or data["consent_id"] is None,
        provider_categories=declaration.provider_categories,
    )
