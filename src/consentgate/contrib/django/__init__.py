"""Django (under ASGI): the site's ASGI application behind consentgate, set up from settings.

In the project's ``asgi.py``::

    from consentgate.contrib.django import get_asgi_application

    application = get_asgi_application()

and in ``settings.py`` the app (for the template tag), the middleware that puts
the visitor's consent on ``request.consent``, the context processor that puts
it in templates as ``consent``, and the settings themselves::

    INSTALLED_APPS = [..., "consentgate.contrib.django"]
    MIDDLEWARE = [..., "consentgate.contrib.django.middleware.ConsentStateMiddleware"]
    TEMPLATES[0]["OPTIONS"]["context_processors"] += [
        "consentgate.contrib.django.context_processors.consent"
    ]
    CONSENTGATE = {"policy_version": "2026-11", "providers": [...]}  # or a TOML file's path

Django under WSGI cannot run consentgate, an ASGI middleware.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..._config import ConsentConfig, read_toml
from ..._exceptions import ConfigurationError
from ..._middleware import AnyASGIApp, ConsentMiddleware

__all__ = ["config_from_settings", "get_asgi_application"]

#: The environment variable that, when set, gives the secret (as for a TOML file).
_SECRET_ENV = "CONSENTGATE_SECRET_KEY"


def get_asgi_application(
    app: AnyASGIApp | None = None, *, config: ConsentConfig | None = None
) -> ConsentMiddleware:
    """Django's ASGI application (or ``app``, e.g. one wrapped for static files) behind
    ConsentMiddleware, configured from ``settings.CONSENTGATE`` unless ``config`` is given."""
    if app is None:
        from django.core.asgi import get_asgi_application as django_asgi_application

        app = django_asgi_application()
    return ConsentMiddleware(app, config=config or config_from_settings())


def config_from_settings() -> ConsentConfig:
    """The ConsentConfig that Django's ``settings.CONSENTGATE`` describes.

    ``CONSENTGATE`` is a dict of consentgate's settings (as ``ConsentConfig``
    takes them, or as a TOML file has them) or the path of a consentgate TOML
    file. Relative paths in a dict are taken from ``BASE_DIR``, in a file from
    its folder. Without a secret of its own (and without
    ``CONSENTGATE_SECRET_KEY``), consentgate derives its keys from Django's
    ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``, so rotating those rotates it.
    """
    from django.conf import settings

    value = getattr(settings, "CONSENTGATE", None)
    base: Path | None
    if isinstance(value, str | os.PathLike):
        data, base = read_toml(value), Path(value).absolute().parent
    elif isinstance(value, Mapping):
        data = dict(value)
        base_dir = getattr(settings, "BASE_DIR", None)
        base = Path(base_dir) if base_dir is not None else None
    else:
        raise ConfigurationError(
            "CONSENTGATE",
            "set it in Django's settings to a dict of consentgate settings or the path of "
            f"a consentgate TOML file, not {value!r}",
        )
    if "secret_key" not in data and "secret_keys" not in data and not os.environ.get(_SECRET_ENV):
        data["secret_keys"] = _derived_keys(settings)
    return ConsentConfig.from_mapping(data, relative_to=base)


def _derived_keys(settings: Any) -> list[str]:
    """consentgate's own keys from Django's: related to them, but never the same secret."""
    django_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    return [
        hashlib.sha256(b"consentgate\0" + str(key).encode()).hexdigest()
        for key in django_keys
        if key
    ]
