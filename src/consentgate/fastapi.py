"""FastAPI: the visitor's consent as a dependency.

.. code-block:: python

    from consentgate.fastapi import Consent

    @app.get("/")
    async def home(consent: Consent) -> dict[str, bool]:
        return {"video": consent.allows("marketing")}

Needs ``fastapi`` installed; consentgate itself does not depend on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ._state import ConsentState, get_consent

__all__ = ["Consent"]


def _consent_of(connection: HTTPConnection) -> ConsentState:
    # HTTPConnection, not Request: FastAPI then fills it for websockets too.
    return get_consent(connection)


#: A path operation's parameter annotated ``Consent`` receives the visitor's ConsentState.
Consent = Annotated[ConsentState, Depends(_consent_of)]
