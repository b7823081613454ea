"""The Django app, so that ``{% load consentgate %}`` finds the template tag."""

from __future__ import annotations

from django.apps import AppConfig


class ConsentgateConfig(AppConfig):
    name = "consentgate.contrib.django"
    label = "consentgate"
    verbose_name = "consentgate"
