"""``python -m consentgate``: the same as the ``consentgate`` command."""

from __future__ import annotations

import sys

from ._cli import main

sys.exit(main())
