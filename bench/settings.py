"""Settings for bench/api.py: the production settings plus the bench-only minimal app."""

from __future__ import annotations

from csat.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.minimal"]  # noqa: F405
ROOT_URLCONF = "bench.urls"
