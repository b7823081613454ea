"""Settings of the example Django project; consentgate's are ``CONSENTGATE`` at the end."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-demo-only-do-not-use-in-production-0123456789"
)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "consentgate.contrib.django",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "consentgate.contrib.django.middleware.ConsentStateMiddleware",
]

ROOT_URLCONF = "examples.django_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "consentgate.contrib.django.context_processors.consent",
            ],
        },
    },
]

ASGI_APPLICATION = "examples.django_site.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DATABASE", BASE_DIR / "db.sqlite3"),
    }
}

LANGUAGE_CODE = "da"
TIME_ZONE = "Europe/Copenhagen"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# consentgate: the same settings as ConsentConfig or a consentgate.toml takes (or the path
# of such a file). Without a secret of its own, its keys are derived from SECRET_KEY.
CONSENTGATE = {
    "policy_version": "2026-11",
    "controller_name": "Eksempel ApS",
    "privacy_policy_url": "/privacy/",
    "default_language": "da",
    # Relative to BASE_DIR, like the rest of a Django project.
    "store": os.environ.get("CONSENTGATE_STORE", "sqlite:///consentgate.db"),
    "providers": [{"type": "google-analytics", "measurement_id": "G-DEMO000000"}],
    # The admin is for staff, not visitors: no banner, no trackers.
    "exclude_paths": ["/admin"],
    # The page template has {% consent_settings_link %} in its footer instead.
    "show_settings_link": False,
}
