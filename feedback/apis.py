"""API for cases: list (scoped to the caller's team), log a complaint, work a case."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from csat.errors import ApplicationError
from csat.permissions import has_perm
from feedback import selectors, services
from feedback.models import Case, ComplaintCategory
from surveys.models import Channel, Customer


class CaseOutputSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", allow_null=True, default=None)
    category = serializers.CharField(source="category.name", allow_null=True, default=None)
    resolved_by = serializers.CharField(
        source="resolved_by.username", allow_null=True, default=None
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "kind",
            "status",
            "customer",
            "category",
            "channel",
            "summary",
            "opened_at",
            "first_response_at",
            "first_response_due_at",
            "resolved_at",
            "resolution_due_at",
            "resolution",
            "resolved_by",
            "resolution_note",
            "contact_count",
            "response",
        ]


class CaseListApi(APIView):
    def get_permissions(self) -> list[Any]:
        codename = "feedback.add_case" if self.request.method == "POST" else "feedback.view_case"
        return [has_perm(codename)()]

    class ComplaintInputSerializer(serializers.Serializer):
        category = serializers.PrimaryKeyRelatedField(
            queryset=ComplaintCategory.objects.filter(is_active=True)
        )
        channel = serializers.ChoiceField(choices=Channel.choices)
        summary = serializers.CharField(max_length=5000)
        customer_external_id = serializers.CharField(required=False, max_length=120)
        opened_at = serializers.DateTimeField(required=False)

    @extend_schema(responses=CaseOutputSerializer(many=True), summary="Cases you may see")
    def get(self, request: Request) -> ApiResponse:
        cases = selectors.case_list_for(request.user)[:500]
        return ApiResponse(CaseOutputSerializer(cases, many=True).data)

    @extend_schema(
        request=ComplaintInputSerializer,
        responses={201: CaseOutputSerializer},
        summary="Log a complaint",
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = self.ComplaintInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = None
        if "customer_external_id" in data:
            customer = Customer.objects.filter(external_id=data["customer_external_id"]).first()
            if customer is None:
                raise ApplicationError(
                    _("Unknown customer."),
                    {"customer_external_id": [_("No customer has this external id.")]},
                )
        case = services.case_log_complaint(
            category=data["category"],
            channel=data["channel"],
            summary=data["summary"],
            customer=customer,
            agent=request.user,
            opened_at=data.get("opened_at"),
        )
        return ApiResponse(CaseOutputSerializer(case).data, status=status.HTTP_201_CREATED)


class CaseActionApi(APIView):
    """Record the first response, a contact, or the resolution of a case (with what was done),
    or set its category."""

    permission_classes = [has_perm("feedback.change_case")]

    class ActionInputSerializer(serializers.Serializer):
        at = serializers.DateTimeField(required=False, help_text="when it happened; default now")
        resolution = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=5000,
            help_text="resolve: what was done for the customer (required)",
        )
        category = serializers.IntegerField(
            required=False, help_text="category: the id of an active complaint category"
        )

    @extend_schema(
        request=ActionInputSerializer,
        responses=CaseOutputSerializer,
        operation_id="cases_action",
        summary="Work a case: first-response, contact, resolve or category",
    )
    def post(self, request: Request, pk: int, action: str) -> ApiResponse:
        case = get_object_or_404(selectors.case_list_for(request.user), pk=pk)
        serializer = self.ActionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        at = serializer.validated_data.get("at")
        if action == "first-response":
            case = services.case_record_first_response(case=case, at=at)
        elif action == "contact":
            case = services.case_record_contact(case=case)
        elif action == "resolve":
            case = services.case_resolve(
                case=case,
                resolution=serializer.validated_data.get("resolution", ""),
                by=request.user,
                at=at,
            )
        elif action == "category":
            case = services.case_categorise(
                case=case, category_id=serializer.validated_data.get("category")
            )
        else:
            raise ApplicationError(
                _("Unknown action."),
                {"action": [_("Choose first-response, contact, resolve or category.")]},
                status_code=404,
            )
        return ApiResponse(CaseOutputSerializer(case).data)
