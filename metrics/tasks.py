"""Celery tasks: thin wrappers that call a service. All idempotent, acknowledged late."""

from __future__ import annotations

from celery import shared_task

from metrics import services


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
    """Nightly: recent purchase links, then a full recompute job that freezes the settled
    quarters when it is done."""
    services.metrics_nightly_request()
