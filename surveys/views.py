"""HTML pages: the staff survey pages and the public respondent pages."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from csat.errors import ApplicationError
from surveys import selectors, services
from surveys.forms import NpsSurveyForm
from surveys.models import Channel, Question, Response, Survey


def _public_url(request: HttpRequest, survey: Survey) -> str:
    return request.build_absolute_uri(reverse("surveys:respond", args=[survey.public_id]))


@permission_required("surveys.view_survey", raise_exception=True)
def survey_list(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/survey_list.html", {"surveys": selectors.survey_list()})


@permission_required("surveys.add_survey", raise_exception=True)
@require_http_methods(["GET", "POST"])
def survey_create(request: HttpRequest) -> HttpResponse:
    form = NpsSurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            survey = services.survey_create_nps(**form.cleaned_data, created_by=request.user)
        except ApplicationError as error:
            for field, problems in error.fields.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(request, _("Survey created. Share its link to collect answers."))
            return redirect("surveys:detail", pk=survey.pk)
    status = 400 if form.errors else 200
    return render(request, "surveys/survey_create.html", {"form": form}, status=status)


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
            "questions": survey.questions.all(),
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


def _raw_answers(request: HttpRequest, questions: list[Question]) -> dict[str, object]:
    raw: dict[str, object] = {}
    for question in questions:
        name = f"q{question.pk}"
        if question.kind == Question.Kind.MULTIPLE_CHOICE:
            raw[str(question.pk)] = request.POST.getlist(name)
        elif question.kind == Question.Kind.RATING_GRID:
            raw[str(question.pk)] = {
                str(row.pk): request.POST.get(f"{name}_r{row.pk}", "")
                for row in question.rows.all()
            }
        else:
            raw[str(question.pk)] = request.POST.get(name, "")
    return raw


@login_not_required
@require_http_methods(["GET", "POST"])
def survey_respond(request: HttpRequest, public_id: str) -> HttpResponse:
    survey = selectors.survey_get_public(public_id)
    if survey is None:
        return render(request, "surveys/respond_missing.html", status=404)
    questions = list(survey.questions.prefetch_related("choices", "rows").order_by("position"))
    context = {"survey": survey, "questions": questions, "errors": {}, "values": {}}
    if not survey.is_open:
        return render(request, "surveys/respond_closed.html", {"survey": survey}, status=410)
    if request.method == "POST":
        raw = _raw_answers(request, questions)
        try:
            services.response_submit(
                survey=survey,
                raw_answers=raw,
                channel=Channel.WEB,
                submission_key=request.POST.get("submission_key", "")[:80] or None,
                language=get_language() or "",
                ip_address=request.META.get("REMOTE_ADDR"),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except ApplicationError as error:
            context.update(
                errors={key: problems[0] for key, problems in error.fields.items()},
                values=raw,
                message=error.message,
                submission_key=request.POST.get("submission_key") or secrets.token_urlsafe(24),
            )
            if error.status_code == 410:
                return render(
                    request, "surveys/respond_closed.html", {"survey": survey}, status=410
                )
            return render(request, "surveys/respond.html", context, status=error.status_code)
        return redirect("surveys:thanks", public_id=survey.public_id)
    context["submission_key"] = secrets.token_urlsafe(24)
    return render(request, "surveys/respond.html", context)


@login_not_required
def survey_thanks(request: HttpRequest, public_id: str) -> HttpResponse:
    survey = selectors.survey_get_public(public_id)
    if survey is None:
        return render(request, "surveys/respond_missing.html", status=404)
    return render(request, "surveys/respond_thanks.html", {"survey": survey})
