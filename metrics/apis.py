"""API: metrics read from the rollups, the same figures the dashboard shows."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from csat.errors import ApplicationError
from csat.permissions import has_perm
from metrics import dashboard, selectors, services
from metrics.models import WeightProfile
from metrics.periods import Quarter, period_parse

FILTER_DESCRIPTIONS = {
    "survey": "Only this survey (its id)",
    "channel": "Only this channel (its code: web, email, sms, qr, phone, embed, api, import)",
    "touchpoint": "Only this touchpoint (its id)",
    "segment": "Only this customer segment (high_value, normal, churn_risk)",
    "team": "Only this team (its id): the team of the agent who served the customer then",
    "agent": "Only this agent (the staff member's id who served the customer)",
}
PARAMETERS = [
    OpenApiParameter("period", str, description="A quarter (2025Q1) or a year (2025)"),
    *(
        OpenApiParameter(kind, str, description=description, required=False)
        for kind, description in FILTER_DESCRIPTIONS.items()
    ),
]
FILTERS_NOTE = (
    " Filters combine: every one given applies at once. A metric whose records lack an "
    "attribute is absent under a filter on it (cases and interactions have no survey, "
    "interactions no channel)."
)


class FigureSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.SerializerMethodField()
    value = serializers.FloatField(allow_null=True, help_text="null means no data (never 0)")
    n = serializers.IntegerField(help_text="the denominator")
    low = serializers.FloatField(allow_null=True, help_text="95% interval, low bound")
    high = serializers.FloatField(allow_null=True, help_text="95% interval, high bound")
    margin = serializers.FloatField(allow_null=True, help_text="95% margin (±), NPS and means")
    is_low_sample = serializers.BooleanField()
    is_provisional = serializers.BooleanField()
    lower_is_better = serializers.SerializerMethodField()
    change = serializers.FloatField(allow_null=True, help_text="on the previous period")
    change_p = serializers.FloatField(allow_null=True)
    change_significant = serializers.BooleanField()

    def get_label(self, figure: selectors.Figure) -> str:
        return str(selectors.METRICS[figure.metric].label)

    def get_lower_is_better(self, figure: selectors.Figure) -> bool:
        return selectors.METRICS[figure.metric].lower_is_better


def _query(request: Request) -> tuple[str, dict[str, str]]:
    """The period and the filters of a metrics request; a 400 names each bad parameter."""
    errors: dict[str, list[str]] = {}
    period = request.query_params.get("period") or Quarter.current().label
    try:
        period_parse(period)
    except ValueError:
        errors["period"] = [_("Give a quarter such as 2025Q1 or a year such as 2025.")]
    known = {"period", *selectors.FILTER_KINDS}
    for name in sorted(set(request.query_params) - known):
        errors[name] = [
            _("Unknown parameter; use period and the filters %(kinds)s.")
            % {"kinds": ", ".join(selectors.FILTER_KINDS)}
        ]
    raw = {kind: request.query_params.get(kind, "") for kind in selectors.FILTER_KINDS}
    filters: dict[str, str] = {}
    try:
        filters = selectors.filters_validate(raw)
    except ApplicationError as error:
        errors.update(error.fields)
    if errors:
        raise ApplicationError(_("The metric query is not valid."), errors)
    return period, filters


class MetricListApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    class MetricListOutputSerializer(serializers.Serializer):
        period = serializers.CharField()
        filters = serializers.DictField(child=serializers.CharField())
        metrics = FigureSerializer(many=True)

    @extend_schema(
        parameters=PARAMETERS,
        responses=MetricListOutputSerializer,
        operation_id="metrics_list",
        summary="Every metric for a period within the filters",
        description="Every metric of metrics.md with n, 95% interval, low-sample flag and the "
        "change on the previous period." + FILTERS_NOTE,
    )
    def get(self, request: Request) -> ApiResponse:
        period, filters = _query(request)
        figures = selectors.metric_figures(period, filters)
        data: dict[str, Any] = {
            "period": period,
            "filters": filters,
            "metrics": list(figures.values()),
        }
        return ApiResponse(self.MetricListOutputSerializer(data).data)


class MetricDetailApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    @extend_schema(
        parameters=PARAMETERS,
        responses=FigureSerializer,
        summary="One metric",
        description="One metric for a period within the filters, with the change on the "
        "previous period. 400 when the metric does not exist within the filters." + FILTERS_NOTE,
    )
    def get(self, request: Request, metric: str) -> ApiResponse:
        if metric not in selectors.METRICS:
            raise ApplicationError(
                _("Unknown metric."),
                {"metric": [_("Choose one of: %s.") % ", ".join(selectors.METRICS)]},
                status_code=404,
            )
        period, filters = _query(request)
        figure = selectors.metric_figures(period, filters).get(metric)
        if figure is None:
            absent = sorted(set(filters) - selectors.METRICS[metric].slices)
            raise ApplicationError(
                _("This metric does not exist within these filters."),
                {
                    kind: [_("%(metric)s has no %(kind)s.") % {"metric": metric, "kind": kind}]
                    for kind in absent
                },
            )
        return ApiResponse(FigureSerializer(figure).data)


class RepurchaseApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    class RepurchaseOutputSerializer(serializers.Serializer):
        period = serializers.CharField()
        tables = serializers.DictField(
            child=serializers.ListField(child=serializers.DictField()),
            help_text='One table per scored kind and scale ("nps 0-10", "csat 1-5"), '
            "a row per score band: band, n, repurchased, rate, its 95% interval (low, high), "
            "is_low_sample (1-29 decided answers), window_open.",
        )

    @extend_schema(
        parameters=PARAMETERS,
        responses=RepurchaseOutputSerializer,
        summary="Repurchase rate by score band",
        description="Counted answers of identified customers; an answer whose repurchase "
        "window is still open is counted in window_open, not in the rate." + FILTERS_NOTE,
    )
    def get(self, request: Request) -> ApiResponse:
        period, filters = _query(request)
        data = {"period": period, "tables": selectors.repurchase_table(period, filters)}
        return ApiResponse(self.RepurchaseOutputSerializer(data).data)


class DimensionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    value = serializers.FloatField(
        allow_null=True, help_text="mean score normalised to 0-100; null means no data"
    )
    n = serializers.IntegerField(help_text="answers tagged with the dimension")
    low = serializers.FloatField(allow_null=True, help_text="95% interval, low bound")
    high = serializers.FloatField(allow_null=True, help_text="95% interval, high bound")
    margin = serializers.FloatField(allow_null=True, help_text="95% margin (±)")
    is_low_sample = serializers.BooleanField()
    weight = serializers.FloatField(
        allow_null=True,
        help_text="percent in the weight profile the composite index used for the period",
    )


class DimensionsApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    class DimensionsOutputSerializer(serializers.Serializer):
        period = serializers.CharField()
        filters = serializers.DictField(child=serializers.CharField())
        dimensions = DimensionSerializer(many=True)

    @extend_schema(
        parameters=PARAMETERS,
        responses=DimensionsOutputSerializer,
        summary="Dimension scores and their weights",
        description="Each dimension's score (the mean of its tagged answers normalised to "
        "0-100) with n, 95% interval and low-sample flag, and its weight in the profile the "
        "composite index used for the period: the analysis page's table." + FILTERS_NOTE,
    )
    def get(self, request: Request) -> ApiResponse:
        period, filters = _query(request)
        rows = [
            {
                "code": row["code"],
                "name": row["name"],
                "value": figure.value if figure else None,
                "n": figure.n if figure else 0,
                "low": figure.low if figure else None,
                "high": figure.high if figure else None,
                "margin": figure.margin if figure else None,
                "is_low_sample": figure.is_low_sample if figure else False,
                "weight": row["weight"],
            }
            for row in dashboard.dimension_rows(period, filters)
            for figure in [row["figure"]]
        ]
        data = {"period": period, "filters": filters, "dimensions": rows}
        return ApiResponse(self.DimensionsOutputSerializer(data).data)


class ScoreDistributionApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    class ScoreDistributionOutputSerializer(serializers.Serializer):
        class PointSerializer(serializers.Serializer):
            score = serializers.IntegerField()
            count = serializers.IntegerField()

        period = serializers.CharField()
        tables = serializers.DictField(
            child=PointSerializer(many=True),
            help_text='One table per scored kind and scale ("nps 0-10", "csat 1-5", "ces 1-7", '
            '"rating 1-5"), every point of the scale listed with its count of answers.',
        )

    @extend_schema(
        parameters=PARAMETERS,
        responses=ScoreDistributionOutputSerializer,
        summary="Score distribution",
        description="How many counted answers gave each score." + FILTERS_NOTE,
    )
    def get(self, request: Request) -> ApiResponse:
        period, filters = _query(request)
        data = {"period": period, "tables": selectors.score_distribution(period, filters)}
        return ApiResponse(self.ScoreDistributionOutputSerializer(data).data)


class ComplaintCategoriesApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    class ComplaintCategoriesOutputSerializer(serializers.Serializer):
        class CategorySerializer(serializers.Serializer):
            category_id = serializers.IntegerField(allow_null=True)
            name = serializers.CharField()
            root_cause = serializers.CharField()
            complaints = serializers.IntegerField()
            customers = serializers.IntegerField(help_text="distinct identified customers")

        period = serializers.CharField()
        categories = CategorySerializer(many=True)

    @extend_schema(
        parameters=PARAMETERS,
        responses=ComplaintCategoriesOutputSerializer,
        summary="Complaints by category (Pareto)",
        description="Complaints opened in the period by category, most first. Complaints have "
        "no survey: with a survey filter the list is empty." + FILTERS_NOTE,
    )
    def get(self, request: Request) -> ApiResponse:
        period, filters = _query(request)
        data = {"period": period, "categories": selectors.complaint_categories(period, filters)}
        return ApiResponse(self.ComplaintCategoriesOutputSerializer(data).data)


class WeightProfileApi(APIView):
    """Weight profile versions (managers read, admins write)."""

    def get_permissions(self) -> list[Any]:
        codename = (
            "accounts.manage_configuration"
            if self.request.method == "POST"
            else "metrics.view_weightprofile"
        )
        return [has_perm(codename)()]

    class WeightInputSerializer(serializers.Serializer):
        effective_from = serializers.DateField()
        weights = serializers.DictField(
            child=serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False),
            help_text="dimension code -> percent; non-negative, summing to exactly 100",
            allow_empty=False,
        )

    class WeightOutputSerializer(serializers.Serializer):
        effective_from = serializers.DateField()
        weights = serializers.DictField(child=serializers.CharField())

    @extend_schema(responses=WeightOutputSerializer(many=True), summary="Weight profile versions")
    def get(self, request: Request) -> ApiResponse:
        profiles = WeightProfile.objects.all()
        data = [
            {"effective_from": profile.effective_from, "weights": services.weights_as_dict(profile)}
            for profile in profiles
        ]
        return ApiResponse(self.WeightOutputSerializer(data, many=True).data)

    @extend_schema(
        request=WeightInputSerializer,
        responses={201: WeightOutputSerializer},
        summary="Save the weights in force from a date",
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = self.WeightInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = services.weights_set(
            effective_from=serializer.validated_data["effective_from"],
            weights=serializer.validated_data["weights"],
            user=request.user,
        )
        data = {
            "effective_from": profile.effective_from,
            "weights": services.weights_as_dict(profile),
        }
        return ApiResponse(self.WeightOutputSerializer(data).data, status=201)
