"""Writes for sends and invitations: who is invited, when, on which channel, or why not.

An invitation is a row with a `due_at`; surveys/outreach/delivery.py sends it when it is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Team, User
from csat.errors import ApplicationError
from surveys.models import (
    Customer,
    Interaction,
    Invitation,
    InvitationChannel,
    Segment,
    Survey,
    SurveySend,
    Touchpoint,
)

Status = Invitation.Status
Reason = Invitation.SuppressionReason

MAX_REMINDER_DAYS = 90
MAX_EXPIRY_DAYS = 365
MAX_EXTERNAL_IDS = 10_000


def fatigue_window() -> timedelta:
    return timedelta(days=settings.INVITATION_FATIGUE_DAYS)


def contact_address(customer: Customer, channel: str) -> str:
    """The customer's email address or phone number for the channel ("" when missing)."""
    return customer.email if channel == InvitationChannel.EMAIL else customer.phone


def invitation_precheck(
    customer: Customer, channel: str, survey: Survey, due_at: datetime | None = None
) -> str:
    """Why this customer must not be invited on this channel ("" when they may); with
    `due_at`, also whether the fatigue rule already rules that moment out."""
    if customer.unsubscribed_at is not None:
        return Reason.UNSUBSCRIBED
    if not customer.consents_to_contact:
        return Reason.NO_CONSENT
    if not contact_address(customer, channel):
        return Reason.NO_ADDRESS
    if not survey.is_open:
        return Reason.SURVEY_CLOSED
    last = customer.last_invited_at
    if due_at is not None and last is not None and last > due_at - fatigue_window():
        return Reason.FATIGUE
    return ""


def _new_invitation(
    *,
    survey: Survey,
    customer: Customer,
    channel: str,
    due_at: datetime,
    reminder_after_days: int | None,
    expires_after_days: int,
    send: SurveySend | None = None,
    interaction: Interaction | None = None,
    agent: User | None = None,
    team: Team | None = None,
    touchpoint: Touchpoint | None = None,
    now: datetime,
) -> Invitation:
    reason = invitation_precheck(customer, channel, survey, due_at)
    if not reason and due_at + timedelta(days=expires_after_days) <= now:
        reason = Reason.EXPIRED
    return Invitation(
        survey=survey,
        customer=customer,
        channel=channel,
        send=send,
        interaction=interaction,
        agent=agent,
        team=team,
        touchpoint=touchpoint or survey.touchpoint,
        segment=customer.segment,
        status=Status.SUPPRESSED if reason else Status.SCHEDULED,
        suppression_reason=reason,
        due_at=None if reason else due_at,
        reminder_after_days=reminder_after_days,
        expires_after_days=expires_after_days,
    )


def _clean_external_ids(external_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in external_ids if value.strip()))


@transaction.atomic
def send_create(
    *,
    survey: Survey,
    channel: str,
    customers: Sequence[Customer] = (),
    external_ids: Sequence[str] = (),
    segment: str = "",
    scheduled_for: datetime | None = None,
    reminder_after_days: int | None = None,
    expires_after_days: int | None = None,
    created_by: User | None = None,
    now: datetime | None = None,
) -> SurveySend:
    """Send a survey to chosen customers (or pasted external ids) or a segment on one channel:
    one invitation per customer, scheduled, or suppressed with its reason."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    ids = _clean_external_ids(external_ids)
    if channel not in InvitationChannel.values:
        errors["channel"] = [_("Choose email or SMS.")]
    if not survey.is_open:
        errors["survey"] = [_("This survey is closed: open it before sending it.")]
    chosen = list(customers)
    if segment and (chosen or ids):
        errors["segment"] = [_("Choose either customers or a segment, not both.")]
    elif segment and segment not in Segment.values:
        errors["segment"] = [
            _('Unknown segment "%(segment)s": choose one of %(choices)s.')
            % {"segment": segment, "choices": ", ".join(Segment.values)}
        ]
    elif not segment and not chosen and not ids:
        errors["customers"] = [_("Choose customers, paste their external ids, or pick a segment.")]
    if len(ids) > MAX_EXTERNAL_IDS:
        errors["external_ids"] = [
            _("Paste at most %(max)s external ids per send.") % {"max": MAX_EXTERNAL_IDS}
        ]
    elif ids:
        found = {c.external_id: c for c in Customer.objects.filter(external_id__in=ids)}
        unknown = [value for value in ids if value not in found]
        if unknown:
            shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
            errors["external_ids"] = [
                _("No customer has these external ids (%(count)s): %(ids)s.")
                % {"count": len(unknown), "ids": shown}
            ]
        chosen += [found[value] for value in ids if value in found]
    if reminder_after_days is not None and not 1 <= reminder_after_days <= MAX_REMINDER_DAYS:
        errors["reminder_after_days"] = [
            _("Choose 1 to %(max)s days, or no reminder.") % {"max": MAX_REMINDER_DAYS}
        ]
    expiry = settings.INVITATION_EXPIRY_DAYS if expires_after_days is None else expires_after_days
    if not 1 <= expiry <= MAX_EXPIRY_DAYS:
        errors["expires_after_days"] = [_("Choose 1 to %(max)s days.") % {"max": MAX_EXPIRY_DAYS}]
    elif reminder_after_days is not None and reminder_after_days >= expiry:
        errors["reminder_after_days"] = [
            _("The reminder must go out before the link expires (%(days)s days).")
            % {"days": expiry}
        ]
    due_at = max(scheduled_for or now, now)
    if due_at > now + timedelta(days=MAX_EXPIRY_DAYS):
        errors["scheduled_for"] = [_("Choose a time within the next year.")]
    if segment and "segment" not in errors and not errors:
        chosen = list(Customer.objects.filter(segment=segment))
        if not chosen:
            errors["segment"] = [_("No customer is in this segment yet.")]
    if errors:
        raise ApplicationError(_("The survey could not be sent."), errors)

    send = SurveySend.objects.create(
        survey=survey,
        channel=channel,
        audience=SurveySend.Audience.SEGMENT if segment else SurveySend.Audience.CUSTOMERS,
        segment=segment,
        scheduled_for=due_at,
        reminder_after_days=reminder_after_days,
        expires_after_days=expiry,
        created_by=created_by,
    )
    unique = list({customer.pk: customer for customer in chosen}.values())
    Invitation.objects.bulk_create(
        [
            _new_invitation(
                survey=survey,
                customer=customer,
                channel=channel,
                due_at=due_at,
                reminder_after_days=reminder_after_days,
                expires_after_days=expiry,
                send=send,
                now=now,
            )
            for customer in unique
        ],
        batch_size=1000,
    )
    return send


def invitation_schedule_for_interaction(
    interaction: Interaction, *, now: datetime | None = None
) -> Invitation | None:
    """Schedule the invitation that the interaction's touchpoint rule asks for (if any), due
    the rule's delay after the interaction, kept with the interaction's agent and team."""
    from surveys.models import TouchpointRule

    if interaction.touchpoint_id is None:
        return None
    rule = (
        TouchpointRule.objects.select_related("survey")
        .filter(touchpoint_id=interaction.touchpoint_id, is_active=True)
        .first()
    )
    if rule is None:
        return None
    now = now or timezone.now()
    invitation = _new_invitation(
        survey=rule.survey,
        customer=interaction.customer,
        channel=rule.channel,
        due_at=interaction.occurred_at + rule.delay,
        reminder_after_days=rule.reminder_after_days,
        expires_after_days=rule.expires_after_days or settings.INVITATION_EXPIRY_DAYS,
        interaction=interaction,
        agent=interaction.agent,
        team=interaction.team,
        touchpoint=interaction.touchpoint,
        now=now,
    )
    invitation.save()
    return invitation
