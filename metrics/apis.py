"""API: read metrics from the rollups, the same figures the dashboard shows."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from csat.errors import ApplicationError
from csat.permissions import has_perm
from metrics import selectors
from metrics.models import Metric, SliceKind
from metrics.periods import Quarter


class MetricDetailApi(APIView):
    permission_classes = [has_perm("metrics.view_dashboard")]

    class MetricOutputSerializer(serializers.Serializer):
        metric = serializers.CharField()
        period = serializers.CharField()
        slice_kind = serializers.CharField()
        slice_value = serializers.CharField()
        n = serializers.IntegerField()
        value = serializers.FloatField(allow_null=True, help_text="null means no data")
        margin = serializers.FloatField(allow_null=True, help_text="95% margin, ±")
        is_low_sample = serializers.BooleanField()

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, description="A quarter such as 2025Q1"),
            OpenApiParameter("slice_kind", str, enum=SliceKind.values),
            OpenApiParameter("slice_value", str),
        ],
        responses=MetricOutputSerializer,
        summary="Read one metric for a period and slice",
    )
    def get(self, request: Request, metric: str) -> ApiResponse:
        errors: dict[str, list[str]] = {}
        if metric not in Metric.values:
            errors["metric"] = [_("Unknown metric; choose one of: %s.") % ", ".join(Metric.values)]
        period = request.query_params.get("period") or Quarter.current().label
        try:
            Quarter.parse(period)
        except ValueError:
            errors["period"] = [_("Give a quarter such as 2025Q1.")]
        slice_kind = request.query_params.get("slice_kind", SliceKind.ALL)
        if slice_kind not in SliceKind.values:
            errors["slice_kind"] = [_("Choose one of: %s.") % ", ".join(SliceKind.values)]
        if errors:
            raise ApplicationError(_("The metric query is not valid."), errors)
        figure = selectors.metric_figure(
            metric=metric,
            period=period,
            slice_kind=slice_kind,
            slice_value=request.query_params.get("slice_value", ""),
        )
        return ApiResponse(self.MetricOutputSerializer(figure).data)
