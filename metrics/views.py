"""The manager dashboard: every metric of a period and slice, read from the rollups."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from csat.errors import ApplicationError
from metrics import selectors, services
from metrics.models import RecomputeJob, SliceKind, WeightChange, WeightProfile
from metrics.periods import Quarter
from surveys.models import Dimension

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
    labels = [quarter.label]
    while len(labels) < QUARTERS_SHOWN:
        labels.append(Quarter.parse(labels[-1]).previous().label)
    trend = list(zip(labels, selectors.metric_trend("nps", labels), strict=True))
    rows = [(selectors.METRICS[key], figure) for key, figure in figures.items()]
    context = {
        "quarter": quarter,
        "bad_label": bad_label,
        "choices": choices,
        "nps": figures["nps"],
        "rows": rows,
        "trend": list(reversed(trend)),
        "by_channel": [
            (label, figure)
            for _value, label, figure in selectors.slice_figures(
                quarter.label, SliceKind.CHANNEL, "nps"
            )
        ],
        "by_survey": [
            (label, figure)
            for _value, label, figure in selectors.slice_figures(
                quarter.label, SliceKind.SURVEY, "nps"
            )
        ],
        "dimensions": selectors.dimension_figures(quarter.label),
    }
    return render(request, "metrics/dashboard.html", context, status=400 if bad_label else 200)


@permission_required("metrics.view_weightprofile", raise_exception=True)
@require_http_methods(["GET", "POST"])
def weights(request: HttpRequest) -> HttpResponse:
    """Weight profiles: versions, the change log, and (admins) a new version."""
    dimensions = list(Dimension.objects.order_by("name"))
    errors: dict[str, list[str]] = {}
    message = ""
    values: dict[str, str] = {}
    if request.method == "POST":
        if not request.user.has_perm("accounts.manage_configuration"):
            raise PermissionDenied
        values = {d.code: request.POST.get(f"weight_{d.code}", "").strip() for d in dimensions}
        raw_date = request.POST.get("effective_from", "")
        effective_from = parse_date(raw_date) if raw_date else None
        if effective_from is None:
            errors["effective_from"] = [_("Give a date such as 2025-01-01.")]
        else:
            try:
                services.weights_set(
                    effective_from=effective_from,
                    weights={code: value or "0" for code, value in values.items()},
                    user=request.user,
                )
            except ApplicationError as error:
                errors, message = error.fields, error.message
            else:
                messages.success(
                    request,
                    _("Weights from %(day)s saved; the affected quarters are being recomputed.")
                    % {"day": effective_from.isoformat()},
                )
                return redirect("metrics:weights")
    profiles = WeightProfile.objects.prefetch_related("weights__dimension")
    context = {
        "dimensions": dimensions,
        "profiles": profiles,
        "changes": WeightChange.objects.select_related("changed_by")[:50],
        "errors": errors,
        "message": message,
        "values": values,
        "effective_from": request.POST.get("effective_from", ""),
        "jobs": RecomputeJob.objects.all()[:5],
    }
    return render(request, "metrics/weights.html", context, status=400 if errors else 200)


@permission_required("accounts.manage_configuration", raise_exception=True)
@require_POST
def recompute(request: HttpRequest) -> HttpResponse:
    """An admin asks for a recompute, frozen quarters included when ticked."""
    services.metrics_request_recompute(
        reason=_("Requested by %(user)s") % {"user": request.user.get_username()},
        include_frozen=request.POST.get("include_frozen") == "on",
        user=request.user,
    )
    messages.success(request, _("Recompute started; its progress shows below."))
    return redirect("metrics:weights")
