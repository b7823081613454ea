"""Testing a site's consent in its own test suite, in process (no server).

``ConsentClient(app)`` is a visitor who chooses through the banner's real form;
``assert_no_tracking_before_consent(app, paths=[...])`` and
``assert_declared(app, paths=[...])`` run the scanner's checks (``consentgate
scan``) on the app and fail with its findings. Installing ``consentgate[scan]``
also gives pytest a ``consent_client`` fixture for the app of the site's
``consentgate_app`` fixture.
"""

from __future__ import annotations

from ._assertions import (
    assert_declared,
    assert_no_tracking_before_consent,
    format_findings,
    scan_app,
)
from ._client import Action, AsyncConsentClient, ConsentClient

__all__ = [
    "Action",
    "AsyncConsentClient",
    "ConsentClient",
    "assert_declared",
    "assert_no_tracking_before_consent",
    "format_findings",
    "scan_app",
]
