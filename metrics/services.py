"""Writes for metrics: recompute rollups from the source rows, aggregating in the database."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet

from metrics import formulas
from metrics.models import Metric, MetricValue, SliceKind
from metrics.periods import Quarter
from surveys.models import Answer, Question, Response

# The slices a response belongs to, by the Response field that names the member.
RESPONSE_SLICES: dict[str, str] = {
    SliceKind.SURVEY: "survey_id",
    SliceKind.CHANNEL: "channel",
}


def counted_answers(quarter: Quarter) -> QuerySet[Answer]:
    """Answers of counted responses submitted in the quarter (metrics.md, "Which count")."""
    return Answer.objects.filter(
        response__status=Response.Status.COMPLETE,
        response__is_test=False,
        response__is_spam=False,
        response__submitted_at__gte=quarter.start,
        response__submitted_at__lt=quarter.end,
    )


def _nps_counts(answers: QuerySet[Answer]) -> dict[str, Any]:
    return {
        "n": Count("pk"),
        "promoters": Count("pk", filter=Q(number__gte=formulas.NPS_PROMOTER_MIN)),
        "detractors": Count("pk", filter=Q(number__lte=formulas.NPS_DETRACTOR_MAX)),
    }


def _nps_store(quarter: Quarter, slice_kind: str, slice_value: str, counts: dict[str, int]) -> None:
    n, promoters, detractors = counts["n"], counts["promoters"], counts["detractors"]
    MetricValue.objects.update_or_create(
        metric=Metric.NPS,
        period=quarter.label,
        slice_kind=slice_kind,
        slice_value=slice_value,
        defaults={
            "n": n,
            "value": formulas.nps(promoters, detractors, n),
            "margin": formulas.nps_margin(promoters, detractors, n),
            "components": {"promoters": promoters, "detractors": detractors},
        },
    )


def _nps_answers(quarter: Quarter) -> QuerySet[Answer]:
    return counted_answers(quarter).filter(question__kind=Question.Kind.NPS, number__isnull=False)


@transaction.atomic
def metrics_nps_recompute_slice(*, quarter: Quarter, slice_kind: str, slice_value: str) -> None:
    """Recompute one quarter's NPS for one slice with a single aggregate query."""
    # Lock the rollup row before counting: two workers counting at once could otherwise
    # store their results in the wrong order and leave the older count behind.
    row, _created = MetricValue.objects.get_or_create(
        metric=Metric.NPS, period=quarter.label, slice_kind=slice_kind, slice_value=slice_value
    )
    MetricValue.objects.select_for_update().filter(pk=row.pk).first()
    answers = _nps_answers(quarter)
    if slice_kind != SliceKind.ALL:
        answers = answers.filter(**{f"response__{RESPONSE_SLICES[slice_kind]}": slice_value})
    _nps_store(quarter, slice_kind, slice_value, answers.aggregate(**_nps_counts(answers)))


@transaction.atomic
def metrics_nps_recompute_quarter(*, quarter: Quarter) -> None:
    """Recompute a quarter's NPS for every slice: one grouped query per slice kind."""
    answers = _nps_answers(quarter)
    _nps_store(quarter, SliceKind.ALL, "", answers.aggregate(**_nps_counts(answers)))
    for slice_kind, field in RESPONSE_SLICES.items():
        seen = set()
        for row in answers.values(f"response__{field}").annotate(**_nps_counts(answers)):
            member = str(row.pop(f"response__{field}"))
            seen.add(member)
            _nps_store(quarter, slice_kind, member, row)
        # A member whose answers all became test or spam now has no data, not stale data.
        MetricValue.objects.filter(
            metric=Metric.NPS, period=quarter.label, slice_kind=slice_kind
        ).exclude(slice_value__in=seen).update(n=0, value=None, margin=None, components={})


def metrics_recompute_all() -> list[str]:
    """Recompute every quarter from the first counted response to now; returns the labels."""
    first = Response.objects.filter(status=Response.Status.COMPLETE).aggregate(
        first=Min("submitted_at")
    )["first"]
    if first is None:
        return []
    quarter, last = Quarter.containing(first), Quarter.current()
    labels = []
    while True:
        metrics_nps_recompute_quarter(quarter=quarter)
        labels.append(quarter.label)
        if quarter == last:
            return labels
        quarter = quarter.next()


def metrics_update_for_response(response_id: int) -> None:
    """Bring the rollups a response belongs to up to date (idempotent: recomputes from rows)."""
    response = (
        Response.objects.filter(pk=response_id)
        .values("submitted_at", *RESPONSE_SLICES.values())
        .first()
    )
    if response is None or response["submitted_at"] is None:
        return
    quarter = Quarter.containing(response["submitted_at"])
    metrics_nps_recompute_slice(quarter=quarter, slice_kind=SliceKind.ALL, slice_value="")
    for slice_kind, field in RESPONSE_SLICES.items():
        metrics_nps_recompute_slice(
            quarter=quarter, slice_kind=slice_kind, slice_value=str(response[field])
        )
