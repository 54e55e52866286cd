"""API: one view per operation, input and output serializers nested in the view."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.compat import split_header_value
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.utils import json as drf_json
from rest_framework.views import APIView

from csat.authentication import RecentTokenAuthentication
from csat.errors import ApplicationError
from csat.liveness import connection_check_without_round_trip
from csat.permissions import has_perm
from surveys import definitions, marking, selectors, services
from surveys.ingest import TokenGrant
from surveys.models import Channel, Customer, Question, Survey
from surveys.models import Response as SurveyResponse


def body_fingerprint(data: Any) -> str:
    """SHA-256 of the request body in canonical JSON (sorted keys, no spaces): the same body
    sent twice, however it was formatted, has the same fingerprint."""
    if hasattr(data, "lists"):  # a form-encoded body (QueryDict)
        data = {key: values for key, values in data.lists()}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


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


SUBMIT_PERMISSION = "surveys.add_response"
# What a submission raises when it is refused and stored nothing.
REFUSALS = (
    services.DefinitionChanged,
    ApplicationError,
    serializers.ValidationError,
    exceptions.APIException,
    Http404,
)


@dataclass(frozen=True)
class _Call:
    """What ResponseCreateApi._store reads of a request, for its path without DRF."""

    data: dict[str, Any]
    headers: Any
    user: Any


# The hot path: a token this process saw recently is confirmed by the insert itself
# (RecentTokenAuthentication), the survey's definition comes from a per-process cache that the
# insert checks too (surveys/definitions.py); any refusal is confirmed first.
class ResponseCreateApi(APIView):
    """Submit a complete response to a survey (channel `api`)."""

    authentication_classes = [RecentTokenAuthentication, SessionAuthentication]
    permission_classes = [has_perm(SUBMIT_PERMISSION)]

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

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        fast = self._fast_post(request, args, kwargs)
        if fast is not None:
            return fast
        return super().dispatch(request, *args, **kwargs)

    def _fast_post(
        self, request: HttpRequest, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        """The common call without DRF's request and response machinery: a POST of a JSON
        object with plain answers and no customer, no Accept header (or */*,
        application/json) and no query, from a token this process authenticated recently
        (RecentTokenAuthentication) whose user has the permission. It does what DRF's path
        does for that call: the same authentication (the insert confirms the token), the
        same permission check, parse, store and output, and the same response bytes and
        headers. Anything else, and any refusal (which stores nothing), returns None before
        or instead of answering, and DRF's path handles the request as before."""
        meta = request.META
        if (
            request.method != "POST"
            or args
            or list(kwargs) != ["public_id"]
            or meta.get("CONTENT_TYPE") != "application/json"
            or meta.get("HTTP_ACCEPT", "*/*") not in ("*/*", "application/json")
            or meta.get("QUERY_STRING")
            or connection.vendor != "postgresql"
        ):
            return None
        header = meta.get("HTTP_AUTHORIZATION", "")
        if header[:6].lower() != "token ":
            return None
        recent = RecentTokenAuthentication().recent(header[6:])
        if recent is None:
            return None
        user, token = recent
        if not user.has_perm(SUBMIT_PERMISSION):  # what has_perm(SUBMIT_PERMISSION) asks
            return None
        try:  # as DRF's JSONParser reads it: UTF-8, no NaN or Infinity
            data = drf_json.loads(request.body.decode("utf-8"))
        except Exception:
            return None
        if type(data) is not dict or "customer_external_id" in data:
            return None
        answers = data.get("answers")
        if type(answers) is not dict or None in answers.values():
            return None
        if len(request.headers.get("Idempotency-Key", "").strip()) > 64:
            return None
        request.user = user  # as DRF's authentication sets it on the Django request
        connection_check_without_round_trip(connection)
        app_label, codename = SUBMIT_PERMISSION.split(".")
        grants = TokenGrant(token.key, user.pk, app_label, codename)
        try:
            body, status_code = self._store(
                _Call(data=data, headers=request.headers, user=user), kwargs["public_id"], grants
            )
        except REFUSALS:
            # Refused, or nothing stored: DRF's path confirms the token and answers (post()).
            return None
        self.args, self.kwargs = args, kwargs
        renderer = self.get_renderers()[0]
        response = HttpResponse(
            renderer.render(body, renderer.media_type, {}),
            status=status_code,
            content_type=renderer.media_type,
        )
        # the headers APIView.finalize_response adds (Allow; Vary: Accept)
        headers = dict(self.default_response_headers)
        vary = headers.pop("Vary", None)
        if vary is not None:
            patch_vary_headers(response, list(split_header_value(vary)))
        for key, value in headers.items():
            response[key] = value
        return response

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """JSON without parsing the Accept header when the client sends none, */* or
        application/json and no format override: what DRF's negotiation would choose."""
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (
            accept in ("*/*", "application/json")
            and not self.format_kwarg
            and not request.META.get("QUERY_STRING")
        ):
            renderer = self.get_renderers()[0]
            if isinstance(renderer, JSONRenderer):
                return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    # Formats `submitted_at` exactly as the output serializer does (no serializer per request).
    _submitted_at = serializers.DateTimeField()

    def _input(self, data: Any) -> dict[str, Any]:
        """The validated input. A JSON object with a dict of non-null answers and no customer
        (the usual call) is taken as it is: the serializer would return it unchanged. Anything
        else goes through the serializer, which names the field and the problem."""
        if type(data) is dict and "customer_external_id" not in data:
            answers = data.get("answers")
            if type(answers) is dict and None not in answers.values():
                return {"answers": answers}
        serializer = self.ResponseInputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        request=ResponseInputSerializer,
        responses={
            201: ResponseOutputSerializer,
            200: ResponseOutputSerializer,
            422: None,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Retrying with the same key and body returns the first response "
                "(200); the same key with another body is refused (422).",
            )
        ],
        summary="Submit a response",
        # The same schemes as every other view (RecentTokenAuthentication is token auth).
        auth=[{"tokenAuth": []}, {"cookieAuth": []}],
    )
    def post(self, request: Request, public_id: str) -> ApiResponse:
        if not getattr(request.auth, "unconfirmed", False):
            return self._post(request, public_id, None)
        try:
            request.data  # noqa: B018 - parsed once: DRF keeps empty data after a parse error
        except exceptions.ParseError:
            # a body that does not parse is refused whatever else: confirm the token first
            self._confirm_token(request)
            self.check_permissions(request)
            raise
        app_label, codename = SUBMIT_PERMISSION.split(".")
        grants = TokenGrant(request.auth.key, request.user.pk, app_label, codename)
        try:
            return self._post(request, public_id, grants)
        except REFUSALS:
            # Refused, or nothing stored, on a token this process saw recently: confirm the
            # token with the database (401 or 403 as usual), then answer with it. Any other
            # error propagates: the call may have stored its response, so it is not retried.
            self._confirm_token(request)
            self.check_permissions(request)
        return self._post(request, public_id, None)

    def check_permissions(self, request: Request) -> None:
        try:
            super().check_permissions(request)
        except exceptions.APIException:
            if not getattr(request.auth, "unconfirmed", False):
                raise
            self._confirm_token(request)  # the permission may have been granted since
            super().check_permissions(request)

    def _confirm_token(self, request: Request) -> None:
        request.user, request.auth = RecentTokenAuthentication().confirm(request.auth.key)

    def _post(self, request: Request, public_id: str, grants: TokenGrant | None) -> ApiResponse:
        body, status_code = self._store(request, public_id, grants)
        return ApiResponse(body, status=status_code)

    def _store(
        self, request: Request | _Call, public_id: str, grants: TokenGrant | None
    ) -> tuple[dict[str, Any], int]:
        """Validate and store the submission: (the output, 201 or 200 for a retry)."""
        definition = definitions.definition_get(public_id)
        for _attempt in range(3):
            if definition is None:
                raise Http404
            try:
                response, created = self._submit(request, definition, grants)
            except services.DefinitionChanged:
                if grants is not None:
                    raise  # the survey changed, or the token no longer grants: post() knows
                definition = definitions.definition_load(public_id)
                continue
            except (ApplicationError, serializers.ValidationError):
                # Refused against a cached definition: refuse only if it is still current.
                if definitions.is_current(definition):
                    raise
                definition = definitions.definition_load(public_id)
                continue
            return (
                {
                    "id": response.pk,
                    "survey": definition.survey.public_id,
                    "channel": response.channel,
                    "status": response.status,
                    "submitted_at": self._submitted_at.to_representation(response.submitted_at),
                },
                status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            )
        raise ApplicationError(
            _("Your answers could not be saved; please try again."),
            status_code=status.HTTP_409_CONFLICT,
        )

    def _submit(
        self,
        request: Request | _Call,
        definition: definitions.SurveyDefinition,
        grants: TokenGrant | None,
    ) -> tuple[SurveyResponse, bool]:
        data = self._input(request.data)
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
            return services.response_submit(
                survey=definition.survey,
                definition=definition,
                grants=grants,
                raw_answers=data["answers"],
                channel=Channel.API,
                # Keys are unique per API client (metrics.md): scope them by the caller.
                submission_key=f"api:{request.user.pk}:{key}" if key else None,
                customer=customer,
                fingerprint=body_fingerprint(request.data) if key else "",
            )
        except ApplicationError as error:
            error.fields = {
                name if name == "Idempotency-Key" else f"answers.{name}": problems
                for name, problems in error.fields.items()
            }
            raise


class ResponseMarkApi(APIView):
    """Mark a response as test or spam (or clear the mark): it stops counting, or counts again."""

    permission_classes = [has_perm("surveys.change_response")]

    class MarkInputSerializer(serializers.Serializer):
        is_test = serializers.BooleanField(required=False)
        is_spam = serializers.BooleanField(required=False)

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if not data:
                raise serializers.ValidationError(
                    {"is_test": [_("Give is_test, is_spam, or both.")]}
                )
            return data

    class MarkOutputSerializer(serializers.ModelSerializer):
        is_counted = serializers.BooleanField()

        class Meta:
            model = SurveyResponse
            fields = ["id", "is_test", "is_spam", "is_counted"]

    @extend_schema(
        request=MarkInputSerializer,
        responses={200: MarkOutputSerializer},
        summary="Mark a response as test or spam",
    )
    def post(self, request: Request, pk: int) -> ApiResponse:
        response = get_object_or_404(marking.response_list_for(request.user), pk=pk)
        serializer = self.MarkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marking.response_mark(response=response, by=request.user, **serializer.validated_data)
        return ApiResponse(self.MarkOutputSerializer(response).data)
