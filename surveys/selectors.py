"""Reads for surveys and responses."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from surveys.models import Response, Survey


def survey_get_public(public_id: str) -> Survey | None:
    """The survey behind a public link; None for an unknown link or an unpublished draft."""
    survey = Survey.objects.filter(public_id=public_id).first()
    if survey is None or survey.status == Survey.Status.DRAFT:
        return None
    return survey


def survey_list() -> QuerySet[Survey]:
    """Surveys with their counted-response totals, newest first."""
    return (
        Survey.objects.select_related("touchpoint")
        .annotate(
            response_count=Count(
                "responses",
                filter=Q(
                    responses__status=Response.Status.COMPLETE,
                    responses__is_test=False,
                    responses__is_spam=False,
                ),
            )
        )
        .order_by("-created_at", "-pk")
    )  # a GROUP BY query drops Meta.ordering: say it here
