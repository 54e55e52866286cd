"""API: targets (managers read, admins write) and each metric's quarter against its target."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from csat.errors import ApplicationError
from csat.permissions import has_perm
from metrics import dashboard, targets
from metrics.models import Target

NUMBER_HELP = "a number with at most two decimal places, or null"


class TargetOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.CharField()
    year = serializers.IntegerField()
    segment = serializers.CharField(help_text='"" for every customer')
    baseline = serializers.DecimalField(max_digits=9, decimal_places=2, coerce_to_string=False)
    target = serializers.DecimalField(max_digits=9, decimal_places=2, coerce_to_string=False)
    stretch = serializers.DecimalField(
        max_digits=9, decimal_places=2, coerce_to_string=False, allow_null=True
    )
    benchmark = serializers.DecimalField(
        max_digits=9, decimal_places=2, coerce_to_string=False, allow_null=True
    )
    weights = serializers.ListField(child=serializers.FloatField())
    typed_targets = serializers.ListField(child=serializers.FloatField(allow_null=True))
    quarter_targets = serializers.SerializerMethodField()

    def get_quarter_targets(self, target: Target) -> list[float | None]:
        return targets.target_plan(target).quarter_targets


def _permissions(view: APIView, write_methods: tuple[str, ...]) -> list[Any]:
    codename = (
        "accounts.manage_configuration"
        if view.request.method in write_methods
        else "metrics.view_target"
    )
    return [has_perm(codename)()]


class TargetListApi(APIView):
    """Targets per metric and year (optionally per segment)."""

    def get_permissions(self) -> list[Any]:
        return _permissions(self, ("POST",))

    class TargetInputSerializer(serializers.Serializer):
        # Numbers are taken as given and checked by the service, which names each bad field.
        metric = serializers.CharField()
        year = serializers.IntegerField()
        segment = serializers.CharField(required=False, allow_blank=True, default="")
        baseline = serializers.JSONField(help_text="a number")
        target = serializers.JSONField(help_text="a number, on the improving side of baseline")
        stretch = serializers.JSONField(required=False, allow_null=True, help_text=NUMBER_HELP)
        benchmark = serializers.JSONField(required=False, allow_null=True, help_text=NUMBER_HELP)
        weights = serializers.ListField(
            child=serializers.JSONField(),
            required=False,
            help_text="four non-negative step weights summing above 0 (default 3, 5, 4, 6)",
        )
        quarter_targets = serializers.ListField(
            child=serializers.JSONField(allow_null=True),
            required=False,
            help_text="up to four typed quarter targets; null: derived from the weights",
        )

    @extend_schema(
        parameters=[OpenApiParameter("year", int, description="only this year's targets")],
        responses=TargetOutputSerializer(many=True),
        summary="Targets",
    )
    def get(self, request: Request) -> ApiResponse:
        raw_year = request.query_params.get("year")
        year = None
        if raw_year:
            if not raw_year.isdigit():
                raise ApplicationError(
                    _("The target query is not valid."), {"year": [_("Give a year such as 2026.")]}
                )
            year = int(raw_year)
        return ApiResponse(TargetOutputSerializer(targets.target_list(year), many=True).data)

    @extend_schema(
        request=TargetInputSerializer,
        responses={201: TargetOutputSerializer},
        summary="Set the target of a metric, year and segment (replaces an existing one)",
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = self.TargetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        values: dict[str, Any] = {
            field: data.get(field) for field in ("baseline", "target", "stretch", "benchmark")
        }
        weights = data.get("weights")
        if weights is not None:
            if len(weights) != len(targets.WEIGHT_FIELDS):
                raise ApplicationError(
                    _("The target was not saved: correct the fields named."),
                    {"weights": [_("Give four step weights, one per quarter.")]},
                )
            values.update(zip(targets.WEIGHT_FIELDS, weights, strict=True))
        typed = data.get("quarter_targets") or []
        if len(typed) > len(targets.TYPED_FIELDS):
            raise ApplicationError(
                _("The target was not saved: correct the fields named."),
                {"quarter_targets": [_("Give at most four quarter targets.")]},
            )
        values.update(zip(targets.TYPED_FIELDS, typed, strict=False))
        target = targets.target_set(
            metric=data["metric"],
            year=data["year"],
            segment=data.get("segment", ""),
            values=values,
            user=request.user,
        )
        return ApiResponse(TargetOutputSerializer(target).data, status=201)


class TargetDetailApi(APIView):
    def get_permissions(self) -> list[Any]:
        return _permissions(self, ("DELETE",))

    @extend_schema(responses=TargetOutputSerializer, summary="One target")
    def get(self, request: Request, pk: int) -> ApiResponse:
        return ApiResponse(TargetOutputSerializer(get_object_or_404(Target, pk=pk)).data)

    @extend_schema(responses={204: None}, summary="Remove a target")
    def delete(self, request: Request, pk: int) -> ApiResponse:
        targets.target_delete(target=get_object_or_404(Target, pk=pk))
        return ApiResponse(status=204)


class TargetStatusApi(APIView):
    """Each metric of a quarter against its target: the numbers of the quarterly dashboard."""

    permission_classes = [has_perm("metrics.view_dashboard")]

    class StatusRowSerializer(serializers.Serializer):
        metric = serializers.CharField()
        label = serializers.CharField()
        lower_is_better = serializers.BooleanField()
        available = serializers.BooleanField(
            help_text="false when the metric does not exist for the chosen filters"
        )
        actual = serializers.FloatField(allow_null=True, help_text="null means no data")
        n = serializers.IntegerField(allow_null=True)
        margin = serializers.FloatField(allow_null=True)
        low = serializers.FloatField(allow_null=True)
        high = serializers.FloatField(allow_null=True)
        change = serializers.FloatField(allow_null=True)
        change_significant = serializers.BooleanField()
        baseline = serializers.FloatField(allow_null=True)
        annual_target = serializers.FloatField(allow_null=True)
        quarter_target = serializers.FloatField(allow_null=True)
        stretch = serializers.FloatField(allow_null=True)
        benchmark = serializers.FloatField(allow_null=True)
        gap = serializers.FloatField(allow_null=True, help_text="actual - quarter target")
        progress = serializers.FloatField(
            allow_null=True, help_text="(actual - baseline) / (target - baseline), a fraction"
        )
        status = serializers.CharField(
            allow_null=True, help_text="met, missed, in_progress, no_data; null: no target"
        )

    class StatusOutputSerializer(serializers.Serializer):
        period = serializers.CharField()
        filters = serializers.DictField(child=serializers.CharField())
        rows = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, description="a quarter such as 2026Q1"),
            *[OpenApiParameter(kind, str) for kind in dashboard.FILTER_KINDS],
        ],
        responses=StatusOutputSerializer,
        summary="Every metric of a quarter against its target",
    )
    def get(self, request: Request) -> ApiResponse:
        quarter, filters = dashboard.query_parse(request.query_params)
        rows = dashboard.target_rows_for(quarter, filters)
        data = {
            "period": quarter.label,
            "filters": filters,
            "rows": [self.StatusRowSerializer(dashboard.row_as_dict(row)).data for row in rows],
        }
        return ApiResponse(self.StatusOutputSerializer(data).data)
