"""Celery tasks: thin wrappers that call a service. All idempotent, acknowledged late."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from metrics import families, services


@shared_task(name="metrics.tasks.metrics_run_recompute")
def metrics_run_recompute(job_id: int) -> bool:
    """Run a recorded recompute job (a second delivery finds it claimed and does nothing)."""
    return services.metrics_run_recompute(job_id)


@shared_task(name="metrics.tasks.metrics_recompute_dirty")
def metrics_recompute_dirty() -> int:
    """Periodic: recompute the periods that new events made dirty."""
    return services.metrics_recompute_dirty()


@shared_task(name="metrics.tasks.metrics_refresh_open_periods")
def metrics_refresh_open_periods() -> None:
    """Periodic: deadlines and windows move with time; refresh the periods they touch."""
    services.metrics_refresh_open_periods()


@shared_task(name="metrics.tasks.metrics_nightly")
def metrics_nightly() -> None:
    """Nightly: re-derive recent purchase links, then a full recompute job that freezes the
    settled quarters when it is done."""
    now = timezone.now()
    services.responses_link_purchases(
        submitted_since=now - families.repurchase_window() - timedelta(days=1)
    )
    # The job freezes the settled quarters once it has recomputed them.
    services.metrics_request_recompute(reason=services.NIGHTLY_REASON)
