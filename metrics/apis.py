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
from metrics import selectors, services
from metrics.models import SliceKind, WeightProfile
from metrics.periods import Quarter, period_parse

PARAMETERS = [
    OpenApiParameter("period", str, description="A quarter (2025Q1) or a year (2025)"),
    OpenApiParameter("slice_kind", str, enum=SliceKind.values),
    OpenApiParameter("slice_value", str, description="The member's id (survey, team, agent...)"),
]


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


def _query(request: Request) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    period = request.query_params.get("period") or Quarter.current().label
    try:
        period_parse(period)
    except ValueError:
        errors["period"] = [_("Give a quarter such as 2025Q1 or a year such as 2025.")]
    slice_kind = request.query_params.get("slice_kind", SliceKind.ALL)
    slice_value = request.query_params.get("slice_value", "")
    if slice_kind not in SliceKind.values:
        errors["slice_kind"] = [_("Choose one of: %s.") % ", ".join(SliceKind.values)]
    elif slice_kind != SliceKind.ALL and not slice_value:
        errors["slice_value"] = [_("Name the member of the slice.")]
    if errors:
        raise ApplicationError(_("The metric query is not valid."), errors)
    return period, slice_kind, slice_value


class MetricListApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    class MetricListOutputSerializer(serializers.Serializer):
        period = serializers.CharField()
        slice_kind = serializers.CharField()
        slice_value = serializers.CharField()
        metrics = FigureSerializer(many=True)

    @extend_schema(
        parameters=PARAMETERS,
        responses=MetricListOutputSerializer,
        operation_id="metrics_list",
        summary="Every metric for a period and slice",
    )
    def get(self, request: Request) -> ApiResponse:
        period, slice_kind, slice_value = _query(request)
        figures = selectors.metric_figures(period, slice_kind, slice_value)
        data: dict[str, Any] = {
            "period": period,
            "slice_kind": slice_kind,
            "slice_value": slice_value,
            "metrics": list(figures.values()),
        }
        return ApiResponse(self.MetricListOutputSerializer(data).data)


class MetricDetailApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    @extend_schema(parameters=PARAMETERS, responses=FigureSerializer, summary="One metric")
    def get(self, request: Request, metric: str) -> ApiResponse:
        if metric not in selectors.METRICS:
            raise ApplicationError(
                _("Unknown metric."),
                {"metric": [_("Choose one of: %s.") % ", ".join(selectors.METRICS)]},
                status_code=404,
            )
        period, slice_kind, slice_value = _query(request)
        figure = selectors.metric_figure(period, metric, slice_kind, slice_value)
        if figure is None:
            raise ApplicationError(
                _("This metric does not exist for that slice."),
                {
                    "slice_kind": [
                        _("%(metric)s has no %(kind)s slice.")
                        % {"metric": metric, "kind": slice_kind}
                    ]
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
            "a row per score band: band, n, repurchased, rate, window_open.",
        )

    @extend_schema(
        parameters=PARAMETERS,
        responses=RepurchaseOutputSerializer,
        summary="Repurchase rate by score band",
    )
    def get(self, request: Request) -> ApiResponse:
        period, slice_kind, slice_value = _query(request)
        data = {
            "period": period,
            "tables": selectors.repurchase_table(period, slice_kind, slice_value),
        }
        return ApiResponse(self.RepurchaseOutputSerializer(data).data)


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
