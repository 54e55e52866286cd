from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from csat import outbox

BEAT_HEARTBEAT_KEY = "csat:beat:last-relay"


@shared_task(name="csat.tasks.outbox_process")
def outbox_process(event_id: int) -> bool:
    """Run the handlers of one outbox event (idempotent)."""
    return outbox.outbox_process(event_id)


@shared_task(name="csat.tasks.outbox_process_many")
def outbox_process_many(event_ids: list[int]) -> int:
    """Run the handlers of several outbox events, one after the other (each idempotent)."""
    return outbox.outbox_process_many(event_ids)


@shared_task(name="csat.tasks.outbox_relay")
def outbox_relay() -> int:
    """Periodic: re-send outbox events that no worker finished; also the beat heartbeat."""
    cache.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)
    return outbox.outbox_relay()
