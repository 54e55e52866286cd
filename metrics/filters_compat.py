"""TEMPORARY: the engine's filter contract (issue 4) over the single-slice selectors, until the
engine's "Filters:" commit is merged. Deleted at that merge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Count

from csat.errors import ApplicationError
from metrics import selectors
from metrics.models import SliceKind

FILTER_KINDS = ("survey", "channel", "touchpoint", "segment", "team", "agent")


def _slice(filters: Mapping[str, str] | None) -> tuple[str, str]:
    if not filters:
        return SliceKind.ALL, ""
    if len(filters) > 1:
        raise ApplicationError("one filter only before the engine merge", {"filters": ["one"]})
    ((kind, value),) = filters.items()
    return kind, value


def filters_validate(raw: Mapping[str, str]) -> dict[str, str]:
    errors = {k: ["Unknown filter."] for k in raw if k not in FILTER_KINDS}
    if errors:
        raise ApplicationError("bad filters", errors)
    return dict(raw)


def metric_figures(period_label: str, filters: Mapping[str, str] | None = None) -> Any:
    return selectors.metric_figures(period_label, *_slice(filters))


def period_figure(period_label: str, metric: str, filters: Mapping[str, str] | None = None) -> Any:
    return selectors.period_figure(period_label, metric, *_slice(filters))


def metric_trend(
    metric: str, labels: Sequence[str], filters: Mapping[str, str] | None = None
) -> Any:
    return [selectors.period_figure(label, metric, *_slice(filters)) for label in labels]


def dimension_figures(period_label: str, filters: Mapping[str, str] | None = None) -> Any:
    return selectors.dimension_figures(period_label, *_slice(filters))


def repurchase_table(period_label: str, filters: Mapping[str, str] | None = None) -> Any:
    return selectors.repurchase_table(period_label, *_slice(filters))


def score_distribution(period_label: str, filters: Mapping[str, str] | None = None) -> Any:
    from surveys.models import Answer

    kind, value = _slice(filters)
    answers = Answer.objects.filter(
        response__quarter=period_label, response__status="complete", response__is_test=False,
        response__is_spam=False, question__kind="nps", number__isnull=False,
    )  # fmt: skip
    if kind != SliceKind.ALL:
        field = {"survey": "survey_id", "touchpoint": "touchpoint_id", "team": "team_id",
                 "agent": "agent_id"}.get(kind, kind)  # fmt: skip
        answers = answers.filter(**{f"response__{field}": value})
    counts = dict(answers.values_list("number").annotate(c=Count("pk")))
    return {"nps 0-10": [{"score": s, "count": counts.get(s, 0)} for s in range(11)]}


def complaint_categories(period_label: str, filters: Mapping[str, str] | None = None) -> Any:
    from feedback.models import Case

    kind, value = _slice(filters)
    cases = Case.objects.filter(quarter=period_label, kind="complaint", category__isnull=False)
    if kind != SliceKind.ALL:
        field = {"touchpoint": "touchpoint_id", "team": "team_id", "agent": "agent_id"}.get(
            kind, kind
        )
        cases = cases.filter(**{field: value})
    rows = (
        cases.values("category_id", "category__name", "category__root_cause")
        .annotate(complaints=Count("pk"), customers=Count("customer_id", distinct=True))
        .order_by("-complaints")
    )
    return [
        {
            "category_id": r["category_id"],
            "name": r["category__name"],
            "root_cause": r["category__root_cause"],
            "complaints": r["complaints"],
            "customers": r["customers"],
        }
        for r in rows
    ]
