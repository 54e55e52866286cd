from __future__ import annotations

from celery import shared_task

from metrics import services


@shared_task(name="metrics.tasks.metrics_update_for_response")
def metrics_update_for_response(response_id: int) -> None:
    """Update the rollups one response belongs to."""
    services.metrics_update_for_response(response_id)
