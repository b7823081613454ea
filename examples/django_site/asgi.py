"""The project's ASGI application: Django behind consentgate.

``uvicorn examples.django_site.asgi:application``. In development the admin's
static files are served too; in production let the web server serve them.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_site.settings")

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application as django_application

from consentgate.contrib.django import get_asgi_application

django_app = django_application()
application = get_asgi_application(
    ASGIStaticFilesHandler(django_app) if settings.DEBUG else django_app
)
