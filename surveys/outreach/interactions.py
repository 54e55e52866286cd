"""Writes for interactions: touchpoint events, the denominator of coverage and complaint rate,
each scheduling the survey invitation its touchpoint's rule asks for."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_record
from metrics.periods import quarter_label
from surveys.models import Customer, Interaction, Touchpoint
from surveys.outreach.customers import FUTURE_TOLERANCE
from surveys.outreach.invitations import invitation_schedule_for_interaction

Details = tuple[Customer, Touchpoint | None, User | None, datetime, str]


def _replayed(interaction: Interaction, details: Details) -> Interaction:
    """The interaction already stored under an external id, if the details are the same."""
    customer, touchpoint, agent, occurred_at, description = details
    same = (
        interaction.customer_id == customer.pk
        and interaction.touchpoint_id == (touchpoint.pk if touchpoint else None)
        and interaction.agent_id == (agent.pk if agent else None)
        and interaction.occurred_at == occurred_at
        and interaction.description == description
    )
    if not same:
        raise ApplicationError(
            _("An interaction with this external id was already recorded with other details."),
            {"external_id": [_("Already used for a different interaction.")]},
            status_code=422,
        )
    return interaction


def interaction_record(
    *,
    customer: Customer,
    touchpoint: Touchpoint | None,
    occurred_at: datetime,
    agent: User | None = None,
    description: str = "",
    external_id: str = "",
    now: datetime | None = None,
) -> tuple[Interaction, bool]:
    """Store an interaction, its outbox event and the invitation its touchpoint's rule
    schedules, in one transaction; returns (interaction, created). The same external id
    again returns the first interaction; with other details it is refused (422)."""
    now = now or timezone.now()
    description = description.strip()
    if occurred_at > now + FUTURE_TOLERANCE:
        raise ApplicationError(
            _("The interaction could not be recorded."),
            {"occurred_at": [_("This time is in the future.")]},
        )
    details: Details = (customer, touchpoint, agent, occurred_at, description)
    if external_id:
        existing = Interaction.objects.filter(external_id=external_id).first()
        if existing is not None:
            return _replayed(existing, details), False
    try:
        with transaction.atomic():
            interaction = Interaction.objects.create(
                customer=customer,
                touchpoint=touchpoint,
                agent=agent,
                # Kept as they are now: slices use the attributes at the time of the event.
                team=agent.team if agent else None,
                segment=customer.segment,
                occurred_at=occurred_at,
                quarter=quarter_label(occurred_at),
                description=description,
                external_id=external_id,
            )
            outbox_record(OutboxEvent.Kind.INTERACTION_RECORDED, interaction.pk)
            invitation_schedule_for_interaction(interaction, now=now)
    except IntegrityError:
        # A concurrent call with the same external id won the unique constraint.
        existing = (
            Interaction.objects.filter(external_id=external_id).first() if external_id else None
        )
        if existing is None:
            raise
        return _replayed(existing, details), False
    return interaction, True
