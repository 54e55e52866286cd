"""Writes for customers, their purchases and their unsubscribes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_record
from surveys.models import Customer, Invitation, Purchase, Segment

# Digits with an optional leading +, 6 to 15 of them once spaces, dashes, dots and brackets
# are gone (E.164 allows at most 15).
PHONE_RE = re.compile(r"^\+?[0-9]{6,15}$")
CUSTOMER_FIELDS = ("name", "email", "phone", "segment", "language", "consents_to_contact")
# Clocks differ a little; an event stamped further ahead than this is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)


def phone_normalise(raw: str) -> str:
    """The phone number without separators; ValueError when it is not one."""
    phone = re.sub(r"[\s\-().]", "", raw)
    if not PHONE_RE.match(phone):
        raise ValueError(_("Enter a phone number of 6 to 15 digits, optionally starting with +."))
    return phone


def _validate(fields: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise customer fields; ApplicationError names each bad one."""
    errors: dict[str, list[str]] = {}
    clean = dict(fields)
    if "name" in clean:
        clean["name"] = str(clean["name"] or "").strip()
        if len(clean["name"]) > 200:
            errors["name"] = [_("Use at most 200 characters.")]
    if "email" in clean:
        clean["email"] = str(clean["email"] or "").strip()
        if clean["email"]:
            try:
                validate_email(clean["email"])
            except ValidationError:
                errors["email"] = [
                    _('"%(value)s" is not an email address.') % {"value": clean["email"]}
                ]
    if "phone" in clean:
        clean["phone"] = str(clean["phone"] or "").strip()
        if clean["phone"]:
            try:
                clean["phone"] = phone_normalise(clean["phone"])
            except ValueError as error:
                errors["phone"] = [str(error)]
    if "segment" in clean and clean["segment"] not in Segment.values:
        errors["segment"] = [
            _('Unknown segment "%(value)s": choose one of %(choices)s.')
            % {"value": clean["segment"], "choices": ", ".join(Segment.values)}
        ]
    languages = [code for code, _name in settings.LANGUAGES]
    if "language" in clean and clean["language"] not in languages:
        errors["language"] = [
            _('Unknown language "%(value)s": choose one of %(choices)s.')
            % {"value": clean["language"], "choices": ", ".join(languages)}
        ]
    if "consents_to_contact" in clean and not isinstance(clean["consents_to_contact"], bool):
        errors["consents_to_contact"] = [_("Answer true or false.")]
    if errors:
        raise ApplicationError(_("The customer could not be saved."), errors)
    return clean


def customer_save(*, external_id: str, **fields: Any) -> tuple[Customer, bool]:
    """Create the customer with this external id, or update the fields given; returns
    (customer, created). Fields left out keep their value (their default for a new one)."""
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 120:
        raise ApplicationError(
            _("The customer could not be saved."),
            {"external_id": [_("Give an external id of 1 to 120 characters.")]},
        )
    unknown = sorted(set(fields) - set(CUSTOMER_FIELDS))
    if unknown:
        raise ApplicationError(
            _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)},
            {name: [_("Not a customer field.")] for name in unknown},
        )
    clean = _validate(fields)
    try:
        with transaction.atomic():
            customer, created = Customer.objects.get_or_create(
                external_id=external_id, defaults=clean
            )
    except IntegrityError:
        # Created by a concurrent call between our look-up and insert: update that one.
        customer, created = Customer.objects.get(external_id=external_id), False
    if not created and clean:
        changed = [name for name, value in clean.items() if getattr(customer, name) != value]
        for name in changed:
            setattr(customer, name, clean[name])
        if changed:
            customer.save(update_fields=changed)
    return customer, created


@transaction.atomic
def customer_unsubscribe(*, customer: Customer, now: datetime | None = None) -> bool:
    """Stop every invitation to the customer, on every channel; True the first time."""
    now = now or timezone.now()
    changed = Customer.objects.filter(pk=customer.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=now
    )
    # Pending work stops now; the send and remind paths check the customer again anyway.
    Invitation.objects.filter(customer=customer, status=Invitation.Status.SCHEDULED).update(
        status=Invitation.Status.SUPPRESSED,
        suppression_reason=Invitation.SuppressionReason.UNSUBSCRIBED,
        due_at=None,
    )
    Invitation.objects.filter(customer=customer, remind_at__isnull=False).update(remind_at=None)
    customer.refresh_from_db(fields=["unsubscribed_at"])
    return bool(changed)


def _same_purchase(purchase: Purchase, customer: Customer, at: datetime, amount: Any) -> bool:
    return (
        purchase.customer_id == customer.pk
        and purchase.purchased_at == at
        and purchase.amount == (None if amount is None else Decimal(amount))
    )


def purchase_record(
    *,
    customer: Customer,
    purchased_at: datetime,
    amount: Decimal | None = None,
    external_id: str = "",
    now: datetime | None = None,
) -> tuple[Purchase, bool]:
    """Store a purchase with its outbox event in one transaction; returns (purchase, created).
    The same external id again returns the first purchase; with other details it is refused."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if purchased_at > now + FUTURE_TOLERANCE:
        errors["purchased_at"] = [_("This time is in the future.")]
    if amount is not None and amount < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    if errors:
        raise ApplicationError(_("The purchase could not be recorded."), errors)
    if external_id:
        existing = Purchase.objects.filter(external_id=external_id).first()
        if existing is not None:
            return _replayed_purchase(existing, customer, purchased_at, amount), False
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                customer=customer, purchased_at=purchased_at, amount=amount, external_id=external_id
            )
            outbox_record(OutboxEvent.Kind.PURCHASE_RECORDED, purchase.pk)
    except IntegrityError:
        existing = Purchase.objects.filter(external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return _replayed_purchase(existing, customer, purchased_at, amount), False
    return purchase, True


def _replayed_purchase(
    existing: Purchase, customer: Customer, purchased_at: datetime, amount: Decimal | None
) -> Purchase:
    if not _same_purchase(existing, customer, purchased_at, amount):
        raise ApplicationError(
            _("A purchase with this external id was already recorded with other details."),
            {"external_id": [_("Already used for a different purchase.")]},
            status_code=422,
        )
    return existing
