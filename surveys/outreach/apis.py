"""API for outreach: customers, purchases, interactions, and the SMS provider's receipts."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from accounts.models import User
from csat.errors import ApplicationError
from csat.permissions import has_perm
from csat.query import query_choice
from surveys.models import Customer, Interaction, Invitation, Purchase, Segment, Touchpoint
from surveys.outreach import customers as customer_services
from surveys.outreach import delivery
from surveys.outreach import interactions as interaction_services


def _customer(external_id: str, field: str = "customer_external_id") -> Customer:
    customer = Customer.objects.filter(external_id=external_id).first()
    if customer is None:
        raise ApplicationError(
            _("Unknown customer."), {field: [_("No customer has this external id.")]}
        )
    return customer


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "name",
            "email",
            "phone",
            "segment",
            "language",
            "consents_to_contact",
            "unsubscribed_at",
            "created_at",
        ]


class CustomerListApi(APIView):
    """List customers; create one, or update the one with the same external id."""

    def get_permissions(self) -> list[Any]:
        action = "add" if self.request.method == "POST" else "view"
        return [has_perm(f"surveys.{action}_customer")()]

    class CustomerInputSerializer(serializers.Serializer):
        external_id = serializers.CharField(max_length=120)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        email = serializers.CharField(max_length=254, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        segment = serializers.CharField(max_length=32, required=False)
        language = serializers.CharField(max_length=16, required=False)
        consents_to_contact = serializers.BooleanField(required=False)

    @extend_schema(
        responses=CustomerOutputSerializer(many=True),
        parameters=[
            OpenApiParameter("external_id", str, description="Only this external id."),
            OpenApiParameter("segment", str, description="Only this segment."),
        ],
        summary="List customers",
    )
    def get(self, request: Request) -> ApiResponse:
        customers = Customer.objects.order_by("external_id")
        # An unknown segment is refused (400 naming it), not answered with an empty list.
        segment = query_choice(request.query_params, "segment", Segment.values, "")
        if segment:
            customers = customers.filter(segment=segment)
        if request.query_params.get("external_id"):
            customers = customers.filter(external_id=request.query_params["external_id"])
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(customers, request, view=self)
        return paginator.get_paginated_response(CustomerOutputSerializer(page, many=True).data)

    @extend_schema(
        request=CustomerInputSerializer,
        responses={201: CustomerOutputSerializer, 200: CustomerOutputSerializer},
        summary="Create a customer, or update the one with this external id",
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = self.CustomerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        external_id = data.pop("external_id")
        exists = Customer.objects.filter(external_id=external_id.strip()).exists()
        if exists and not request.user.has_perm("surveys.change_customer"):
            raise ApplicationError(_("Your role does not allow this."), status_code=403)
        customer, created = customer_services.customer_save(external_id=external_id, **data)
        return ApiResponse(
            CustomerOutputSerializer(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CustomerDetailApi(APIView):
    permission_classes = [has_perm("surveys.view_customer")]

    @extend_schema(responses=CustomerOutputSerializer, summary="One customer")
    def get(self, request: Request, pk: int) -> ApiResponse:
        return ApiResponse(CustomerOutputSerializer(get_object_or_404(Customer, pk=pk)).data)


class PurchaseCreateApi(APIView):
    """Record a purchase (the outcome behind repurchase rate by score)."""

    permission_classes = [has_perm("surveys.add_purchase")]

    class PurchaseInputSerializer(serializers.Serializer):
        customer_external_id = serializers.CharField(max_length=120)
        purchased_at = serializers.DateTimeField()
        amount = serializers.DecimalField(
            max_digits=12, decimal_places=2, required=False, allow_null=True
        )
        external_id = serializers.CharField(
            max_length=120,
            required=False,
            allow_blank=True,
            help_text="Your id for the purchase: sending it again records it once.",
        )

    class PurchaseOutputSerializer(serializers.ModelSerializer):
        customer_external_id = serializers.CharField(source="customer.external_id")

        class Meta:
            model = Purchase
            fields = ["id", "external_id", "customer_external_id", "purchased_at", "amount"]

    @extend_schema(
        request=PurchaseInputSerializer,
        responses={201: PurchaseOutputSerializer, 200: PurchaseOutputSerializer},
        summary="Record a purchase",
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = self.PurchaseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        purchase, created = customer_services.purchase_record(
            customer=_customer(data["customer_external_id"]),
            purchased_at=data["purchased_at"],
            amount=data.get("amount"),
            external_id=data.get("external_id", "").strip(),
        )
        return ApiResponse(
            self.PurchaseOutputSerializer(purchase).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class InteractionCreateApi(APIView):
    """Record an interaction (a touchpoint event such as "after-sales ticket closed"); its
    touchpoint's rule schedules a survey invitation, subject to consent and fatigue."""

    permission_classes = [has_perm("surveys.add_interaction")]

    class InteractionInputSerializer(serializers.Serializer):
        customer_external_id = serializers.CharField(max_length=120)
        touchpoint = serializers.CharField(max_length=64, help_text="The touchpoint's code.")
        agent = serializers.CharField(
            max_length=150,
            required=False,
            allow_blank=True,
            help_text="The staff member who served the customer: username or id.",
        )
        occurred_at = serializers.DateTimeField()
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)
        external_id = serializers.CharField(
            max_length=120,
            required=False,
            allow_blank=True,
            help_text="Your id for the event: sending it again records it once.",
        )

    class InvitationOutputSerializer(serializers.ModelSerializer):
        survey = serializers.CharField(source="survey.public_id")

        class Meta:
            model = Invitation
            fields = ["id", "survey", "channel", "status", "suppression_reason", "due_at"]

    class InteractionOutputSerializer(serializers.ModelSerializer):
        customer_external_id = serializers.CharField(source="customer.external_id")
        touchpoint = serializers.CharField(source="touchpoint.code", default=None)
        agent = serializers.CharField(source="agent.username", default=None)
        team = serializers.CharField(source="team.name", default=None)
        invitation = serializers.SerializerMethodField()

        class Meta:
            model = Interaction
            fields = [
                "id",
                "external_id",
                "customer_external_id",
                "touchpoint",
                "agent",
                "team",
                "segment",
                "occurred_at",
                "description",
                "invitation",
            ]

        def get_invitation(self, interaction: Interaction) -> dict[str, Any] | None:
            invitation = interaction.invitations.select_related("survey").first()
            if invitation is None:
                return None
            return InteractionCreateApi.InvitationOutputSerializer(invitation).data

    @staticmethod
    def _agent(value: str) -> User | None:
        value = value.strip()
        if not value:
            return None
        agents = User.objects.filter(is_active=True).select_related("team")
        agent = agents.filter(username=value).first()
        if agent is None and value.isdigit():
            agent = agents.filter(pk=int(value)).first()
        if agent is None:
            raise ApplicationError(
                _("Unknown agent."), {"agent": [_("No staff member has this username or id.")]}
            )
        return agent

    @extend_schema(
        request=InteractionInputSerializer,
        responses={201: InteractionOutputSerializer, 200: InteractionOutputSerializer},
        summary="Record an interaction",
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = self.InteractionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        touchpoint = Touchpoint.objects.filter(code=data["touchpoint"]).first()
        if touchpoint is None:
            raise ApplicationError(
                _("Unknown touchpoint."), {"touchpoint": [_("No touchpoint has this code.")]}
            )
        interaction, created = interaction_services.interaction_record(
            customer=_customer(data["customer_external_id"]),
            touchpoint=touchpoint,
            agent=self._agent(data.get("agent", "")),
            occurred_at=data["occurred_at"],
            description=data.get("description", ""),
            external_id=data.get("external_id", "").strip(),
        )
        return ApiResponse(
            self.InteractionOutputSerializer(interaction).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class SmsReceiptApi(APIView):
    """The SMS provider's delivery receipt: `Authorization: Bearer <SMS_WEBHOOK_SECRET>`."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    class ReceiptInputSerializer(serializers.Serializer):
        message_id = serializers.CharField(max_length=120, required=False, allow_blank=True)
        reference = serializers.CharField(max_length=40, required=False, allow_blank=True)
        status = serializers.ChoiceField(choices=["delivered", "failed"])
        error = serializers.CharField(max_length=300, required=False, allow_blank=True)

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if not data.get("message_id") and not data.get("reference"):
                raise serializers.ValidationError(
                    {"message_id": [_("Give the message id or our reference.")]}
                )
            return data

    class ReceiptOutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Invitation
            fields = ["id", "status", "delivered_at", "error"]

    @extend_schema(
        request=ReceiptInputSerializer,
        responses={200: ReceiptOutputSerializer},
        summary="SMS delivery receipt (provider callback)",
    )
    def post(self, request: Request) -> ApiResponse:
        secret = settings.SMS_WEBHOOK_SECRET
        if not secret:
            raise ApplicationError(
                _("Delivery receipts are not configured (SMS_WEBHOOK_SECRET)."), status_code=503
            )
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {secret}".encode()):
            raise ApplicationError(_("Wrong or missing webhook secret."), status_code=401)
        serializer = self.ReceiptInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invitation = delivery.invitation_apply_receipt(
            message_id=data.get("message_id", "").strip(),
            reference=data.get("reference", "").strip(),
            delivered=data["status"] == "delivered",
            error=data.get("error", ""),
        )
        return ApiResponse(self.ReceiptOutputSerializer(invitation).data)
