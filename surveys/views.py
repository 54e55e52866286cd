"""Staff survey pages (the builder is in builder_views, the channels in channel_views, the
public respondent pages in respond_views)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from csat.errors import ApplicationError
from surveys import selectors, services
from surveys.models import Question, Response, Survey


def _public_url(request: HttpRequest, survey: Survey) -> str:
    return request.build_absolute_uri(reverse("surveys:respond", args=[survey.public_id]))


@permission_required("surveys.view_survey", raise_exception=True)
def survey_list(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/survey_list.html", {"surveys": selectors.survey_list()})


@permission_required("surveys.view_survey", raise_exception=True)
def survey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(selectors.survey_list(), pk=pk)
    responses = (
        Response.objects.filter(survey=survey)
        .prefetch_related("answers__question")
        .order_by("-submitted_at")[:20]
    )
    return render(
        request,
        "surveys/survey_detail.html",
        {
            "survey": survey,
            "questions": survey.questions.select_related("dimension", "show_if_question"),
            "kinds": Question.Kind,
            "public_url": _public_url(request, survey),
            "responses": responses,
        },
    )


@permission_required("surveys.change_survey", raise_exception=True)
@require_POST
def survey_status(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    try:
        services.survey_set_status(survey=survey, status_value=request.POST.get("status", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("surveys:detail", pk=survey.pk)
