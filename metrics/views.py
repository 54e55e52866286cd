"""The manager dashboard: figures read from the rollups."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from metrics import selectors
from metrics.models import Metric, SliceKind
from metrics.periods import Quarter
from surveys.models import Channel, Survey

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
    current = Quarter.current()
    choices = [current]
    while len(choices) < QUARTERS_SHOWN:
        choices.append(choices[-1].previous())
    if quarter not in choices:
        choices.append(quarter)
    trend = []
    step = quarter
    for _index in range(QUARTERS_SHOWN):
        trend.append(selectors.metric_figure(metric=Metric.NPS, period=step.label))
        step = step.previous()
    survey_titles = dict(Survey.objects.values_list("pk", "title"))
    channel_labels = dict(Channel.choices)
    by_survey = [
        (survey_titles.get(int(figure.slice_value), figure.slice_value), figure)
        for figure in selectors.metric_figures(
            metric=Metric.NPS, period=quarter.label, slice_kind=SliceKind.SURVEY
        )
        if figure.n
    ]
    by_channel = [
        (channel_labels.get(figure.slice_value, figure.slice_value), figure)
        for figure in selectors.metric_figures(
            metric=Metric.NPS, period=quarter.label, slice_kind=SliceKind.CHANNEL
        )
        if figure.n
    ]
    context = {
        "quarter": quarter,
        "bad_label": bad_label,
        "choices": choices,
        "nps": selectors.metric_figure(metric=Metric.NPS, period=quarter.label),
        "trend": list(reversed(trend)),
        "by_survey": by_survey,
        "by_channel": by_channel,
    }
    return render(request, "metrics/dashboard.html", context, status=400 if bad_label else 200)
