"""The transactional outbox: record work inside the writer's transaction, run it after commit."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
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
    """Store an event in the current transaction; publish it once the transaction commits."""
    event = OutboxEvent.objects.create(kind=kind, object_id=object_id)
    transaction.on_commit(lambda: outbox_publish(event.pk))
    return event


# Largest number of events sent in one task message.
PUBLISH_BATCH = 200


class _Publisher:
    """Sends committed events to the broker from a thread of this process, off the request
    path: a request hands over the event id (the row is already committed: the durable
    record) and returns at once; the thread sends what has accumulated as one task message.
    Whatever it cannot send (broker down, process killed before it sent) the relay sends
    later: nothing committed depends on this in-memory list.

    Started on first use in each process (a gunicorn worker forked from a preloading master
    gets its own thread); at exit it sends what is left for up to 5 seconds."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._pid = 0
        self._start_lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending: list[int] = []
        self._in_flight = 0

    def put(self, event_id: int) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._cond:
            self._pending.append(event_id)
            self._cond.notify_all()

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
            thread.start()
            self._pid = os.getpid()
            atexit.register(self.flush, 5.0)

    def _take(self) -> list[int]:
        with self._cond:
            batch = self._pending[:PUBLISH_BATCH]
            del self._pending[:PUBLISH_BATCH]
            self._in_flight += len(batch)
            return batch

    def _send(self, batch: list[int]) -> None:
        try:
            outbox_dispatch_many(batch)
        except Exception:  # never let the thread die: the relay has every event anyway
            logger.exception("outbox publisher failed; the relay will send the events")
        finally:
            with self._cond:
                self._in_flight -= len(batch)
                self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending))
            # Let the events of the next few milliseconds join this one: one task message for
            # many events instead of one each (what a message costs is mostly fixed).
            time.sleep(settings.OUTBOX_PUBLISH_LINGER_SECONDS)
            self._send(self._take())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every event handed over so far has been sent (or failed to send)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and not self._in_flight, timeout=timeout
            )

    def flush(self, timeout: float) -> None:
        """Send what is still waiting (at exit), for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = self._take()
            if not batch:
                return
            self._send(batch)


_publisher = _Publisher()
# A forked child (a gunicorn worker) starts with no thread and nothing pending of its own.
os.register_at_fork(after_in_child=_publisher._reset)


def outbox_publish(event_id: int) -> None:
    """Hand a committed event to the broker: from this process's publisher thread
    (OUTBOX_PUBLISH_IN_BACKGROUND, the default), or here and now."""
    if settings.OUTBOX_PUBLISH_IN_BACKGROUND:
        _publisher.put(event_id)
    else:
        outbox_dispatch_many([event_id])


def outbox_dispatch_many(event_ids: Iterable[int]) -> bool:
    """Send events to the broker as one task message (one event: the single-event task);
    a broker outage leaves them for the relay. Returns whether they were sent."""
    from csat.tasks import outbox_process_many

    ids = list(event_ids)
    if len(ids) == 1:
        return outbox_dispatch(ids[0])
    try:
        outbox_process_many.delay(ids)
    except Exception:
        logger.exception("could not enqueue outbox events %s; the relay will retry", ids)
        return False
    return True


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


def outbox_process_many(event_ids: Iterable[int]) -> int:
    """Run the handlers of several events, each on its own; returns how many ran. An event
    whose handler fails stays unprocessed for the relay and does not stop the others; the
    first error is raised at the end so that the task shows as failed."""
    ran, first_error = 0, None
    for event_id in event_ids:
        try:
            ran += outbox_process(event_id)
        except Exception as error:
            logger.exception("outbox event %s failed; the relay will send it again", event_id)
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    return ran


def outbox_drain() -> int:
    """Run every pending event here, in order, as the worker would, until none is left (a
    handler may record more); returns how many ran. For the demo data, tests and benchmarks:
    production leaves events to the worker."""
    ran = 0
    while pending := list(
        OutboxEvent.objects.filter(processed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        for event_id in pending:
            ran += outbox_process(event_id)
    return ran


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
