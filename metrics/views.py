"""The manager dashboard: every metric of a period and slice, read from the rollups."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from metrics import selectors
from metrics.models import SliceKind
from metrics.periods import Quarter

QUARTERS_SHOWN = 8


def _chosen_quarter(request: HttpRequest) -> tuple[Quarter, str]:
    label = request.GET.get("period", "")
    if not label:
        return Quarter.current(), ""
    try:
        return Quarter.parse(label), ""
    except ValueError:
        return Quarter.current(), label


@permission_required("metrics.view_dashboard", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    quarter, bad_label = _chosen_quarter(request)
    choices = [Quarter.current()]
    while len(choices) < QUARTERS_SHOWN:
        choices.append(choices[-1].previous())
    if quarter not in choices:
        choices.append(quarter)
    figures = selectors.metric_figures(quarter.label)
    trend = []
    step = quarter
    for _index in range(QUARTERS_SHOWN):
        trend.append((step.label, selectors.metric_figure(step.label, "nps")))
        step = step.previous()
    rows = [(selectors.METRICS[key], figure) for key, figure in figures.items()]
    context = {
        "quarter": quarter,
        "bad_label": bad_label,
        "choices": choices,
        "nps": figures["nps"],
        "rows": rows,
        "trend": list(reversed(trend)),
        "by_channel": selectors.slice_figures(quarter.label, SliceKind.CHANNEL, "nps"),
        "by_survey": selectors.slice_figures(quarter.label, SliceKind.SURVEY, "nps"),
        "dimensions": selectors.dimension_figures(quarter.label),
    }
    return render(request, "metrics/dashboard.html", context, status=400 if bad_label else 200)
