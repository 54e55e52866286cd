"""The Celery app: settings under the CELERY_ namespace, tasks autodiscovered, Django logging."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csat.settings")

app = Celery("csat")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(*args: object, **kwargs: object) -> None:
    """Hand logging to Django's LOGGING setting instead of Celery's own."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
