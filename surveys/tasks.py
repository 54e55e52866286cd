"""Celery tasks of the surveys app: thin wrappers around services, idempotent."""

from __future__ import annotations

from celery import shared_task

from surveys import retention

# ---------------------------------------------------------------- retention (respondent data)


@shared_task(name="surveys.tasks.responses_purge_expired")
def responses_purge_expired() -> int:
    """Periodic: delete responses older than their survey's retention period."""
    return retention.responses_purge_expired()
