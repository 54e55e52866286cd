"""Reads for outreach: sends with their delivery figures and response rate, customers."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from metrics import formulas
from surveys.models import Customer, Invitation, Response, Survey, SurveySend

Status = Invitation.Status


def _answered() -> Exists:
    """The invitation received a counted response carrying its token (metrics.md)."""
    return Exists(Response.objects.filter(Response.counted_q(), invitation=OuterRef("pk")))


@dataclass(frozen=True)
class SendFigures:
    total: int
    by_status: dict[str, int]
    delivered: int
    answered: int
    # answered / delivered; None ("no data") when nothing was delivered.
    response_rate: float | None
    interval: tuple[float, float] | None
    is_low_sample: bool


def send_figures(send: SurveySend) -> SendFigures:
    """Invitations per delivery status and the response rate: delivered invitations that
    received a counted response carrying their token / delivered invitations."""
    invitations = Invitation.objects.filter(send=send)
    by_status = {
        row["status"]: row["n"]
        for row in invitations.values("status").annotate(n=Count("pk")).order_by()
    }
    delivered = invitations.filter(delivered_at__isnull=False)
    n, answered = delivered.count(), delivered.filter(_answered()).count()
    return SendFigures(
        total=sum(by_status.values()),
        by_status={status: by_status.get(status, 0) for status in Status.values},
        delivered=n,
        answered=answered,
        response_rate=formulas.rate(answered, n),
        interval=formulas.wilson_interval(answered, n),
        is_low_sample=formulas.is_low_sample(n),
    )


def send_list(survey: Survey) -> QuerySet[SurveySend]:
    """A survey's sends, newest first, with their invitation and delivery counts."""
    return (
        SurveySend.objects.filter(survey=survey)
        .select_related("created_by")
        .annotate(
            invitation_count=Count("invitations"),
            delivered_count=Count("invitations", filter=Q(invitations__delivered_at__isnull=False)),
            suppressed_count=Count("invitations", filter=Q(invitations__status=Status.SUPPRESSED)),
        )
    )


def send_invitations(send: SurveySend) -> QuerySet[Invitation]:
    """A send's invitations with their customer and whether they were answered."""
    return (
        Invitation.objects.filter(send=send)
        .select_related("customer")
        .annotate(answered=_answered())
        .order_by("customer__external_id")
    )


def customer_search(query: str = "", segment: str = "") -> QuerySet[Customer]:
    """Customers whose external id, name, email or phone contains the query."""
    customers = Customer.objects.order_by("external_id")
    if query:
        customers = customers.filter(
            Q(external_id__icontains=query)
            | Q(name__icontains=query)
            | Q(email__icontains=query)
            | Q(phone__icontains=query)
        )
    if segment:
        customers = customers.filter(segment=segment)
    return customers
