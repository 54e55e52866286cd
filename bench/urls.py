"""URLs for bench/api.py: the app's own, plus the minimal reference view (bench only)."""

from __future__ import annotations

from django.urls import path

from bench.minimal.views import minimal_insert, ping
from csat.urls import handler400
from csat.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("bench/minimal/", minimal_insert, name="bench-minimal"),
    path("bench/ping/", ping, name="bench-ping"),
    *app_urlpatterns,
]

__all__ = ["handler400", "urlpatterns"]
