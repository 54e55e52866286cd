"""API: one view per operation, input and output serializers nested in the view."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from csat.errors import ApplicationError
from csat.permissions import has_perm
from surveys import selectors, services
from surveys.models import Channel, Customer, Question, Survey


class SurveyListApi(APIView):
    permission_classes = [has_perm("surveys.view_survey")]

    class QuestionOutputSerializer(serializers.ModelSerializer):
        scale = serializers.ListField(child=serializers.IntegerField(), allow_null=True)

        class Meta:
            model = Question
            fields = ["id", "position", "kind", "text", "is_required", "scale", "role"]

    class SurveyOutputSerializer(serializers.ModelSerializer):
        questions = serializers.SerializerMethodField()
        response_count = serializers.IntegerField()

        class Meta:
            model = Survey
            fields = ["id", "public_id", "title", "status", "response_count", "questions"]

        def get_questions(self, survey: Survey) -> list[dict[str, Any]]:
            return SurveyListApi.QuestionOutputSerializer(survey.questions.all(), many=True).data

    @extend_schema(responses=SurveyOutputSerializer(many=True), summary="List surveys")
    def get(self, request: Request) -> ApiResponse:
        surveys = selectors.survey_list().prefetch_related("questions")
        return ApiResponse(self.SurveyOutputSerializer(surveys, many=True).data)


class ResponseCreateApi(APIView):
    """Submit a complete response to a survey (channel `api`)."""

    permission_classes = [has_perm("surveys.add_response")]

    class ResponseInputSerializer(serializers.Serializer):
        answers = serializers.DictField(
            child=serializers.JSONField(),
            help_text="Answers keyed by question id: a score, 'yes'/'no', text, "
            "choice ids, or {row id: score} for a rating grid.",
        )
        customer_external_id = serializers.CharField(required=False, max_length=120)

    class ResponseOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        survey = serializers.CharField(source="survey.public_id")
        channel = serializers.CharField()
        status = serializers.CharField()
        submitted_at = serializers.DateTimeField()

    @extend_schema(
        request=ResponseInputSerializer,
        responses={201: ResponseOutputSerializer, 200: ResponseOutputSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Retrying with the same key returns the first response.",
            )
        ],
        summary="Submit a response",
    )
    def post(self, request: Request, public_id: str) -> ApiResponse:
        survey = get_object_or_404(Survey, public_id=public_id)
        serializer = self.ResponseInputSerializer(data=request.data)
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
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 64:
            raise ApplicationError(
                _("The Idempotency-Key header is too long."),
                {"Idempotency-Key": [_("Use at most 64 characters.")]},
            )
        try:
            response, created = services.response_submit(
                survey=survey,
                raw_answers=data["answers"],
                channel=Channel.API,
                # Keys are unique per API client (metrics.md): scope them by the caller.
                submission_key=f"api:{request.user.pk}:{key}" if key else None,
                customer=customer,
            )
        except ApplicationError as error:
            error.fields = {f"answers.{name}": problems for name, problems in error.fields.items()}
            raise
        return ApiResponse(
            self.ResponseOutputSerializer(response).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
