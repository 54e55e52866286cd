"""Manager pages: the quarterly dashboard, analysis, report, drill-down, exports, targets and
weights. Every figure is read from the rollups through the engine's selectors."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from csat.errors import ApplicationError
from csat.query import query_choice
from metrics import dashboard, exports, selectors, services, targets
from metrics.frozen import frozen_purged_snapshots
from metrics.models import RecomputeJob, Target, WeightChange, WeightProfile
from metrics.periods import Quarter, period_last_day
from metrics.templatetags.dashboard_tags import chart_value
from surveys.models import Dimension, Segment

QUARTER_CHOICES_BACK = 12
DRILLDOWN_PAGE_SIZE = 50
DRILLDOWN_COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most DRILLDOWN_COUNT_CAP + 1 rows: a quarter can hold millions of responses,
    and counting them all would cost more than the page (the export has every row)."""

    @cached_property
    def count(self) -> int:
        return int(self.object_list[: DRILLDOWN_COUNT_CAP + 1].count())

    @property
    def is_capped(self) -> bool:
        return self.count > DRILLDOWN_COUNT_CAP


def _quarter_choices(quarter: Quarter) -> list[Quarter]:
    """The quarters the period menu offers: three years back, to the end of this year."""
    current = Quarter.current()
    last = Quarter(current.year, 4)
    choices = [last]
    while len(choices) < QUARTER_CHOICES_BACK + (4 - current.quarter):
        choices.append(choices[-1].previous())
    if quarter not in choices:
        choices.append(quarter)
    return choices


def _query(request: HttpRequest) -> tuple[Quarter, dashboard.Filters, dict[str, list[str]]]:
    """The period and filters of the URL; bad ones fall back to the current quarter and no
    filters, with the problems to show next to the fields."""
    try:
        quarter, filters = dashboard.query_parse(request.GET)
    except ApplicationError as error:
        return Quarter.current(), {}, error.fields
    return quarter, filters, {}


FILTER_LABELS = {
    "survey": gettext_lazy("Survey"),
    "channel": gettext_lazy("Channel"),
    "touchpoint": gettext_lazy("Touchpoint"),
    "segment": gettext_lazy("Segment"),
    "team": gettext_lazy("Team"),
    "agent": gettext_lazy("Agent"),
}


def _common(
    quarter: Quarter, filters: dashboard.Filters, errors: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    choices = dashboard.filter_choices()
    errors = errors or {}
    return {
        "quarter": quarter,
        "filters": filters,
        "filter_fields": [
            {
                "kind": kind,
                "label": FILTER_LABELS[kind],
                "options": choices[kind],
                "selected": filters.get(kind, ""),
                "errors": errors.get(kind, []),
            }
            for kind in dashboard.FILTER_KINDS
        ],
        "quarter_choices": _quarter_choices(quarter),
        "query": _period_query(quarter, filters),
        "export_tables": exports.TABLES,
    }


def _one_decimal(value: float) -> str:
    """The `metric` template filter's text (one decimal, no grouping), without its
    localisation machinery: both languages write 12.3 the same way."""
    return f"{round(value, 1) + 0.0:.1f}"


def _text(value: float | None, empty: str = "—") -> str:
    return _one_decimal(value) if value is not None else empty


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    rounded = round(value, 1) + 0.0
    return ("+" if rounded > 0 else "") + f"{rounded:.1f}"


def _row_text(row: targets.TargetRow) -> dict[str, str]:
    """A dashboard row's cells as text (one decimal, as the `metric` and `signed` filters
    write them), made once here rather than by a template filter per cell."""
    figure = row.figure
    margin = "—"
    if figure is not None and figure.margin is not None:
        margin = f"± {_one_decimal(figure.margin)}"
    elif figure is not None and figure.low is not None and figure.high is not None:
        margin = f"{_one_decimal(figure.low)}\u2013{_one_decimal(figure.high)}"  # en dash
    return {
        "actual": _text(row.actual, "") + (row.spec.unit if row.actual is not None else ""),
        "value": _text(row.actual, ""),
        "margin": margin,
        "change": _signed(figure.change if figure is not None else None),
        "baseline": _text(row.baseline),
        "quarter_target": _text(row.quarter_target),
        "annual_target": _text(row.annual_target),
        "stretch": _text(row.stretch),
        "benchmark": _text(row.benchmark),
        "gap": _signed(row.gap),
        "progress": f"{round(100 * row.progress)}%" if row.progress is not None else "—",
    }


def _trend_rows(points: list[dashboard.TrendPoint], quarter: Quarter) -> SafeString:
    """A trend table's rows, made here with format_html (every value escaped): seventeen
    tables of eight rows are most of the page, and template nodes per cell cost more than
    reading the figures."""
    no_data, none = _("No data"), "—"
    rows = []
    for point in points:
        cells = [
            (chart_value(value), _one_decimal(value) if value is not None else empty)
            for value, empty in (
                (point.actual, no_data),
                (point.target, none),
                (point.benchmark, none),
            )
        ]
        rows.append(
            format_html(
                '<tr{}><th scope="row">{}</th>{}<td class="num">{}</td></tr>',
                mark_safe(' class="current"') if point.quarter == quarter else "",
                point.quarter.label,
                format_html_join("", '<td class="num" data-value="{}">{}</td>', cells),
                point.figure.n if point.figure is not None else 0,
            )
        )
    return mark_safe("".join(rows))


@permission_required("metrics.view_dashboard", raise_exception=True)
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The quarterly dashboard: every metric against baseline, targets and benchmark."""
    quarter, filters, errors = _query(request)
    view = dashboard.quarter_view(quarter, filters)
    context = {
        **_common(quarter, filters, errors),
        "errors": errors,
        "rows": [(row, _row_text(row)) for row in view.rows],
        "trends": [
            (selectors.METRICS[metric], _trend_rows(points, quarter))
            for metric, points in view.trends.items()
        ],
        "specs": selectors.METRICS,
    }
    return render(request, "metrics/dashboard.html", context, status=400 if errors else 200)


@permission_required("metrics.view_dashboard", raise_exception=True)
def analysis_page(request: HttpRequest) -> HttpResponse:
    """Repurchase, score distribution, dimensions, Pareto and the segment status table."""
    quarter, filters, errors = _query(request)
    context = {
        **_common(quarter, filters, errors),
        "errors": errors,
        **_analysis(quarter, filters),
    }
    return render(request, "metrics/analysis.html", context, status=400 if errors else 200)


def _period_query(quarter: Quarter, filters: dashboard.Filters) -> str:
    """The query string of another quarter with the same filters."""
    query = QueryDict(mutable=True)
    query["period"] = quarter.label
    for kind, value in filters.items():
        query[kind] = value
    return query.urlencode()


def _analysis(quarter: Quarter, filters: dashboard.Filters) -> dict[str, Any]:
    nps = selectors.period_figure(quarter.label, "nps", filters or None)
    repurchase = dashboard.repurchase_for(quarter, filters)
    closed = repurchase.closed_quarter
    return {
        "repurchase": repurchase,
        "repurchase_closed_query": _period_query(closed, filters) if closed else "",
        "distribution": {
            dashboard.scale_label(key): rows
            for key, rows in dashboard.distribution_for(quarter, filters).items()
        },
        "nps": nps,
        "composition": dashboard.nps_composition(nps),
        "dimensions": dashboard.dimension_rows(quarter.label, filters),
        "composite": selectors.period_figure(quarter.label, "composite", filters or None),
        # The version that produced the index, named so a manager can find it on the weights page.
        "weight_profile": services.weights_profile_in_force(period_last_day(quarter)),
        "pareto": dashboard.pareto_for(quarter, filters),
        "segments": dashboard.segment_status(quarter, filters),
        "priority_labels": dashboard.PRIORITY_LABELS,
    }


@permission_required("metrics.view_dashboard", raise_exception=True)
def report_page(request: HttpRequest) -> HttpResponse:
    """The printable quarterly report: the dashboard's table and every analysis table."""
    quarter, filters, errors = _query(request)
    context = {
        **_common(quarter, filters, errors),
        "errors": errors,
        "rows": dashboard.target_rows_for(quarter, filters),
        **_analysis(quarter, filters),
    }
    return render(request, "metrics/report.html", context, status=400 if errors else 200)


@permission_required("metrics.view_dashboard", raise_exception=True)
def drilldown_page(request: HttpRequest) -> HttpResponse:
    """The responses (or cases) behind a figure: same quarter and filters, paginated."""
    quarter, filters, errors = _query(request)
    try:
        metric = query_choice(request.GET, "metric", list(selectors.METRICS), "nps")
    except ApplicationError as error:
        errors = {**errors, **error.fields}
        metric = "nps"
    is_cases = metric in dashboard.CASE_METRICS
    rows: Any = (
        dashboard.drilldown_cases(quarter, filters, metric, request.user)
        if is_cases
        else dashboard.drilldown_responses(quarter, filters, metric)
    )
    if errors:
        # A bad parameter lists nothing: rows of another quarter or without the filters
        # would read as the answer to the question asked.
        rows = rows.none()
    page = CappedPaginator(rows, DRILLDOWN_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **_common(quarter, filters, errors),
        "errors": errors,
        "metric": metric,
        "spec": selectors.METRICS[metric],
        "is_cases": is_cases,
        "page": page,
        "count_cap": DRILLDOWN_COUNT_CAP,
    }
    return render(request, "metrics/drilldown.html", context, status=400 if errors else 200)


@permission_required("metrics.view_dashboard", raise_exception=True)
def export(request: HttpRequest, table: str, file_format: str) -> HttpResponseBase:
    """A dashboard table (or the raw responses) with the current filters, as CSV or XLSX."""
    if table not in exports.TABLES and table != exports.RAW_RESPONSES:
        raise Http404
    try:
        quarter, filters = dashboard.query_parse(request.GET)
    except ApplicationError as error:
        return JsonResponse(
            {"error": {"message": error.message, "fields": error.fields}}, status=400
        )
    return exports.export_response(table, file_format, quarter, filters)


@permission_required("metrics.view_target", raise_exception=True)
@require_http_methods(["GET", "POST"])
def targets_page(request: HttpRequest) -> HttpResponse:
    """Targets per metric and year (admins set them; managers read)."""
    errors: dict[str, list[str]] = {}
    message = ""
    values: dict[str, str] = {}
    if request.method == "POST":
        if not request.user.has_perm("accounts.manage_configuration"):
            raise PermissionDenied
        if "delete" in request.POST:
            target = get_object_or_404(Target, pk=request.POST.get("delete"))
            if request.POST.get("confirm") != "yes":
                # One click must not drop a year's target from every dashboard: ask first.
                return _target_delete_confirm(request, target)
            targets.target_delete(target=target)
            messages.success(request, _("Target removed."))
            return redirect("metrics:targets")
        values = {key: request.POST.get(key, "").strip() for key in TARGET_FORM_FIELDS}
        try:
            saved = targets.target_set(
                metric=values["metric"],
                year=values["year"],
                segment=values["segment"],
                values=values,
                user=request.user,
            )
        except ApplicationError as error:
            errors, message = error.fields, error.message
        else:
            messages.success(
                request,
                _("Target for %(metric)s in %(year)d saved.")
                % {"metric": selectors.METRICS[saved.metric].label, "year": saved.year},
            )
            return redirect("metrics:targets")
    plans = [targets.target_plan(target) for target in targets.target_list()]
    if not values:
        values = {"year": str(Quarter.current().year), "weight_q1": "3", "weight_q2": "5",
                  "weight_q3": "4", "weight_q4": "6"}  # fmt: skip
    context = {
        "plans": plans,
        "specs": selectors.METRICS,
        "segments": Segment.choices,
        "segment_labels": dict(Segment.choices),
        "errors": errors,
        "message": message,
        "values": values,
        "can_edit": request.user.has_perm("accounts.manage_configuration"),
        "number_fields": [
            ("baseline", _("Baseline")),
            ("target", _("Annual target")),
            ("stretch", _("Stretch target (optional)")),
            ("benchmark", _("Industry benchmark (optional)")),
        ],
        "weight_fields": [(f"weight_q{q}", f"Q{q}") for q in range(1, 5)],
        "typed_fields": [(f"target_q{q}", f"Q{q}") for q in range(1, 5)],
    }
    return render(request, "metrics/targets.html", context, status=400 if errors else 200)


def _target_delete_confirm(request: HttpRequest, target: Target) -> HttpResponse:
    segment = dict(Segment.choices).get(target.segment, target.segment) if target.segment else ""
    context = {
        "target": target,
        "metric": selectors.METRICS[target.metric].label
        if target.metric in selectors.METRICS
        else target.metric,
        "segment": segment,
    }
    return render(request, "metrics/target_delete.html", context)


TARGET_FORM_FIELDS = (
    "metric",
    "year",
    "segment",
    *targets.NUMBER_FIELDS,
    *targets.WEIGHT_FIELDS,
    *targets.TYPED_FIELDS,
)


def _weights_form_errors(
    dimensions: list[Dimension], values: dict[str, str]
) -> tuple[dict[str, list[str]], str]:
    """Each weight checked where the admin typed it, named by its dimension, in their language.

    The service checks again (the API uses it); these messages sit beside the field.
    """
    errors: dict[str, list[str]] = {}
    total = Decimal(0)
    for dimension in dimensions:
        raw = values.get(dimension.code, "") or "0"
        try:
            weight = Decimal(raw)
        except InvalidOperation:
            weight = Decimal("NaN")
        if not weight.is_finite():
            errors[dimension.code] = [
                _("The weight for %(dimension)s must be a number such as 25 or 33.33.")
                % {"dimension": dimension.name}
            ]
        elif weight < 0:
            errors[dimension.code] = [
                _("The weight for %(dimension)s must not be negative; it is %(weight)s.")
                % {"dimension": dimension.name, "weight": raw}
            ]
        elif weight > 100:
            errors[dimension.code] = [
                _("The weight for %(dimension)s is a percentage: at most 100; it is %(weight)s.")
                % {"dimension": dimension.name, "weight": raw}
            ]
        elif weight != weight.quantize(Decimal("0.01")):
            errors[dimension.code] = [
                _("The weight for %(dimension)s has at most two decimal places; it is %(weight)s.")
                % {"dimension": dimension.name, "weight": raw}
            ]
        else:
            total += weight
    if errors:
        return errors, _("The weights were not saved: correct the fields named.")
    if total != 100:
        shown = f"{total:f}".rstrip("0").rstrip(".") if "." in f"{total:f}" else f"{total:f}"
        message = _("Weights must sum to 100; they sum to %(total)s.") % {"total": shown}
        return {"weights": [message]}, message
    return {}, ""


def _weights_change_text(change: dict[str, str], names: dict[str, str]) -> str:
    named = sorted(
        ((names.get(code, code), value) for code, value in change.items()),
        key=lambda item: item[0].casefold(),
    )
    return ", ".join(f"{name} {value}" for name, value in named)


@permission_required("metrics.view_weightprofile", raise_exception=True)
@require_http_methods(["GET", "POST"])
def weights(request: HttpRequest) -> HttpResponse:
    """Weight profiles: versions, the change log, and (admins) a new version."""
    dimensions = list(Dimension.objects.order_by("name"))
    names = {dimension.code: dimension.name for dimension in dimensions}
    errors: dict[str, list[str]] = {}
    message = ""
    values: dict[str, str] = {}
    if request.method == "POST":
        if not request.user.has_perm("accounts.manage_configuration"):
            raise PermissionDenied
        values = {d.code: request.POST.get(f"weight_{d.code}", "").strip() for d in dimensions}
        raw_date = request.POST.get("effective_from", "")
        effective_from = parse_date(raw_date) if raw_date else None
        errors, message = _weights_form_errors(dimensions, values)
        if effective_from is None:
            errors["effective_from"] = [_("Give a date such as 2025-01-01.")]
            message = message or _("The weights were not saved: correct the fields named.")
        if not errors and effective_from is not None:
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
    else:
        # A new version starts from the one in force today: change one figure, not retype five.
        in_force = services.weights_profile_in_force(timezone.localdate())
        values = {
            code: f"{Decimal(value):f}".rstrip("0").rstrip(".")
            for code, value in services.weights_as_dict(in_force).items()
        }
    profiles = WeightProfile.objects.prefetch_related("weights__dimension")
    changes = [
        {
            "change": change,
            "before": _weights_change_text(change.before, names),
            "after": _weights_change_text(change.after, names),
        }
        for change in WeightChange.objects.select_related("changed_by")[:50]
    ]
    context = {
        "dimensions": [
            {
                "code": dimension.code,
                "name": dimension.name,
                "value": values.get(dimension.code, ""),
                "errors": errors.get(dimension.code, []),
            }
            for dimension in dimensions
        ],
        "profiles": profiles,
        "changes": changes,
        "errors": errors,
        "message": message,
        "effective_from": request.POST.get("effective_from", ""),
        "jobs": RecomputeJob.objects.all()[:5],
        "purged_snapshots": frozen_purged_snapshots(),
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
