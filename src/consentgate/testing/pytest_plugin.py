"""The pytest plugin of ``consentgate[scan]``: a ``consent_client`` fixture.

The site says which app to test with a fixture of its own, in its ``conftest.py``::

    @pytest.fixture
    def consentgate_app():
        return app

pytest loads this module whenever consentgate is installed, so it imports the kit
(and httpx) only when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from . import ConsentClient


@pytest.fixture
def consent_client(request: pytest.FixtureRequest) -> Iterator[ConsentClient]:
    """A new visitor of the site's ``consentgate_app``, with their own cookies."""
    try:
        app = request.getfixturevalue("consentgate_app")
    except pytest.FixtureLookupError:
        app = None
    if app is None:
        pytest.fail(
            "consent_client needs the app to test: define a `consentgate_app` fixture "
            "returning your ASGI app (in conftest.py)",
            pytrace=False,
        )
    from . import ConsentClient

    with ConsentClient(app) as client:
        yield client
