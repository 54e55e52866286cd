"""The transactional outbox: record work inside the writer's transaction, run it after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from csat.models import OutboxEvent

logger = logging.getLogger(__name__)

# Each handler takes the event's object id and must be idempotent: an event can run twice
# (the relay re-sends one whose worker died, acks_late redelivers after a crash).
HANDLERS: dict[str, list[str]] = {
    OutboxEvent.Kind.RESPONSE_SUBMITTED: [
        "feedback.services.case_open_for_response",
        "metrics.services.metrics_apply_response",
    ],
    OutboxEvent.Kind.RESPONSE_CHANGED: ["metrics.services.metrics_apply_response"],
    OutboxEvent.Kind.CASE_CHANGED: ["metrics.services.metrics_apply_case"],
    OutboxEvent.Kind.INTERACTION_RECORDED: ["metrics.services.metrics_apply_interaction"],
    OutboxEvent.Kind.INVITATION_CHANGED: ["metrics.services.metrics_apply_invitation"],
    OutboxEvent.Kind.PURCHASE_RECORDED: ["metrics.services.metrics_apply_purchase"],
    # One event per committed chunk of an import, applied in bulk (surveys/imports/).
    OutboxEvent.Kind.IMPORT_CHUNK: ["surveys.imports.handoff.import_chunk_apply"],
}


def outbox_record(kind: str, object_id: int) -> OutboxEvent:
    """Store an event in the current transaction; enqueue its task once the transaction commits."""
    event = OutboxEvent.objects.create(kind=kind, object_id=object_id)
    transaction.on_commit(lambda: outbox_dispatch(event.pk))
    return event


def outbox_dispatch(event_id: int) -> bool:
    """Send the event's task to the broker; a broker outage leaves it for the relay.

    Returns whether it was sent. The first dispatch, after commit, is not stamped: the relay's
    cut-off on `created_at` already leaves a fresh event alone, and a stamp would cost every
    write a second commit. The relay stamps what it re-sends."""
    from csat.tasks import outbox_process

    try:
        outbox_process.delay(event_id)
    except Exception:  # the relay picks the event up again; the response is already safe
        logger.exception("could not enqueue outbox event %s; the relay will retry", event_id)
        return False
    return True


def outbox_process(event_id: int) -> bool:
    """Run the handlers of one event; True when it ran, False when it was already done."""
    event = OutboxEvent.objects.filter(pk=event_id, processed_at__isnull=True).first()
    if event is None:
        return False
    OutboxEvent.objects.filter(pk=event_id).update(attempts=F("attempts") + 1)
    try:
        for path in HANDLERS.get(event.kind, []):
            handler: Callable[[int], object] = import_string(path)
            handler(event.object_id)
    except Exception as error:
        # Left unprocessed: the relay sends it again; the error stays visible meanwhile.
        OutboxEvent.objects.filter(pk=event_id).update(last_error=repr(error)[:2000])
        raise
    OutboxEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        processed_at=timezone.now(), last_error=""
    )
    return True


def outbox_relay() -> int:
    """Re-send the events that no worker finished in time; returns how many were sent."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_RETRY_AFTER_SECONDS)
    stale = list(
        OutboxEvent.objects.filter(processed_at__isnull=True, created_at__lt=cutoff)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    sent = [event_id for event_id in stale if outbox_dispatch(event_id)]
    OutboxEvent.objects.filter(pk__in=sent).update(dispatched_at=timezone.now())
    return len(stale)
