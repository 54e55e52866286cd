"""Sending due invitations: claim what is due, send, remind, apply delivery receipts.

The periodic dispatcher claims due rows (a lease in `claimed_at`) and hands each to a task;
the task wins the row by compare-and-swap from `scheduled` to `sending`, so running it twice
sends once. A worker that dies mid-send leaves the row in `sending`; after the lease it is
scheduled again (at least once beats never).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_record
from metrics.periods import quarter_label
from surveys.models import Customer, Invitation, InvitationChannel, Response
from surveys.outreach import messages, sms
from surveys.outreach.invitations import (
    Reason,
    Status,
    contact_address,
    fatigue_window,
    invitation_precheck,
)

logger = logging.getLogger(__name__)


class RetryableDeliveryError(Exception):
    """Not handed over this time; trying again later may work."""


class TerminalDeliveryError(Exception):
    """Refused for good."""


# ---------------------------------------------------------------- claiming due work


@dataclass(frozen=True)
class Claimed:
    sends: list[int]
    reminders: list[int]


def _lease_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.INVITATION_CLAIM_LEASE_SECONDS)


def invitations_claim_due(now: datetime | None = None, limit: int = 500) -> Claimed:
    """Claim the invitations and reminders that are due and not claimed within the lease;
    the caller enqueues one task for each. Claiming twice within the lease claims nothing."""
    now = now or timezone.now()
    cutoff = _lease_cutoff(now)
    # A worker that died while sending left its row in `sending`: give it back to the queue.
    Invitation.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).update(
        status=Status.SCHEDULED
    )
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=cutoff)
    claimed = []
    for due, order in (
        (Q(status=Status.SCHEDULED, due_at__lte=now), "due_at"),
        (Q(status__in=[Status.SENT, Status.DELIVERED], remind_at__lte=now), "remind_at"),
    ):
        ids = list(
            Invitation.objects.filter(free, due)
            .order_by(order)
            .values_list("pk", flat=True)[:limit]
        )
        # Compare-and-swap: of two dispatchers, each row is claimed by the one whose update
        # still finds it free; the claim's timestamp tells which rows are ours.
        Invitation.objects.filter(free, due, pk__in=ids).update(claimed_at=now)
        claimed.append(
            list(
                Invitation.objects.filter(pk__in=ids, claimed_at=now)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        )
    return Claimed(sends=claimed[0], reminders=claimed[1])


# ---------------------------------------------------------------- sending


def _backoff(attempt: int) -> timedelta:
    """Exponential: base, 2 x base, 4 x base... capped at a day."""
    return timedelta(
        seconds=min(settings.INVITATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1), 86400)
    )


def _smtp_error(error: Exception) -> Exception:
    """Sort an SMTP failure: a 4xx reply or a broken connection may pass later, 5xx never."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        text = "; ".join(
            f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for code, message in error.recipients.values()
        )
        if codes and all(400 <= code < 500 for code in codes):
            return RetryableDeliveryError(f"The mail server deferred the recipient: {text}")
        return TerminalDeliveryError(f"The mail server refused the recipient: {text}")
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        if 400 <= error.smtp_code < 500:
            return RetryableDeliveryError(f"Mail server error {error.smtp_code}: {text}")
        return TerminalDeliveryError(f"Mail server refused the message ({error.smtp_code}): {text}")
    return RetryableDeliveryError(f"Could not reach the mail server: {error!r}")


def _deliver(invitation: Invitation, *, is_reminder: bool) -> tuple[bool, str]:
    """Hand the message to the mail server or SMS provider; (delivered now?, message id)."""
    if invitation.channel == InvitationChannel.EMAIL:
        email = messages.invitation_email(invitation, is_reminder=is_reminder)
        try:
            email.send()
        except (smtplib.SMTPException, OSError) as error:
            raise _smtp_error(error) from error
        # No bounce processing: the mail server accepting the message is its delivery.
        return True, str(email.extra_headers["Message-ID"])
    backend = sms.get_sms_backend()
    text = messages.invitation_sms(invitation, is_reminder=is_reminder)
    try:
        message_id = backend.send(
            sms.SmsMessage(to=invitation.customer.phone, body=text, reference=str(invitation.pk))
        )
    except sms.SmsRetryableError as error:
        raise RetryableDeliveryError(str(error)) from error
    except sms.SmsTerminalError as error:
        raise TerminalDeliveryError(str(error)) from error
    return not backend.reports_delivery, message_id[:120]


def _suppression_reason(invitation: Invitation, now: datetime) -> str:
    customer = invitation.customer
    # The fatigue rule is decided by the compare-and-swap on the customer, not here.
    reason = invitation_precheck(customer, invitation.channel, invitation.survey)
    if reason:
        return reason
    expiry = invitation.expires_after_days or settings.INVITATION_EXPIRY_DAYS
    if invitation.due_at and invitation.due_at + timedelta(days=expiry) <= now:
        return Reason.EXPIRED
    return ""


def _take_fatigue_slot(customer_id: int, now: datetime) -> bool:
    """Compare-and-swap on the customer's last invitation: only one invitation in the window
    wins, however many race for the customer on however many channels."""
    return bool(
        Customer.objects.filter(
            Q(last_invited_at__isnull=True) | Q(last_invited_at__lte=now - fatigue_window()),
            pk=customer_id,
        ).update(last_invited_at=now)
    )


def _release_fatigue_slot(customer_id: int, now: datetime, previous: datetime | None) -> None:
    """Nothing went out: give the slot back, unless someone else has taken it since."""
    Customer.objects.filter(pk=customer_id, last_invited_at=now).update(last_invited_at=previous)


def invitation_send(invitation_id: int, now: datetime | None = None) -> str:
    """Send one due invitation once: suppress it, hand it over, or schedule a retry.

    Returns the outcome: "skipped" (not due, or another run has it), "suppressed", "sent",
    "delivered", "retry" or "failed".
    """
    now = now or timezone.now()
    won = Invitation.objects.filter(pk=invitation_id, status=Status.SCHEDULED, due_at__lte=now)
    if not won.update(status=Status.SENDING, claimed_at=now):
        return "skipped"
    invitation = Invitation.objects.select_related("survey", "customer").get(pk=invitation_id)
    mine = Invitation.objects.filter(pk=invitation_id, status=Status.SENDING)
    customer = invitation.customer
    previous = customer.last_invited_at
    reason = _suppression_reason(invitation, now)
    if not reason and not _take_fatigue_slot(customer.pk, now):
        reason = Reason.FATIGUE
    if reason:
        mine.update(
            status=Status.SUPPRESSED, suppression_reason=reason, due_at=None, claimed_at=None
        )
        return "suppressed"
    expiry = invitation.expires_after_days or settings.INVITATION_EXPIRY_DAYS
    invitation.expires_at = now + timedelta(days=expiry)
    attempt = invitation.attempts + 1
    try:
        try:
            delivered, message_id = _deliver(invitation, is_reminder=False)
        except (RetryableDeliveryError, TerminalDeliveryError):
            raise
        except Exception as error:
            # A bug or an outage we did not foresee: counted as an attempt, so the invitation
            # ends failed instead of coming back after every lease.
            logger.exception("invitation %s: unexpected error while sending", invitation_id)
            raise RetryableDeliveryError(f"Unexpected error: {error!r}") from error
    except RetryableDeliveryError as error:
        _release_fatigue_slot(customer.pk, now, previous)
        logger.warning("invitation %s: attempt %s failed: %s", invitation_id, attempt, error)
        if attempt >= settings.INVITATION_MAX_ATTEMPTS:
            mine.update(status=Status.FAILED, error=str(error)[:300], attempts=attempt, due_at=None)
            return "failed"
        mine.update(
            status=Status.SCHEDULED,
            due_at=now + _backoff(attempt),
            attempts=attempt,
            error=str(error)[:300],
            claimed_at=None,
        )
        return "retry"
    except TerminalDeliveryError as error:
        _release_fatigue_slot(customer.pk, now, previous)
        mine.update(status=Status.FAILED, error=str(error)[:300], attempts=attempt, due_at=None)
        return "failed"
    days = invitation.reminder_after_days
    with transaction.atomic():
        mine.update(
            status=Status.DELIVERED if delivered else Status.SENT,
            sent_at=now,
            delivered_at=now if delivered else None,
            quarter=quarter_label(now),
            expires_at=invitation.expires_at,
            remind_at=now + timedelta(days=days) if days else None,
            provider_message_id=message_id,
            attempts=attempt,
            error="",
            due_at=None,
            claimed_at=None,
        )
        # The send quarter's response rate changes with this invitation (metrics.md).
        outbox_record(OutboxEvent.Kind.INVITATION_CHANGED, invitation_id)
    return "delivered" if delivered else "sent"


def _is_answered(invitation_id: int) -> bool:
    return Response.objects.filter(
        invitation_id=invitation_id, status=Response.Status.COMPLETE
    ).exists()


def invitation_remind(invitation_id: int, now: datetime | None = None) -> str:
    """Send the one reminder of an unanswered invitation; running it twice reminds once.

    Returns "skipped", "reminded", "retry" or "failed".
    """
    now = now or timezone.now()
    won = Invitation.objects.filter(
        pk=invitation_id, status__in=[Status.SENT, Status.DELIVERED], remind_at__lte=now
    )
    if not won.update(remind_at=None, claimed_at=None):
        return "skipped"
    invitation = Invitation.objects.select_related("survey", "customer").get(pk=invitation_id)
    customer = invitation.customer
    if (
        _is_answered(invitation_id)
        or (invitation.expires_at is not None and invitation.expires_at <= now)
        or customer.unsubscribed_at is not None
        or not customer.consents_to_contact
        or not contact_address(customer, invitation.channel)
        or not invitation.survey.is_open
    ):
        return "skipped"
    attempt = invitation.reminder_attempts + 1
    try:
        _delivered, message_id = _deliver(invitation, is_reminder=True)
    except RetryableDeliveryError as error:
        retry_at = now + _backoff(attempt)
        give_up = attempt >= settings.INVITATION_MAX_ATTEMPTS or (
            invitation.expires_at is not None and retry_at >= invitation.expires_at
        )
        Invitation.objects.filter(pk=invitation_id).update(
            remind_at=None if give_up else retry_at,
            reminder_attempts=attempt,
            error=_("Reminder: %(error)s") % {"error": error},
        )
        return "failed" if give_up else "retry"
    except TerminalDeliveryError as error:
        Invitation.objects.filter(pk=invitation_id).update(
            reminder_attempts=attempt, error=(_("Reminder: %(error)s") % {"error": error})[:300]
        )
        return "failed"
    Invitation.objects.filter(pk=invitation_id).update(
        reminded_at=now, reminder_attempts=attempt, reminder_message_id=message_id
    )
    return "reminded"


# ---------------------------------------------------------------- delivery receipts


def invitation_apply_receipt(
    *, message_id: str = "", reference: str = "", delivered: bool, error: str = ""
) -> Invitation:
    """Apply an SMS provider's delivery receipt: a sent invitation becomes delivered or failed.
    A receipt repeated, or arriving after a later state, changes nothing."""
    sms_invitations = Invitation.objects.filter(channel=InvitationChannel.SMS)
    invitation = None
    if message_id:
        invitation = sms_invitations.filter(
            Q(provider_message_id=message_id) | Q(reminder_message_id=message_id)
        ).first()
    elif reference.isdigit():
        invitation = sms_invitations.filter(pk=int(reference)).first()
    if invitation is None:
        field = "message_id" if message_id else "reference"
        raise ApplicationError(
            _("Unknown message."),
            {field: [_("No SMS invitation was sent with this id.")]},
            status_code=404,
        )
    if message_id and message_id == invitation.reminder_message_id:
        return invitation  # the reminder's receipt: the invitation's own status stands
    with transaction.atomic():
        sent = Invitation.objects.filter(pk=invitation.pk, status=Status.SENT)
        if delivered:
            changed = sent.update(status=Status.DELIVERED, delivered_at=timezone.now())
        else:
            changed = sent.update(
                status=Status.FAILED,
                error=(error or _("The provider could not deliver the message."))[:300],
            )
        if changed:
            outbox_record(OutboxEvent.Kind.INVITATION_CHANGED, invitation.pk)
    invitation.refresh_from_db()
    return invitation
