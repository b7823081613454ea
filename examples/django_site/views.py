from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from consentgate import get_consent


def home(request: HttpRequest) -> HttpResponse:
    # The same as request.consent (ConsentStateMiddleware); templates have it as ``consent``.
    video = get_consent(request).allows("marketing")
    return render(request, "home.html", {"show_video": video})


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy.html")
