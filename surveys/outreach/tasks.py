"""Celery tasks for outreach: thin, idempotent wrappers around the services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from surveys.outreach import delivery

logger = logging.getLogger(__name__)


def _enqueue(task: object, invitation_id: int) -> None:
    try:
        task.delay(invitation_id)  # type: ignore[attr-defined]
    except Exception:  # the claim's lease runs out and the next dispatch claims it again
        logger.exception("could not enqueue invitation %s; it will be claimed again", invitation_id)


@shared_task(name="surveys.outreach.tasks.invitations_dispatch_due")
def invitations_dispatch_due() -> dict[str, int]:
    """Periodic: claim due invitations and reminders; enqueue one task each after commit."""
    with transaction.atomic():
        claimed = delivery.invitations_claim_due()
        for invitation_id in claimed.sends:
            transaction.on_commit(lambda pk=invitation_id: _enqueue(invitation_send, pk))
        for invitation_id in claimed.reminders:
            transaction.on_commit(lambda pk=invitation_id: _enqueue(invitation_remind, pk))
    return {"sends": len(claimed.sends), "reminders": len(claimed.reminders)}


@shared_task(name="surveys.outreach.tasks.invitation_send")
def invitation_send(invitation_id: int) -> str:
    """Send one invitation (once, however often it runs)."""
    return delivery.invitation_send(invitation_id)


@shared_task(name="surveys.outreach.tasks.invitation_remind")
def invitation_remind(invitation_id: int) -> str:
    """Send one invitation's reminder (once, however often it runs)."""
    return delivery.invitation_remind(invitation_id)
